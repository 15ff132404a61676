"""An ingest run: records read, checked and extracted in worker processes, written in batches here.

Worker processes parse JSON Lines records and find the entities of new and changed articles while this
process writes earlier batches, each batch in one transaction (``ingest.store.write_batch``). Results are
used in input order, so a run has the outcome of storing every record one after the other.

Resuming: a record whose stored article has the same content hash is skipped before extraction. A batch
the database refuses is rolled back and its records written one at a time, each in its own transaction,
so only the records that are really bad fail; they are reported with their file, line and field, as are
records that fail to parse. A run killed half-way leaves whole batches, and running it again finishes it.

Without extraction on PostgreSQL, writing is the slow part, and most of it is PostgreSQL indexing each
article for search in the backend that writes it: one connection keeps one core busy. There two batches
are written at once, on two connections, whenever nothing the later one reads or writes can be changed by
the earlier one (``write_claims``); otherwise it waits, so the outcome stays that of one after the other.
Only the ids of new articles may interleave between two batches written together.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from broadsheet.settings import Settings
from ingest.bulk import Link, Prepared, extract_links, follow_parent, prepare, prepare_lines
from ingest.errors import IngestError
from ingest.sources import Lines, iter_inputs
from ingest.store import Interdependent, Written, match_of, write_batch
from models.db import create_engine
from models.response_cache import Purger
from resolvers.articles.writes import ArticleMatch, StoredArticle, find_articles

DEFAULT_BATCH_SIZE = 500
MAX_BATCH_SIZE = 5_000  # keeps every IN list of a batch's statements under the drivers' limits
_ARTICLES_PER_TASK = 20  # articles a worker extracts per task
_TASKS_AHEAD = 20  # parse tasks (a JSON Lines piece, a page) queued ahead of the batch being formed
_BATCHES_AHEAD = 2  # batches being extracted while an earlier one is written
_INLINE_ITEMS = 100  # work done here before starting workers: a captured page needs none
_CONCURRENT_WRITES = 2  # batches written at once on PostgreSQL without extraction (see the module's notes)
#: A slug with its numbered suffixes taken off: "harbour-reopens-2" -> "harbour-reopens". Every slug a record
#: may end up with (its own, or its headline's with "-2", "-3", ...) belongs to one such family.
_SLUG_SUFFIXES = re.compile(r"(?:-\d+)+$")

A = TypeVar("A")
T = TypeVar("T")


@dataclass(slots=True)
class IngestSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    entities_created: int = 0


@dataclass(slots=True)
class _Batch:
    records: list[Prepared]
    links: list[asyncio.Future[list[list[Link] | str]]] = field(default_factory=list)
    keys: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass(slots=True)
class _Writing:
    """A batch being written while the run goes on."""

    batch: _Batch
    claims: set[tuple[str, Any]]
    written: asyncio.Task[Written]


def slug_family(slug: str) -> str:
    """The family of slugs this one belongs to (``_SLUG_SUFFIXES``)."""
    return _SLUG_SUFFIXES.sub("", slug) or slug


def write_claims(
    records: Sequence[Prepared],
    stored: dict[ArticleMatch, StoredArticle],
    settled_sections: set[tuple[str, ...]],
) -> set[tuple[str, Any]]:
    """Everything writing these records may read or change that another batch's writing might change too:
    their source ids, URLs and slug families, and those the stored articles they update have now (an update
    may give them up); the stored articles themselves; and sections not known to exist yet. Two batches
    whose claims are disjoint are written the same whether one after the other or at once."""
    claims: set[tuple[str, Any]] = set()
    for record in records:
        claims.update(("source_id", value) for value in (record.source_id,) if value is not None)
        claims.update(("canonical_url", value) for value in (record.url,) if value is not None)
        claims.add(("slug", slug_family(record.derived_slug)))
        if record.slug is not None:
            claims.add(("slug", slug_family(record.slug)))
        if record.section_path not in settled_sections:
            claims.add(("section", record.section_path))
        found = stored.get(match_of(record))
        if found is not None:
            claims.add(("article", found.id))
            claims.add(("slug", slug_family(found.slug)))
            claims.update(("source_id", value) for value in (found.source_id,) if value is not None)
            claims.update(("canonical_url", value) for value in (found.canonical_url,) if value is not None)
    return claims


async def ingest_paths(
    settings: Settings,
    paths: Sequence[Path],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    extract: bool = True,
    on_progress: Callable[[int], None] = lambda _count: None,
    on_error: Callable[[str], None] = lambda _message: None,
) -> IngestSummary:
    """Store everything in ``paths``; a bad record is reported through ``on_error`` and never written.

    ``extract=False`` stores articles only: new ones have no mentions and changed ones keep theirs until
    ``broadsheet reextract`` runs. ``on_progress`` is told how many more records are done.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be 1 to {MAX_BATCH_SIZE}")
    writers = _CONCURRENT_WRITES if not extract and not settings.is_sqlite else 1
    # One more connection than writers: the next batch is looked up while the others are written.
    engine = create_engine(settings.database_url, pool_size=writers + 1, pool_overflow=0)
    purge = Purger(settings.redis_url, settings.redis_prefix)
    run = _Run(
        engine,
        purge,
        workers or os.cpu_count() or 1,
        writers=writers,
        batch_size=batch_size,
        extract=extract,
        on_progress=on_progress,
        on_error=on_error,
    )
    try:
        await run.run(paths)
    finally:
        for writing in run.writing:
            writing.written.cancel()
        await asyncio.gather(*(writing.written for writing in run.writing), return_exceptions=True)
        if run.pool is not None:
            run.pool.shutdown(cancel_futures=True)
        await engine.dispose()
        await purge.close()
    return run.summary


class _Run:
    def __init__(
        self,
        engine: AsyncEngine,
        purge: Purger,
        workers: int,
        *,
        writers: int,
        batch_size: int,
        extract: bool,
        on_progress: Callable[[int], None],
        on_error: Callable[[str], None],
    ) -> None:
        self.engine, self.purge, self.workers, self.writers = engine, purge, workers, writers
        self.writing: deque[_Writing] = deque()  # batches being written at once, oldest first
        self.settled_sections: set[tuple[str, ...]] = set()  # known to exist: written by an earlier batch
        self.pool: ProcessPoolExecutor | None = None
        self.inline = _INLINE_ITEMS
        self.batch_size, self.extract = batch_size, extract
        self.on_progress, self.on_error = on_progress, on_error
        self.summary = IngestSummary()
        self.extracting: deque[_Batch] = deque()
        self.unwritten: Counter[tuple[str, str]] = Counter()  # keys of the batches being extracted

    async def run(self, paths: Sequence[Path]) -> None:
        batch: list[Prepared] = []
        keys: set[tuple[str, str]] = set()
        async for item in self._prepared(paths):
            if isinstance(item, IngestError):
                self._fail([item])
                continue
            item_keys = item.keys
            if len(batch) >= self.batch_size or not keys.isdisjoint(item_keys):
                await self._dispatch(batch)
                batch, keys = [], set()
            batch.append(item)
            keys |= item_keys
        await self._dispatch(batch)
        while self.extracting:
            await self._write(self.extracting.popleft())
        while self.writing:
            await self._finish(self.writing.popleft())

    async def _prepared(self, paths: Sequence[Path]) -> AsyncIterator[Prepared | IngestError]:
        """Every record made ready, in input order; JSON Lines records are parsed by the workers."""
        tasks: deque[asyncio.Future[list[Prepared | IngestError]]] = deque()
        for item in iter_inputs(paths):
            if isinstance(item, Lines):
                tasks.append(self._submit(prepare_lines, item, item.piece.lines))
            else:
                # Pages and JSON documents were parsed while being read; making them ready is quick.
                tasks.append(_done([item if isinstance(item, IngestError) else prepare(item)]))
            while len(tasks) > _TASKS_AHEAD:
                for record in await tasks.popleft():
                    yield record
        while tasks:
            for record in await tasks.popleft():
                yield record

    def _submit(self, function: Callable[[A], T], argument: A, size: int) -> asyncio.Future[T]:
        """Run ``function(argument)``, ``size`` records' work, in a worker, or here while the run is too
        small to start them."""
        if self.pool is None and self.inline >= size:
            self.inline -= size
            return _done(function(argument))
        if self.pool is None:
            # Spawned, not forked: this process runs an event loop and database threads by now.
            context = multiprocessing.get_context("spawn")
            self.pool = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=follow_parent, initargs=(os.getpid(),)
            )
        return asyncio.wrap_future(self.pool.submit(function, argument))

    async def _dispatch(self, records: list[Prepared]) -> None:
        """Have the workers extract a batch's new and changed articles; write earlier batches meanwhile."""
        if not records:
            return
        if not self.extract:
            if self.writers == 1:
                await self._write(_Batch(records))
            else:
                await self._write_meanwhile(_Batch(records))
            return
        async with self.engine.connect() as connection:
            stored = await find_articles(connection, {match_of(record) for record in records})
        batch = _Batch([])
        for record in records:
            found = stored.get(match_of(record))
            # A batch still being extracted may change this article first: then only writing can tell.
            if (
                found is not None
                and found.content_hash == record.content_hash
                and not record.always_write
                and not any(key in self.unwritten for key in record.keys)
            ):
                self.summary.unchanged += 1
                self.on_progress(1)
                continue
            batch.records.append(record)
            batch.keys.update(record.keys)
        tasks = [batch.records[start : start + _ARTICLES_PER_TASK]
                 for start in range(0, len(batch.records), _ARTICLES_PER_TASK)]  # fmt: skip
        batch.links = [self._submit(extract_links, records, len(records)) for records in tasks]
        self.unwritten.update(batch.keys)
        self.extracting.append(batch)
        while len(self.extracting) > _BATCHES_AHEAD:
            await self._write(self.extracting.popleft())

    async def _write(self, batch: _Batch) -> None:
        """Write a batch in one transaction; if it fails, each of its records in a transaction of its own."""
        ready: list[tuple[Prepared, list[Link] | None]] = []
        if self.extract:
            found = [links for task in batch.links for links in await task]
            for record, links in zip(batch.records, found, strict=True):
                if isinstance(links, str):
                    self._fail([IngestError(record.origin, links)])
                else:
                    ready.append((record, links))
        else:
            ready = [(record, None) for record in batch.records]
        written = await self._store(ready)
        self.unwritten -= batch.keys
        self._count(written, len(ready))

    async def _write_meanwhile(self, batch: _Batch) -> None:
        """Start writing a batch (without extraction) once no batch being written claims what it claims,
        and at most ``writers`` are written at once; earlier batches are finished, and reported, in order."""
        async with self.engine.connect() as connection:
            stored = await find_articles(connection, {match_of(record) for record in batch.records})
        claims = write_claims(batch.records, stored, self.settled_sections)
        while self.writing and (
            len(self.writing) >= self.writers
            or any(not claims.isdisjoint(writing.claims) for writing in self.writing)
        ):
            await self._finish(self.writing.popleft())
        ready: list[tuple[Prepared, list[Link] | None]] = [(record, None) for record in batch.records]
        self.writing.append(_Writing(batch, claims, asyncio.create_task(self._store(ready))))

    async def _finish(self, writing: _Writing) -> None:
        written = await writing.written
        if not written.failures:
            self.settled_sections.update(record.section_path for record in writing.batch.records)
        self._count(written, len(writing.batch.records))

    async def _store(self, ready: list[tuple[Prepared, list[Link] | None]]) -> Written:
        try:
            async with self.engine.begin() as connection:
                written = await write_batch(connection, ready)
        except (SQLAlchemyError, Interdependent):
            written = Written()
            for one in ready:
                written.add(await self._write_one(one))
        await self.purge(written.tags)  # committed: the next request, to any server, must see it
        return written

    def _count(self, written: Written, records: int) -> None:
        self.summary.created += written.created
        self.summary.updated += written.updated
        self.summary.unchanged += written.unchanged
        self.summary.entities_created += written.entities_created
        self._fail(written.failures)
        self.on_progress(records - len(written.failures))

    async def _write_one(self, record: tuple[Prepared, list[Link] | None]) -> Written:
        try:
            async with self.engine.begin() as connection:
                return await write_batch(connection, [record])
        except SQLAlchemyError as error:
            message = f"the database refused it: {_first_line(error)}"
            return Written(failures=[IngestError(record[0].origin, message)])

    def _fail(self, errors: list[IngestError]) -> None:
        for error in errors:
            self.summary.failed += 1
            self.on_error(str(error))
            self.on_progress(1)


def _done(value: T) -> asyncio.Future[T]:
    done = asyncio.get_running_loop().create_future()
    done.set_result(value)
    return done


def _first_line(error: SQLAlchemyError) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else error.__class__.__name__

"""The one way articles, their section paths, entities and mentions are written: ``write_batch`` writes a
batch of records in one transaction and a fixed number of statements, with the outcome of writing them one
after the other. ``broadsheet ingest`` sends it batches, ``store_article`` one draft, ``broadsheet reextract``
(through ``relink``) only new mentions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ingest.bulk import Link, Prepared, StoreError, mention_links, prepare
from ingest.document import ArticleDraft
from ingest.errors import IngestError
from ingest.extract.mentions import find_mentions
from models.response_cache import ARTICLES, ENTITIES, SECTIONS, article_tag, entity_tag
from resolvers.articles.writes import (
    ArticleFields,
    ArticleMatch,
    StoredArticle,
    article_match,
    find_articles,
    insert_articles,
    taken_article_slugs,
    update_articles,
)
from resolvers.entities import (
    alias_holders,
    entity_slug_base,
    insert_aliases,
    insert_entities,
    normalize_name,
    pick_entity,
    taken_entity_slugs,
    wanted_aliases,
)
from resolvers.mentions import move_mentions, replace_mentions_of
from resolvers.sections import ensure_section_path


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing one article did."""

    article_id: int
    slug: str
    created: bool
    entities_created: int
    tags: frozenset[str]  # what cached answers it changed: for a caller with a shared cache to purge


async def store_article(engine: AsyncEngine, draft: ArticleDraft) -> Stored:
    """Find the draft's mentions and write it alone in its own transaction, as ``broadsheet ingest`` writes
    a record it retries alone: all of it or none of it is written.

    The same article ingested again (same source id, else canonical URL, else slug) is updated in place, so
    its id, slug and entity links stay stable; unchanged, it is left as it is.
    """
    record = prepare(draft)
    if isinstance(record, IngestError):
        raise StoreError(record.message)
    links = mention_links(draft, find_mentions(draft))
    async with engine.begin() as connection:
        written = await write_batch(connection, [(record, links)])
    if written.failures:
        raise StoreError(written.failures[0].message)
    ((article_id, slug),) = written.articles
    return Stored(
        article_id,
        slug,
        created=written.created == 1,
        entities_created=written.entities_created,
        tags=frozenset(written.tags),
    )


def merge_mention(by_entity: dict[int, dict[str, Any]], entity_id: int, link: Link) -> None:
    """Fold a mention into its entity's row; two names for one entity ("US", "United States") add up."""
    row = by_entity.get(entity_id)
    if row is None:
        by_entity[entity_id] = {
            "entity_id": entity_id,
            "role": link.role,
            "count": link.times,
            "first_position": link.first_position,
            "salience": link.salience,
            "locations": link.locations,
        }
        return
    row["role"] = row["role"] or link.role
    row["count"] += link.times
    row["first_position"] = min(row["first_position"], link.first_position)
    row["salience"] = max(row["salience"], link.salience)
    row["locations"] = row["locations"] + link.locations


def match_of(record: Prepared) -> ArticleMatch:
    """How the record finds its stored version."""
    return article_match(record.source_id, record.url, record.slug or record.derived_slug)


def _fields(record: Prepared, section_id: int) -> ArticleFields:
    return ArticleFields(
        slug=record.slug,
        headline=record.headline,
        standfirst=record.standfirst,
        body=record.body,
        section_id=section_id,
        published_at=record.published_at,
        source_format=record.source_format,
        source_id=record.source_id,
        canonical_url=record.url,
        authors=record.authors,
        word_count=record.word_count,
        content_hash=record.content_hash,
        search_document=record.search_document,
        status=record.status,
    )


@dataclass(slots=True)
class Written:
    """What writing a batch did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    entities_created: int = 0
    failures: list[IngestError] = field(default_factory=list)
    articles: list[tuple[int, str]] = field(default_factory=list)  # (id, slug) of each written or unchanged
    #: What cached answers it changed (models/response_cache.py), for the caller to purge once committed.
    tags: set[str] = field(default_factory=set)

    def add(self, other: Written) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.entities_created += other.entities_created
        self.failures += other.failures
        self.articles += other.articles
        self.tags |= other.tags


class Interdependent(Exception):
    """Two records of a batch find the same stored article: only one after the other says what each does."""


#: The owner of a slug a new row of this batch has claimed (it has no id yet).
_NEW = -1


class SlugBook:
    """Slugs in use while a batch is written: the database's, looked up as needed, and the batch's claims."""

    def __init__(self, lookup: Callable[[list[str]], Awaitable[dict[str, int]]]) -> None:
        self._lookup = lookup
        self._owners: dict[str, int | None] = {}  # slug -> id of the row that has it; None: free

    async def look_up(self, slugs: Iterable[str]) -> None:
        missing = [slug for slug in dict.fromkeys(slugs) if slug not in self._owners]
        if missing:
            owners = await self._lookup(missing)
            self._owners.update({slug: owners.get(slug) for slug in missing})

    async def owner(self, slug: str) -> int | None:
        await self.look_up([slug])
        return self._owners[slug]

    def claim(self, slug: str, owner: int = _NEW) -> None:
        self._owners[slug] = owner

    def release(self, slug: str) -> None:
        self._owners[slug] = None

    async def free(self, base: str) -> str:
        """``base`` if free, else the first free one of ``base-2``, ``base-3``, ...; claimed for a new row."""
        window, after = [base], 1
        while True:
            await self.look_up(window)
            for slug in window:
                if self._owners[slug] is None:
                    self.claim(slug)
                    return slug
            window = [f"{base}-{suffix}" for suffix in range(after + 1, after + 17)]
            after += 16


async def write_batch(
    connection: AsyncConnection, batch: Sequence[tuple[Prepared, list[Link] | None]]
) -> Written:
    """Store each (record, links) in order, with the outcome of writing them one at a time; ``None`` links:
    the article only (its stored mentions stay, given its publication time). Unchanged articles are skipped.

    Raises ``Interdependent`` where records depend on each other in ways only a run one at a time
    settles; database errors roll the whole batch back. Either way the caller retries one at a time.
    """
    plan = await _BatchPlan.start(connection, batch)
    for record, links in batch:
        await plan.add(record, links)
    await _write_plan(connection, plan)
    return plan.written


class _BatchPlan:
    """What a batch writes, record by record: the stored articles it updates, the new ones it inserts, and
    what each written record becomes, with its links."""

    def __init__(
        self,
        connection: AsyncConnection,
        stored: dict[ArticleMatch, StoredArticle],
        slugs: SlugBook,
        held: dict[tuple[str, str | None], int],
    ) -> None:
        self.connection = connection
        self.written = Written()
        self.stored = stored
        self.slugs = slugs
        self.held = held
        self.sections: dict[tuple[str, ...], int] = {}
        self.seen: set[int] = set()
        self.inserts: list[tuple[ArticleFields, str]] = []
        self.updates: list[tuple[int, ArticleFields, str, datetime]] = []
        # What each written record becomes, in order: a stored article (id, publication time), or None for
        # the next of the inserts; its slug; and its links.
        self.targets: list[tuple[tuple[int, datetime] | None, str, list[Link] | None]] = []

    @classmethod
    async def start(
        cls, connection: AsyncConnection, batch: Sequence[tuple[Prepared, list[Link] | None]]
    ) -> _BatchPlan:
        """A plan that knows the batch's stored articles and the slugs it may take."""
        stored = await find_articles(connection, {match_of(record) for record, _ in batch})
        slugs = SlugBook(lambda wanted: taken_article_slugs(connection, wanted))
        await slugs.look_up(
            [record.slug for record, _ in batch if record.slug]
            + [
                record.derived_slug
                for record, _ in batch
                if not record.slug and match_of(record) not in stored
            ]
        )
        # Source ids and URLs the stored articles of this batch hold now; the batch's updates run before its
        # inserts, so one of them may give up a value an earlier new record would have been refused for.
        held: dict[tuple[str, str | None], int] = {
            (column, value): article.id
            for article in stored.values()
            for column, value in (("source_id", article.source_id), ("canonical_url", article.canonical_url))
            if value is not None
        }
        return cls(connection, stored, slugs, held)

    async def add(self, record: Prepared, links: list[Link] | None) -> None:
        existing = self.stored.get(match_of(record))
        if existing is not None:
            if existing.id in self.seen:
                raise Interdependent(record.origin)
            self.seen.add(existing.id)
            if existing.content_hash == record.content_hash and not record.always_write:
                self.written.unchanged += 1
                self.written.articles.append((existing.id, existing.slug))
                return
        if record.slug is not None:
            owner = await self.slugs.owner(record.slug)
            if owner is not None and (existing is None or owner != existing.id):
                message = f"slug: {record.slug!r} is already used by another article"
                self.written.failures.append(IngestError(record.origin, message))
                return
        if record.section_path not in self.sections:
            self.sections[record.section_path] = await ensure_section_path(
                self.connection, record.section_path
            )
        fields = _fields(record, self.sections[record.section_path])
        if existing is None:
            await self._insert(record, links, fields)
        else:
            self._update(record, links, fields, existing)

    async def _insert(self, record: Prepared, links: list[Link] | None, fields: ArticleFields) -> None:
        for wanted in (("source_id", record.source_id), ("canonical_url", record.url)):
            holder = self.held.get(wanted)
            if holder is not None and holder not in self.seen:  # held by an article updated later on
                raise Interdependent(record.origin)
        slug = record.slug or await self.slugs.free(record.derived_slug)
        self.slugs.claim(slug)
        self.inserts.append((fields, slug))
        self.targets.append((None, slug, links))
        self.written.created += 1

    def _update(
        self, record: Prepared, links: list[Link] | None, fields: ArticleFields, existing: StoredArticle
    ) -> None:
        slug = record.slug or existing.slug
        if slug != existing.slug:
            self.slugs.release(existing.slug)
            self.slugs.claim(slug, existing.id)
        published_at = record.published_at or existing.published_at
        self.updates.append((existing.id, fields, slug, published_at))
        self.targets.append(((existing.id, published_at), slug, links))
        self.written.updated += 1


async def _write_plan(connection: AsyncConnection, plan: _BatchPlan) -> None:
    """Updates first, then inserts; then the mentions of every written record that has links, and the
    publication time of the stored mentions of those that have none."""
    await update_articles(connection, plan.updates)
    new = iter(await insert_articles(connection, plan.inserts))
    linked: list[tuple[int, datetime, list[Link]]] = []
    relinked: list[int] = []
    moved: list[tuple[int, datetime]] = []
    written = plan.written
    for target, slug, links in plan.targets:
        article_id, published_at = next(new) if target is None else target
        written.articles.append((article_id, slug))
        written.tags.add(article_tag(article_id))
        if links is not None:
            linked.append((article_id, published_at, links))
            if target is not None:
                relinked.append(article_id)
        elif target is not None:
            moved.append(target)
    entities: set[int] = set()
    if linked:
        written.entities_created = await relink(connection, linked, replacing=relinked, entities=entities)
    entities |= await move_mentions(connection, moved)
    if plan.targets:
        # The lists too: besides new entities and sections, an article (published, or its draft) may show
        # an entity or a section that only drafts held (graph/scopes.py).
        written.tags.update((ARTICLES, ENTITIES, SECTIONS))
        written.tags.update(entity_tag(entity_id) for entity_id in entities)


async def relink(
    connection: AsyncConnection,
    articles: Sequence[tuple[int, datetime, list[Link]]],
    *,
    replacing: Sequence[int],
    entities: set[int] | None = None,
) -> int:
    """Make (article id, publication time, links) articles' mentions exactly their links, the stored
    mentions of the ``replacing`` ids going; how many entities are new. The entities mentioned before or
    after are added to ``entities``, when given."""
    rows, entities_created = await link_batch(connection, articles)
    before = await replace_mentions_of(connection, replacing, rows)
    if entities is not None:
        entities |= before
        entities.update(row["entity_id"] for row in rows)
    return entities_created


async def link_batch(
    connection: AsyncConnection, articles: Sequence[tuple[int, datetime, list[Link]]]
) -> tuple[list[dict[str, Any]], int]:
    """The mention rows of (article id, publication time, links), article after article, mention after
    mention: each to the entity of its kind going by its name (``pick_entity`` chooses among several), else
    to a new one; and how many entities are new. One statement reads every entity going by any name in the
    batch; new entities and aliases are written in one statement each; the linking runs here on what was read.
    """
    wanted = [[(normalize_name(link.name), wanted_aliases((link.name, *link.aliases))) for link in links]
              for _, _, links in articles]  # fmt: skip
    keys = {key for per_article in wanted for name_key, names in per_article for key in (name_key, *names)}
    going_by: dict[str, list[int]] = {}  # lookup key -> ids of the entities going by it
    known: dict[int, tuple[str, str]] = {}  # entity id -> (name, kind); new ones have ids below zero
    has: dict[int, set[str]] = {}  # entity id -> the keys (of those read) it goes by
    for holder in await alias_holders(connection, keys):
        going_by.setdefault(holder.normalized, []).append(holder.entity_id)
        known[holder.entity_id] = (holder.name, holder.kind)
        has.setdefault(holder.entity_id, set()).add(holder.normalized)
    new_entities: list[tuple[str, str]] = []  # (kind, name); the nth has the stand-in id -n
    new_aliases: list[tuple[int, str, str]] = []
    mentions: list[tuple[int, datetime, dict[int, dict[str, Any]]]] = []
    for (article_id, published_at, links), names in zip(articles, wanted, strict=True):
        by_entity: dict[int, dict[str, Any]] = {}
        for link, (key, aliases) in zip(links, names, strict=True):
            candidates = [
                (entity_id, known[entity_id][0])
                for entity_id in going_by.get(key, ())
                if known[entity_id][1] == link.kind
            ]
            entity_id = pick_entity(key, candidates)
            if entity_id is None:
                new_entities.append((link.kind, link.name))
                entity_id = -len(new_entities)
                known[entity_id] = (link.name, link.kind)
            goes_by = has.setdefault(entity_id, set())
            for alias_key, alias in aliases.items():
                if alias_key not in goes_by:
                    goes_by.add(alias_key)
                    going_by.setdefault(alias_key, []).append(entity_id)
                    new_aliases.append((entity_id, alias, alias_key))
            merge_mention(by_entity, entity_id, link)
        mentions.append((article_id, published_at, by_entity))
    slugs = SlugBook(lambda wanted_slugs: taken_entity_slugs(connection, wanted_slugs))
    bases = [entity_slug_base(name, kind) for kind, name in new_entities]
    await slugs.look_up(bases)
    rows = [
        (kind, name, await slugs.free(base)) for (kind, name), base in zip(new_entities, bases, strict=True)
    ]
    real = dict(zip(range(-1, -len(rows) - 1, -1), await insert_entities(connection, rows), strict=True))
    await insert_aliases(
        connection, [(real.get(entity_id, entity_id), alias, key) for entity_id, alias, key in new_aliases]
    )
    return [
        {
            **row,
            "entity_id": real.get(entity_id, entity_id),
            "article_id": article_id,
            "published_at": published_at,
        }
        for article_id, published_at, by_entity in mentions
        for entity_id, row in by_entity.items()
    ], len(rows)

"""Bulk ingestion of JSON Lines archives: batches, resuming after a crash, bad records, and linking that
matches the one-at-a-time path; on SQLite and PostgreSQL, through the real command where it matters."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from broadsheet.settings import Settings
from ingest.bulk import Prepared, mention_links, prepare
from ingest.document import ArticleDraft
from ingest.extract.mentions import find_mentions
from ingest.pipeline import ingest_paths, slug_family, write_claims
from ingest.reextract import reextract
from ingest.store import StoreError, match_of, store_article
from resolvers.articles.writes import StoredArticle
from tests.conftest import ROOT, TABLES
from tests.shared import iter_drafts
from tests.test_cli import broadsheet, summary

PEOPLE = [
    ("Finance Minister", "Clara Okafor"),
    ("Health Minister", "Tomas Brandt"),
    ("Prime Minister", "Amina Mansour"),
    ("Energy Minister", "Jonas Eriksen"),
    ("Foreign Minister", "Priya Raman"),
    ("Transport Minister", "Mateo Alvarez"),
    ("Trade Minister", "Ingrid Solheim"),
]
PLACES = ["Berlin", "Paris", "Nairobi", "Oslo", "Lisbon", "Warsaw", "Cairo"]
ORGANISATIONS = ["World Bank", "European Commission", "Red Cross"]


def record(number: int, **changes: Any) -> dict[str, Any]:
    """A short wire record naming two people (with roles, then by surname), places and an organisation."""
    role, name = PEOPLE[number % len(PEOPLE)]
    _, other = PEOPLE[(number + 3) % len(PEOPLE)]
    place, later = PLACES[number % len(PLACES)], PLACES[(number + 2) % len(PLACES)]
    organisation = ORGANISATIONS[number % len(ORGANISATIONS)]
    body = (
        f"{role} {name} met {other} in {place} on Monday to discuss the {organisation} loan.\n\n"
        f"{name.split()[-1]} said the talks with {other.split()[-1]} would resume in {later}."
    )
    return {
        "source_id": f"wire-{number}",
        "headline": f"Loan talks, round {number}",
        "section": "World/Europe",
        "published_at": f"2026-04-{1 + number % 28:02d}T{number % 24:02d}:00:00Z",
        "url": f"https://wire.example.com/{number}",
        "body": body,
        **changes,
    }


def write_jsonl(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


async def scalar(engine: AsyncEngine, sql: str) -> Any:
    async with engine.connect() as connection:
        return await connection.scalar(text(sql))


async def counts(engine: AsyncEngine) -> dict[str, int]:
    return {table: int(await scalar(engine, f"SELECT count(*) FROM {table}")) for table in TABLES}


async def test_bad_records_are_named_and_the_good_ones_stored(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    good = [record(number) for number in range(240)]
    lines: list[dict[str, Any] | str] = [*good]
    # Line numbers are 1-based; each bad line is inserted before the record now at that index.
    bad: dict[int, dict[str, Any] | str] = {
        11: '{"headline": "Cut off',
        52: {"source_id": "no-headline", "body": "Nothing."},
        93: record(900, published_at="last Tuesday"),
        134: record(901, headline="H" * 600),
        175: record(902, slug="loan-talks"),  # the first to claim this slug: stored
        186: record(903, slug="loan-talks"),  # the second: refused, with the field named
        217: record(904, url=good[0]["url"]),  # a new article with a stored one's URL: the database says no
    }
    for line, value in sorted(bad.items()):
        lines.insert(line - 1, value)
    feed = write_jsonl(tmp_path / "feed.jsonl", lines)
    result = await broadsheet("ingest", "--quiet", "--batch-size", "25", str(feed), database_url=database_url)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{feed}:11: not valid JSON" in result.stderr
    assert f"{feed}:52: headline: required field is missing" in result.stderr
    assert f"{feed}:93: published_at: not an ISO 8601 date-time" in result.stderr
    assert f"{feed}:134: headline: longer than 500 characters (600)" in result.stderr
    assert f"{feed}:186: slug: 'loan-talks' is already used by another article" in result.stderr
    assert f"{feed}:217: the database refused it" in result.stderr
    # Six records refused, no more (other lines, a stale compiled extractor's warning say, are not errors).
    assert len([line for line in result.stderr.splitlines() if line.startswith("error ")]) == 6
    assert summary(result.stdout) == {
        "articles new": 241,
        "articles updated": 0,
        "articles unchanged": 0,
        "articles failed": 6,
        "entities new": len(PEOPLE) + len(PLACES) + len(ORGANISATIONS),
    }
    stored = await counts(engine)
    assert stored["article"] == 241
    assert int(await scalar(engine, "SELECT count(*) FROM article WHERE source_id IN ('wire-902')")) == 1


async def test_a_second_run_skips_what_is_stored_and_updates_what_changed(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    records = [record(number) for number in range(80)]
    feed = write_jsonl(tmp_path / "feed.jsonl", [*records])
    first = await broadsheet("ingest", "--quiet", str(feed), database_url=database_url)
    assert first.returncode == 0, first.stderr
    assert summary(first.stdout)["articles new"] == 80
    before = await counts(engine)

    again = await broadsheet("ingest", "--quiet", str(feed), database_url=database_url)
    assert again.returncode == 0, again.stderr
    assert summary(again.stdout) == {
        "articles new": 0,
        "articles updated": 0,
        "articles unchanged": 80,
        "articles failed": 0,
        "entities new": 0,
    }
    assert await counts(engine) == before

    records[7]["body"] += "\n\nLater, Deputy Mayor Lena Vik joined them in Madrid."
    records[8]["published_at"] = "2026-05-30T12:00:00Z"
    write_jsonl(feed, [*records])
    changed = await broadsheet("ingest", "--quiet", str(feed), database_url=database_url)
    assert changed.returncode == 0, changed.stderr
    assert summary(changed.stdout) == {
        "articles new": 0,
        "articles updated": 2,
        "articles unchanged": 78,
        "articles failed": 0,
        "entities new": 2,  # Lena Vik and Madrid
    }
    after = await counts(engine)
    assert after["article"] == 80 and after["mention"] == before["mention"] + 2
    roles = await scalar(
        engine,
        "SELECT m.role FROM mention m JOIN entity e ON e.id = m.entity_id"
        " JOIN article a ON a.id = m.article_id WHERE a.source_id = 'wire-7' AND e.name = 'Lena Vik'",
    )
    assert roles == "Deputy Mayor"
    moved = await scalar(
        engine,
        "SELECT count(*) FROM mention m JOIN article a ON a.id = m.article_id"
        " WHERE a.source_id = 'wire-8' AND m.published_at = a.published_at",
    )
    assert moved == 5  # both people, both places and the organisation, each with the new time


async def ingest_and_kill(engine: AsyncEngine, database_url: str, arguments: list[str], total: int) -> int:
    """Start `broadsheet ingest ARGUMENTS`, kill it (workers too) once it has stored an article, and
    return how many it stored: some, not all."""
    process = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "broadsheet", "ingest", "--quiet", *arguments],
        cwd=ROOT,
        env={**os.environ, "BROADSHEET_DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes its workers too
    )
    try:
        deadline = time.monotonic() + 60
        while await scalar(engine, "SELECT count(*) FROM article") == 0:
            assert process.poll() is None, "the ingest ended before it stored anything"
            assert time.monotonic() < deadline, "nothing stored within 60 s"
            await asyncio.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        await asyncio.to_thread(process.wait)
    stored = int(await scalar(engine, "SELECT count(*) FROM article"))
    assert 0 < stored < total
    return stored


async def test_killed_half_way_and_run_again_stores_every_article_once(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    records = [record(number) for number in range(600)]
    feed = write_jsonl(tmp_path / "big.jsonl", [*records])
    stored = await ingest_and_kill(engine, database_url, ["--batch-size", "20", str(feed)], len(records))

    result = await broadsheet("ingest", "--quiet", "--batch-size", "20", str(feed), database_url=database_url)
    assert result.returncode == 0, result.stderr
    done = summary(result.stdout)
    assert (done["articles new"], done["articles unchanged"]) == (len(records) - stored, stored)

    assert await scalar(engine, "SELECT count(*) FROM article") == len(records)
    async with engine.connect() as connection:
        source_ids = set(await connection.scalars(text("SELECT source_id FROM article")))
        linked = await connection.execute(
            text(
                "SELECT a.source_id, e.name, e.kind FROM mention m JOIN article a ON a.id = m.article_id"
                " JOIN entity e ON e.id = m.entity_id"
            )
        )
        mentioned: dict[str | None, set[tuple[str, str]]] = {}
        for source_id, name, kind in linked:
            mentioned.setdefault(source_id, set()).add((name, kind))
    assert source_ids == {item["source_id"] for item in records}
    for orphans in (
        "SELECT count(*) FROM mention WHERE article_id NOT IN (SELECT id FROM article)",
        "SELECT count(*) FROM mention WHERE entity_id NOT IN (SELECT id FROM entity)",
        "SELECT count(*) FROM entity WHERE id NOT IN (SELECT entity_id FROM mention)",
        "SELECT count(*) FROM entity_alias WHERE entity_id NOT IN (SELECT id FROM entity)",
    ):
        assert await scalar(engine, orphans) == 0, orphans
    drafts = [draft for draft in iter_drafts([feed]) if not isinstance(draft, Exception)]
    expected = {
        draft.source_id: {(link.name, link.kind) for link in mention_links(draft, find_mentions(draft))}
        for draft in drafts[::7]  # every seventh: extracting all of them again would take a while
    }
    assert all(expected.values())
    assert {source_id: mentioned.get(source_id) for source_id in expected} == expected


SNAPSHOT = {
    "articles": (
        "SELECT a.source_id, a.slug, a.headline, s.path, a.published_at, a.content_hash"
        " FROM article a JOIN section s ON s.id = a.section_id"
    ),
    "entities": "SELECT kind, name, slug FROM entity",
    "aliases": "SELECT e.slug, a.alias, a.normalized FROM entity_alias a JOIN entity e ON e.id = a.entity_id",
    "mentions": (
        "SELECT a.slug, e.slug, m.role, m.count, m.first_position, m.salience, m.locations, m.published_at"
        " FROM mention m JOIN article a ON a.id = m.article_id JOIN entity e ON e.id = m.entity_id"
    ),
}


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    async with engine.connect() as connection:
        return {
            name: sorted(tuple(map(str, row)) for row in await connection.execute(text(sql)))
            for name, sql in SNAPSHOT.items()
        }


async def empty(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            await connection.execute(text("PRAGMA defer_foreign_keys = ON"))
            for table in TABLES:
                await connection.execute(text(f"DELETE FROM {table}"))


def linking_feed(path: Path) -> Path:
    """Records whose linking depends on what earlier ones stored, close enough to share batches."""

    def item(number: int, body: str, **changes: Any) -> dict[str, Any]:
        return {
            "source_id": f"link-{number}",
            "headline": f"Dispatch {number}",
            "section": "Politics",
            "published_at": f"2026-05-{number:02d}T08:00:00Z",
            "body": body,
            **changes,
        }

    return write_jsonl(
        path,
        [
            item(1, "Former Prime Minister Tony Blair spoke in London on Monday."),
            item(2, "Mr Blair told reporters in Paris that the plan would fail."),
            item(3, "Blair, the envoy, later flew to Rome."),
            item(4, "The lawyer Cherie Blair opened the conference in Leeds."),
            item(5, "Blair said the talks would go on."),  # two Blairs by now: neither
            item(6, "Blair repeated it in Leeds."),  # the Blair of dispatch 5
            item(7, "US President Donald Trump flew to Paris. The U.S. delegation followed."),
            item(8, "Trump said America would pay.", headline="PUTIN REJECTS TRUMP’S CEASEFIRE PLAN"),
            item(9, "Russian President Vladimir Putin answered from Moscow."),
            item(10, "Harbour traffic resumed in Lisbon.", headline="Harbour reopens after storm"),
            item(11, "Ships left Porto at dawn.", headline="Harbour reopens after storm"),
            item(12, "Clara Okafor visited Berlin.", slug="okafor-visit"),
            item(13, "Okafor returned from Berlin.", slug="okafor-visit"),  # the slug is taken
            item(2, "Mr Blair told reporters in Madrid that the plan would work."),  # dispatch 2 again
            item(14, "Harbour traffic fell in Lisbon.", headline="Harbour reopens after storm"),
            item(15, "The Red Cross and the World Bank met in Geneva with Tony Blair."),
        ],
    )


async def test_batches_link_like_one_at_a_time(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    feed = linking_feed(tmp_path / "linking.jsonl")
    refused = []
    for draft in iter_drafts([feed]):
        assert not isinstance(draft, Exception)
        try:
            await store_article(engine, draft)
        except StoreError as error:
            refused.append(f"{draft.origin}: {error}")
    one_at_a_time = await snapshot(engine)
    assert refused == [f"{feed}:13: slug: 'okafor-visit' is already used by another article"]

    for batch_size in (4, 500):
        await empty(engine)
        errors: list[str] = []
        result = await ingest_paths(
            Settings(database_url=database_url), [feed], batch_size=batch_size, on_error=errors.append
        )
        assert errors == refused
        assert (result.created, result.updated, result.failed) == (14, 1, 1)
        assert await snapshot(engine) == one_at_a_time, f"batches of {batch_size}"
    slugs = [row[1] for row in one_at_a_time["articles"] if row[2] == "Harbour reopens after storm"]
    assert sorted(slugs) == [f"harbour-reopens-after-storm{suffix}" for suffix in ("", "-2", "-3")]
    names = {row[1] for row in one_at_a_time["entities"]}
    assert {"Tony Blair", "Cherie Blair", "Blair"} <= names


async def test_killed_half_way_without_extraction_and_run_again_stores_every_article_once(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """Batches written at once (PostgreSQL) are each whole or absent after a kill."""
    records = [record(number) for number in range(3000)]
    feed = write_jsonl(tmp_path / "big.jsonl", [*records])
    arguments = ["--no-extract", "--batch-size", "20", str(feed)]
    stored = await ingest_and_kill(engine, database_url, arguments, len(records))

    result = await broadsheet("ingest", "--quiet", *arguments, database_url=database_url)
    assert result.returncode == 0, result.stderr
    done = summary(result.stdout)
    assert (done["articles new"], done["articles unchanged"]) == (len(records) - stored, stored)
    assert await scalar(engine, "SELECT count(*) FROM article") == len(records)
    assert await scalar(engine, "SELECT count(DISTINCT source_id) FROM article") == len(records)
    if engine.dialect.name == "postgresql":
        assert await scalar(engine, "SELECT count(*) FROM article_search") == len(records)


async def test_no_extract_stores_articles_only(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url)
    records = [record(number) for number in range(30)]
    feed = write_jsonl(tmp_path / "feed.jsonl", [*records])
    first = await ingest_paths(settings, [feed], extract=False)
    assert (first.created, first.entities_created) == (30, 0)
    assert (await counts(engine))["mention"] == 0
    assert (await ingest_paths(settings, [feed], extract=False)).unchanged == 30

    await reextract(engine)
    linked = await counts(engine)
    assert linked["mention"] == 30 * 5

    records[3]["published_at"] = "2026-06-01T00:00:00Z"
    write_jsonl(feed, [*records])
    changed = await ingest_paths(settings, [feed], extract=False)
    assert (changed.updated, changed.unchanged) == (1, 29)
    assert await counts(engine) == linked  # the mentions stay, with the article's new time
    moved = await scalar(
        engine,
        "SELECT count(*) FROM mention m JOIN article a ON a.id = m.article_id"
        " WHERE a.source_id = 'wire-3' AND m.published_at = a.published_at",
    )
    assert moved == 5


async def articles_one_at_a_time(engine: AsyncEngine, feed: Path) -> list[tuple[Any, ...]]:
    """The stored articles after storing the feed's records one by one, each in its own transaction; a
    record the database refuses (a URL another article holds) is left out, as a run reports and skips it."""
    await empty(engine)
    for draft in iter_drafts([feed]):
        assert not isinstance(draft, Exception)
        with contextlib.suppress(StoreError, IntegrityError):
            await store_article(engine, draft)
    return (await snapshot(engine))["articles"]


async def test_a_url_given_up_later_in_a_batch_is_still_held_before(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """In one batch, a new article wants a URL that a later record takes from the article holding it:
    one after the other the new one is refused, so the batch must not let it in (its updates run first)."""
    feed = write_jsonl(
        tmp_path / "feed.jsonl",
        [
            record(1, url="https://wire.example.com/held"),
            record(2, url="https://wire.example.com/held"),  # refused: wire-1 holds it
            record(1, url="https://wire.example.com/moved"),  # wire-1 gives it up
        ],
    )
    one_at_a_time = await articles_one_at_a_time(engine, feed)
    assert [row[0] for row in one_at_a_time] == ["wire-1"]
    await empty(engine)
    errors: list[str] = []
    result = await ingest_paths(
        Settings(database_url=database_url), [feed], extract=False, on_error=errors.append
    )
    assert (await snapshot(engine))["articles"] == one_at_a_time
    assert (result.created, result.updated, result.failed) == (1, 1, 1)
    assert len(errors) == 1 and errors[0].startswith(f"{feed}:2: the database refused it: ")
    assert "canonical_url" in errors[0]


def tangled_feed(path: Path, count: int, seed: int) -> Path:
    """Records that depend on each other every way a batch can: headlines whose slugs collide ("Harbour
    reopens", "Harbour reopens 2"), given slugs that others' headlines want, source ids and URLs seen
    again with other values (an update gives up its old URL, or its source id when found by URL), new
    sections. Deterministic for a seed."""
    rng = random.Random(seed)
    headlines = ["Harbour reopens", "Harbour reopens 2", "Top 10", "Top", "Storm hits coast", "Budget vote"]
    slugs = ["harbour-reopens", "harbour-reopens-2", "top-10", "top", "own-1", "own-2"]
    sections = ["World/Europe", "News", "Sport/Football", "Extra/One", "Extra/Two", "Extra/Three"]
    records: list[dict[str, Any] | str] = []
    for number in range(count):
        item: dict[str, Any] = {
            "headline": rng.choice(headlines) if rng.random() < 0.7 else f"Story {number}",
            "section": rng.choice(sections),
            "published_at": f"2026-04-{1 + rng.randrange(28):02d}T08:00:00Z",
            "body": f"Paragraph {rng.randrange(3)} of the story.",
        }
        if rng.random() < 0.8:
            item["source_id"] = f"tangle-{rng.randrange(count // 2)}"
        if rng.random() < 0.6:
            item["url"] = f"https://wire.example.com/tangle/{rng.randrange(count // 2)}"
        if rng.random() < 0.15:
            item["slug"] = rng.choice(slugs)
        records.append(item)
    return write_jsonl(path, records)


async def test_batches_without_extraction_store_like_one_at_a_time(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL two batches are written at once where neither can change the other's outcome; either
    way the articles stored are those of storing the records one after the other."""
    for seed in (1, 2):
        feed = tangled_feed(tmp_path / f"tangled-{seed}.jsonl", 120, seed)
        one_at_a_time = await articles_one_at_a_time(engine, feed)
        for batch_size in (3, 10):
            await empty(engine)
            await ingest_paths(
                Settings(database_url=database_url), [feed], batch_size=batch_size, extract=False
            )
            stored = (await snapshot(engine))["articles"]
            assert stored == one_at_a_time, f"seed {seed}, batches of {batch_size}"


def prepared(**changes: Any) -> Prepared:
    draft = next(iter_drafts([write_jsonl(Path(tempfile.mkdtemp()) / "one.jsonl", [record(0, **changes)])]))
    assert isinstance(draft, ArticleDraft)
    found = prepare(draft)
    assert isinstance(found, Prepared)
    return found


def test_write_claims_name_everything_another_batch_could_change() -> None:
    news = prepared(source_id="a", url="https://wire.example.com/a", headline="Harbour reopens 2")
    claims = write_claims([news], {}, settled_sections=set())
    assert claims == {
        ("source_id", "a"),
        ("canonical_url", "https://wire.example.com/a"),
        ("slug", "harbour-reopens"),  # the family of harbour-reopens-2, -3, ...
        ("section", ("World", "Europe")),  # not known to exist: another batch might create it
    }
    assert ("section", ("World", "Europe")) not in write_claims([news], {}, {("World", "Europe")})
    # An update claims what the stored article holds now, which it may give up.
    stored = StoredArticle(7, "budget-vote-3", datetime.now(UTC), None, "old", "https://wire.example.com/old")
    update = prepared(source_id="old", url="https://wire.example.com/new", slug="own-1")
    claims = write_claims([update], {match_of(update): stored}, {("World", "Europe")})
    assert claims == {
        ("article", 7),
        ("source_id", "old"),
        ("canonical_url", "https://wire.example.com/new"),
        ("canonical_url", "https://wire.example.com/old"),
        ("slug", "own"),
        ("slug", "loan-talks-round"),  # its headline's, "Loan talks, round 0"
        ("slug", "budget-vote"),
    }
    assert slug_family("top-10-2") == "top" and slug_family("2024") == "2024"

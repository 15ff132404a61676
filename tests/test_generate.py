"""bench/generate.py: a small synthetic archive on each backend, checked for shape, search and determinism."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.generate import (
    COMMON_TERM,
    MENTIONS_MAX,
    MENTIONS_MIN,
    RARE_TERM,
    TABLES,
    ArchiveNotEmpty,
    ArchiveSpec,
    _chunks,
    build_chunk,
    build_world,
    expected_matches,
    generate,
    main,
    most_mentioned_entity,
)
from ingest.bulk import word_count
from ingest.document import ArticleDraft, Block, BlockKind
from ingest.store import store_article
from models.search import IndexedArticle, document_of
from resolvers.entities import normalize_name
from resolvers.search import SearchQuery, count_search_matches
from resolvers.search.language import parse_search
from resolvers.sections import ensure_section_path

SPEC = ArchiveSpec(articles=2000, entities=500, seed=11)


async def _schema(connection: AsyncConnection) -> list[tuple[Any, ...]]:
    """Every index and constraint (SQLite: index and trigger) definition: what the load must leave as is."""
    if connection.dialect.name == "postgresql":
        statement = (
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "UNION ALL SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2, 3"
        )
    else:
        statement = "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') ORDER BY 2"
    return [tuple(row) for row in await connection.execute(text(statement))]


async def _checksum(connection: AsyncConnection) -> str:
    """A digest of every generated row, in id order (creation times of the migration aside)."""
    digest = hashlib.sha256()
    for table, columns in (
        ("section", "id, parent_id, slug, name, path"),
        ("entity", "id, kind, name, slug"),
        ("entity_alias", "id, entity_id, alias, normalized"),
        (
            "article",
            "id, slug, headline, standfirst, body, section_id, status, published_at, source_id, authors",
        ),
        (
            "mention",
            "id, article_id, entity_id, published_at, role, count, first_position, salience, locations",
        ),
    ):
        for row in await connection.execute(text(f"SELECT {columns} FROM {table} ORDER BY id")):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


async def _wipe(engine: AsyncEngine) -> None:
    """Empty the tables the way the engine fixture does between tests."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            await connection.execute(text("PRAGMA defer_foreign_keys = ON"))
            for table in reversed(TABLES):
                await connection.execute(text(f"DELETE FROM {table}"))


async def _scalar(connection: AsyncConnection, statement: str) -> Any:
    return await connection.scalar(text(statement))


async def test_generated_archive(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        schema_before = await _schema(connection)

    report = await generate(engine, SPEC, workers=0)

    async with engine.connect() as connection:
        counts = {table: await _scalar(connection, f"SELECT count(*) FROM {table}") for table in TABLES}
        assert counts == report.counts
        assert counts["section"] == 81 and counts["article"] == 2000 and counts["entity"] == 500
        assert counts["entity_alias"] == 500 + 250  # every name, and each person's surname
        assert 9.5 * 2000 < counts["mention"] < 10.5 * 2000
        assert await _scalar(connection, "SELECT count(*) FROM article_search") == 2000
        assert await _scalar(connection, "SELECT count(*) FROM article WHERE status <> 'published'") == 0
        # The mention carries its article's time, for the entity pages' indexes.
        assert (
            await _scalar(
                connection,
                "SELECT count(*) FROM mention JOIN article ON article.id = mention.article_id "
                "WHERE mention.published_at <> article.published_at",
            )
            == 0
        )
        per_article = [
            row[0]
            for row in await connection.execute(text("SELECT count(*) FROM mention GROUP BY article_id"))
        ]
        assert (
            len(per_article) == 2000 and min(per_article) >= MENTIONS_MIN and max(per_article) <= MENTIONS_MAX
        )
        assert await _schema(connection) == schema_before
        # The bulk-filled index holds exactly what the writers write: the analyzer's terms.
        sampled = await connection.execute(
            text(
                "SELECT id, headline, standfirst, body, section_id, published_at FROM article "
                "WHERE id % 97 = 1"
            )
        )
        for row in sampled:
            body = row.body if isinstance(row.body, list) else json.loads(row.body)
            document = document_of(
                IndexedArticle(row.id, row.headline, row.standfirst, body, 0, row.published_at, True)
            )
            if engine.dialect.name == "postgresql":
                stored = await connection.scalar(
                    text(
                        "SELECT document = CAST(:document AS tsvector) AND published "
                        "AND section_id = :section AND published_at = :published "
                        "FROM article_search WHERE article_id = :id"
                    ),
                    {"document": document.tsvector, "id": row.id, "section": row.section_id,
                     "published": row.published_at},
                )  # fmt: skip
                assert stored is True
            else:
                fields = await connection.execute(
                    text("SELECT headline, standfirst, body FROM article_search WHERE rowid = :id"),
                    {"id": row.id},
                )
                assert tuple(fields.one()) == (document.headline, document.standfirst, document.body)

        # The search terms are where the docstring says, as many times as expected_matches says.
        for term in (COMMON_TERM, RARE_TERM):
            query = SearchQuery(parse_search(term), limit=10)
            assert await count_search_matches(connection, [query]) == [expected_matches(term, 2000)]
        assert expected_matches(COMMON_TERM, 2000) == 40 and expected_matches(RARE_TERM, 2000) == 1

        # Home and the tree, as ingestion would have made them.
        home = (
            await connection.execute(text("SELECT slug, name, parent_id FROM section WHERE path = ''"))
        ).one()
        assert tuple(home) == ("home", "Home", None)
        baltics = await _scalar(connection, "SELECT id FROM section WHERE path = 'world/europe/baltics'")
        assert baltics is not None
        assert await ensure_section_path(connection, ["World", "Europe", "Baltics"]) == baltics
        await connection.rollback()

        # Articles: bodies of typed blocks, word counts as ingest counts them, unique slugs and source ids.
        rows = (await connection.execute(text("SELECT body, word_count, authors FROM article"))).all()
        for body, count, authors in rows[:500]:
            blocks = json.loads(body) if isinstance(body, str) else body
            assert {block["type"] for block in blocks} <= {"paragraph", "subheading"}
            draft = ArticleDraft(
                headline="x", blocks=[Block(BlockKind(block["type"]), block["text"]) for block in blocks]
            )
            assert word_count(draft) == count
            assert 150 <= count <= 300
            assert 1 <= len(json.loads(authors) if isinstance(authors, str) else authors) <= 2
        assert await _scalar(connection, "SELECT count(DISTINCT slug) FROM article") == 2000
        assert await _scalar(connection, "SELECT count(DISTINCT source_id) FROM article") == 2000
        times = await connection.execute(text("SELECT min(published_at), max(published_at) FROM article"))
        oldest, newest = times.one()
        if isinstance(oldest, str):  # SQLite: naive UTC text
            oldest, newest = (datetime.fromisoformat(value).replace(tzinfo=UTC) for value in (oldest, newest))
        assert (newest - oldest).days > 3600 and newest <= datetime(2026, 1, 1, tzinfo=UTC)

        # Mentions: salience falls with rank, locations point at the names, aliases are normalized names.
        mentions = (
            await connection.execute(
                text(
                    "SELECT article_id, salience, first_position, locations, count FROM mention "
                    "WHERE article_id <= 50 ORDER BY id"
                )
            )
        ).all()
        by_article: dict[int, list[float]] = {}
        for article_id, salience, _first, locations, count in mentions:
            by_article.setdefault(article_id, []).append(salience)
            places = json.loads(locations) if isinstance(locations, str) else locations
            assert count == max(1, len(places))
            assert all(place[0] in ("headline", "standfirst", "body") for place in places)
        assert all(values == sorted(values, reverse=True) for values in by_article.values())
        assert all(0 <= value <= 1 for values in by_article.values() for value in values)
        article = (
            await connection.execute(text("SELECT headline, standfirst, body FROM article WHERE id = 1"))
        ).one()
        located = (
            await connection.execute(
                text(
                    "SELECT entity.name, mention.locations FROM mention "
                    "JOIN entity ON entity.id = mention.entity_id WHERE article_id = 1"
                )
            )
        ).all()
        body = json.loads(article.body) if isinstance(article.body, str) else article.body
        for name, locations in located:
            for field, block, start, end in (
                json.loads(locations) if isinstance(locations, str) else locations
            ):
                source = {"headline": article.headline, "standfirst": article.standfirst}.get(field)
                written = (source if source is not None else body[block]["text"])[start:end]
                assert written in name  # the full name, or a person's surname
        aliases = (await connection.execute(text("SELECT alias, normalized FROM entity_alias"))).all()
        assert all(normalize_name(alias) == normalized for alias, normalized in aliases)

        top = await most_mentioned_entity(connection)
        assert top is not None and report.top_entity == top
        busiest = await _scalar(
            connection, "SELECT max(c) FROM (SELECT count(*) AS c FROM mention GROUP BY entity_id) t"
        )
        assert top[2] == busiest
        checksum = await _checksum(connection)

    # Sequences go on after the generated ids, and the triggers are back: a stored article is indexed.
    stored = await store_article(
        engine,
        ArticleDraft(
            headline="A quiet day in the archive",
            blocks=[Block(BlockKind.PARAGRAPH, "Nothing happened in Belmouth today, said the council.")],
            section_path=("News", "UK"),
            published_at=datetime(2026, 1, 2, tzinfo=UTC),
            source_id="after-generate-1",
            source_format="json",
        ),
    )
    assert stored.created and stored.article_id == 2001
    async with engine.connect() as connection:
        assert await _scalar(connection, "SELECT count(*) FROM article_search") == 2001
        assert await _scalar(connection, "SELECT count(*) FROM section") == 81

    # The same spec again gives the same rows.
    await _wipe(engine)
    await generate(engine, SPEC, workers=0)
    async with engine.connect() as connection:
        assert await _checksum(connection) == checksum
        assert await _schema(connection) == schema_before


async def test_refuses_a_database_with_rows(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await ensure_section_path(connection, ["News"])
    with pytest.raises(ArchiveNotEmpty, match="2 section"):
        await generate(engine, ArchiveSpec(articles=10, entities=50), workers=0)


def test_term_frequencies_scale_with_the_archive() -> None:
    assert [expected_matches(COMMON_TERM, n) for n in (10_000, 100_000, 1_000_000)] == [200, 2_000, 20_000]
    assert [expected_matches(RARE_TERM, n) for n in (10_000, 100_000, 1_000_000)] == [1, 2, 20]
    world = build_world(ArchiveSpec(articles=5000, entities=200))
    assert len(world.common_ids) == 100 and len(world.rare_ids) == 1


def test_rows_depend_on_seed_and_sizes_only() -> None:
    world = build_world(ArchiveSpec(articles=3000, entities=300, seed=5))
    again = build_world(ArchiveSpec(articles=3000, entities=300, seed=5))
    other = build_world(ArchiveSpec(articles=3000, entities=300, seed=6))
    assert build_chunk(world, 1) == build_chunk(again, 1)
    assert build_chunk(world, 1) != build_chunk(other, 1)
    assert build_chunk(world, 1, sqlite=True)[1][0][:2] == build_chunk(again, 1, sqlite=True)[1][0][:2]

    async def collect(workers: int) -> list[Any]:
        return [chunk async for chunk in _chunks(world, sqlite=False, workers=workers)]

    # Worker processes build exactly the chunks this process builds.
    assert asyncio.run(collect(0)) == asyncio.run(collect(2))


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'scale' / 'archive.db'}"
    arguments = ["--database-url", url, "--articles", "300", "--entities", "100", "--workers", "0"]
    assert main(arguments) == 0
    out = capsys.readouterr().out
    assert (
        "articles + mentions" in out
        and "most mentioned entity:" in out
        and "'referendum': in 6 articles" in out
    )
    assert main(arguments) == 2
    assert "already holds rows (81 section" in capsys.readouterr().err
    assert main([*arguments, "--replace", "--seed", "3"]) == 0

"""What a server keeps in memory (the section tree, whole responses) changes the moment the data does,
whoever wrote it: another process's ingest included. No timer is involved: nothing would show for 30 s."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from ingest.document import ArticleDraft, Block, BlockKind
from ingest.store import store_article
from models.changes import LISTENER_NAME
from tests.conftest import StatementLog, caught_up, data_of, graphql
from tests.test_cli import broadsheet

SECTIONS = "{ sections { path } }"
FRONT = "{ articles(first: 5) { edges { node { headline section { path } } } } }"
#: PostgreSQL delivers a notification just after the commit; this bounds how long a test waits for it.
DELIVERY = 5.0


def _feed(tmp_path: Path, name: str, records: list[dict[str, str]]) -> str:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return str(path)


async def _ingest(tmp_path: Path, database_url: str, name: str, section: str) -> None:
    """`broadsheet ingest` in another process, as a newsroom's feed would arrive."""
    record = {"headline": f"{name} headline", "section": section, "body": "Text.", "source_id": name}
    result = await broadsheet(
        "ingest", "--quiet", "--no-extract", _feed(tmp_path, name, [record]), database_url=database_url
    )
    assert result.returncode == 0, result.stderr


async def _eventually(check: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until ``check`` holds; fails past ``DELIVERY``."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < DELIVERY, "the change did not show"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def _paths(client: httpx.AsyncClient) -> list[str]:
    return [row["path"] for row in data_of(await graphql(client, SECTIONS))["sections"]]


async def test_a_section_another_process_adds_shows_at_once(
    app: Starlette, client: httpx.AsyncClient, database_url: str, tmp_path: Path, sql: StatementLog
) -> None:
    await _ingest(tmp_path, database_url, "first", "Europe")
    await _eventually(lambda: _has(client, "europe"))
    await caught_up(app)  # the ingest's every commit heard, before counting statements
    await _paths(client)
    sql.clear()
    assert await _paths(client) == ["", "europe"]
    assert sql.count == 0  # unchanged: the tree is kept, not read per request

    await _ingest(tmp_path, database_url, "second", "Science/Space")
    waited = await _eventually(lambda: _has(client, "science/space"))
    assert await _paths(client) == ["", "europe", "science", "science/space"]
    assert waited < DELIVERY


async def test_caught_up_returns_once_the_server_has_heard_of_every_commit_before_it(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient, database_url: str, sql: StatementLog
) -> None:
    await store_article(engine, _draft(0))
    await caught_up(app)
    assert await _paths(client) == ["", "desk-0"]
    if engine.dialect.name == "postgresql":
        # Another process commits while this event loop is held, so the server cannot have read the
        # notification yet: only caught_up lets it in before the next request.
        dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        # A section and its first published article: a section shows only with one (resolvers/sections.py).
        insert = (
            "WITH late AS (INSERT INTO section (parent_id, slug, name, path, created_at)"
            " SELECT id, 'late', 'Late', 'late', now() FROM section WHERE path = '' RETURNING id)"
            " INSERT INTO article (slug, headline, body, section_id, status, published_at, updated_at,"
            " created_at, source_format, authors, word_count)"
            " SELECT 'late-report', 'Late report', '[]', id, 'published', now(), now(), now(), 'json',"
            " '[]', 0 FROM late"
        )
        done = subprocess.run(["psql", "-q", dsn, "-c", insert], capture_output=True, text=True)  # noqa: ASYNC221
        assert done.returncode == 0, done.stderr
    else:
        await store_article(engine, replace(_draft(1), section_path=("Late",)))
    await caught_up(app)
    assert await _paths(client) == ["", "desk-0", "late"]  # no waiting, no polling
    sql.clear()
    assert await _paths(client) == ["", "desk-0", "late"] and sql.count == 0


def _draft(number: int) -> ArticleDraft:
    return ArticleDraft(
        headline=f"Report {number}",
        blocks=[Block(BlockKind.PARAGRAPH, "Text.")],
        section_path=(f"Desk {number}",),
        source_id=f"caught-up-{number}",
        source_format="json",
    )


async def _has(client: httpx.AsyncClient, path: str) -> bool:
    return path in await _paths(client)


async def test_kept_responses_are_dropped_when_another_process_writes(
    cached_app: Starlette, cached: httpx.AsyncClient, database_url: str, tmp_path: Path, sql: StatementLog
) -> None:
    await _ingest(tmp_path, database_url, "first", "Europe")

    async def headlines() -> list[str]:
        edges = data_of(await graphql(cached, FRONT))["articles"]["edges"]
        return [edge["node"]["headline"] for edge in edges]

    await _eventually(lambda: _equals(headlines, ["first headline"]))
    await caught_up(cached_app)
    await headlines()
    sql.clear()
    assert await headlines() == ["first headline"]
    assert sql.count == 0  # served from memory

    await _ingest(tmp_path, database_url, "second", "Europe")
    await _eventually(lambda: _equals(headlines, ["second headline", "first headline"]))


async def _equals(read: Callable[[], Awaitable[list[str]]], expected: list[str]) -> bool:
    return await read() == expected


async def test_a_lost_listener_serves_fresh_data_and_listens_again(
    app: Starlette,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,
    sql: StatementLog,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's data_version has no connection to lose")

    async def listener() -> int | None:
        async with engine.connect() as connection:
            pid = await connection.scalar(
                text(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": LISTENER_NAME},
            )
            return None if pid is None else int(pid)

    before = await listener()
    assert before is not None
    assert await _paths(client) == []
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
    # Whether the server notices before or after this write, the section shows on the next request.
    await _ingest(tmp_path, database_url, "first", "Europe")
    await _eventually(lambda: _has(client, "europe"))

    async def listening_again() -> bool:
        return (await listener()) not in (None, before)

    await _eventually(listening_again)
    await caught_up(app)
    await _paths(client)
    sql.clear()
    assert await _paths(client) == ["", "europe"] and sql.count == 0  # kept again

"""The `broadsheet` command, run as a user runs it: a real process against the test databases."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ROOT, SAMPLES
from tests.helpers import serving
from tests.shared import shared_path


async def broadsheet(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the command in a child process, off the event loop."""
    return await asyncio.to_thread(_run, args, database_url, env)


def _run(args: tuple[str, ...], database_url: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "BROADSHEET_DATABASE_URL": database_url, "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "broadsheet", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def summary(stdout: str) -> dict[str, int]:
    """The summary table the command prints, as {"articles new": 3, ...}."""
    return {
        label: int(value) for label, value in re.findall(r"│ ([a-z ]+?)\s+│ (\d+)\s+│", stdout, re.MULTILINE)
    }


async def _count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text(f"SELECT count(*) FROM {table}")))


async def test_ingest_seed_twice_gives_one_article(engine: AsyncEngine, database_url: str) -> None:
    seed = str(shared_path("seed", "daily-guardian-peace-talks.txt"))
    first = await broadsheet("ingest", "--quiet", seed, database_url=database_url)
    assert first.returncode == 0, first.stderr
    assert summary(first.stdout)["articles new"] == 1
    second = await broadsheet("ingest", "--quiet", seed, database_url=database_url)
    assert second.returncode == 0, second.stderr
    assert summary(second.stdout)["articles updated"] == 1 and summary(second.stdout)["articles new"] == 0
    assert await _count(engine, "article") == 1


async def test_samples_folder_ingests_cleanly(engine: AsyncEngine, database_url: str) -> None:
    result = await broadsheet("ingest", "--quiet", str(SAMPLES), database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert await _count(engine, "article") == 7


async def test_bad_record_is_reported_and_the_rest_go_in(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    good = {
        "headline": "Harbour reopens after storm",
        "body": "Ships returned on Monday.",
        "source_id": "a-1",
    }
    records = [
        json.dumps(good),
        json.dumps({**good, "headline": "H" * 600, "source_id": "a-9"}),
        json.dumps({"headline": "Bridge vote delayed", "published_at": "last Tuesday", "source_id": "a-2"}),
        json.dumps({**good, "headline": "Ferry timetable changes", "source_id": "a-3"}),
    ]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(records) + "\n", encoding="utf-8")
    result = await broadsheet("ingest", "--quiet", str(feed), database_url=database_url)
    assert result.returncode == 1
    assert f"error {feed}:2: headline: longer than 500 characters (600)" in result.stderr
    assert "[red]" not in result.stderr  # styled, not printed as markup
    assert f"{feed}:3" in result.stderr and "published_at" in result.stderr
    assert "Traceback" not in result.stderr
    assert await _count(engine, "article") == 2


async def test_bad_settings_stop_the_command_with_a_message() -> None:
    result = await broadsheet("migrate", database_url="mysql://root@localhost/news")
    assert result.returncode == 2
    assert "BROADSHEET_DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


async def test_serve_answers_over_real_http(engine: AsyncEngine, database_url: str) -> None:
    seed = str(shared_path("seed", "daily-guardian-peace-talks.txt"))
    assert (await broadsheet("ingest", "--quiet", seed, database_url=database_url)).returncode == 0
    async with serving(database_url) as base, httpx.AsyncClient(base_url=base, timeout=5) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok", "database": "ok"}
        query = "{ articles(first: 1) { edges { node { headline } } } }"
        answer = await http.get("/graphql", params={"query": query})
        assert answer.json()["data"]["articles"]["edges"][0]["node"]["headline"].startswith("Putin, Trump")


async def test_reextract_command(engine: AsyncEngine, database_url: str) -> None:
    seed = str(shared_path("seed", "daily-guardian-peace-talks.txt"))
    assert (await broadsheet("ingest", "--quiet", seed, database_url=database_url)).returncode == 0
    result = await broadsheet("reextract", "--quiet", database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "re-extracted 1 articles; 0 new entities" in result.stdout
    assert await _count(engine, "mention") == 19


async def test_migrate_says_what_it_created_then_that_nothing_is_left(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """On a new database: that it was created and each migration applied; run again: nothing to apply."""
    from alembic.script import ScriptDirectory

    from models.db import alembic_config
    from tests.conftest import PG_SERVER, _drop_postgres

    name = f"broadsheet_test_new_{os.getpid()}"
    fresh = (
        f"{PG_SERVER}/{name}" if engine.dialect.name == "postgresql" else f"sqlite:///{tmp_path / 'new.db'}"
    )
    revisions = [script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()]
    try:
        first = await broadsheet("migrate", database_url=fresh)
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith("created database "), first.stdout
        assert f"applied {len(revisions)} migration(s)" in first.stdout
        assert all(revision in first.stdout for revision in revisions)
        assert "up to date" not in first.stdout

        again = await broadsheet("migrate", database_url=fresh)
        assert again.returncode == 0, again.stderr
        assert "created" not in again.stdout and "applied" not in again.stdout
        assert f"is up to date (at {revisions[0]}): nothing to apply" in again.stdout
    finally:
        if engine.dialect.name == "postgresql":
            await _drop_postgres(name)

"""Putting articles into a test database the way `broadsheet ingest` does, and serving it as a user does."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.captured import parse_captured
from ingest.document import ArticleDraft, Block, BlockKind
from ingest.store import Stored, store_article
from models import ArticleStatus

ROOT = Path(__file__).resolve().parents[1]


async def ingest_page(engine: AsyncEngine, path: Path) -> Stored:
    """Parse a captured page and store it, as one ingest of that file would."""
    page = await asyncio.to_thread(path.read_text, encoding="utf-8")
    draft = parse_captured(page, source=str(path))
    return await store_article(engine, draft)


def json_article(
    slug: str,
    headline: str,
    body: str,
    *,
    hour: int,
    section: tuple[str, ...] = ("World", "Europe"),
    status: ArticleStatus = ArticleStatus.PUBLISHED,
    day: tuple[int, int, int] = (2026, 3, 1),
) -> ArticleDraft:
    """A one-paragraph article as a JSON record gives it, its slug its source id too (so storing it again
    updates it), published at ``hour`` on ``day``."""
    return ArticleDraft(
        headline=headline,
        blocks=[Block(BlockKind.PARAGRAPH, body)],
        section_path=section,
        slug=slug,
        published_at=datetime(*day, hour, tzinfo=UTC),
        source_id=slug,
        source_format="json",
        status=status,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def serving(database_url: str, env: Mapping[str, str] | None = None) -> AsyncIterator[str]:
    """`broadsheet serve` on a free port, until it answers its health check; yields its base URL. ``env``:
    more environment for it (``BROADSHEET_REDIS_URL``, ...)."""
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "broadsheet",
        "serve",
        "--port",
        str(port),
        env={**os.environ, "BROADSHEET_DATABASE_URL": database_url, **(env or {})},
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            for _attempt in range(150):
                if server.returncode is not None:
                    break
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
            else:
                pytest.fail("server did not answer within 30 s")
        if server.returncode is not None:
            stderr = await server.stderr.read() if server.stderr else b""
            pytest.fail(f"server stopped: {stderr.decode(errors='replace')}")
        yield f"http://127.0.0.1:{port}"
    finally:
        if server.returncode is None:
            server.terminate()
        await server.wait()

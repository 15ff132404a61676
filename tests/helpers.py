"""Putting articles into a test database the way `broadsheet ingest` does."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.captured import parse_captured
from ingest.store import Stored, store_article


async def ingest_page(engine: AsyncEngine, path: Path) -> Stored:
    """Parse a captured page and store it, as one ingest of that file would."""
    page = await asyncio.to_thread(path.read_text, encoding="utf-8")
    draft = parse_captured(page, source=str(path))
    return await store_article(engine, draft)

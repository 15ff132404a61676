"""An ingest run: each draft stored in its own transaction; failures are counted and reported."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from broadsheet.settings import Settings
from ingest.errors import IngestError
from ingest.sources import iter_drafts
from ingest.store import StoreError, store_article
from models.db import create_engine


@dataclass(slots=True)
class IngestSummary:
    created: int = 0
    updated: int = 0
    failed: int = 0
    entities_created: int = 0


async def ingest_paths(
    settings: Settings,
    paths: Sequence[Path],
    *,
    on_article: Callable[[], None] = lambda: None,
    on_error: Callable[[str], None] = lambda _message: None,
) -> IngestSummary:
    """Store everything in ``paths``; a bad record is reported through ``on_error`` and never written."""
    summary = IngestSummary()
    engine = create_engine(settings.database_url, pool_size=1, pool_overflow=0)
    try:
        for item in iter_drafts(paths):
            on_article()
            if isinstance(item, IngestError):
                summary.failed += 1
                on_error(str(item))
                continue
            where = item.origin or repr(item.headline[:60])
            try:
                stored = await store_article(engine, item)
            except StoreError as error:
                summary.failed += 1
                on_error(f"{where}: {error}")
                continue
            except SQLAlchemyError as error:
                summary.failed += 1
                on_error(f"{where}: the database refused it: {_first_line(error)}")
                continue
            summary.created += stored.created
            summary.updated += not stored.created
            summary.entities_created += stored.entities_created
    finally:
        await engine.dispose()
    return summary


def _first_line(error: SQLAlchemyError) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else error.__class__.__name__

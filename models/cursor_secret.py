"""The server's cursor secret: one random value in the database, so every server process agrees on it.

Cursors carry a MAC made with it (graph/relay.py). Migration 0010 creates the row; a server reads it once.
Rotating it (``UPDATE cursor_secret SET secret = '<new random text>'``, then restarting the servers) makes
every cursor handed out before refused: clients start their lists again from the first page.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel


class CursorSecret(SQLModel, table=True):
    """A single row (id 1). ``secret`` is any long random text; migration 0010 writes 64 hex digits."""

    __tablename__ = "cursor_secret"

    id: int | None = Field(default=None, primary_key=True)
    secret: str = Field(max_length=200)


async def read_cursor_secret(connection: AsyncConnection) -> str:
    """The secret; a clear error when the database lacks it (not migrated to 0010, or the row deleted)."""
    table = CursorSecret.__table__  # type: ignore[attr-defined]
    secret = await connection.scalar(select(table.c.secret).where(table.c.id == 1))
    if not secret:
        raise RuntimeError("the database holds no cursor secret: run `broadsheet migrate`")
    return str(secret)

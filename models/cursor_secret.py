"""The server's cursor secret: one random value in the database, so every server process agrees on it.

Cursors carry a MAC made with it (graph/relay.py). Migration 0010 creates the row; a server reads it once.
Rotating it (``UPDATE cursor_secret SET secret = '<new random text>'``, then restarting the servers) makes
every cursor handed out before refused: clients start their lists again from the first page.
"""

from __future__ import annotations

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel


class CursorSecret(SQLModel, table=True):
    """A single row (id 1). ``secret`` is any long random text; migration 0010 writes 64 hex digits."""

    __tablename__ = "cursor_secret"

    id: int | None = Field(default=None, primary_key=True)
    secret: str = Field(max_length=200)


async def read_cursor_secret(connection: AsyncConnection) -> str:
    """The secret; a clear error when the database lacks it (not migrated to 0010, or the row deleted)."""
    return await read_one_row_secret(connection, CursorSecret.__table__, "cursor secret")  # type: ignore[attr-defined]


async def read_one_row_secret(connection: AsyncConnection, table: Table, what: str) -> str:
    """The ``secret`` of a table holding one row (id 1), as the cursor and API key secrets are kept; a clear
    error naming ``what`` when the database lacks it."""
    secret = await connection.scalar(select(table.c.secret).where(table.c.id == 1))
    if not secret:
        raise RuntimeError(f"the database holds no {what}: run `broadsheet migrate`")
    return str(secret)

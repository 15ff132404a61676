"""Whether the database answers, for health checks."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def ping(connection: AsyncConnection) -> None:
    """One round trip; raises when the database cannot answer."""
    await connection.execute(text("SELECT 1"))

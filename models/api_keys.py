"""API keys for partners: what each key may do and how much, stored as a keyed hash, never as the key.

A key is ``bs_`` and 32 random bytes (URL-safe base64): 256 bits, so no one guesses one and no one inverts
its hash. A slow password hash (bcrypt, Argon2) exists to make guessing weak secrets expensive; for a key
like this it would only cost every request milliseconds. So a key is stored as HMAC-SHA256 of the key,
keyed by the *hashing secret*: one random value in the database (``api_key_secret``, written by migration
0012), as the cursor secret is. There rather than in a setting: every server process and the `broadsheet
keys` command (run on whatever host) must hash alike, with nothing to configure and nothing that a changed
environment variable silently breaks (every key would stop working). The secret adds little beside 256 bits
of entropy, and is not meant to: it keeps a copy of the ``api_key`` table alone (an export, a log of a
query) from confirming a key someone holds. Changing it makes every key refused.

Revoked keys stay, for the record, and their names stay taken.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from models.cursor_secret import read_one_row_secret
from models.types import JSONDocument, UTCDateTime, utcnow


class KeyScope(StrEnum):
    """What a key may do: read published content, read drafts, write (the mutations to come)."""

    READ = "read"
    DRAFTS = "drafts"
    WRITE = "write"


class ApiKey(SQLModel, table=True):
    """One partner key. ``key_hash`` is the hex HMAC of the key; while a rotation's grace period lasts,
    ``previous_hash`` (the key before) is accepted too, until ``previous_until``. A limit left empty is the
    server's default for keys."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    key_hash: str = Field(max_length=64, unique=True)
    previous_hash: str | None = Field(default=None, max_length=64, index=True)
    previous_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    scopes: list[str] = Field(default_factory=list, sa_type=JSONDocument)
    rate_amount: int | None = None
    rate_seconds: int | None = None
    cost_amount: int | None = None
    cost_seconds: int | None = None
    persisted_only: bool = False
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs={"default": utcnow}
    )
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKeySecret(SQLModel, table=True):
    """A single row (id 1): the hashing secret, 64 hex digits from the operating system's random source."""

    __tablename__ = "api_key_secret"

    id: int | None = Field(default=None, primary_key=True)
    secret: str = Field(max_length=200)


async def read_api_key_secret(connection: AsyncConnection) -> bytes:
    """The hashing secret; a clear error when the database lacks it (not migrated to 0012)."""
    table = ApiKeySecret.__table__  # type: ignore[attr-defined]
    return (await read_one_row_secret(connection, table, "API key secret")).encode()

"""Partner API keys: made, listed, rotated, revoked, and found by the key a request presents.

Only the keyed hash of a key is stored (models/api_keys.py says which and why), so a key is shown once, when
it is made or rotated, and never again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broadsheet.quota import Limit
from models.api_keys import ApiKey, KeyScope, read_api_key_secret

_table = ApiKey.__table__  # type: ignore[attr-defined]

PREFIX = "bs_"
#: A key as made here: the prefix and 32 random bytes in URL-safe base64 (43 characters, no padding).
KEY_SHAPE = re.compile(rf"{PREFIX}[A-Za-z0-9_-]{{43}}")
#: Names as the command line and logs show them: no spaces, nothing to quote.
NAME_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_COLUMNS = (
    _table.c.id,
    _table.c.name,
    _table.c.scopes,
    _table.c.rate_amount,
    _table.c.rate_seconds,
    _table.c.cost_amount,
    _table.c.cost_seconds,
    _table.c.persisted_only,
    _table.c.created_at,
    _table.c.last_used_at,
    _table.c.revoked_at,
    _table.c.previous_until,
)


class KeyRefused(Exception):
    """A key operation refused, with a message for the operator."""


class KeyNameTaken(KeyRefused):
    pass


class UnknownKey(KeyRefused):
    pass


class KeyRevoked(KeyRefused):
    pass


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    """A key as the server and the operator see it: everything but its hashes. A limit of None is the
    server's default for keys."""

    id: int
    name: str
    scopes: tuple[KeyScope, ...]  # in KeyScope's order
    rate: Limit | None
    cost: Limit | None
    persisted_only: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    previous_until: datetime | None  # while rotating: the key before is accepted until then


@dataclass(frozen=True, slots=True)
class PresentedKey:
    """The key a request presented: the current one (``until`` None), or the one before a rotation,
    accepted until ``until``."""

    key: ApiKeyRow
    until: datetime | None

    def valid_at(self, now: datetime) -> bool:
        return self.until is None or now < self.until


#: What a request without a key may do, when the server lets it in (BROADSHEET_REQUIRE_API_KEY false).
ANONYMOUS_SCOPES = (KeyScope.READ,)


def granted_scopes(key: ApiKeyRow | None) -> tuple[KeyScope, ...]:
    """What a request presenting ``key`` (None: no key) may do, in KeyScope's order."""
    return ANONYMOUS_SCOPES if key is None else key.scopes


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def key_digest(secret: bytes, key: str) -> str:
    """HMAC-SHA256 of the key under the database's hashing secret, in hex: what is stored."""
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def _row(row: Any) -> ApiKeyRow:
    return ApiKeyRow(
        id=row.id,
        name=row.name,
        scopes=tuple(scope for scope in KeyScope if scope in row.scopes),
        rate=Limit(row.rate_amount, row.rate_seconds) if row.rate_amount else None,
        cost=Limit(row.cost_amount, row.cost_seconds) if row.cost_amount else None,
        persisted_only=row.persisted_only,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        previous_until=row.previous_until,
    )


async def _by_name(connection: AsyncConnection, name: str) -> ApiKeyRow:
    row = (await connection.execute(select(*_COLUMNS).where(_table.c.name == name))).one_or_none()
    if row is None:
        raise UnknownKey(f"no key is named {name!r} (`broadsheet keys list` shows them)")
    return _row(row)


async def create_key(
    connection: AsyncConnection,
    name: str,
    scopes: Collection[KeyScope],
    *,
    rate: Limit | None = None,
    cost: Limit | None = None,
    persisted_only: bool = False,
    now: datetime,
) -> tuple[ApiKeyRow, str]:
    """A new key and the key itself, which only its holder will know from now on."""
    if await connection.scalar(select(_table.c.id).where(_table.c.name == name)) is not None:
        raise KeyNameTaken(f"a key named {name!r} exists already (revoked keys keep their names)")
    key = new_key()
    values = {
        "name": name,
        "key_hash": key_digest(await read_api_key_secret(connection), key),
        "scopes": [scope.value for scope in KeyScope if scope in scopes],  # one order, whatever was given
        "rate_amount": rate.amount if rate else None,
        "rate_seconds": rate.seconds if rate else None,
        "cost_amount": cost.amount if cost else None,
        "cost_seconds": cost.seconds if cost else None,
        "persisted_only": persisted_only,
        "created_at": now,
    }
    await connection.execute(insert(_table).values(values))
    return await _by_name(connection, name), key


async def list_keys(connection: AsyncConnection) -> list[ApiKeyRow]:
    """Every key, revoked ones too, by name."""
    return [_row(row) for row in await connection.execute(select(*_COLUMNS).order_by(_table.c.name))]


async def revoke_key(connection: AsyncConnection, name: str, *, now: datetime) -> tuple[ApiKeyRow, bool]:
    """Refuse the key (and the one before it, if rotating) from now on; whether it was in use until now."""
    key = await _by_name(connection, name)
    if key.revoked_at is not None:
        return key, False
    await connection.execute(update(_table).where(_table.c.id == key.id).values(revoked_at=now))
    return await _by_name(connection, name), True


async def rotate_key(
    connection: AsyncConnection, name: str, *, grace: timedelta, now: datetime
) -> tuple[ApiKeyRow, str]:
    """A new key for ``name``; the current one keeps working for ``grace``, then is refused. A key rotated
    again within a grace period: the key before the current one is refused at once."""
    key = await _by_name(connection, name)
    if key.revoked_at is not None:
        raise KeyRevoked(f"the key {name!r} is revoked: create a new one instead")
    secret = await read_api_key_secret(connection)
    fresh = new_key()
    await connection.execute(
        update(_table)
        .where(_table.c.id == key.id)
        .values(
            previous_hash=_table.c.key_hash if grace > timedelta(0) else None,
            previous_until=now + grace if grace > timedelta(0) else None,
            key_hash=key_digest(secret, fresh),
        )
    )
    return await _by_name(connection, name), fresh


async def key_by_digest(connection: AsyncConnection, digest: str, *, now: datetime) -> PresentedKey | None:
    """The key whose hash (current, or the one before within its grace period) is ``digest``; None for an
    unknown, revoked or expired key.

    The lookup compares hashes in SQL, which is not constant-time; what it could leak by timing is a keyed
    hash of a key, which without the hashing secret tells nothing of the key. The test of which of the two
    hashes matched is made in constant time anyway, as every comparison against a stored secret here is."""
    found = (
        await connection.execute(
            select(*_COLUMNS, _table.c.key_hash).where(
                or_(_table.c.key_hash == digest, _table.c.previous_hash == digest),
                _table.c.revoked_at.is_(None),
            )
        )
    ).one_or_none()
    if found is None:
        return None
    current = hmac.compare_digest(found.key_hash, digest)
    presented = PresentedKey(_row(found), None if current else found.previous_until)
    return presented if presented.valid_at(now) else None


async def record_use(connection: AsyncConnection, used: Mapping[int, datetime]) -> None:
    """When each key (by id) was last used; one statement for any number of keys."""
    if used:
        await connection.execute(
            update(_table).where(_table.c.id == bindparam("key_id")).values(last_used_at=bindparam("at")),
            [{"key_id": key_id, "at": at} for key_id, at in used.items()],
        )

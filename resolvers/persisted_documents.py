"""Persisted documents: found by hash, registered by clients (automatic persisted queries), and loaded from
build manifests as trusted documents (models/persisted_documents.py says which is which).

A hash is the lowercase hex SHA-256 of the document's UTF-8 text, as Apollo's automatic persisted queries
and the GraphQL over HTTP draft's persisted documents define it. With Redis, the automatic ones live there
(``<prefix>apq:<hash>``, expiring a while after their last use) and the database holds only the trusted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from models.persisted_documents import PersistedDocument

_table = PersistedDocument.__table__  # type: ignore[attr-defined]

HASH_SHAPE = re.compile(r"[0-9a-f]{64}")
#: The prefix the GraphQL over HTTP draft gives a SHA-256 document identifier (GraphQL Code Generator's
#: ``hashAlgorithm``/``includeAlgorithmPrefix`` output, among others); manifests may use it or not.
SHA256_PREFIX = "sha256:"


class ManifestRefused(ValueError):
    """A manifest not loaded, with the reason and the entry at fault; nothing of it was written."""


@dataclass(frozen=True, slots=True)
class FoundDocument:
    text: str
    trusted: bool


@dataclass(frozen=True, slots=True)
class DocumentRow:
    """A trusted document as `broadsheet documents list` shows it."""

    sha256: str
    document: str
    created_at: datetime


def document_hash(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def manifest_documents(manifest: object) -> dict[str, str]:
    """``{hash: document}`` from a manifest of that shape (relay-compiler's persisted queries file, GraphQL
    Code Generator's ``persisted-documents.json``), each hash checked against its document; the keys may be
    plain hex or ``sha256:``-prefixed. ManifestRefused naming the first entry at fault."""
    if not isinstance(manifest, Mapping) or not manifest:
        raise ManifestRefused('a manifest is a non-empty JSON object of {"<sha256 hex>": "<document>"}')
    documents: dict[str, str] = {}
    for key, document in manifest.items():
        sha = key.lower().removeprefix(SHA256_PREFIX)
        if not HASH_SHAPE.fullmatch(sha):
            raise ManifestRefused(
                f"{key!r} is not a SHA-256 hash (64 hex digits, optionally after sha256:); generate the "
                "manifest with SHA-256 (relay-compiler: persistConfig algorithm SHA256; GraphQL Code "
                "Generator: persistedDocuments hashAlgorithm sha256)"
            )
        if not isinstance(document, str) or not document.strip():
            raise ManifestRefused(f"the document of {key!r} is not a GraphQL document (a non-empty string)")
        if document_hash(document) != sha:
            raise ManifestRefused(f"{key!r} is not the SHA-256 of its document ({document_hash(document)})")
        documents[sha] = document
    return documents


def _insert(connection: AsyncConnection) -> postgresql.Insert | sqlite.Insert:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(_table)


async def find_document(connection: AsyncConnection, sha: str) -> FoundDocument | None:
    row = (
        await connection.execute(select(_table.c.document, _table.c.trusted).where(_table.c.sha256 == sha))
    ).one_or_none()
    return None if row is None else FoundDocument(row.document, row.trusted)


async def add_trusted(connection: AsyncConnection, documents: Mapping[str, str], *, now: datetime) -> int:
    """Make each document trusted (kept already as an automatic one or not); how many were not trusted."""
    trusted = set(
        await connection.scalars(
            select(_table.c.sha256).where(_table.c.sha256.in_(list(documents)), _table.c.trusted)
        )
    )
    fresh = [
        {"sha256": sha, "document": text, "trusted": True, "created_at": now}
        for sha, text in documents.items()
        if sha not in trusted
    ]
    if fresh:
        statement = _insert(connection)
        await connection.execute(
            statement.on_conflict_do_update(index_elements=["sha256"], set_={"trusted": True}), fresh
        )
    return len(fresh)


async def list_trusted(connection: AsyncConnection) -> Sequence[DocumentRow]:
    rows = await connection.execute(
        select(_table.c.sha256, _table.c.document, _table.c.created_at)
        .where(_table.c.trusted)
        .order_by(_table.c.created_at, _table.c.sha256)
    )
    return [DocumentRow(row.sha256, row.document, row.created_at) for row in rows]


async def store_automatic(
    connection: AsyncConnection, sha: str, document: str, *, keep: int, now: datetime
) -> None:
    """Keep a client's document (a trusted one of that hash stays trusted); then, if one was added, drop
    the oldest automatic ones beyond ``keep``."""
    statement = _insert(connection).values(sha256=sha, document=document, trusted=False, created_at=now)
    added = await connection.execute(statement.on_conflict_do_nothing(index_elements=["sha256"]))
    if added.rowcount:
        newest = (
            select(_table.c.sha256)
            .where(~_table.c.trusted)
            .order_by(_table.c.created_at.desc(), _table.c.sha256.desc())
            .limit(keep)
        )
        await connection.execute(delete(_table).where(~_table.c.trusted, _table.c.sha256.not_in(newest)))


def redis_key(prefix: str, sha: str) -> str:
    return f"{prefix}apq:{sha}"


async def redis_find(redis: Redis, prefix: str, sha: str, *, ttl: int) -> str | None:
    """The automatic document of that hash in Redis, its time to live renewed (kept while it is used)."""
    found: bytes | str | None = await redis.getex(redis_key(prefix, sha), ex=ttl)
    return found.decode() if isinstance(found, bytes) else found


async def redis_store(redis: Redis, prefix: str, sha: str, document: str, *, ttl: int) -> None:
    await redis.set(redis_key(prefix, sha), document.encode(), ex=ttl)

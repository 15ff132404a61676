"""Article writes, as the one write path (``ingest.store.write_batch``) makes them: a batch of articles in a
few statements, their search index rows with them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    bindparam,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from models import Article, ArticleStatus
from models.db import copy_rows, one_of
from models.search import IndexDocument, IndexedArticle, index_writes
from models.types import utcnow

_article = Article.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ArticleFields:
    """What ingestion writes to an article row."""

    slug: str | None
    headline: str
    standfirst: str | None
    body: list[dict[str, Any]] | bytes  # blocks, or their JSON (written as is)
    section_id: int
    published_at: datetime | None
    source_format: str
    source_id: str | None
    canonical_url: str | None
    authors: list[str]
    word_count: int
    content_hash: str | None = None
    search_document: IndexDocument | None = None  # the search index's row, when made already
    status: ArticleStatus = ArticleStatus.PUBLISHED


#: How a new version of an article finds the stored one: a column and its value.
ArticleMatch = tuple[str, str]


def article_match(source_id: str | None, canonical_url: str | None, slug: str) -> ArticleMatch:
    """Same source id, else same canonical URL, else same slug (the given one, else the headline's)."""
    if source_id is not None:
        return ("source_id", source_id)
    if canonical_url is not None:
        return ("canonical_url", canonical_url)
    return ("slug", slug)


async def _index(
    connection: AsyncConnection, articles: Sequence[tuple[int, ArticleFields, datetime]]
) -> None:
    """Write the search index rows of (id, fields, publication time) just written: analysed here, since
    the index holds the analyzer's terms (models/search.py), in a fixed number of statements."""
    indexed = [
        IndexedArticle(
            article_id,
            fields.headline,
            fields.standfirst,
            orjson.loads(fields.body) if isinstance(fields.body, bytes) else fields.body,
            fields.section_id,
            published_at,
            published=fields.status is ArticleStatus.PUBLISHED,
            document=fields.search_document,
        )
        for article_id, fields, published_at in articles
    ]
    for statement, parameters in index_writes(connection.dialect.name, indexed):
        await connection.execute(statement, parameters)


def _writable(fields: ArticleFields) -> dict[str, Any]:
    return {
        "headline": fields.headline,
        "standfirst": fields.standfirst,
        "body": orjson.Fragment(fields.body) if isinstance(fields.body, bytes) else fields.body,
        "section_id": fields.section_id,
        "status": fields.status,
        "source_format": fields.source_format,
        "source_id": fields.source_id,
        "canonical_url": fields.canonical_url,
        "authors": fields.authors,
        "word_count": fields.word_count,
        "content_hash": fields.content_hash,
    }


# Set-based writes for bulk ingestion: a batch of articles in a few statements.


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """What a new version of an article needs to know of the stored one."""

    id: int
    slug: str
    published_at: datetime
    content_hash: str | None
    source_id: str | None
    canonical_url: str | None


async def find_articles(
    connection: AsyncConnection, matches: Collection[ArticleMatch]
) -> dict[ArticleMatch, StoredArticle]:
    """The stored articles these matches find (see ``article_match``), in one statement."""
    wanted: dict[str, list[str]] = {}
    for column, value in matches:
        wanted.setdefault(column, []).append(value)
    if not wanted:
        return {}
    statement = select(
        _article.c.id,
        _article.c.slug,
        _article.c.published_at,
        _article.c.content_hash,
        _article.c.source_id,
        _article.c.canonical_url,
    ).where(
        or_(
            *(
                one_of(connection.dialect.name, _article.c[column], values)
                for column, values in wanted.items()
            )
        )
    )
    found: dict[ArticleMatch, StoredArticle] = {}
    for row in await connection.execute(statement):
        stored = StoredArticle(*row)
        for column in wanted:
            found[(column, row._mapping[column])] = stored
    return found


async def taken_article_slugs(connection: AsyncConnection, slugs: Collection[str]) -> dict[str, int]:
    """Which of these slugs articles have, and whose they are."""
    statement = select(_article.c.slug, _article.c.id).where(
        one_of(connection.dialect.name, _article.c.slug, slugs)
    )
    return {slug: article_id for slug, article_id in await connection.execute(statement)}


async def insert_articles(
    connection: AsyncConnection, articles: Sequence[tuple[ArticleFields, str]]
) -> list[tuple[int, datetime]]:
    """Insert (fields, slug) pairs in one statement (PostgreSQL: two); each one's (id, publication time), in
    order."""
    if not articles:
        return []
    now = utcnow()
    rows = [
        {
            **_writable(fields),
            "slug": slug,
            "published_at": fields.published_at or now,
            "updated_at": now,
            "created_at": now,
        }
        for fields, slug in articles
    ]
    if connection.dialect.name == "postgresql":
        ids = await _copy_articles(connection, rows)
    else:
        statement = insert(_article).returning(_article.c.id, sort_by_parameter_order=True)
        ids = list((await connection.execute(statement, rows)).scalars())
    written = [(int(article_id), row["published_at"]) for article_id, row in zip(ids, rows, strict=True)]
    await _index(
        connection,
        [
            (article_id, fields, published_at)
            for (article_id, published_at), (fields, _) in zip(written, articles, strict=True)
        ],
    )
    return written


async def _copy_articles(connection: AsyncConnection, rows: list[dict[str, Any]]) -> list[int]:
    """Write new article rows with COPY, with ids drawn from the table's sequence first, in row order.

    One ``INSERT ... VALUES`` of a batch is a statement of thousands of parameters for SQLAlchemy to build
    and PostgreSQL to parse and plan; COPY has none of that, and bulk ingest without extraction spends less
    CPU in all (docs/benchmarks.md)."""
    drawn = await connection.execute(
        text("SELECT nextval(pg_get_serial_sequence('article', 'id')) FROM generate_series(1, :rows)"),
        {"rows": len(rows)},
    )
    # Ascending, as an INSERT's would be; another batch written at once may draw ids in between.
    ids = sorted(drawn.scalars())
    numbered = [{"id": article_id, **row} for article_id, row in zip(ids, rows, strict=True)]
    await copy_rows(connection, _article, numbered)
    return ids


async def update_articles(
    connection: AsyncConnection, articles: Sequence[tuple[int, ArticleFields, str, datetime]]
) -> None:
    """Replace the content of (id, fields, slug, publication time) rows in one statement."""
    if not articles:
        return
    now = utcnow()
    rows = [
        {**_writable(fields), "slug": slug, "published_at": published_at, "updated_at": now, "key": key}
        for key, fields, slug, published_at in articles
    ]
    await connection.execute(update(_article).where(_article.c.id == bindparam("key")), rows)
    await _index(connection, [(key, fields, published_at) for key, fields, _, published_at in articles])

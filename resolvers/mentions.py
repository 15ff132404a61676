"""Mentions: an article's entities (joined in one batch), and an entity's articles (with the role in each)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CompoundSelect,
    Integer,
    Select,
    bindparam,
    delete,
    func,
    literal,
    literal_column,
    null,
    select,
    tuple_,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from models import Article, Entity, Mention
from models.db import insert_rows
from resolvers.articles import LIST_COLUMNS, ArticleKey, ArticleRow, article_row, query_slot, visible
from resolvers.entities import ENTITY_COLUMNS, EntityRow, entity_row
from resolvers.keys import storable
from resolvers.statements import cached_statement

_mention = Mention.__table__  # type: ignore[attr-defined]
_entity = Entity.__table__  # type: ignore[attr-defined]
_article = Article.__table__  # type: ignore[attr-defined]


@dataclass(slots=True)
class MentionRow:
    article_id: int
    role: str | None
    count: int
    salience: float
    first_position: int
    locations: list[list[Any]] | None  # None when not asked for
    entity: EntityRow


async def mentions_by_article_ids(
    connection: AsyncConnection, ids: Sequence[int], *, with_locations: bool
) -> dict[int, list[MentionRow]]:
    """Every mention of each article, its entity joined in, most prominent first."""
    mentions: dict[int, list[MentionRow]] = {article_id: [] for article_id in ids}
    result = await connection.execute(_BY_ARTICLE_ID[with_locations], {"keys": list(ids)})
    for row in result.all():  # one fetch, not one call per row
        mentions[row[0]].append(_mention_row(row))
    return mentions


async def articles_with_mentions_by_slugs(
    connection: AsyncConnection, slugs: Sequence[str], *, with_locations: bool, drafts: bool = False
) -> dict[str, tuple[ArticleRow, list[MentionRow]]]:
    """Published articles (drafts too, if ``drafts``) by slug, body included, each with its mentions
    (entities joined in, most prominent first), in one statement: the mentions come along as a JSON array,
    so an article page waits for one round trip and pays for one statement."""
    dialect = connection.dialect.name
    statement = _WITH_MENTIONS_BY_SLUG.get((dialect, with_locations, drafts))
    if statement is None:
        statement = _WITH_MENTIONS_BY_SLUG[(dialect, with_locations, drafts)] = _with_mentions_by_slug(
            dialect, with_locations, drafts
        )
    found: dict[str, tuple[ArticleRow, list[MentionRow]]] = {}
    for values in (await connection.execute(statement, {"keys": list(filter(storable, slugs))})).all():
        article = article_row(values, with_body=True)
        mentions = [
            MentionRow(article.id, role, count, salience, first, locations, EntityRow(*entity))
            for role, count, salience, first, locations, *entity in values[-1]
        ]
        mentions.sort(key=lambda mention: (-mention.salience, mention.first_position))
        found[article.slug] = (article, mentions)
    return found


def _with_mentions_by_slug(dialect: str, with_locations: bool, drafts: bool) -> Select[Any]:
    locations: Any = _mention.c.locations if with_locations else null()
    if dialect == "postgresql":
        item = func.json_build_array(
            _mention.c.role,
            _mention.c.count,
            _mention.c.salience,
            _mention.c.first_position,
            locations,
            *ENTITY_COLUMNS,
        )
        aggregate: Any = func.coalesce(func.json_agg(item), literal_column("'[]'::json"))
    else:  # SQLite stores JSON as text: json() embeds it as JSON, not as a string
        item = func.json_array(
            _mention.c.role,
            _mention.c.count,
            _mention.c.salience,
            _mention.c.first_position,
            func.json(locations),
            *ENTITY_COLUMNS,
        )
        aggregate = func.json_group_array(item)
    mentions = (
        select(aggregate)
        .select_from(_mention.join(_entity, _entity.c.id == _mention.c.entity_id))
        .where(_mention.c.article_id == _article.c.id)
        .scalar_subquery()
    )
    statement = select(*LIST_COLUMNS, _article.c.body, type_coerce(mentions, JSON))
    return visible(statement.where(_article.c.slug.in_(bindparam("keys", expanding=True))), drafts)


_WITH_MENTIONS_BY_SLUG: dict[tuple[str, bool, bool], Select[Any]] = {}


def _mention_row(values: Sequence[Any]) -> MentionRow:
    """A MentionRow from a row of ``_mentions`` (columns after the entity's are ignored)."""
    return MentionRow(
        values[0], values[1], values[2], values[3], values[4], values[5], entity_row(values[6:])
    )


def _mentions(with_locations: bool) -> Select[Any]:
    return (
        select(
            _mention.c.article_id,
            _mention.c.role,
            _mention.c.count,
            _mention.c.salience,
            _mention.c.first_position,
            _mention.c.locations if with_locations else null(),
            *ENTITY_COLUMNS,
        )
        .join(_entity, _entity.c.id == _mention.c.entity_id)
        .order_by(_mention.c.article_id, _mention.c.salience.desc(), _mention.c.first_position)
    )


# Built once: every article page reads mentions, so a request spends nothing on building the statement.
_BY_ARTICLE_ID = {
    with_locations: _mentions(with_locations).where(
        _mention.c.article_id.in_(bindparam("keys", expanding=True))
    )
    for with_locations in (False, True)
}


@dataclass(slots=True)
class EntityArticleRow:
    article: ArticleRow
    role: str | None
    count: int
    salience: float

    def sort_key(self, order: EntityArticleOrder) -> tuple[Any, ...]:
        newest = (self.article.published_at, self.article.id)
        return newest if order is EntityArticleOrder.NEWEST else (self.salience, *newest)


class EntityArticleOrder(StrEnum):
    NEWEST = "newest"  # by (published_at, id), newest first
    PROMINENCE = "prominence"  # by (salience, published_at, id), most prominent first


@dataclass(frozen=True, slots=True)
class EntityArticlesQuery:
    """One page of the articles that mention an entity.

    ``after`` is the sort key of the last row seen: (published_at, id) for NEWEST, (salience, published_at,
    id) for PROMINENCE. Published articles only, unless ``drafts``.
    """

    entity_id: int
    limit: int
    order: EntityArticleOrder = EntityArticleOrder.NEWEST
    after: ArticleKey | tuple[float, datetime, int] | None = None
    drafts: bool = False


async def list_entity_articles(
    connection: AsyncConnection, queries: Sequence[EntityArticlesQuery]
) -> list[list[EntityArticleRow]]:
    """Several entities' pages in one statement, one list per query, in order."""

    def build() -> Select[Any] | CompoundSelect[Any]:
        pages = [_entity_page(query, number) for number, query in enumerate(queries)]
        return pages[0] if len(pages) == 1 else union_all(*(select(page.subquery()) for page in pages))

    key = ("entity articles", *((query.order, query.after is not None, query.drafts) for query in queries))
    parameters: dict[str, Any] = {}
    for number, query in enumerate(queries):
        parameters[f"q{number}_entity"], parameters[f"q{number}_limit"] = query.entity_id, query.limit
        for index, value in enumerate(query.after or ()):
            parameters[f"q{number}_after{index}"] = value
    result: list[list[EntityArticleRow]] = [[] for _ in queries]
    width = len(LIST_COLUMNS)
    for values in await connection.execute(cached_statement(key, build), parameters):
        row = EntityArticleRow(article_row(values), values[width], values[width + 1], values[width + 2])
        result[values[-1]].append(row)
    for query, page_rows in zip(queries, result, strict=True):
        page_rows.sort(key=lambda row: row.sort_key(query.order), reverse=True)
    return result


def _entity_page(query: EntityArticlesQuery, number: int) -> Select[Any]:
    """The statement of one page, its values bound by name (``q<number>_entity``, ``_limit``, ``_after<i>``)
    so that it is built once for each order, with a cursor or without."""
    page = visible(
        select(*LIST_COLUMNS, _mention.c.role, _mention.c.count, _mention.c.salience)
        .add_columns(literal(number).label("query_number"))
        .join(_article, _article.c.id == _mention.c.article_id)
        .where(_mention.c.entity_id == query_slot(number, "entity", Integer())),
        query.drafts,
    )
    key = _order_key(query.order)
    if query.after is not None:
        after = [query_slot(number, f"after{index}", column.type) for index, column in enumerate(key)]
        page = page.where(tuple_(*key) < tuple_(*after))
    order = (column.desc() for column in key)
    return page.order_by(*order).limit(query_slot(number, "limit", Integer()))


def _order_key(order: EntityArticleOrder) -> tuple[Any, ...]:
    # The mention's own copy of the key, so ix_mention_entity_published / _salience give rows in order.
    newest = (_mention.c.published_at, _mention.c.article_id)
    return newest if order is EntityArticleOrder.NEWEST else (_mention.c.salience, *newest)


async def replace_mentions_of(
    connection: AsyncConnection, article_ids: Sequence[int], rows: Sequence[dict[str, Any]]
) -> set[int]:
    """Make these articles' mentions exactly ``rows`` (full Mention column mappings), in two statements;
    the entities they mentioned before."""
    before: set[int] = set()
    if article_ids:
        deleted = await connection.execute(
            delete(_mention).where(_mention.c.article_id.in_(article_ids)).returning(_mention.c.entity_id)
        )
        before = set(deleted.scalars())
    await insert_rows(connection, _mention, rows)
    return before


async def move_mentions(connection: AsyncConnection, moves: Sequence[tuple[int, datetime]]) -> set[int]:
    """Give (article id, publication time) articles' mentions the article's new publication time; the
    entities they mention."""
    if not moves:
        return set()
    await connection.execute(
        update(_mention).where(_mention.c.article_id == bindparam("key")),
        [{"key": article_id, "published_at": published_at} for article_id, published_at in moves],
    )
    moved = [article_id for article_id, _ in moves]
    found = await connection.execute(
        select(_mention.c.entity_id).distinct().where(_mention.c.article_id.in_(moved))
    )
    return set(found.scalars())

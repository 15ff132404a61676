"""Entities: lookups, the knowledge base's aliases, and linking new mentions to one entity per real thing."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from slugify import slugify
from sqlalchemy import Exists, Select, exists, func, insert, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from models import Article, Entity, EntityAlias, EntityKind, Mention
from models.db import insert_rows
from resolvers.articles import UNPUBLISHED, visible
from resolvers.keys import storable

_entity = Entity.__table__  # type: ignore[attr-defined]
_alias = EntityAlias.__table__  # type: ignore[attr-defined]
_mention = Mention.__table__  # type: ignore[attr-defined]
_article = Article.__table__  # type: ignore[attr-defined]

ENTITY_COLUMNS = (
    _entity.c.id,
    _entity.c.kind,
    _entity.c.name,
    _entity.c.slug,
    _entity.c.description,
    _entity.c.wikidata_id,
)


@dataclass(slots=True)
class EntityRow:
    id: int
    kind: str
    name: str
    slug: str
    description: str | None
    wikidata_id: str | None


def entity_row(values: Sequence[Any]) -> EntityRow:
    """An EntityRow from the ENTITY_COLUMNS part of a result row."""
    return EntityRow(values[0], values[1], values[2], values[3], values[4], values[5])


#: Where a page of entities in name order resumes: strictly after this (name, id).
EntityKey = tuple[str, int]


@functools.lru_cache(maxsize=65_536)  # an ingest asks for the same names again and again
def normalize_name(name: str) -> str:
    """The lookup key of a name: accents, case, dots and apostrophe styles do not tell names apart."""
    if name.isascii():  # most names: nothing to decompose
        return " ".join(name.replace(".", "").casefold().split())
    decomposed = unicodedata.normalize("NFKD", name.replace("’", "'"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.replace(".", "").casefold().split())


def mentioned_in_published() -> Exists:
    """The entity is mentioned by at least one published article: what makes it public.

    An entity only drafts mention is news before they are published (who a story names, which company a
    deal involves), so without drafts it is read as one that does not exist. Probed from the entity's
    mentions (ix_mention_entity_published) and each one's article by key: the first published one ends it,
    so a well-known entity costs one or two index reads."""
    return exists(
        visible(
            select(_mention.c.article_id)
            .join(_article, _article.c.id == _mention.c.article_id)
            .where(_mention.c.entity_id == _entity.c.id),
            drafts=False,
        )
    )


def shown(statement: Select[Any], drafts: bool) -> Select[Any]:
    """Only entities a published article mentions, unless ``drafts``: the one condition every read of
    entities by slug, id or list applies (those an article's mentions bring are its own, and seen with it)."""
    return statement if drafts else statement.where(mentioned_in_published())


async def entities_by_slugs(
    connection: AsyncConnection, slugs: Sequence[str], *, drafts: bool = False
) -> dict[str, EntityRow]:
    """The entities of these slugs that published articles mention (all of them, if ``drafts``)."""
    statement = select(*ENTITY_COLUMNS).where(_entity.c.slug.in_(list(filter(storable, slugs))))
    return {row.slug: entity_row(row) for row in await connection.execute(shown(statement, drafts))}


async def entities_by_ids(
    connection: AsyncConnection, ids: Sequence[int], *, drafts: bool = False
) -> dict[int, EntityRow]:
    """The entities of these ids that published articles mention (all of them, if ``drafts``)."""
    statement = select(*ENTITY_COLUMNS).where(_entity.c.id.in_(ids))
    return {row.id: entity_row(row) for row in await connection.execute(shown(statement, drafts))}


@dataclass(frozen=True, slots=True)
class EntitiesQuery:
    """One page of entities in name order (then id), which is stable while new entities arrive: of ``kind``
    (any when None), after the (name, id) ``after``, ``limit`` rows at most; those published articles
    mention, unless ``drafts`` (a list asked for them, and allowed them: graph/scopes.py)."""

    kind: EntityKind | None
    after: EntityKey | None
    limit: int
    drafts: bool = False


async def list_entities(
    connection: AsyncConnection, queries: Sequence[EntitiesQuery]
) -> list[list[EntityRow]]:
    """The pages ``queries`` ask for, in order: a statement each, since a request rarely asks for two."""
    pages = []
    for query in queries:
        statement = select(*ENTITY_COLUMNS)
        if query.kind is not None:
            statement = statement.where(_entity.c.kind == query.kind)
        if query.after is not None:
            statement = statement.where(tuple_(_entity.c.name, _entity.c.id) > tuple_(*query.after))
        statement = shown(statement, query.drafts).order_by(_entity.c.name, _entity.c.id).limit(query.limit)
        pages.append([entity_row(row) for row in await connection.execute(statement)])
    return pages


async def aliases_by_entity_ids(connection: AsyncConnection, ids: Sequence[int]) -> dict[int, list[str]]:
    statement = (
        select(_alias.c.entity_id, _alias.c.alias).where(_alias.c.entity_id.in_(ids)).order_by(_alias.c.alias)
    )
    aliases: dict[int, list[str]] = {entity_id: [] for entity_id in ids}
    for entity_id, alias in await connection.execute(statement):
        aliases[entity_id].append(alias)
    return aliases


async def article_counts_by_entity_ids(connection: AsyncConnection, ids: Sequence[int]) -> dict[int, int]:
    """How many published articles mention each entity: a draft is counted nowhere, whoever asks.

    Every mention, counted from the entity's index alone, less the mentions in unpublished articles, found
    from those few articles (ix_article_status_published): joining each mention to its article read the
    whole published index instead (PostgreSQL, three entities of the 10,000-article bench archive, EXPLAIN
    ANALYZE: 0.8 against 9.6 ms)."""
    mentions = (
        select(_mention.c.entity_id, func.count().label("mentions"))
        .where(_mention.c.entity_id.in_(ids))
        .group_by(_mention.c.entity_id)
    )
    unpublished = (
        select(_mention.c.entity_id, (-func.count()).label("mentions"))
        .select_from(_article)
        .join(_mention, _mention.c.article_id == _article.c.id)
        .where(_article.c.status.in_(UNPUBLISHED), _mention.c.entity_id.in_(ids))
        .group_by(_mention.c.entity_id)
    )
    both = union_all(mentions, unpublished).subquery("counted")
    statement = select(both.c.entity_id, func.sum(both.c.mentions)).group_by(both.c.entity_id)
    counts = dict.fromkeys(ids, 0)
    counts.update({entity_id: int(count) for entity_id, count in await connection.execute(statement)})
    return counts


@dataclass(slots=True)
class CoMention:
    entity: EntityRow
    shared_articles: int


async def co_mentioned_by_entity_ids(
    connection: AsyncConnection, ids: Sequence[int], *, limit: int
) -> dict[int, list[CoMention]]:
    """For each entity, the entities that share the most published articles with it (most first, then by
    name); drafts are left out, whoever asks."""
    mine, theirs = _mention.alias("mine"), _mention.alias("theirs")
    shared = func.count().label("shared")
    statement = (
        visible(
            select(mine.c.entity_id.label("subject"), shared, *ENTITY_COLUMNS)
            .join(_article, _article.c.id == mine.c.article_id)
            .join(
                theirs, (theirs.c.article_id == mine.c.article_id) & (theirs.c.entity_id != mine.c.entity_id)
            )
            .join(_entity, _entity.c.id == theirs.c.entity_id)
            .where(mine.c.entity_id.in_(ids)),
            drafts=False,
        )
        .group_by(mine.c.entity_id, *ENTITY_COLUMNS)
        .order_by(mine.c.entity_id, shared.desc(), _entity.c.name)
    )
    related: dict[int, list[CoMention]] = {entity_id: [] for entity_id in ids}
    for row in await connection.execute(statement):
        bucket = related[row.subject]
        if len(bucket) < limit:
            bucket.append(CoMention(entity_row(row[2:]), row.shared))
    return related


def pick_entity(key: str, candidates: Sequence[tuple[int, str]]) -> int | None:
    """Which of the entities of the right kind going by ``key`` (id, canonical name) a name links to, if
    any: the only one, else the only one whose canonical name it is."""
    if len(candidates) == 1:
        return candidates[0][0]
    exact = [entity_id for entity_id, name in candidates if normalize_name(name) == key]
    return exact[0] if len(exact) == 1 else None


def wanted_aliases(names: Iterable[str]) -> dict[str, str]:
    """Lookup key -> the spelling to file under it; the first spelling of a key is the one shown."""
    wanted: dict[str, str] = {}
    for name in names:
        if name.strip():
            wanted.setdefault(normalize_name(name), name)
    return wanted


def entity_slug_base(name: str, kind: str) -> str:
    """A new entity's slug before any ``-2`` that keeps it unique."""
    return slugify(name) or kind


# Set-based writes for bulk ingestion: a batch of articles links its mentions in a few statements.

#: Most values in one IN list: SQLite and asyncpg both take at most 32,767 bound parameters.
IN_LIST_MAX = 10_000


@dataclass(frozen=True, slots=True)
class AliasHolder:
    """An entity that goes by a lookup key."""

    entity_id: int
    normalized: str
    name: str
    kind: str


async def alias_holders(connection: AsyncConnection, keys: Collection[str]) -> list[AliasHolder]:
    """Every entity going by any of ``keys`` (any kind), one row per entity and key."""
    ordered = sorted(keys)
    holders: list[AliasHolder] = []
    for start in range(0, len(ordered), IN_LIST_MAX):
        statement = (
            select(_alias.c.entity_id, _alias.c.normalized, _entity.c.name, _entity.c.kind)
            .join(_entity, _entity.c.id == _alias.c.entity_id)
            .where(_alias.c.normalized.in_(ordered[start : start + IN_LIST_MAX]))
        )
        holders += [AliasHolder(*row) for row in await connection.execute(statement)]
    return holders


async def taken_entity_slugs(connection: AsyncConnection, slugs: Collection[str]) -> dict[str, int]:
    """Which of these slugs entities have, and whose they are."""
    statement = select(_entity.c.slug, _entity.c.id).where(_entity.c.slug.in_(list(slugs)))
    return {slug: entity_id for slug, entity_id in await connection.execute(statement)}


async def insert_entities(connection: AsyncConnection, rows: Sequence[tuple[str, str, str]]) -> list[int]:
    """Insert (kind, name, slug) rows in one statement; their ids, in order."""
    if not rows:
        return []
    statement = insert(_entity).returning(_entity.c.id, sort_by_parameter_order=True)
    result = await connection.execute(
        statement, [{"kind": kind, "name": name, "slug": slug} for kind, name, slug in rows]
    )
    return [int(entity_id) for entity_id in result.scalars()]


async def insert_aliases(connection: AsyncConnection, rows: Sequence[tuple[int, str, str]]) -> None:
    """Insert (entity id, alias, normalized) rows in one statement."""
    await insert_rows(
        connection,
        _alias,
        [{"entity_id": entity_id, "alias": alias, "normalized": key} for entity_id, alias, key in rows],
    )

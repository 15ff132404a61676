"""Entities: lookups, the knowledge base's aliases, and linking new mentions to one entity per real thing."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from slugify import slugify
from sqlalchemy import func, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from models import Entity, EntityAlias, Mention

_entity = Entity.__table__  # type: ignore[attr-defined]
_alias = EntityAlias.__table__  # type: ignore[attr-defined]
_mention = Mention.__table__  # type: ignore[attr-defined]

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


def normalize_name(name: str) -> str:
    """The lookup key of a name: accents, case, dots and apostrophe styles do not tell names apart."""
    decomposed = unicodedata.normalize("NFKD", name.replace("’", "'"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.replace(".", "").casefold().split())


async def entities_by_slugs(connection: AsyncConnection, slugs: Sequence[str]) -> dict[str, EntityRow]:
    rows = await connection.execute(select(*ENTITY_COLUMNS).where(_entity.c.slug.in_(slugs)))
    return {row.slug: entity_row(row) for row in rows}


async def entities_by_ids(connection: AsyncConnection, ids: Sequence[int]) -> dict[int, EntityRow]:
    rows = await connection.execute(select(*ENTITY_COLUMNS).where(_entity.c.id.in_(ids)))
    return {row.id: entity_row(row) for row in rows}


async def list_entities(
    connection: AsyncConnection, *, kind: str | None, after: EntityKey | None, limit: int
) -> list[EntityRow]:
    """A page of entities in name order (then id), which is stable while new entities arrive."""
    statement = select(*ENTITY_COLUMNS)
    if kind is not None:
        statement = statement.where(_entity.c.kind == kind)
    if after is not None:
        statement = statement.where(tuple_(_entity.c.name, _entity.c.id) > tuple_(*after))
    statement = statement.order_by(_entity.c.name, _entity.c.id).limit(limit)
    return [entity_row(row) for row in await connection.execute(statement)]


async def aliases_by_entity_ids(connection: AsyncConnection, ids: Sequence[int]) -> dict[int, list[str]]:
    statement = (
        select(_alias.c.entity_id, _alias.c.alias).where(_alias.c.entity_id.in_(ids)).order_by(_alias.c.alias)
    )
    aliases: dict[int, list[str]] = {entity_id: [] for entity_id in ids}
    for entity_id, alias in await connection.execute(statement):
        aliases[entity_id].append(alias)
    return aliases


async def article_counts_by_entity_ids(connection: AsyncConnection, ids: Sequence[int]) -> dict[int, int]:
    statement = (
        select(_mention.c.entity_id, func.count())
        .where(_mention.c.entity_id.in_(ids))
        .group_by(_mention.c.entity_id)
    )
    counts = dict.fromkeys(ids, 0)
    counts.update({entity_id: count for entity_id, count in await connection.execute(statement)})
    return counts


@dataclass(slots=True)
class CoMention:
    entity: EntityRow
    shared_articles: int


async def co_mentioned_by_entity_ids(
    connection: AsyncConnection, ids: Sequence[int], *, limit: int
) -> dict[int, list[CoMention]]:
    """For each entity, the entities that share the most articles with it (most first, then by name)."""
    mine, theirs = _mention.alias("mine"), _mention.alias("theirs")
    shared = func.count().label("shared")
    statement = (
        select(mine.c.entity_id.label("subject"), shared, *ENTITY_COLUMNS)
        .join(theirs, (theirs.c.article_id == mine.c.article_id) & (theirs.c.entity_id != mine.c.entity_id))
        .join(_entity, _entity.c.id == theirs.c.entity_id)
        .where(mine.c.entity_id.in_(ids))
        .group_by(mine.c.entity_id, *ENTITY_COLUMNS)
        .order_by(mine.c.entity_id, shared.desc(), _entity.c.name)
    )
    related: dict[int, list[CoMention]] = {entity_id: [] for entity_id in ids}
    for row in await connection.execute(statement):
        bucket = related[row.subject]
        if len(bucket) < limit:
            bucket.append(CoMention(entity_row(row[2:]), row.shared))
    return related


async def resolve_entity(
    connection: AsyncConnection, *, name: str, kind: str, surface_forms: Iterable[str]
) -> tuple[int, bool]:
    """The entity this name stands for, creating it when the knowledge base has none; (id, created).

    A name links to an existing entity of the same kind that goes by it (as its name or an alias) when
    exactly one does, or when one of several has it as its own canonical name. Otherwise a new entity is
    made, rather than guessing between two real people who share a name.
    """
    key = normalize_name(name)
    statement = (
        select(_entity.c.id, _entity.c.name)
        .join(_alias, _alias.c.entity_id == _entity.c.id)
        .where(_alias.c.normalized == key, _entity.c.kind == kind)
        .distinct()
    )
    candidates = (await connection.execute(statement)).all()
    exact = [row.id for row in candidates if normalize_name(row.name) == key]
    if len(candidates) == 1:
        entity_id, created = int(candidates[0].id), False
    elif len(exact) == 1:
        entity_id, created = int(exact[0]), False
    else:
        entity_id, created = await _create_entity(connection, name=name, kind=kind), True
    await add_aliases(connection, entity_id, [name, *surface_forms])
    return entity_id, created


async def _create_entity(connection: AsyncConnection, *, name: str, kind: str) -> int:
    base = slugify(name) or kind
    slug, suffix = base, 1
    while await connection.scalar(select(_entity.c.id).where(_entity.c.slug == slug)) is not None:
        suffix += 1
        slug = f"{base}-{suffix}"
    statement = insert(_entity).values(kind=kind, name=name, slug=slug).returning(_entity.c.id)
    return int(await connection.scalar(statement))


async def add_aliases(connection: AsyncConnection, entity_id: int, names: Iterable[str]) -> None:
    """Record names the entity goes by, in order of preference; names it already has (after normalising)
    are skipped."""
    wanted: dict[str, str] = {}
    for name in names:
        if name.strip():
            wanted.setdefault(normalize_name(name), name)  # the first spelling of a key is the one shown
    existing = set(
        await connection.scalars(
            select(_alias.c.normalized).where(
                _alias.c.entity_id == entity_id, _alias.c.normalized.in_(list(wanted))
            )
        )
    )
    rows = [
        {"entity_id": entity_id, "alias": alias, "normalized": key}
        for key, alias in wanted.items()
        if key not in existing
    ]
    if rows:
        await connection.execute(insert(_alias), rows)

"""Write one parsed article, its section path, entities and mentions, in one transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slugify import slugify
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ingest.document import ArticleDraft, Block, BlockKind, EntityKind, MentionDraft, TextField
from ingest.entities import find_mentions, known_aliases
from resolvers.articles import ArticleFields, find_article, insert_article, slug_taken, update_article
from resolvers.entities import resolve_entity
from resolvers.mentions import replace_mentions
from resolvers.sections import ensure_section_path

SLUG_MAX = 120
_WORD = re.compile(r"\w+(?:['’.-]\w+)*")


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing one article did."""

    article_id: int
    slug: str
    created: bool
    entities_created: int


class StoreError(Exception):
    """The article cannot be stored as given (the message names the field)."""


async def store_article(engine: AsyncEngine, draft: ArticleDraft) -> Stored:
    """Insert or update the article and replace its mentions; all of it or none of it is written.

    The same article ingested again (same source id, else canonical URL, else slug) is updated in place, so
    its id, slug and entity links stay stable.
    """
    _check_lengths(draft)
    mentions = find_mentions(draft)
    derived_slug = slugify(draft.headline, max_length=SLUG_MAX, word_boundary=True) or "article"
    async with engine.begin() as connection:
        fields = ArticleFields(
            slug=draft.slug,
            headline=draft.headline,
            standfirst=draft.standfirst,
            body=[_block_json(block) for block in draft.blocks],
            section_id=await ensure_section_path(connection, draft.section_path),
            published_at=draft.published_at,
            source_format=draft.source_format,
            source_id=draft.source_id,
            canonical_url=draft.url,
            authors=list(draft.authors),
            word_count=word_count(draft),
        )
        existing = await find_article(connection, fields, derived_slug)
        existing_id = existing[0] if existing else None
        if fields.slug is not None and await slug_taken(connection, fields.slug, except_id=existing_id):
            raise StoreError(f"slug: {fields.slug!r} is already used by another article")
        if existing is None:
            slug = fields.slug or await _free_slug(connection, derived_slug)
            article_id, published_at = await insert_article(connection, fields, slug)
        else:
            article_id, slug = existing[0], fields.slug or existing[1]
            published_at = await update_article(connection, article_id, fields)
        entities_created = await link_mentions(connection, article_id, published_at, draft, mentions)
    return Stored(article_id, slug, created=existing is None, entities_created=entities_created)


async def link_mentions(
    connection: AsyncConnection,
    article_id: int,
    published_at: datetime,
    draft: ArticleDraft,
    mentions: list[MentionDraft],
) -> int:
    """Make the article's mentions exactly ``mentions``, each linked to its entity; how many entities are new.

    Entities are found by name and alias, so running this again on the same text links to the same ids.
    """
    entities_created = 0
    by_entity: dict[int, dict[str, Any]] = {}
    for mention in mentions:
        entity_id, new = await resolve_entity(
            connection, name=mention.name, kind=mention.kind, surface_forms=_aliases(mention)
        )
        entities_created += new
        _merge(by_entity, entity_id, mention, draft)
    await replace_mentions(connection, article_id, published_at, list(by_entity.values()))
    return entities_created


#: Longest value each field's column holds (see models/articles.py).
_LIMITS = {"headline": 500, "standfirst": 2000, "slug": 200, "url": 2000, "source_id": 300}


def _check_lengths(draft: ArticleDraft) -> None:
    """Refuse values the columns cannot hold here, with the field's name, rather than as a database error."""
    for field, limit in _LIMITS.items():
        value = getattr(draft, field)
        if value is not None and len(value) > limit:
            raise StoreError(f"{field}: longer than {limit} characters ({len(value)})")


async def _free_slug(connection: AsyncConnection, base: str) -> str:
    slug, suffix = base, 1
    while await slug_taken(connection, slug):
        suffix += 1
        slug = f"{base}-{suffix}"
    return slug


def _aliases(mention: MentionDraft) -> list[str]:
    """The names to file the entity under: how the article wrote it; the aliases a reader knows a place or
    organisation by (United States, America); and a person's surname, so that a later article saying only
    "Blair" or "Mr Blair" finds "Tony Blair" (unless two Blairs are known by then). Where two spellings
    are one lookup key (US, U.S.), the first listed, as the article wrote it, is the one shown."""
    # As written, but a headline's capitals ("PUTIN") only where the text has no other spelling.
    written = sorted(mention.surface_forms, key=lambda form: (form.isupper(), form))
    names = [*written, *known_aliases(mention.kind, mention.name)]
    parts = mention.name.split()
    if mention.kind is EntityKind.PERSON and len(parts) > 1:
        names.append(parts[-1])
    return names


def _block_json(block: Block) -> dict[str, Any]:
    if block.kind is BlockKind.AD_SLOT:
        return {"type": block.kind.value}
    return {"type": block.kind.value, "text": block.text}


def word_count(draft: ArticleDraft) -> int:
    """Words a reader reads in the body: paragraphs and subheadings, not ad slots."""
    return sum(
        len(_WORD.findall(block.text)) for block in draft.blocks if block.kind is not BlockKind.AD_SLOT
    )


def reading_offset(draft: ArticleDraft, field: TextField, block: int | None, start: int) -> int:
    """A location as one offset into the article read top to bottom (headline, standfirst, body)."""
    offset = 0
    if field is TextField.HEADLINE:
        return start
    offset += len(draft.headline) + 1
    if field is TextField.STANDFIRST:
        return offset + start
    offset += len(draft.standfirst or "") + 1
    for index, body_block in enumerate(draft.blocks):
        if index == block:
            return offset + start
        offset += len(body_block.text) + 1
    return offset + start


def _merge(
    by_entity: dict[int, dict[str, Any]], entity_id: int, mention: MentionDraft, draft: ArticleDraft
) -> None:
    """Fold a mention into its entity's row; two names for one entity ("US", "United States") add up."""
    locations = [[loc.field.value, loc.block, loc.start, loc.end] for loc in mention.locations]
    first = min(
        (reading_offset(draft, loc.field, loc.block, loc.start) for loc in mention.locations), default=0
    )
    row = by_entity.get(entity_id)
    if row is None:
        by_entity[entity_id] = {
            "entity_id": entity_id,
            "role": mention.role,
            "count": mention.count,
            "first_position": first,
            "salience": mention.salience,
            "locations": locations,
        }
        return
    row["role"] = row["role"] or mention.role
    row["count"] += mention.count
    row["first_position"] = min(row["first_position"], first)
    row["salience"] = max(row["salience"], mention.salience)
    row["locations"] = row["locations"] + locations

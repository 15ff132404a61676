"""Entities: one row per real person, organisation or place, with the names it goes by."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class EntityKind(StrEnum):
    """What a named entity is. Ingest, the table and the GraphQL enum of the same name all use this one."""

    PERSON = "person"
    ORGANIZATION = "organization"
    PLACE = "place"


class Entity(SQLModel, table=True):
    """A person, organization or place. ``slug`` is its stable public key."""

    __tablename__ = "entity"
    #: The entity list's order: a page reads its entities in order and stops (migration 0014).
    __table_args__ = (Index("ix_entity_name", "name", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    # Stored as its value in a plain string column (no database enum type: adding a kind needs no migration).
    kind: EntityKind = Field(sa_column=Column(String(20), nullable=False, index=True))
    name: str = Field(max_length=300)
    slug: str = Field(max_length=300, unique=True)
    description: str | None = Field(default=None, max_length=2000)
    wikidata_id: str | None = Field(default=None, max_length=20)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs={"default": utcnow}
    )


class EntityAlias(SQLModel, table=True):
    """A name an entity goes by; ``normalized`` is the lookup key used to link new mentions."""

    __tablename__ = "entity_alias"
    __table_args__ = (UniqueConstraint("entity_id", "normalized", name="uq_entity_alias_entity_normalized"),)

    id: int | None = Field(default=None, primary_key=True)
    entity_id: int = Field(
        sa_column=Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), nullable=False)
    )
    alias: str = Field(max_length=300)
    normalized: str = Field(max_length=300, index=True)

"""Sections: the newsroom's tree (Home > News > Business)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow

#: The root section's path. Every other path is its slugs from the root, joined by "/".
ROOT_PATH = ""


class Section(SQLModel, table=True):
    """A node of the section tree. ``path`` is derived from the slugs and kept for direct lookup."""

    __tablename__ = "section"
    __table_args__ = (UniqueConstraint("parent_id", "slug", name="uq_section_parent_slug"),)

    id: int | None = Field(default=None, primary_key=True)
    parent_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("section.id", ondelete="RESTRICT"), index=True)
    )
    slug: str = Field(max_length=100)
    name: str = Field(max_length=200)
    path: str = Field(max_length=1000, unique=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs={"default": utcnow}
    )

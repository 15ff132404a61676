"""Mentions: what one article says about one entity."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import JSONDocument, UTCDateTime


class TextField(StrEnum):
    """The parts of an article a mention can be found in: the first of each ``locations`` entry. The
    extractor, the stored locations and the GraphQL enum ``ArticleTextField`` all use this one."""

    HEADLINE = "headline"
    STANDFIRST = "standfirst"
    BODY = "body"


class Mention(SQLModel, table=True):
    """An article's mentions of one entity, with the role it gives them and where they stand.

    ``locations`` holds ``[field, block, start, end]`` lists: field is headline, standfirst or body;
    block is the body block index (null outside the body); start and end are character offsets.
    """

    __tablename__ = "mention"
    __table_args__ = (
        UniqueConstraint("article_id", "entity_id", name="uq_mention_article_entity"),
        # An entity's articles newest first, or by prominence, read in order from an index.
        Index("ix_mention_entity_published", "entity_id", "published_at", "article_id"),
        Index("ix_mention_entity_salience", "entity_id", "salience", "published_at", "article_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(
        sa_column=Column(Integer, ForeignKey("article.id", ondelete="CASCADE"), nullable=False)
    )
    entity_id: int = Field(
        sa_column=Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), nullable=False)
    )
    #: The article's publication time, copied here so entity pages need not sort the articles themselves.
    published_at: datetime = Field(sa_type=UTCDateTime)
    role: str | None = Field(default=None, max_length=300)
    count: int = Field(default=1)
    first_position: int = Field(default=0)
    salience: float = Field(default=0.0)
    locations: list[list[Any]] = Field(default_factory=list, sa_type=JSONDocument)

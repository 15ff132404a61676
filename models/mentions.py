"""Mentions: what one article says about one entity."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import JSONDocument


class Mention(SQLModel, table=True):
    """An article's mentions of one entity, with the role it gives them and where they stand.

    ``locations`` holds ``[field, block, start, end]`` lists: field is headline, standfirst or body;
    block is the body block index (null outside the body); start and end are character offsets.
    """

    __tablename__ = "mention"
    __table_args__ = (
        UniqueConstraint("article_id", "entity_id", name="uq_mention_article_entity"),
        Index("ix_mention_entity_article", "entity_id", "article_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(
        sa_column=Column(Integer, ForeignKey("article.id", ondelete="CASCADE"), nullable=False)
    )
    entity_id: int = Field(
        sa_column=Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), nullable=False)
    )
    role: str | None = Field(default=None, max_length=300)
    count: int = Field(default=1)
    first_position: int = Field(default=0)
    salience: float = Field(default=0.0)
    locations: list[list[Any]] = Field(default_factory=list, sa_type=JSONDocument)

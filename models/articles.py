"""Articles: headline, standfirst, body blocks, section and where they came from."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, String, text
from sqlmodel import Field, SQLModel

from models.types import JSONDocument, UTCDateTime, utcnow


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Article(SQLModel, table=True):
    """One article. ``body`` is a list of typed blocks: ``{"type": "paragraph", "text": ...}``.

    Block types today are paragraph, subheading and ad_slot; a JSON list of typed blocks admits quote and
    image blocks later without a migration.
    """

    __tablename__ = "article"
    __table_args__ = (
        Index("ix_article_status_published", "status", "published_at", "id"),
        # Published articles only: section pages read their keys from it alone (migration 0004).
        Index(
            "ix_article_published_section",
            "section_id",
            "published_at",
            "id",
            postgresql_where=text("status = 'published'"),
            sqlite_where=text("status = 'published'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=200, unique=True)
    headline: str = Field(max_length=500)
    standfirst: str | None = Field(default=None, max_length=2000)
    body: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONDocument)
    section_id: int = Field(sa_column=Column(Integer, ForeignKey("section.id"), nullable=False))
    status: ArticleStatus = Field(
        default=ArticleStatus.PUBLISHED, sa_column=Column(String(20), nullable=False)
    )
    published_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs={"default": utcnow}
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs={"default": utcnow}
    )
    source_format: str = Field(max_length=20)
    source_id: str | None = Field(default=None, max_length=300, unique=True)
    canonical_url: str | None = Field(default=None, max_length=2000, unique=True)
    authors: list[str] = Field(default_factory=list, sa_type=JSONDocument)
    word_count: int = Field(default=0)
    #: SHA-256 of what was ingested; a bulk ingest skips a record whose hash is unchanged.
    content_hash: str | None = Field(default=None, max_length=64)

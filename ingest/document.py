"""The shapes every ingest source produces and every later step consumes.

A parser (captured page, JSON) turns its input into an ``ArticleDraft``; the entity
extractor turns a draft into ``MentionDraft`` values; the store writes both.
Nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from models.articles import ArticleStatus
from models.entities import EntityKind  # the one definition; re-exported for the extractor's modules
from models.mentions import TextField  # the same


class BlockKind(StrEnum):
    """Kinds of body block. Stored as the ``type`` key of each block's JSON."""

    PARAGRAPH = "paragraph"
    SUBHEADING = "subheading"
    AD_SLOT = "ad_slot"


@dataclass(frozen=True, slots=True)
class Block:
    """One block of an article body, in reading order. Ad slots carry no text."""

    kind: BlockKind
    text: str = ""


@dataclass(slots=True)
class ArticleDraft:
    """An article as parsed from a source, before it is stored."""

    headline: str
    blocks: list[Block]
    # Section names below Home, outermost first: ("Europe",) or ("News", "Business").
    section_path: tuple[str, ...] = ()
    standfirst: str | None = None
    slug: str | None = None
    published_at: datetime | None = None
    url: str | None = None
    authors: tuple[str, ...] = ()
    source_id: str | None = None
    source_format: str = "captured"
    masthead: str | None = None
    # A draft is stored but served only to keys with the drafts scope; ingesting it again published
    # publishes it.
    status: ArticleStatus = ArticleStatus.PUBLISHED
    # Where it came from, for error messages: "pages/a.txt" or "wire.jsonl:12".
    origin: str = ""


@dataclass(frozen=True, slots=True)
class Span:
    """A name found in a text: ``text[start:end]`` is a ``kind`` entity."""

    start: int
    end: int
    kind: EntityKind
    text: str


@dataclass(frozen=True, slots=True)
class Location:
    """Where one mention stands: a field, the body block index (body only) and offsets in that text."""

    field: TextField
    block: int | None
    start: int
    end: int


@dataclass(slots=True)
class MentionDraft:
    """Everything one article says about one entity."""

    name: str  # the fullest form the article uses, e.g. "Vladimir Putin"
    kind: EntityKind
    role: str | None  # the role or title the article gives, e.g. "Russian President"
    locations: list[Location] = field(default_factory=list)
    surface_forms: set[str] = field(default_factory=set)  # every way it is written: "Putin", "Vladimir Putin"
    salience: float = 0.0

    @property
    def count(self) -> int:
        return len(self.locations)

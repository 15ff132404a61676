"""Bulk ingestion, the part worker processes run: each record parsed, checked and hashed, and the entities
of new and changed articles found, all as plain values that cross between processes cheaply.

Nothing here touches the database, so workers start without loading the database layer; the writing is
``ingest.store.write_batch``. ``ingest.store.store_article`` uses the same steps for one article.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from slugify import slugify

from ingest.document import ArticleDraft, Block, BlockKind, EntityKind, MentionDraft, TextField
from ingest.errors import IngestError
from ingest.extract.lexicon import known_aliases
from ingest.extract.mentions import find_mentions
from ingest.sources import Lines
from models.articles import ArticleStatus
from models.search import IndexDocument, index_document

SLUG_MAX = 120
# Possessive: the same words as r"\w+(?:['’.-]\w+)*", found without backtracking.
_WORD = re.compile(r"\w++(?:['’.-]\w++)*+")
_AROUND_WORDS = ".,;:!?\"'()[]“”‘’—–-"  # punctuation often before or after a word; never part of \w


class StoreError(Exception):
    """The article cannot be stored as given (the message names the field)."""


class Link(NamedTuple):
    """One mention as linking needs it: the names to find or file its entity under, and its row's values.
    Plain values, so a worker process can compute it and send it back cheaply."""

    name: str
    kind: str
    aliases: tuple[str, ...]
    role: str | None
    times: int  # how often the article names it (``count`` is a tuple method)
    first_position: int
    salience: float
    locations: list[list[Any]]


@dataclass(slots=True)
class Prepared:
    """One article ready to write, in plain values so it crosses between processes cheaply."""

    origin: str  # where it came from, for messages: "wire.jsonl:12"
    content_hash: str
    always_write: bool  # a captured page is written again even when unchanged, as it always was
    slug: str | None  # as the source gives it
    derived_slug: str  # from the headline, for a new article without one
    headline: str
    standfirst: str | None
    body: bytes  # the blocks as JSON, made once here: one value to send between processes, written as is
    section_path: tuple[str, ...]
    published_at: datetime | None
    source_format: str
    source_id: str | None
    url: str | None
    authors: list[str]
    word_count: int
    search_document: IndexDocument  # made here, in a worker, not in the one process that writes
    status: ArticleStatus

    @property
    def keys(self) -> set[tuple[str, str]]:
        """Every unique value by which it may find, or be refused by, another article in the same batch:
        records sharing one go into separate batches, so that each sees what the one before did."""
        keys = [
            ("source_id", self.source_id),
            ("canonical_url", self.url),
            ("slug", self.slug),
            ("slug", self.derived_slug),
        ]
        return {(column, value) for column, value in keys if value is not None}

    def draft(self) -> ArticleDraft:
        """What the extractor reads; block indexes match the stored body's."""
        blocks = [Block(BlockKind(block["type"]), block.get("text", "")) for block in orjson.loads(self.body)]
        return ArticleDraft(headline=self.headline, blocks=blocks, standfirst=self.standfirst)

    def __reduce__(self) -> tuple[type[Prepared], tuple[Any, ...]]:
        # Pickled as a tuple of its values: half the default's cost, which pickles each slot by name.
        return Prepared, tuple(getattr(self, name) for name in self.__slots__)


def _where(draft: ArticleDraft) -> str:
    return draft.origin or repr(draft.headline[:60])


def prepare(draft: ArticleDraft) -> Prepared | IngestError:
    """The draft ready to write, or why it cannot be stored (a value too long for its column)."""
    try:
        check_lengths(draft)
    except StoreError as error:
        return IngestError(_where(draft), str(error))
    blocks = [block_json(block) for block in draft.blocks]
    return Prepared(
        origin=_where(draft),
        content_hash=content_hash(draft),
        always_write=draft.source_format == "captured",
        slug=draft.slug,
        derived_slug=headline_slug(draft.headline),
        headline=draft.headline,
        standfirst=draft.standfirst,
        body=orjson.dumps(blocks),
        section_path=draft.section_path,
        published_at=draft.published_at,
        source_format=draft.source_format,
        source_id=draft.source_id,
        url=draft.url,
        authors=list(draft.authors),
        word_count=word_count(draft),
        search_document=index_document(draft.headline, draft.standfirst, blocks),
        status=draft.status,
    )


def follow_parent(parent: int) -> None:
    """Worker start-up: end this worker once the ingest process is gone (killed, say). Otherwise it would
    wait for work forever, since it holds the writing end of its own task queue."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


def prepare_lines(lines: Lines) -> list[Prepared | IngestError]:
    """Parse, check and prepare JSON Lines records."""
    return [item if isinstance(item, IngestError) else prepare(item) for item in lines.parse()]


def extract_links(records: list[Prepared]) -> list[list[Link] | str]:
    """Each article's mentions, or what went wrong extracting them (so only that article fails)."""
    found: list[list[Link] | str] = []
    for record in records:
        draft = record.draft()
        try:
            found.append(mention_links(draft, find_mentions(draft)))
        except Exception as error:  # a flaw the extractor meets in one article stops that article only
            found.append(f"entity extraction failed: {error.__class__.__name__}: {error}")
    return found


def mention_links(draft: ArticleDraft, mentions: list[MentionDraft]) -> list[Link]:
    """What ``find_mentions`` found in the draft, in its order, ready to link."""
    starts = reading_starts(draft)
    links = []
    for mention in mentions:
        first = min(
            (reading_offset(starts, loc.field, loc.block, loc.start) for loc in mention.locations), default=0
        )
        locations = [[loc.field.value, loc.block, loc.start, loc.end] for loc in mention.locations]
        aliases = tuple(_aliases(mention))
        links.append(
            Link(mention.name, mention.kind.value, aliases, mention.role, mention.count, first,
                 mention.salience, locations)
        )  # fmt: skip
    return links


#: Longest value each field's column holds (see models/articles.py).
_LIMITS = {"headline": 500, "standfirst": 2000, "slug": 200, "url": 2000, "source_id": 300}


def check_lengths(draft: ArticleDraft) -> None:
    """Refuse values the columns cannot hold here, with the field's name, rather than as a database error."""
    for field, limit in _LIMITS.items():
        value = getattr(draft, field)
        if value is not None and len(value) > limit:
            raise StoreError(f"{field}: longer than {limit} characters ({len(value)})")


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


def headline_slug(headline: str) -> str:
    """A new article's slug, before any ``-2`` that keeps it unique."""
    return slugify(headline, max_length=SLUG_MAX, word_boundary=True) or "article"


def block_json(block: Block) -> dict[str, Any]:
    if block.kind is BlockKind.AD_SLOT:
        return {"type": block.kind.value}
    return {"type": block.kind.value, "text": block.text}


def word_count(draft: ArticleDraft) -> int:
    """Words a reader reads in the body: paragraphs and subheadings, not ad slots. No word spans white
    space, so the text is split there first: most pieces are one word of letters and digits, known as such
    without a regular expression: about twice as quick as ``_WORD`` over the whole text."""
    words = 0
    for piece in " ".join(b.text for b in draft.blocks if b.kind is not BlockKind.AD_SLOT).split():
        # Punctuation at either end joins nothing: "said," and "(Reuters)" are one word each.
        if piece.isalnum() or piece.strip(_AROUND_WORDS).isalnum():
            words += 1
        else:
            words += len(_WORD.findall(piece))
    return words


def reading_starts(draft: ArticleDraft) -> list[int]:
    """Where the standfirst, each body block and the end of the body stand in the article read top to bottom
    (headline, standfirst, body, one character between each two)."""
    starts = [len(draft.headline) + 1]
    offset = starts[0] + len(draft.standfirst or "") + 1
    for block in draft.blocks:
        starts.append(offset)
        offset += len(block.text) + 1
    starts.append(offset)
    return starts


def reading_offset(starts: list[int], field: TextField, block: int | None, start: int) -> int:
    """A location as one offset into the article read top to bottom; ``starts`` are ``reading_starts``."""
    if field is TextField.HEADLINE:
        return start
    if field is TextField.STANDFIRST:
        return starts[0] + start
    if block is not None and 0 <= block < len(starts) - 2:
        return starts[block + 1] + start
    return starts[-1] + start


def content_hash(draft: ArticleDraft) -> str:
    """SHA-256 (hex) of everything parsed from the source but where it was found, so a record read again
    unchanged is known without extracting it again, wherever it stands in the file."""
    canonical = {
        "headline": draft.headline,
        "blocks": [[block.kind.value, block.text] for block in draft.blocks],
        "section_path": list(draft.section_path),
        "standfirst": draft.standfirst,
        "slug": draft.slug,
        "published_at": None if draft.published_at is None else draft.published_at.isoformat(),
        "url": draft.url,
        "authors": list(draft.authors),
        "source_id": draft.source_id,
        "source_format": draft.source_format,
        "masthead": draft.masthead,
    }
    if draft.status is not ArticleStatus.PUBLISHED:  # so publishing a draft unchanged is a change; and
        canonical["status"] = draft.status.value  # published records keep the hashes they had
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()

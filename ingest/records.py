"""Parse articles given as JSON (one object or an array) or JSON Lines (one object a line).

Each object is one article, checked by a pydantic model; a bad object becomes an ``IngestError``
naming its line (JSON Lines) or record (JSON array) and the field, and the other objects still parse.

Fields: ``headline`` (required), ``section`` (a path under Home: ``"Europe"``, ``"News/Business"``),
``standfirst``, ``body`` (paragraphs separated by blank lines), ``published_at`` (ISO 8601, naive
means UTC), ``url`` (absolute http/https), ``authors`` (list of names), ``source_id`` (string or
integer), ``slug`` (lowercase letters, digits, hyphens), ``draft`` (a boolean: true stores it unpublished,
served only to keys with the drafts scope). Unknown fields are ignored.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, ValidationError, field_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from ingest.captured import is_subheading, normalise, read_text
from ingest.document import ArticleDraft, Block, BlockKind
from ingest.errors import IngestError, location
from models.articles import ArticleStatus

JSON_SUFFIXES = frozenset({".json"})
JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def _shown(value: Any) -> str:
    """A bad value as JSON, shortened, for an error message."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "a number")


def _one_line(text: str) -> str:
    return " ".join(normalise(text).split())


class _Record(BaseModel):
    """One article object. Strict about types: ``"headline": 5`` is an error, not ``"5"``."""

    model_config = ConfigDict(extra="ignore")

    headline: StrictStr
    section: tuple[str, ...] = ()
    standfirst: StrictStr | None = None
    body: StrictStr | None = None
    published_at: datetime | None = None
    url: StrictStr | None = None
    authors: tuple[str, ...] = ()
    source_id: StrictStr | None = None
    slug: StrictStr | None = None
    draft: StrictBool = False

    @field_validator("headline")
    @classmethod
    def _headline(cls, value: str) -> str:
        value = _one_line(value)
        if not value:
            raise PydanticCustomError("empty", "must not be empty")
        return value

    @field_validator("standfirst")
    @classmethod
    def _standfirst(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return _one_line(value) or None

    @field_validator("section", mode="before")
    @classmethod
    def _section(cls, value: Any) -> tuple[str, ...]:
        """``"News/Business"`` -> ``("News", "Business")``; a leading ``Home`` is the root and dropped."""
        if value is None:
            return ()
        if not isinstance(value, str):
            raise PydanticCustomError(
                "section_type", f'expected a path such as "News/Business", got {_json_type(value)}'
            )
        names = [" ".join(name.split()) for name in value.strip().strip("/").split("/")]
        if names == [""]:
            return ()
        if "" in names:
            raise PydanticCustomError("section_empty", f"empty section name in {_shown(value)}")
        return tuple(names[1:] if names[0].casefold() == "home" else names)

    @field_validator("published_at", mode="before")
    @classmethod
    def _published_at(cls, value: Any) -> datetime | None:
        """ISO 8601 with a time; a naive time is UTC. Stored as an aware UTC datetime."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise PydanticCustomError("datetime_type", f"not an ISO 8601 date-time ({_shown(value)})")
        text = value.strip()
        try:
            date.fromisoformat(text)
        except ValueError:
            pass
        else:
            raise PydanticCustomError("datetime_no_time", f"a date without a time ({_shown(value)})")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise PydanticCustomError(
                "datetime_parsing", f"not an ISO 8601 date-time ({_shown(value)})"
            ) from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        parts = urlsplit(value)
        if (
            parts.scheme.lower() not in ("http", "https")
            or not parts.hostname
            or any(c.isspace() for c in value)
        ):
            raise PydanticCustomError("url", f"not an absolute http or https URL ({_shown(value)})")
        return value

    @field_validator("authors", mode="before")
    @classmethod
    def _authors(cls, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise PydanticCustomError("authors_type", f"expected a list of names, got {_json_type(value)}")
        names = []
        for index, name in enumerate(value):
            if not isinstance(name, str) or not _one_line(name):
                raise PydanticCustomError("author", f"author {index + 1} is not a name ({_shown(name)})")
            names.append(_one_line(name))
        return tuple(names)

    @field_validator("source_id", mode="before")
    @classmethod
    def _source_id(cls, value: Any) -> str | None:
        """Feeds give ids as strings or integers; both are kept as text."""
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise PydanticCustomError(
                "source_id_type", f"expected a string or an integer, got {_json_type(value)}"
            )
        if not value.strip():
            raise PydanticCustomError("empty", "must not be empty")
        return value.strip()

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not _SLUG.fullmatch(value):
            raise PydanticCustomError(
                "slug", f"only lowercase letters, digits and single hyphens ({_shown(value)})"
            )
        return value

    def to_draft(self, origin: str) -> ArticleDraft:
        return ArticleDraft(
            headline=self.headline,
            blocks=body_blocks(self.body or ""),
            section_path=self.section,
            standfirst=self.standfirst,
            slug=self.slug,
            published_at=self.published_at,
            url=self.url,
            authors=self.authors,
            source_id=self.source_id,
            source_format="json",
            status=ArticleStatus.DRAFT if self.draft else ArticleStatus.PUBLISHED,
            origin=origin,
        )


def body_blocks(body: str) -> list[Block]:
    """Paragraphs separated by blank lines; a one-line paragraph may be a subheading (same rule as pages)."""
    blocks = []
    for chunk in normalise(body).split("\n\n"):  # a third blank line leaves an empty line: skipped below
        lines = [line for line in chunk.split("\n") if line]
        if not lines:
            continue
        text = " ".join(lines)
        kind = BlockKind.SUBHEADING if len(lines) == 1 and is_subheading(text) else BlockKind.PARAGRAPH
        blocks.append(Block(kind, text))
    return blocks


def parse_record(
    value: Any, *, source: str, line: int | None = None, record: int | None = None
) -> ArticleDraft | IngestError:
    """One decoded JSON value -> a draft, or the error that says which field is wrong and why."""
    if not isinstance(value, dict):
        return IngestError(
            source, f"expected a JSON object, got {_json_type(value)}", line=line, record=record
        )
    try:
        return _Record.model_validate(value).to_draft(location(source, line=line, record=record))
    except ValidationError as error:
        issues = error.errors(include_url=False)
        first = issues[0]
        message = _message(first)
        others = sorted({_field(issue["loc"]) for issue in issues[1:]} - {_field(first["loc"])})
        if others:
            message += f" (also invalid: {', '.join(others)})"
        return IngestError(source, message, line=line, record=record, field=_field(first["loc"]))


def _field(loc: tuple[int | str, ...]) -> str:
    return str(loc[0])


def _message(issue: ErrorDetails) -> str:
    """Pydantic's wording for built-in checks, ours (already clear) for the custom ones."""
    if issue["type"] == "missing":
        return "required field is missing"
    if issue["type"] == "string_type":
        return f"expected a string, got {_json_type(issue['input'])}"
    if issue["type"] == "bool_type":
        return f"expected true or false, got {_json_type(issue['input'])}"
    return str(issue["msg"])


def iter_json_records(path: Path) -> Iterator[ArticleDraft | IngestError]:
    """Every article in a ``.json`` or ``.jsonl``/``.ndjson`` file, each a draft or its own error."""
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in JSON_SUFFIXES | JSON_LINES_SUFFIXES:
        yield IngestError(source, "not a JSON file: expected .json, .jsonl or .ndjson")
    elif suffix in JSON_LINES_SUFFIXES:
        for item in json_line_pieces(path):
            if isinstance(item, IngestError):
                yield item
            else:
                yield from read_json_lines(path, item)
    else:
        try:
            text = read_text(path)
        except IngestError as error:
            yield error
            return
        if not text.strip():
            yield IngestError(source, "empty file: no articles")
        else:
            yield from _json_document(text, source)


#: About how many bytes of a JSON Lines file one piece holds (``json_line_pieces``): a hundred wire articles.
PIECE_BYTES = 200_000


class LinePiece(NamedTuple):
    """Whole lines of a JSON Lines file: ``lines`` of them from line ``first_line``, bytes ``start`` to
    ``end``."""

    first_line: int
    lines: int
    start: int
    end: int


def json_line_pieces(path: Path, size: int = PIECE_BYTES) -> Iterator[LinePiece | IngestError]:
    """Where the records of a JSON Lines file lie, in pieces of whole lines about ``size`` bytes long, for
    worker processes to read and parse (``read_json_lines``): only these numbers cross between processes.
    (Decoding the text here and sending it to them cost about as much as parsing it.) Errors: the whole
    file's, when it cannot be read or is empty (then after its pieces, which hold no records)."""
    blank = True
    try:
        with path.open("rb") as file:
            offset = len(codecs.BOM_UTF8) if file.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8 else 0
            file.seek(offset)
            number, rest = 1, b""
            while block := file.read(size):
                data = rest + block
                cut = data.rfind(b"\n") + 1  # whole lines only; the rest goes with the next block
                piece, rest = data[:cut], data[cut:]
                if piece:
                    blank = blank and piece.isspace()
                    lines = piece.count(b"\n")
                    yield LinePiece(number, lines, offset, offset + cut)
                    number, offset = number + lines, offset + cut
            if rest:
                blank = blank and rest.isspace()
                yield LinePiece(number, 1, offset, offset + len(rest))
    except OSError as error:
        yield IngestError(str(path), f"cannot read the file: {error.strerror or error}")
        return
    if blank:
        yield IngestError(str(path), "empty file: no articles")


def read_json_lines(path: Path, piece: LinePiece) -> list[ArticleDraft | IngestError]:
    """Each record of a piece of a JSON Lines file (``json_line_pieces``), blank lines skipped; a line that
    is not UTF-8 is an error of its own."""
    source = str(path)
    try:
        with path.open("rb") as file:
            file.seek(piece.start)
            data = file.read(piece.end - piece.start)
    except OSError as error:
        return [
            IngestError(source, f"cannot read the file: {error.strerror or error}", line=piece.first_line)
        ]
    try:
        return parse_json_lines(data.decode(), source=source, first_line=piece.first_line)
    except UnicodeDecodeError:
        pass
    items: list[ArticleDraft | IngestError] = []
    for number, line in enumerate(data.split(b"\n"), start=piece.first_line):
        try:
            items += parse_json_lines(line.decode(), source=source, first_line=number)
        except UnicodeDecodeError as error:
            items.append(
                IngestError(source, f"not UTF-8 text (invalid byte at column {error.start + 1})", line=number)
            )
    return items


def parse_json_lines(text: str, *, source: str, first_line: int) -> list[ArticleDraft | IngestError]:
    """Each record of JSON Lines text whose first line is ``first_line``, blank lines skipped."""
    # Split on newlines only: JSON strings may hold U+2028 and other characters splitlines() breaks on.
    return [
        parse_json_line(line, source=source, line=number)
        for number, line in enumerate(text.split("\n"), start=first_line)
        if line.strip()
    ]


def parse_json_line(text: str, *, source: str, line: int) -> ArticleDraft | IngestError:
    """One line of a JSON Lines file -> a draft, or the error that says what is wrong with it."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        # The standard library reads a little more (NaN, integers past 64 bits) and says what is wrong in
        # the words users know; orjson, twice as quick, reads every line that is plain JSON.
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            return IngestError(source, f"not valid JSON: {error.msg} (column {error.colno})", line=line)
    return parse_record(value, source=source, line=line)


def _json_document(text: str, source: str) -> Iterator[ArticleDraft | IngestError]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        yield IngestError(source, f"not valid JSON: {error.msg} (column {error.colno})", line=error.lineno)
        return
    if isinstance(value, list):
        for index, item in enumerate(value, start=1):
            yield parse_record(item, source=source, record=index)
    else:
        yield parse_record(value, source=source)

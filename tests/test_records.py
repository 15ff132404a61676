"""JSON and JSON Lines records: good input, and each kind of bad input reported where it is."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from ingest.document import ArticleDraft, Block, BlockKind
from ingest.errors import IngestError
from ingest.records import body_blocks, iter_json_records, json_line_pieces, read_json_lines

GOOD: dict[str, Any] = {
    "headline": "Port  Expands Terminal",
    "section": "News/Business",
    "standfirst": "A short dek.",
    "body": "First paragraph,\nwrapped over two lines.\n\nPipeline to the Ruhr\n\nLast paragraph.",
    "published_at": "2025-03-11T08:30:00+01:00",
    "url": "https://wire.example.com/a/b",
    "authors": ["Femke de Graaf", " Tobias Lenz "],
    "source_id": "AW-1",
    "slug": "port-expands-terminal",
    "wire_priority": 3,
}


def write_lines(path: Path, *values: Any) -> Path:
    path.write_text("\n".join(v if isinstance(v, str) else json.dumps(v) for v in values), encoding="utf-8")
    return path


def only(path: Path) -> ArticleDraft | IngestError:
    [item] = list(iter_json_records(path))
    return item


def drafts(items: Iterable[ArticleDraft | IngestError]) -> list[ArticleDraft]:
    """The drafts among parsed items, for tests that check the errors separately."""
    return [item for item in items if isinstance(item, ArticleDraft)]


def error_for(tmp_path: Path, **changes: Any) -> IngestError:
    item = only(write_lines(tmp_path / "a.jsonl", {**GOOD, **changes}))
    assert isinstance(item, IngestError), item
    return item


def test_good_record(tmp_path: Path) -> None:
    draft = only(write_lines(tmp_path / "a.jsonl", GOOD))
    assert isinstance(draft, ArticleDraft)
    assert draft.headline == "Port Expands Terminal"
    assert draft.section_path == ("News", "Business")
    assert draft.standfirst == "A short dek."
    assert draft.blocks == [
        Block(BlockKind.PARAGRAPH, "First paragraph, wrapped over two lines."),
        Block(BlockKind.SUBHEADING, "Pipeline to the Ruhr"),
        Block(BlockKind.PARAGRAPH, "Last paragraph."),
    ]
    assert draft.published_at == datetime(2025, 3, 11, 7, 30, tzinfo=UTC)
    assert draft.url == "https://wire.example.com/a/b"
    assert draft.authors == ("Femke de Graaf", "Tobias Lenz")
    assert draft.source_id == "AW-1"
    assert draft.slug == "port-expands-terminal"
    assert draft.source_format == "json"
    assert draft.masthead is None
    assert draft.origin == f"{tmp_path / 'a.jsonl'}:1"


def test_only_headline_is_required(tmp_path: Path) -> None:
    draft = only(write_lines(tmp_path / "a.jsonl", {"headline": "Just This", "section": ""}))
    assert isinstance(draft, ArticleDraft)
    assert (draft.section_path, draft.blocks, draft.published_at, draft.authors) == ((), [], None, ())


def test_one_bad_record_among_good_ones(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a.jsonl", GOOD, {**GOOD, "published_at": "yesterday"}, GOOD)
    first, bad, last = iter_json_records(path)
    assert isinstance(first, ArticleDraft)
    assert isinstance(last, ArticleDraft)
    assert isinstance(bad, IngestError)
    assert (bad.source, bad.line, bad.record, bad.field) == (str(path), 2, None, "published_at")
    assert str(bad) == f'{path}:2: published_at: not an ISO 8601 date-time ("yesterday")'


def test_bad_json_line_and_blank_lines(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a.ndjson", GOOD, "", "{not json", "   ", GOOD)
    items = list(iter_json_records(path))
    assert [type(item) for item in items] == [ArticleDraft, IngestError, ArticleDraft]
    error = items[1]
    assert isinstance(error, IngestError)
    assert (error.line, error.field) == (3, None)
    assert str(error).startswith(f"{path}:3: not valid JSON: ")
    assert drafts(items)[1].origin == f"{path}:5"


def test_a_file_read_in_pieces_keeps_every_record_and_its_line(tmp_path: Path) -> None:
    """Worker processes read a JSON Lines file in pieces of whole lines; what they parse is what reading it
    whole gives, with the same line numbers, however small the pieces. A line that is not UTF-8 is an
    error of its own; a byte order mark is no part of the first record."""
    lines: list[bytes] = []
    for number in range(12):
        value = {**GOOD, "source_id": f"AW-{number}", "headline": f"Story {number}\u2028(line sep)"}
        lines.append(json.dumps(value, ensure_ascii=False).encode())
        lines += [b"", b"{not json"] if number % 5 == 0 else []
    lines.insert(7, '{"headline": "Caf\u00e9"}'.encode("latin-1"))
    path = tmp_path / "feed.jsonl"
    path.write_bytes(codecs.BOM_UTF8 + b"\r\n".join(lines))
    whole = list(iter_json_records(path))
    assert len(whole) == 12 + 3 + 1
    for size in (1, 50, 700, 10_000):
        pieces = [piece for piece in json_line_pieces(path, size) if not isinstance(piece, IngestError)]
        assert [(piece.start, piece.end) for piece in pieces] == list(
            pairwise([len(codecs.BOM_UTF8), *(piece.end for piece in pieces)])
        )
        assert (pieces[-1].end, sum(piece.lines for piece in pieces)) == (path.stat().st_size, len(lines))
        parsed = [item for piece in pieces for item in read_json_lines(path, piece)]
        assert [str(item) if isinstance(item, IngestError) else item for item in parsed] == [
            str(item) if isinstance(item, IngestError) else item for item in whole
        ], size
    assert [str(item) for item in whole if isinstance(item, IngestError)] == [
        f"{path}:3: not valid JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{path}:8: not UTF-8 text (invalid byte at column 18)",
        *(f"{path}:{line}: not valid JSON: Expecting property name enclosed in double quotes (column 2)"
          for line in (11, 18)),
    ]  # fmt: skip
    assert [draft.origin for draft in drafts(whole)][:4] == [f"{path}:{line}" for line in (1, 4, 5, 6)]
    assert drafts(whole)[0].headline == "Story 0 (line sep)"  # one line: U+2028 ends none


def test_what_plain_json_leaves_out_is_read_as_python_reads_it(tmp_path: Path) -> None:
    # A source id past 64 bits and NaN in an ignored field: quick parsing refuses both, the fallback not.
    line = json.dumps({**GOOD, "source_id": 2**70, "score": float("nan")})
    item = only(write_lines(tmp_path / "a.jsonl", line))
    assert isinstance(item, ArticleDraft)
    assert item.source_id == str(2**70)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"headline": 5}, "headline", "expected a string, got a number"),
        ({"headline": None}, "headline", "expected a string, got null"),
        ({"headline": "  "}, "headline", "must not be empty"),
        ({"standfirst": ["a"]}, "standfirst", "expected a string, got an array"),
        ({"body": {"text": "x"}}, "body", "expected a string, got an object"),
        ({"section": 5}, "section", 'expected a path such as "News/Business", got a number'),
        ({"section": "News//Business"}, "section", 'empty section name in "News//Business"'),
        ({"published_at": 20250311}, "published_at", "not an ISO 8601 date-time (20250311)"),
        ({"published_at": "2025-03-11"}, "published_at", 'a date without a time ("2025-03-11")'),
        ({"url": "ftp://example.com/a"}, "url", 'not an absolute http or https URL ("ftp://example.com/a")'),
        ({"url": "/news/a"}, "url", 'not an absolute http or https URL ("/news/a")'),
        ({"authors": "Jo Bloggs"}, "authors", "expected a list of names, got a string"),
        ({"authors": ["Jo", ""]}, "authors", 'author 2 is not a name ("")'),
        ({"source_id": True}, "source_id", "expected a string or an integer, got a boolean"),
        ({"source_id": 1.5}, "source_id", "expected a string or an integer, got a number"),
        (
            {"slug": "Port Expands"},
            "slug",
            'only lowercase letters, digits and single hyphens ("Port Expands")',
        ),
    ],
)
def test_wrong_values_name_the_field(
    tmp_path: Path, changes: dict[str, Any], field: str, message: str
) -> None:
    error = error_for(tmp_path, **changes)
    assert (error.line, error.field, error.message) == (1, field, message)


def test_missing_headline(tmp_path: Path) -> None:
    record = {key: value for key, value in GOOD.items() if key != "headline"}
    item = only(write_lines(tmp_path / "a.jsonl", record))
    assert isinstance(item, IngestError)
    assert str(item) == f"{tmp_path / 'a.jsonl'}:1: headline: required field is missing"


def test_several_bad_fields_are_all_named(tmp_path: Path) -> None:
    error = error_for(tmp_path, headline=5, url="nope", slug="A")
    assert error.field == "headline"
    assert error.message.endswith("(also invalid: slug, url)")


def test_naive_date_is_utc_and_offsets_are_converted(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "a.jsonl",
        {**GOOD, "published_at": "2025-03-11T08:30:00"},
        {**GOOD, "published_at": "2025-03-11T08:30:00Z"},
        {**GOOD, "published_at": "2025-03-11 03:30:00-05:00"},
    )
    dates = [draft.published_at for draft in drafts(iter_json_records(path))]
    assert dates == [datetime(2025, 3, 11, 8, 30, tzinfo=UTC)] * 3
    assert all(moment is not None and moment.tzinfo is UTC for moment in dates)


def test_integer_source_id_becomes_text(tmp_path: Path) -> None:
    draft = only(write_lines(tmp_path / "a.jsonl", {**GOOD, "source_id": 480211}))
    assert isinstance(draft, ArticleDraft)
    assert draft.source_id == "480211"


@pytest.mark.parametrize(
    ("section", "path"), [("Europe", ("Europe",)), ("/Home/Europe/", ("Europe",)), (None, ())]
)
def test_sections_are_paths_under_home(tmp_path: Path, section: str | None, path: tuple[str, ...]) -> None:
    draft = only(write_lines(tmp_path / "a.jsonl", {**GOOD, "section": section}))
    assert isinstance(draft, ArticleDraft)
    assert draft.section_path == path


def test_json_array_names_the_bad_record(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([GOOD, {**GOOD, "url": "not a url"}, GOOD, ["x"]], indent=2), encoding="utf-8")
    items = list(iter_json_records(path))
    assert [type(item) for item in items] == [ArticleDraft, IngestError, ArticleDraft, IngestError]
    bad, wrong_type = items[1], items[3]
    assert isinstance(bad, IngestError)
    assert isinstance(wrong_type, IngestError)
    assert (bad.line, bad.record, bad.field) == (None, 2, "url")
    assert str(bad) == f'{path}: record 2: url: not an absolute http or https URL ("not a url")'
    assert str(wrong_type) == f"{path}: record 4: expected a JSON object, got an array"
    assert drafts(items)[1].origin == f"{path}: record 3"


def test_json_single_object(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps(GOOD), encoding="utf-8-sig")  # a BOM is fine
    draft = only(path)
    assert isinstance(draft, ArticleDraft)
    assert (draft.headline, draft.origin) == ("Port Expands Terminal", str(path))


def test_invalid_json_document_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[\n  {"headline": "x"},\n  oops\n]', encoding="utf-8")
    error = only(path)
    assert isinstance(error, IngestError)
    assert error.line == 3
    assert "not valid JSON" in error.message


def test_json_file_that_is_not_utf8_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(
        b"[" + json.dumps(GOOD).encode("utf-8") + b",\n" + '{"headline": "Café"}]'.encode("latin-1")
    )
    error = only(path)
    assert isinstance(error, IngestError)
    assert (error.source, error.line, error.field) == (str(path), None, None)
    assert "not UTF-8" in error.message


def test_json_lines_not_utf8_are_errors_of_their_own(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(json.dumps(GOOD).encode("utf-8") + b"\n" + '{"headline": "Café"}'.encode("latin-1"))
    good, error = list(iter_json_records(path))
    assert isinstance(good, ArticleDraft)
    assert isinstance(error, IngestError)
    assert str(error) == f"{path}:2: not UTF-8 text (invalid byte at column 18)"


@pytest.mark.parametrize("name", ["a.json", "a.jsonl"])
def test_empty_file_is_an_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("\n  \n", encoding="utf-8")
    error = only(path)
    assert isinstance(error, IngestError)
    assert str(error) == f"{path}: empty file: no articles"


def test_body_uses_the_page_subheading_rule() -> None:
    blocks = body_blocks(
        "Kyiv Draws the Line on Neutrality\n\nKyiv draws the line.\n\nTwo Line\nTitle Case\n\n\n"
    )
    assert blocks == [
        Block(BlockKind.SUBHEADING, "Kyiv Draws the Line on Neutrality"),
        Block(BlockKind.PARAGRAPH, "Kyiv draws the line."),
        Block(BlockKind.PARAGRAPH, "Two Line Title Case"),  # two lines: a paragraph, never a subheading
    ]


def test_sample_wire_file() -> None:
    items = list(iter_json_records(Path(__file__).parents[1] / "ingest" / "samples" / "wire.jsonl"))
    assert all(isinstance(item, ArticleDraft) for item in items)
    drafts = [item for item in items if isinstance(item, ArticleDraft)]
    assert [d.source_id for d in drafts] == ["480211", "AW-2025-0412-07", "480377"]
    assert drafts[0].published_at == datetime(2025, 3, 11, 7, 30, tzinfo=UTC)
    assert drafts[2].published_at == datetime(2025, 3, 2, 11, 20, tzinfo=UTC)  # naive in the file

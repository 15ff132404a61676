"""Files and folders to drafts: dispatch by extension, walking order, errors in line, and the samples."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.document import ArticleDraft
from ingest.errors import IngestError
from tests.shared import article_text, check_against_readme, iter_drafts, read_expectations

SAMPLES = Path(__file__).parents[1] / "ingest" / "samples"
PAGE = (
    "The Paper\n  • Home/\n  • Sport/\n  • A Headline\n\nA Headline\n\nA dek.\n\nAdvertisement\n\nBody text."
)


def test_samples_folder_matches_its_readme() -> None:
    expected = read_expectations(SAMPLES / "README.md")
    drafts = list(iter_drafts([SAMPLES]))
    assert all(isinstance(draft, ArticleDraft) for draft in drafts), drafts
    by_origin = {Path(d.origin).name: d for d in drafts if isinstance(d, ArticleDraft)}
    assert sorted(by_origin) == sorted(expected)
    for name, draft in by_origin.items():
        check_against_readme(draft, expected[name])


def test_samples_are_full_captured_pages() -> None:
    pages = sorted(SAMPLES.glob("*.txt"))
    assert len(pages) == 4
    sections = set()
    for item in iter_drafts(pages):
        assert isinstance(item, ArticleDraft)
        assert item.masthead == "The Broadsheet Gazette"
        assert item.standfirst
        assert 350 <= len(article_text(item).split()) <= 600, item.origin
        sections.add(item.section_path)
    assert len(sections) == 4
    assert any(len(path) >= 2 for path in sections)


def test_folders_are_walked_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "b" / "z.txt").write_text(PAGE, encoding="utf-8")
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"headline": "One"}) + "\n" + json.dumps({"headline": "Two"}), encoding="utf-8"
    )
    (tmp_path / "c.TXT").write_text(PAGE.replace("A Headline", "Third"), encoding="utf-8")
    (tmp_path / "notes.md").write_text("# not an article", encoding="utf-8")
    (tmp_path / ".hidden" / "x.txt").write_text(PAGE, encoding="utf-8")
    items = list(iter_drafts([tmp_path]))
    assert [item.headline for item in items if isinstance(item, ArticleDraft)] == [
        "One",
        "Two",
        "A Headline",
        "Third",
    ]
    assert [item.source_format for item in items if isinstance(item, ArticleDraft)] == [
        "json",
        "json",
        "captured",
        "captured",
    ]


def test_bad_inputs_are_errors_in_line(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text(PAGE, encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Caf\u00e9 Headline\nBody.".encode("latin-1"))
    unknown = tmp_path / "page.html"
    unknown.write_text("<p>hi</p>", encoding="utf-8")
    missing = tmp_path / "missing.txt"
    paths = [good, empty, latin, unknown, missing, good]
    items = list(iter_drafts(paths))
    assert [type(item) for item in items] == [
        ArticleDraft,
        IngestError,
        IngestError,
        IngestError,
        IngestError,
        ArticleDraft,
    ]
    messages = [str(item) for item in items if isinstance(item, IngestError)]
    assert messages[0] == f"{empty}: empty file: no text to parse"
    assert messages[1].startswith(f"{latin}: not UTF-8 text")
    assert messages[2].startswith(f"{unknown}: unknown kind of file")
    assert messages[3] == f"{missing}: no such file or folder"


def test_files_are_read_only_when_their_turn_comes(tmp_path: Path) -> None:
    first, later = tmp_path / "first.txt", tmp_path / "later.txt"
    first.write_text(PAGE, encoding="utf-8")
    drafts = iter_drafts([first, later])
    assert isinstance(next(drafts), ArticleDraft)
    later.write_text(PAGE.replace("A Headline", "Later"), encoding="utf-8")  # written after the run began
    second = next(drafts)
    assert isinstance(second, ArticleDraft)
    assert second.headline == "Later"

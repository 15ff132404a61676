"""Captured pages: the seed exactly, the test pages against their README, and the rules one by one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.captured import is_subheading, parse_captured
from ingest.document import ArticleDraft, Block, BlockKind
from ingest.errors import IngestError
from tests.shared import check_against_readme, read_expectations, shared_path

PAGES = Path(__file__).parent / "pages"
EXPECTED = read_expectations(PAGES / "README.md")
SEED_HEADLINE = "Putin, Trump to Skip Ukraine’s Peace Talks Proposed by Kremlin"

P = BlockKind.PARAGRAPH
S = BlockKind.SUBHEADING
AD = BlockKind.AD_SLOT


def parse_file(path: Path) -> ArticleDraft:
    return parse_captured(path.read_text(encoding="utf-8"), source=str(path))


def kinds(draft: ArticleDraft) -> list[BlockKind]:
    return [block.kind for block in draft.blocks]


def texts(draft: ArticleDraft, kind: BlockKind) -> list[str]:
    return [block.text for block in draft.blocks if block.kind is kind]


def page(*lines: str) -> str:
    return "\n".join(lines)


@pytest.fixture(scope="module")
def seed() -> ArticleDraft:
    return parse_file(shared_path("seed", "daily-guardian-peace-talks.txt"))


def test_seed_head(seed: ArticleDraft) -> None:
    assert seed.masthead == "The Daily Guardian"
    assert seed.section_path == ("Europe",)
    assert seed.headline == SEED_HEADLINE
    assert seed.standfirst == (
        "Putin and Trump’s absence from Ukraine peace talks dims hopes for progress in ending Russia’s war."
    )
    assert seed.source_format == "captured"
    assert (seed.slug, seed.published_at, seed.url, seed.source_id) == (None, None, None, None)


def test_seed_body(seed: ArticleDraft) -> None:
    assert texts(seed, S) == [
        "Kremlin Sends Delegation, But Without Putin",
        "Trump Drops Out, Delegation Arrives",
        "Kyiv Draws the Line on Neutrality",
    ]
    assert kinds(seed) == [AD, AD, P, P, S, P, P, P, S, P, P, S, P, P, P]
    paragraphs = texts(seed, P)
    assert len(paragraphs) == 10
    assert paragraphs[0].startswith("US President Donald Trump and Russian President Vladimir Putin")
    assert paragraphs[-1].endswith("keeps the future of diplomacy uncertain.")
    assert "“without any preconditions.”" in paragraphs[2]  # curly quotes kept as they are
    assert SEED_HEADLINE not in paragraphs
    assert not any("Advertisement" in text or "Scroll to continue" in text for text in paragraphs)
    assert all(block.text == "" for block in seed.blocks if block.kind is AD)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_page_matches_readme(name: str) -> None:
    draft = parse_file(PAGES / name)
    expected = EXPECTED[name]
    check_against_readme(draft, expected)
    assert draft.masthead == expected["masthead"]
    assert draft.standfirst == (None if expected["standfirst"] == "(none)" else expected["standfirst"])
    assert kinds(draft).count(AD) == int(expected["ad slots"])
    assert len(texts(draft, P)) == int(expected["paragraphs"])
    assert draft.headline not in texts(draft, P)
    assert draft.origin == str(PAGES / name)


def test_readme_covers_every_page() -> None:
    assert sorted(EXPECTED) == sorted(path.name for path in PAGES.glob("*.txt"))
    assert len(EXPECTED) >= 3


def test_mid_body_ads_stay_where_they_are() -> None:
    draft = parse_file(PAGES / "politics-rent-freeze.txt")
    assert kinds(draft) == [AD, P, P, AD, S, P, P, AD, P, S, P]


def test_split_placeholder_is_one_slot() -> None:
    draft = parse_file(PAGES / "sport-tour-of-rwanda.txt")
    assert kinds(draft)[:2] == [AD, P]


def test_normalises_bom_crlf_nbsp_and_trailing_spaces() -> None:
    path = PAGES / "politics-rent-freeze.txt"
    clean = path.read_text(encoding="utf-8")
    messy = "\ufeff" + clean.replace("Housing Minister", "Housing\u00a0Minister").replace("\n", "  \t\r\n")
    draft = parse_captured(messy, source=str(path))
    assert draft == parse_captured(clean, source=str(path))
    assert "Housing Minister Niamh Gallagher said" in texts(draft, P)[1]


@pytest.mark.parametrize(
    "placeholder",
    [
        "Advertisement",
        "ADVERTISEMENT",
        "Advertisement · Scroll to continue",
        "Advertisement - Scroll to continue reading",
        "Scroll to continue with content",
        "Story continues below advertisement",
        "Sponsored content",
        "(Advertisement)",
    ],
)
def test_ad_placeholders_become_slots(placeholder: str) -> None:
    draft = parse_captured(
        page("Headline Here", "Dek line.", placeholder, "First paragraph.", placeholder, "Second one."),
        source="p.txt",
    )
    assert draft.standfirst == "Dek line."
    assert draft.blocks == [Block(AD), Block(P, "First paragraph."), Block(AD), Block(P, "Second one.")]


def test_text_about_advertising_is_not_an_ad() -> None:
    draft = parse_captured(
        page("Headline Here", "Dek.", "Advertisement", "Advertisement spending rose by a fifth."),
        source="p.txt",
    )
    assert draft.blocks == [Block(AD), Block(P, "Advertisement spending rose by a fifth.")]


def test_deeper_breadcrumbs_and_shortened_crumb() -> None:
    draft = parse_captured(
        page(
            "The Paper",
            "  • Home/",
            "  • News/",
            "  • World/",
            "  • Europe/",
            "  • Baltics/",
            "  • Riga Mayor Resigns…",
            "",
            "Riga Mayor Resigns Over Tram Contract",
            "Dek sentence.",
            "Advertisement",
            "Riga Mayor Resigns Over Tram Contract",
            "Body sentence.",
        ),
        source="p.txt",
    )
    assert draft.section_path == ("News", "World", "Europe", "Baltics")
    assert draft.headline == "Riga Mayor Resigns Over Tram Contract"  # the line, not the shortened crumb
    assert draft.standfirst == "Dek sentence."
    assert draft.blocks == [Block(AD), Block(P, "Body sentence.")]


def test_root_other_than_home_is_kept() -> None:
    draft = parse_captured(page("• News/", "• Headline", "Headline", "Body."), source="p.txt")
    assert draft.section_path == ("News",)
    assert draft.masthead is None


def test_no_breadcrumbs_means_home_and_caption_finds_the_headline() -> None:
    draft = parse_captured(
        page("The Paper", "", "Big Headline", "The dek.", "Advertisement", "Big Headline", "Body text."),
        source="p.txt",
    )
    assert (draft.section_path, draft.masthead, draft.headline) == ((), "The Paper", "Big Headline")
    assert draft.standfirst == "The dek."
    assert draft.blocks == [Block(AD), Block(P, "Body text.")]


def test_plain_page_without_markers_has_no_standfirst() -> None:
    draft = parse_captured(page("A Headline", "First paragraph.", "Second paragraph."), source="p.txt")
    assert (draft.masthead, draft.headline, draft.standfirst) == (None, "A Headline", None)
    assert texts(draft, P) == ["First paragraph.", "Second paragraph."]


def test_several_lines_before_the_first_ad_are_body() -> None:
    draft = parse_captured(page("Headline", "One.", "Two.", "Advertisement", "Three."), source="p.txt")
    assert draft.standfirst is None
    assert kinds(draft) == [P, P, AD, P]


def test_caption_matching_the_crumb_is_dropped() -> None:
    draft = parse_captured(
        page(
            "• Home/",
            "• Short Crumb Headline",
            "Longer Line Headline",
            "Advertisement",
            "Short Crumb Headline",
            "B.",
        ),
        source="p.txt",
    )
    assert draft.headline == "Longer Line Headline"
    assert draft.blocks == [Block(AD), Block(P, "B.")]


def test_headline_from_the_crumb_when_the_line_is_missing() -> None:
    draft = parse_captured(
        page("• Home/", "• Sport/", "• The Headline", "Advertisement", "Body."), source="p.txt"
    )
    assert draft.headline == "The Headline"
    assert draft.blocks == [Block(AD), Block(P, "Body.")]


@pytest.mark.parametrize("text", ["", "   \n\n \r\n", "\ufeff"])
def test_empty_file_is_an_error(text: str) -> None:
    with pytest.raises(IngestError) as caught:
        parse_captured(text, source="pages/empty.txt")
    assert caught.value.source == "pages/empty.txt"
    assert str(caught.value) == "pages/empty.txt: empty file: no text to parse"


def test_no_headline_is_an_error() -> None:
    with pytest.raises(IngestError) as caught:
        parse_captured(page("The Paper", "  • Home/", "  • Europe/", "", "Advertisement"), source="x.txt")
    error = caught.value
    assert (error.field, error.line, error.record) == ("headline", 5, None)
    assert str(error) == "x.txt:5: headline: no headline found"


def test_page_without_body_text_is_an_error() -> None:
    with pytest.raises(IngestError) as caught:
        parse_captured(
            page("The Paper", "  • Home/", "  • Headline", "", "Headline", "Dek.", "Advertisement"),
            source="x.txt",
        )
    assert (caught.value.field, caught.value.line) == ("body", 5)
    assert "no body text" in str(caught.value)


@pytest.mark.parametrize(
    "line",
    [
        "Kremlin Sends Delegation, But Without Putin",
        "Kyiv Draws the Line on Neutrality",
        "What Comes Next",
        "NATO Promises Support",
        "2025 Budget at a Glance",
        "Background",
    ],
)
def test_subheadings(line: str) -> None:
    assert is_subheading(line)


@pytest.mark.parametrize(
    "line",
    [
        "Their absence now casts doubt on any potential breakthrough.",
        "“We are not walking away,” Brandt said",  # no final stop, but not title-like
        "What happens to the ceasefire now?",
        "Kyiv draws the line on neutrality",  # sentence case: not title-like
        "the line on neutrality",
        "Trump Said He Would Travel To The Region If Talks In Istanbul Made Real Progress Soon",
        "Note:",
        "",
    ],
)
def test_not_subheadings(line: str) -> None:
    assert not is_subheading(line)

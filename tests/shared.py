"""Helpers for tests: the ``../shared`` folder beside the clone, and the expected-answer tables in READMEs."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from ingest.document import ArticleDraft, BlockKind
from ingest.errors import IngestError
from ingest.sources import Lines, iter_inputs

_SHARED = Path(__file__).resolve().parents[1].parent / "shared"


#: What a reader sees in the seed (../shared/seed/README.md): people with roles, organisations, places.
SEED_PEOPLE = {
    "Donald Trump": "US President",
    "Vladimir Putin": "Russian President",
    "Vladimir Medinsky": "Presidential adviser",
    "Alexander Fomin": "Deputy Defence Minister",
    "Volodymyr Zelenskyy": "President",
    "Marco Rubio": "Secretary of State",
    "Steve Witkoff": "envoy",
    "Keith Kellogg": "envoy",
    "Andrii Sybiha": "Ukrainian Foreign Minister",
}
SEED_ORGANIZATIONS = ["Kremlin", "White House"]
SEED_PLACES = ["Ukraine", "Russia", "Istanbul", "Turkey", "Moscow", "Kyiv", "Middle East", "United States"]


def shared_path(*parts: str) -> Path:
    """A path under ``../shared``; skip the test if it is missing locally, fail it on CI (``CI`` set)."""
    path = _SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"../shared is not beside this clone: {path} does not exist"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def read_expectations(readme: Path) -> dict[str, dict[str, str]]:
    """The ``| field | expected |`` table under each ``## name`` heading of a README, by name."""
    tables: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in readme.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = tables.setdefault(line[3:].strip(), {})
        elif current is not None and (row := re.fullmatch(r"\|\s*([^|]+?)\s*\|\s*([^|]*?)\s*\|", line)):
            key, value = row.groups()
            if key != "field" and not set(key) <= {"-", " "}:
                current[key] = value
    return tables


def split_list(value: str) -> list[str]:
    """A ``; ``-separated README list; ``(none)`` is empty."""
    return [] if value == "(none)" else [item.strip() for item in value.split(";")]


def people(value: str) -> list[tuple[str, str]]:
    """``Name (role); Name (role)`` as (name, role) pairs."""
    pairs = []
    for item in split_list(value):
        match = re.fullmatch(r"(.+?) \((.+)\)", item)
        assert match, f"person without a role in the README: {item!r}"
        pairs.append((match.group(1), match.group(2)))
    return pairs


def article_text(draft: ArticleDraft) -> str:
    """Headline, standfirst and body text, one per line, as an entity extractor would see them."""
    texts = [draft.headline, draft.standfirst or ""]
    texts += [block.text for block in draft.blocks if block.kind is not BlockKind.AD_SLOT]
    return "\n".join(texts)


def check_against_readme(draft: ArticleDraft, expected: dict[str, str]) -> None:
    """Assert what both READMEs state: section, headline, subheadings, and that each entity is in the text."""
    section = expected["section"]
    assert draft.section_path == (tuple(section.split("/")) if section != "(Home)" else ())
    assert draft.headline == expected["headline"]
    assert [b.text for b in draft.blocks if b.kind is BlockKind.SUBHEADING] == split_list(
        expected["subheadings"]
    )
    text = article_text(draft)
    for name, role in people(expected["people"]):
        assert name in text, name
        assert role.casefold() in text.casefold(), role
    full_names = {name.split()[-1]: name for name, _ in people(expected["people"])}
    for surname in split_list(expected["surnames"]):
        assert surname in full_names, f"{surname} is not the surname of a listed person"
        # Mentioned by surname alone at least once, beyond the full-name mentions.
        assert len(re.findall(rf"\b{surname}\b", text)) > text.count(full_names[surname]), surname
    for name in split_list(expected["organisations"]) + split_list(expected["places"]):
        assert name in text, name


def iter_drafts(paths: Sequence[Path]) -> Iterator[ArticleDraft | IngestError]:
    """Every article in the given files and folders, in order, as ``broadsheet ingest`` reads them (JSON
    Lines records read here, not by workers); bad input comes out as ``IngestError``."""
    for item in iter_inputs(paths):
        if isinstance(item, Lines):
            yield from item.parse()
        else:
            yield item

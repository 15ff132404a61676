"""Parse text captured from a news page (select all, copy) into an ``ArticleDraft``.

A captured page looks like the seed, ``../shared/seed/daily-guardian-peace-talks.txt``::

    The Daily Guardian                      masthead: line(s) before the breadcrumbs
      • Home/                               breadcrumbs: sections end in "/", the root Home is dropped
      • Europe/
      • Putin, Trump to Skip ...            last crumb without "/": the headline, maybe shortened
    Putin, Trump to Skip ...                headline: the first line after the breadcrumbs
    Putin and Trump's absence ...           standfirst (dek)
    Advertisement · Scroll to continue      ad placeholder -> an AD_SLOT block
    Putin, Trump to Skip ...                the headline again: the lead image's caption, dropped
    US President Donald Trump and ...       body: one block per non-empty line

The rules, chosen so that they hold on other pages captured the same way:

* Masthead and breadcrumbs: the breadcrumbs are the first run of bullet lines (``•``, ``‣``, ``◦``,
  ``*``, ``-``), blank lines allowed between them, starting within the first four non-empty lines; the
  lines above them are the masthead (joined with newlines). Every crumb but the last is a section; the
  last is a section only if it ends in ``/``, otherwise it is the headline as the crumb shows it. A
  first section named ``Home`` is the root and is dropped.
* Without breadcrumbs, the headline is the first of the top four lines that comes back later on a line
  of its own (the caption), and any lines above it are the masthead; with no such line, the first line
  is the headline and there is no masthead. ``section_path`` is then ``()`` (Home).
* Headline: the first non-empty line after the breadcrumbs. It is preferred to the last crumb, which
  sites often shorten; the crumb is used only when that line is missing (an ad or the end of the page
  follows the breadcrumbs), and both count when looking for the caption.
* Caption: any line equal to the headline or the headline crumb (ignoring case, spacing and quote
  style) is the lead image's caption and is dropped.
* Standfirst: exactly one text line between the headline and the first marker (an ad placeholder or
  the caption). No line there means no standfirst; two or more mean the ads sit in the body and the
  lines are body text; no marker at all means a plain page whose lines are all body text.
* Ad placeholders: a line made only of ad words (``Advertisement``, ``ADVERTISEMENT``, ``Sponsored``,
  ...) and/or a "continue" phrase (``Scroll to continue with content``, ``Story continues below``, ...).
  Each is an ``AD_SLOT`` block where it stands; a "continue"-only line directly under an ad line is
  the same slot. Ad text never becomes article text.
* Body: each remaining non-empty line is a block, a subheading if :func:`is_subheading` says so,
  otherwise a paragraph.

Text is normalised first: BOM and zero-width spaces removed, CRLF/CR turned into LF, non-breaking and
other Unicode spaces into plain spaces, runs of spaces collapsed, lines stripped. Curly quotes stay.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.document import ArticleDraft, Block, BlockKind
from ingest.errors import IngestError

_INVISIBLE_CHARS = "\ufeff\u200b\u2060"
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]")
_UNICODE_SPACES = "\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000"
_OTHER_SPACES = "\t" + _UNICODE_SPACES
# Runs of spaces, and any tab or Unicode space; a lone plain space (most of a text) is left alone.
_SPACES = re.compile(f" {{2,}}|[ {_OTHER_SPACES}]*[{_OTHER_SPACES}][ {_OTHER_SPACES}]*")
_BULLET = re.compile(r"[•‣◦*\-]\s+(.*)")
_HEAD_LINES = 4  # breadcrumbs, or a headline without them, start within the first lines of a page

_AD_WORDS = r"(?:advertisement|advertising|advert|ad|sponsored(?:\s+content)?|promoted(?:\s+content)?)"
_CONTINUE = (
    r"(?:scroll(?:\s+down)?\s+to\s+continue(?:\s+reading|\s+with(?:\s+the)?\s+(?:content|article|story))?"
    r"|continue\s+reading(?:\s+below|\s+the\s+(?:main\s+)?(?:article|story))?"
    r"|(?:the\s+)?(?:story|article)\s+continues(?:\s+below)?(?:\s+(?:this\s+)?(?:advertisement|advert|ad))?"
    r"|skip\s+(?:advertisement|advert|ad))"
)
_SEPARATOR = r"\s*[·•|:\-–—]?\s*"
_AD_LINE = re.compile(
    rf"\(?(?:{_AD_WORDS}(?:{_SEPARATOR}{_CONTINUE})?|{_CONTINUE}(?:{_SEPARATOR}{_AD_WORDS})?)\)?\s*[.…]*",
    re.IGNORECASE,
)
_CONTINUE_LINE = re.compile(rf"{_CONTINUE}\s*[.…]*", re.IGNORECASE)

# Words a title-cased line leaves in lower case.
# fmt: off
_MINOR_WORDS = frozenset({
    "a", "an", "and", "as", "at", "but", "by", "en", "for", "from", "if", "in", "into", "nor", "of",
    "off", "on", "onto", "or", "over", "per", "so", "than", "the", "to", "up", "upon", "via", "vs",
    "vs.", "with", "yet",
})
# fmt: on
_TERMINAL = tuple(".!?…:;,")
_CLOSERS = "\"'”’)]»"
_MAX_SUBHEADING_WORDS = 12
_MAX_SUBHEADING_CHARS = 100
_TITLE_SHARE = 0.75  # of the words that matter, how many must start with a capital or digit


def read_text(path: Path) -> str:
    """A whole input file as text (UTF-8, BOM or not); unreadable or undecodable is an ``IngestError``."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise IngestError(str(path), f"cannot read the file: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise IngestError(str(path), f"not UTF-8 text (invalid byte at offset {error.start})") from None


def normalise(text: str) -> str:
    """Clean what copying from a browser leaves behind, keeping the words and quotes as they are."""
    # Each step looks first whether it has anything to do, which is quicker than a regular expression
    # finding nothing: most text is clean. (A text all ASCII holds no Unicode space or invisible mark.)
    plain = text.isascii()
    if not plain and any(char in text for char in _INVISIBLE_CHARS):
        text = _INVISIBLE.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "  " in text or "\t" in text or (not plain and any(char in text for char in _UNICODE_SPACES)):
        text = _SPACES.sub(" ", text)  # the whole text at once: no run of spaces spans a line break
    return "\n".join(line.strip() for line in text.split("\n"))


def is_subheading(text: str) -> bool:
    """Whether one line of body text is a subheading rather than a paragraph.

    A subheading is short (at most 12 words, 100 characters), has no sentence punctuation at its end
    (``. ! ? … : ; ,``, also before a closing quote) and is title-like: it starts with a capital or a
    digit, and at least three quarters of its words other than minor ones (``the``, ``on``, ``but``,
    ...) start with a capital or a digit, e.g. ``Kremlin Sends Delegation, But Without Putin``. Used for
    captured pages and for the body of JSON records alike.
    """
    line = text.strip()
    if len(line) > _MAX_SUBHEADING_CHARS or "\n" in line:  # most paragraphs: known before splitting
        return False
    words = line.split()
    if not words or len(words) > _MAX_SUBHEADING_WORDS:
        return False
    if line.rstrip(_CLOSERS).endswith(_TERMINAL) or not _is_capitalised(line):
        return False
    significant = [word for word in words[1:] if word.lower().strip(",") not in _MINOR_WORDS]
    capitalised = sum(1 for word in significant if _is_capitalised(word))
    return not significant or capitalised >= _TITLE_SHARE * len(significant)


def _is_capitalised(word: str) -> bool:
    """Whether a word's first letter or digit (past any opening quote) is a capital or a digit."""
    for char in word:
        if char.isalnum():
            return char.isupper() or char.isdigit()
    return False


def _same_text(first: str, second: str) -> bool:
    """Equal for a reader: ignoring case, spacing and straight versus curly quotes."""

    def key(text: str) -> str:
        text = text.translate(str.maketrans("‘’“”", "''\"\""))
        return " ".join(text.casefold().split())

    return key(first) == key(second)


@dataclass(frozen=True, slots=True)
class _Line:
    number: int  # 1-based, in the file as given
    text: str


@dataclass(frozen=True, slots=True)
class _Head:
    """What stands above the headline: masthead, sections and the crumb's headline, if any."""

    masthead: str | None
    sections: tuple[str, ...]
    crumb_headline: _Line | None
    rest: list[_Line]  # the lines after the breadcrumbs (or from the headline on, without them)


def parse_captured(text: str, *, source: str) -> ArticleDraft:
    """Turn one captured page into a draft; raise ``IngestError`` if it has no headline or no body."""
    lines = [_Line(number, line) for number, line in enumerate(normalise(text).split("\n"), start=1) if line]
    if not lines:
        raise IngestError(source, "empty file: no text to parse")
    head = _split_head(lines)
    rest = head.rest
    if rest and not _AD_LINE.fullmatch(rest[0].text):
        headline, rest = rest[0], rest[1:]
    elif head.crumb_headline is not None:
        headline = head.crumb_headline
    else:
        expected_at = rest[0].number if rest else None
        raise IngestError(source, "no headline found", line=expected_at, field="headline")

    def is_caption(line: _Line) -> bool:
        return _same_text(line.text, headline.text) or (
            head.crumb_headline is not None and _same_text(line.text, head.crumb_headline.text)
        )

    standfirst = None
    marker = next(
        (i for i, line in enumerate(rest) if _AD_LINE.fullmatch(line.text) or is_caption(line)), None
    )
    if marker == 1:
        standfirst, rest = rest[0].text, rest[1:]

    blocks = _body_blocks(rest, is_caption)
    if all(block.kind is BlockKind.AD_SLOT for block in blocks):
        raise IngestError(source, "no body text after the headline", line=headline.number, field="body")
    return ArticleDraft(
        headline=headline.text,
        blocks=blocks,
        section_path=head.sections,
        standfirst=standfirst,
        source_format="captured",
        masthead=head.masthead,
        origin=source,
    )


def _body_blocks(lines: list[_Line], is_caption: Callable[[_Line], bool]) -> list[Block]:
    """The body's blocks: paragraphs, subheadings and ad slots (one per run of ad lines); captions dropped."""
    blocks: list[Block] = []
    previous: _Line | None = None
    for line in lines:
        if is_caption(line):
            pass
        elif _AD_LINE.fullmatch(line.text):
            joins_slot = (
                previous is not None
                and previous.number == line.number - 1
                and _AD_LINE.fullmatch(previous.text)
                and _CONTINUE_LINE.fullmatch(line.text)
            )
            if not joins_slot:
                blocks.append(Block(BlockKind.AD_SLOT))
        else:
            kind = BlockKind.SUBHEADING if is_subheading(line.text) else BlockKind.PARAGRAPH
            blocks.append(Block(kind, line.text))
        previous = line
    return blocks


def _split_head(lines: list[_Line]) -> _Head:
    """Find the masthead and breadcrumbs at the top of the page (see the module docstring)."""
    first_crumb = next(
        (i for i, line in enumerate(lines[:_HEAD_LINES]) if _BULLET.fullmatch(line.text)), None
    )
    if first_crumb is None:
        return _head_without_breadcrumbs(lines)
    end = first_crumb
    crumbs: list[_Line] = []
    while end < len(lines) and (match := _BULLET.fullmatch(lines[end].text)):
        crumbs.append(_Line(lines[end].number, match.group(1).strip()))
        end += 1
    crumb_headline = None
    if not crumbs[-1].text.endswith("/"):
        crumb_headline = crumbs.pop()
    sections = [name for crumb in crumbs if (name := crumb.text.rstrip("/").strip())]
    if sections and sections[0].casefold() == "home":
        sections = sections[1:]
    masthead = "\n".join(line.text for line in lines[:first_crumb]) or None
    return _Head(masthead, tuple(sections), crumb_headline, lines[end:])


def _head_without_breadcrumbs(lines: list[_Line]) -> _Head:
    """Without breadcrumbs, the line that the caption repeats is the headline; above it, the masthead."""
    top = []
    for line in lines[:_HEAD_LINES]:
        if _AD_LINE.fullmatch(line.text):
            break
        top.append(line)
    texts = [line.text for line in lines]
    start = next(
        (i for i, line in enumerate(top) if any(_same_text(line.text, t) for t in texts[i + 1 :])), 0
    )
    masthead = "\n".join(line.text for line in lines[:start]) or None
    return _Head(masthead, (), None, lines[start:])

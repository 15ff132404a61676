"""Tokens and sentences as the statistical tagger reads them, in training and in tagging alike.

``tagger_tokens`` splits a line of plain text into tokens with exact character offsets (curly quotes,
possessive and other clitics split off, hyphenated words kept whole, abbreviations such as ``U.S.`` and
``Inc.`` kept with their period, numbers such as ``1,250.5`` kept whole). ``sentences`` breaks each line
into sentences and classifies the line as normal, title case (headline style) or all caps; the tagger's
capitalisation features are conjoined with that mode, since a capital letter means little in a headline.
These are CoNLL-2003's tokens, which the model was trained on; the rules read words whole, in tokens of
their own (``lexicon.rule_tokens``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

# Letters or digits (or combining accents): the same matches as (?:[^\W_]|[\u0300-\u036f])+, written as
# runs of each, which the regex engine matches faster than a choice at each character.
_WORD_RUN = r"(?:[^\W_]+|[\u0300-\u036f]+)+"
_URL = r"""(?P<url>(?:https?://|www\.)[^\s<>"“”]*[^\s<>"“”.,;:!?)\]'’])"""
_EMAIL = r"(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
_OTHER_TOKENS = rf"""
    (?P<dotted>(?:[^\W\d_]\.){{2,}})                             # U.S.  U.N.  a.m.  F.C.
  | (?P<number>[-+]?\d+(?:[.,:/]\d+)+(?:-{_WORD_RUN})*)           # 1,250.5  10:30  22/08/96  3.5-point
  | (?P<word>{_WORD_RUN}(?:(?:[-'’&]|\.(?=\d)){_WORD_RUN})*)   # O'Neill  Jean-Paul  AT&T  1996-08-22
  | (?P<clitic>['’](?:[sSdDmM]|re|RE|ve|VE|ll|LL)(?!\w))         # after "U.S." and the like: U.S.’s
  | (?P<ellipsis>\.{{2,}}|…)
  | (?P<dash>-{{2,}}|[—–])
  | (?P<other>\S)
"""
_TOKEN_RE = re.compile(rf"{_URL} | {_EMAIL} | {_OTHER_TOKENS}", re.VERBOSE)
# The same tokens in text without an "@", where no email can match: trying one at each word is most of
# the cost of matching a word.
_TOKEN_NO_EMAIL_RE = re.compile(rf"{_URL} | {_OTHER_TOKENS}", re.VERBOSE)

# Abbreviations that keep their period (lower case, without the period).
ABBREVIATIONS = frozenset(
    (
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "gen",
        "lt",
        "col",
        "maj",
        "capt",
        "cmdr",
        "sgt",
        "adm",
        "rep",
        "reps",
        "sen",
        "sens",
        "gov",
        "pres",
        "rev",
        "hon",
        "messrs",
        "mme",
        "mlle",
        "fr",
        "supt",
        "insp",
        "det",
        "cpl",
        "pte",
        "brig",
        "inc",
        "corp",
        "co",
        "ltd",
        "plc",
        "bros",
        "dept",
        "univ",
        "assn",
        "intl",
        "vs",
        "v",
        "no",
        "nos",
        "vol",
        "pp",
        "approx",
        "est",
        "fig",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "ala",
        "ariz",
        "ark",
        "calif",
        "colo",
        "conn",
        "del",
        "fla",
        "ga",
        "ill",
        "ind",
        "kan",
        "ky",
        "la",
        "md",
        "mass",
        "mich",
        "minn",
        "miss",
        "mo",
        "mont",
        "neb",
        "nev",
        "okla",
        "ore",
        "pa",
        "penn",
        "tenn",
        "tex",
        "va",
        "vt",
        "wash",
        "wis",
        "wyo",
        "mt",
        "ft",
        "ave",
        "blvd",
        "rd",
    )
)
_CLITICS = frozenset({"s", "re", "ve", "ll", "d", "m"})


class TaggerToken(NamedTuple):
    """One of the tagger's tokens (``tagger_tokens``): ``text[start:end] == token.text``."""

    start: int
    end: int
    text: str


# TaggerToken(start, end, text) straight from the tuple constructor, without NamedTuple's Python-level
# __new__: most tokens of every text are made here.
_token = functools.partial(tuple.__new__, TaggerToken)


def _split_word(text: str, start: int, end: int, out: list[TaggerToken]) -> None:
    """Split clitics off a word token: ``Putin’s`` -> ``Putin`` ``’s``; ``don't`` -> ``do`` ``n't``."""
    word = text[start:end]
    cut = max(word.rfind("'"), word.rfind("’"))
    if cut > 0:
        tail = word[cut + 1 :].lower()
        lower = word.lower()
        if (lower.endswith("n't") or lower.endswith("n’t")) and cut == len(word) - 2 and len(word) > 3:
            split = start + len(word) - 3
            _split_word(text, start, split, out)
            out.append(TaggerToken(split, end, text[split:end]))
            return
        if tail in _CLITICS:
            split = start + cut
            _split_word(text, start, split, out)
            out.append(TaggerToken(split, end, text[split:end]))
            return
    out.append(TaggerToken(start, end, word))


_LINE_END_RE = re.compile(r"""[\s"'’”)\]»]*""")


def _at_line_end(text: str, pos: int, stop: int) -> bool:
    """Only closing quotes, brackets and spaces between ``pos`` and the end of the line?"""
    return _LINE_END_RE.fullmatch(text, pos, stop) is not None


def tagger_tokens(text: str, start: int = 0, end: int | None = None) -> list[TaggerToken]:
    """The tagger's tokens of ``text[start:end]``, a single line (offsets are into ``text``)."""
    out: list[TaggerToken] = []
    stop = len(text) if end is None else end
    search = (_TOKEN_RE if text.find("@", start, stop) >= 0 else _TOKEN_NO_EMAIL_RE).search
    pos = start
    while True:
        match = search(text, pos, stop)
        if match is None:
            break
        kind = match.lastgroup
        s, e = match.span()
        token = match.group()
        pos = e
        if kind == "dotted" and _at_line_end(text, e, stop):
            # a period that ends the line also ends the sentence: "in the U.S." -> "U.S" "."
            out.append(TaggerToken(s, e - 1, text[s : e - 1]))
            out.append(TaggerToken(e - 1, e, "."))
            continue
        if kind == "word":
            if e < stop and text[e] == ".":
                low = text[s:e].lower()
                single_initial = e - s == 1 and text[s].isupper()
                # "1." opening a numbered line, "Mr." and single initials keep their period
                leading_number = (
                    not out and e - s <= 3 and text[s:e].isdigit() and text[e + 1 : e + 2] in (" ", "\t")
                )
                keeps = low in ABBREVIATIONS or single_initial or leading_number
                if keeps and not _at_line_end(text, e + 1, stop):
                    out.append(TaggerToken(s, e + 1, text[s : e + 1]))
                    pos = e + 1
                    continue
            if "'" in token or "’" in token:
                _split_word(text, s, e, out)
                continue
        out.append(_token((s, e, token)))
    return out


_LINE_RE = re.compile(r"[^\r\n\u2028\u2029\x0b\x0c\x85]+")


def _line_spans(text: str) -> Iterable[tuple[int, int]]:
    for match in _LINE_RE.finditer(text):
        yield match.span()


_SENTENCE_END = frozenset({".", "!", "?", "...", "…", "?!", "!?"})
_CLOSERS = frozenset({'"', "'", "’", "”", ")", "]", "»"})
_OPENERS = frozenset({'"', "'", "‘", "“", "(", "[", "«"})
STARTS_AFTER = _OPENERS | {":"}  # a word after these is written as a sentence start
# Words a title-case headline leaves in lower case.
FUNCTION_WORDS = frozenset(
    (
        "a",
        "an",
        "the",
        "and",
        "but",
        "or",
        "nor",
        "for",
        "so",
        "yet",
        "as",
        "at",
        "by",
        "in",
        "of",
        "off",
        "on",
        "per",
        "to",
        "up",
        "via",
        "with",
        "from",
        "into",
        "onto",
        "over",
        "upon",
        "than",
        "vs",
        "v",
        "is",
        "are",
        "was",
        "be",
        "its",
        "it's",
        "'s",
        "n't",
        "'re",
        "'ve",
        "'ll",
        "'d",
        "'m",
        "de",
        "la",
        "le",
        "du",
        "da",
        "di",
        "van",
        "von",
        "der",
        "den",
        "del",
        "des",
        "y",
        "e",
        "al",
        "bin",
        "el",
    )
)

NORMAL, TITLE, UPPER = "n", "t", "u"


@dataclass(slots=True)
class Sentence:
    tokens: list[TaggerToken]
    mode: str  # NORMAL, TITLE or UPPER: the case style of the line the sentence is on


def line_mode(tokens: Sequence[TaggerToken]) -> str:
    """Is a line written normally, in title case (headline style) or in capitals?"""
    letters = upper = content = lower_content = 0
    for token in tokens:
        word_letters, word_upper, word_content, word_lower_content = _mode_counts(token.text)
        letters += word_letters
        upper += word_upper
        content += word_content
        lower_content += word_lower_content
    if letters >= 2 and upper >= 0.75 * letters and upper >= 2:
        return UPPER
    if content >= 3 and lower_content == 0:
        return TITLE
    return NORMAL


@functools.lru_cache(maxsize=65_536)  # read once per word, not once per occurrence
def _mode_counts(word: str) -> tuple[int, int, int, int]:
    """What a word adds to ``line_mode``'s counts: a word of two letters or more, in capitals; a content
    word (no function word), in lower case."""
    if not word[0].isalpha():
        return 0, 0, 0, 0
    long_word = sum(1 for c in word if c.isalpha()) >= 2
    function_word = word.lower().replace("’", "'") in FUNCTION_WORDS
    return (
        long_word,
        long_word and word.isupper(),
        not function_word,
        not function_word and word[0].islower(),
    )


def _split_sentences(tokens: list[TaggerToken]) -> list[list[TaggerToken]]:
    out: list[list[TaggerToken]] = []
    begin = 0
    n = len(tokens)
    i = 0
    while i < n:
        if tokens[i].text in _SENTENCE_END:
            j = i + 1
            while j < n and tokens[j].text in _CLOSERS:
                j += 1
            if j < n:
                nxt = tokens[j].text
                if nxt[0].isupper() or nxt[0].isdigit() or nxt in _OPENERS:
                    out.append(tokens[begin:j])
                    begin = j
            i = j
            continue
        i += 1
    if begin < n:
        out.append(tokens[begin:])
    return out


def sentences(text: str) -> list[Sentence]:
    """Lines of ``text``, split into sentences, each with its line's case mode."""
    out: list[Sentence] = []
    for start, end in _line_spans(text):
        tokens = tagger_tokens(text, start, end)
        if not tokens:
            continue
        mode = line_mode(tokens)
        for chunk in _split_sentences(tokens):
            out.append(Sentence(chunk, mode))
    return out

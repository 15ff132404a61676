"""What the rules know about words: the word lists and gazetteer of places and organisations
(``ingest/gazetteer/*.txt``, read once at import), the rules' tokens, and tests on single words."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import NamedTuple

from ingest.document import EntityKind

# --------------------------------------------------------------------------------------------------
# Word lists: plain text written for the project, read once at import.
# --------------------------------------------------------------------------------------------------


def _lines(name: str) -> Iterator[str]:
    """The lines of ``ingest/gazetteer/<name>`` that are neither blank nor comments."""
    text = (resources.files("ingest") / "gazetteer" / name).read_text(encoding="utf-8")
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield line


def lookup_key(word: str) -> str:
    """How a word is looked up: case-folded, curly apostrophes made straight."""
    return word.replace("’", "'").casefold()


def _word_lists(name: str) -> dict[str, frozenset[str]]:
    """The ``[section]`` word lists of one file."""
    sections: dict[str, set[str]] = {}
    current: set[str] = set()
    for line in _lines(name):
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), set())
        else:
            current.update(lookup_key(word) for word in line.split())
    return {section: frozenset(words) for section, words in sections.items()}


_WORDS = _word_lists("words.txt")
STOP = _WORDS["stop"]
TIME = _WORDS["time"]
MINOR = _WORDS["minor"]
HONORIFICS = _WORDS["honorific"]
ABBREVIATIONS = _WORDS["abbreviation"]
TITLES = _WORDS["title"]
MODIFIERS = _WORDS["title_modifier"]
PARTICLES = _WORDS["particle"]
ORG_SUFFIXES = _WORDS["org_suffix"]
ORG_HEADS = _WORDS["org_head"]
PLACE_SUFFIXES = _WORDS["place_suffix"]
PLACE_HEADS = _WORDS["place_head"]
PLACE_PREFIXES = _WORDS["place_prefix"]
LOCATIVES = _WORDS["locative"]
DIRECTIONS = _WORDS["direction"]
FACILITIES = _WORDS["facility"]
ORG_DESCRIPTORS = _WORDS["org_descriptor"]
THING_SUFFIXES = _WORDS["thing_suffix"]
NO_NAMES = _WORDS["no_name"]
# Lists of the statistical tagger (tagger_README.md), weak evidence here: ordinary words, given names.
COMMON_WORDS = frozenset(lookup_key(word) for word in _lines("tagger_common_word.txt"))
FIRST_NAMES = frozenset(lookup_key(word) for line in _lines("first_names.txt") for word in line.split())
DEMONYMS = frozenset(word for line in _lines("demonyms.txt") for word in line.split())
GIVEN_NAMES = FIRST_NAMES | frozenset(lookup_key(word) for word in _lines("tagger_first_name.txt"))
LINKS = frozenset({"of", "for"})  # inside a name: Bank of England, Royal Institute for Cultural Heritage
LEADS = _WORDS["lead_verb"]
COMMON_NOUNS = ORG_SUFFIXES | PLACE_SUFFIXES | THING_SUFFIXES | NO_NAMES  # no name standing alone
LINK_HEADS = ORG_HEADS | ORG_SUFFIXES | PLACE_HEADS | TITLES | MODIFIERS  # what a link may follow

# --------------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------------

# The rules' tokens: words kept whole as a reader looks them up (a possessive ’s marked, not split off),
# each with its lookup key and case. The tagger reads the text in tokens of its own
# (``tokens.tagger_tokens``: clitics split off, a line's last period apart), CoNLL-2003's, which its model
# was trained on; the two are kept apart so that neither reader's tokens change under the other.

# Dotted abbreviations (U.S.), words with inner apostrophes, hyphens or ampersands (O’Brien, AT&T,
# Putin’s, 1996-08-30), then any other single character.
_TOKEN_RE = re.compile(r"(?:[^\W\d_]\.){2,}|\w+(?:['’&-]\w+)*|\S")
SENTENCE_END = frozenset(".!?…")
OPENERS = frozenset("\"'“‘([«•*")  # may stand before the first word of a sentence


class RuleToken(NamedTuple):
    """One of the rules' tokens (``rule_tokens``)."""

    start: int
    end: int  # without a possessive ’s
    text: str  # without a possessive ’s
    key: str  # lookup_key(text)
    word: bool  # starts with a letter
    cap: bool  # starts with a capital
    upper: bool  # all capitals, two letters or more
    possessive: bool


# RuleToken from a tuple, without NamedTuple's Python-level __new__: every word of every text is made here.
_token = functools.partial(tuple.__new__, RuleToken)


# What a word as matched makes of a token: text, key, word, cap, upper, possessive. Words recur, in an
# article and across articles, so they are read once (a bounded cache, emptied when full).
_WordParts = tuple[str, str, bool, bool, bool, bool]
_word_parts: dict[str, _WordParts] = {}
_WORD_PARTS_SIZE = 50_000


def _parts(word: str) -> _WordParts:
    possessive = len(word) > 2 and word[-2:].lower() in ("’s", "'s")
    core = word[:-2] if possessive else word
    parts = (
        core,
        lookup_key(core),
        word[0].isalpha(),
        word[0].isupper(),
        len(core) > 1 and core.isupper(),
        possessive,
    )
    if len(_word_parts) >= _WORD_PARTS_SIZE:
        _word_parts.clear()
    _word_parts[word] = parts
    return parts


def rule_tokens(text: str, start: int = 0, end: int | None = None) -> list[RuleToken]:
    """The rules' tokens of ``text[start:end]`` (offsets are into ``text``)."""
    tokens = []
    for match in _TOKEN_RE.finditer(text, start, len(text) if end is None else end):
        word = match.group()
        # Typed as any tuple: compiled, a fixed-size one would be unpacked and packed again for every token.
        parts: tuple[object, ...] | None = _word_parts.get(word)
        if parts is None:
            parts = _parts(word)
        first, last = match.span()
        if parts[5]:  # possessive: the token ends before its ’s
            last -= 2
        tokens.append(_token((first, last) + parts))  # noqa: RUF005 (compiled, one tuple made, not two)
    return tokens


# The word tests below depend on the word alone and run for most words of every text: each word is
# tested once (bounded caches).
@functools.lru_cache(maxsize=16_384)
def is_demonym(key: str) -> bool:
    """Ukrainian, Ukrainians, pro-Russian: words of nationality, not places."""
    last = key.rsplit("-", 1)[-1]
    return last in DEMONYMS or (last.endswith("s") and last[:-1] in DEMONYMS)


@functools.lru_cache(maxsize=16_384)
def singular_title(key: str) -> str | None:
    """The title a word names, in the singular ("envoys" -> "envoy"); None if it names none."""
    if key in TITLES:
        return key
    for plural, singular in (("ies", "y"), ("s", "")):
        if key.endswith(plural) and (base := key[: -len(plural)] + singular) in TITLES:
            return base
    return None


@functools.lru_cache(maxsize=16_384)
def is_role_word(key: str) -> bool:
    """A word that may stand in a title: Deputy, Defence, Minister, envoys, Russian."""
    return singular_title(key) is not None or key in MODIFIERS or is_demonym(key)


# --------------------------------------------------------------------------------------------------
# Gazetteer of places and organisations
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Known:
    kind: EntityKind
    name: str  # canonical name
    capitals: bool  # an alias in capitals (US, NATO) only matches text in capitals ("Us" is no country)


def _load_gazetteer() -> tuple[
    dict[tuple[str, ...], Known], dict[str, int], dict[tuple[EntityKind, str], tuple[str, ...]]
]:
    """Every alias's token keys -> its entry; the longest alias starting with each first key; and each
    canonical name's aliases."""
    known: dict[tuple[str, ...], Known] = {}
    aliases: dict[tuple[EntityKind, str], tuple[str, ...]] = {}
    for filename, kind in (("places.txt", EntityKind.PLACE), ("organizations.txt", EntityKind.ORGANIZATION)):
        for line in _lines(filename):
            names = [name.strip() for name in line.split("|")]
            aliases.setdefault((kind, names[0]), tuple(names))
            for alias in names:
                keys = tuple(token.key for token in rule_tokens(alias))
                known.setdefault(keys, Known(kind, names[0], alias.isupper()))
    longest: dict[str, int] = {}
    for keys in known:
        longest[keys[0]] = max(longest.get(keys[0], 0), len(keys))
    return known, longest, aliases


KNOWN, LONGEST, _ALIASES = _load_gazetteer()


def known_aliases(kind: EntityKind, name: str) -> tuple[str, ...]:
    """The names a reader knows a place or organisation by (United States: US, U.S., America, ...)."""
    return _ALIASES.get((kind, name), ())


# Towns and cities of the world, shared with the statistical tagger: evidence of a place for a name
# nothing else types, never enough to override other evidence ("Reading", "Victoria", "Jordan").
TOWNS = frozenset(tuple(t.key for t in rule_tokens(line) if t.word) for line in _lines("tagger_place.txt"))


def known_at(tokens: list[RuleToken], i: int, end: int) -> tuple[int, Known] | None:
    """The longest gazetteer name in ``tokens[i:end]`` that starts at ``i``: its length and entry."""
    first = tokens[i]
    if not first.cap:
        return None
    for length in range(min(LONGEST.get(first.key, 0), end - i), 0, -1):
        words = tokens[i : i + length]
        if any(token.possessive for token in words[:-1]) or not words[-1].cap:
            continue
        known = KNOWN.get(tuple(token.key for token in words))
        if known and (not known.capitals or all(token.upper or not token.word for token in words)):
            return length, known
    return None


def known_kind(tokens: list[RuleToken]) -> EntityKind | None:
    """The kind of the gazetteer name the tokens make up exactly, if they do."""
    known = known_at(tokens, 0, len(tokens)) if tokens else None
    return known[1].kind if known and known[0] == len(tokens) else None


@functools.lru_cache(maxsize=16_384)  # an article names the same places and bodies again and again
def canonical_name(kind: EntityKind, text: str) -> str:
    """The gazetteer's name for a place or organisation ("US" -> "United States"), else the text."""
    known = KNOWN.get(tuple(token.key for token in rule_tokens(text)))
    return known.name if known and known.kind is kind else spaced(text)


def spaced(text: str) -> str:
    """Words as written, one plain space between them (captured pages use no-break spaces)."""
    return " ".join(text.split())

"""People, organisations and places in news text, and what one article says about each.

Two steps, kept apart so that a trained tagger can replace the first without touching the second:

- ``extract(text)`` finds names. Two readers are combined. The statistical tagger
  (``ingest/tagger.py``, a CRF trained on CoNLL-2003 news) reads every sentence and gives spans
  with its confidence in each. The rules read runs of capitalised words and type them by a curated
  gazetteer (``ingest/gazetteer/*.txt``, read once at import), titles and honorifics, known first
  names, organisation or place suffixes and heads, and the words around a name ("the charity X",
  "the X wind farm", "in the X"). Names of events, prizes and instruments ("the World Cup", "the
  Hubble Space Telescope"), nationalities, titles and lone common nouns ("the Sun") are no person,
  organisation or place. In a headline (title case or capitals) and at the start of a sentence a
  capital letter proves nothing. Sure rule evidence wins over the tagger, except where the tagger is
  sure a gazetteer place is a body named after it or part of a longer name; the tagger decides
  elsewhere; the rules' mere guesses count only for names the text establishes.
- ``find_mentions(draft)`` runs ``extract`` over an article and turns its spans into one
  ``MentionDraft`` per entity: partial names linked to full ones, roles, counts and salience.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from operator import attrgetter
from typing import NamedTuple

from ingest.document import ArticleDraft, BlockKind, EntityKind, Location, MentionDraft, Span, TextField

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

# Dotted abbreviations (U.S.), words with inner apostrophes, hyphens or ampersands (O’Brien, AT&T,
# Putin’s, 1996-08-30), then any other single character.
_TOKEN_RE = re.compile(r"(?:[^\W\d_]\.){2,}|\w+(?:['’&-]\w+)*|\S")
SENTENCE_END = frozenset(".!?…")
OPENERS = frozenset("\"'“‘([«•*")  # may stand before the first word of a sentence


class Token(NamedTuple):
    start: int
    end: int  # without a possessive ’s
    text: str  # without a possessive ’s
    key: str  # lookup_key(text)
    word: bool  # starts with a letter
    cap: bool  # starts with a capital
    upper: bool  # all capitals, two letters or more
    possessive: bool


# Token from a tuple, without NamedTuple's Python-level __new__: every word of every text is made here.
_token = functools.partial(tuple.__new__, Token)


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


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Token]:
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
                keys = tuple(token.key for token in tokenize(alias))
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
TOWNS = frozenset(tuple(t.key for t in tokenize(line) if t.word) for line in _lines("tagger_place.txt"))


def known_at(tokens: list[Token], i: int, end: int) -> tuple[int, Known] | None:
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


def known_kind(tokens: list[Token]) -> EntityKind | None:
    """The kind of the gazetteer name the tokens make up exactly, if they do."""
    known = known_at(tokens, 0, len(tokens)) if tokens else None
    return known[1].kind if known and known[0] == len(tokens) else None


@functools.lru_cache(maxsize=16_384)  # an article names the same places and bodies again and again
def canonical_name(kind: EntityKind, text: str) -> str:
    """The gazetteer's name for a place or organisation ("US" -> "United States"), else the text."""
    known = KNOWN.get(tuple(token.key for token in tokenize(text)))
    return known.name if known and known.kind is kind else spaced(text)


def spaced(text: str) -> str:
    """Words as written, one plain space between them (captured pages use no-break spaces)."""
    return " ".join(text.split())


# --------------------------------------------------------------------------------------------------
# Name finding
# --------------------------------------------------------------------------------------------------


class _Mode(Enum):
    """How a line is written: a capital letter means less in a headline than in running text."""

    NORMAL = "normal"
    TITLE = "title"  # Putin, Trump to Skip Ukraine’s Peace Talks Proposed by Kremlin
    CAPS = "caps"  # PUTIN, TRUMP TO SKIP UKRAINE’S PEACE TALKS


class Evidence(Enum):
    """How sure the rules are that a piece is a name, and of what kind."""

    STRONG = "strong"  # typed by the gazetteer, a title, a first name or a suffix
    WEAK = "weak"  # capitalised in running text; the kind is a guess the rest of the text may correct
    DEFERRED = "deferred"  # capitals that prove nothing: kept only where the text establishes the name
    NONE = "none"  # the rules read these words and found no name: a title, a nationality, an event


@dataclass(slots=True)
class Piece:
    tokens: list[Token]
    evidence: Evidence
    kind: EntityKind | None = None  # None only while DEFERRED
    # What typed it: "known", "suffix", "title", "given", "text" (STRONG); "context" (the words
    # around it: "the charity X", "in X", "the X wind farm") or "guess" (WEAK).
    source: str = ""

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(token.key for token in self.tokens)


def _mode(tokens: list[Token]) -> _Mode:
    words = [token for token in tokens if token.word]
    long_words = [token for token in words if len(token.text) > 1]
    if len(long_words) >= 2 and sum(token.upper for token in long_words) >= 0.8 * len(long_words):
        return _Mode.CAPS
    if len(words) < 3 or any(not token.cap and token.key not in MINOR for token in words):
        return _Mode.NORMAL
    # Every word capitalised but small ones: a headline if it has small words ("to", "But") or no
    # figures (a table row such as "Leicestershire 22 Somerset 4" has figures and is no headline).
    capitalised = sum(token.cap and token.key not in MINOR for token in words)
    has_minor = any(token.key in MINOR for token in words[1:])
    has_figures = any(token.text[0].isdigit() for token in tokens)
    return _Mode.TITLE if capitalised >= 2 and (has_minor or not has_figures) else _Mode.NORMAL


def _is_name_word(tokens: list[Token], j: int, start: int) -> bool:
    """Whether ``tokens[j]`` can stand in a name: not "However", "Sunday", "F-16" or "Kremlin-backed"."""
    token = tokens[j]
    text = token.text
    if not (token.word and token.cap) or (not text.isalpha() and any(char.isdigit() for char in text)):
        return False
    if len(token.text) == 1:  # an initial, even "A.", as in A. Mullally; a lone letter is no name
        return j + 1 < len(tokens) and tokens[j + 1].text == "."
    if token.key in STOP or token.text.rsplit("-", 1)[-1][0].islower():
        return False
    # "May" is a month, but not in "Theresa May".
    return token.key not in TIME or (j > start and tokens[j - 1].key in FIRST_NAMES)


def _is_particle_name(token: Token) -> bool:
    """A lower-case particle joined to a surname: al-Assad, bin-Salman."""
    particle, _, rest = token.text.partition("-")
    return not token.cap and particle.casefold() in PARTICLES and rest[:1].isupper()


def _after_link(tokens: list[Token], j: int) -> int | None:
    """If ``tokens[j]`` starts small words inside a name (von der Leyen, Bank of the West, P & O,
    Offshore Workers’ Union), the index of the capitalised word after them."""
    token, previous, k = tokens[j], tokens[j - 1], j + 1
    if token.key in LINKS:
        if previous.key not in LINK_HEADS:
            return None
        if k < len(tokens) and tokens[k].key == "the":
            k += 1
    elif token.text in "'’":  # a plural possessive, written right after the word
        if previous.end != token.start or not previous.key.endswith("s"):
            return None
    elif not token.cap and token.key in PARTICLES:
        while k < len(tokens) and not tokens[k].cap and tokens[k].key in PARTICLES:
            k += 1
    elif token.text != "&":
        return None
    return k if k < len(tokens) and tokens[k].word and tokens[k].cap else None


def _run_end(tokens: list[Token], i: int) -> int:
    """Where the run of name words starting at ``tokens[i]`` ends (exclusive); ``i`` if none starts."""
    n, j = len(tokens), i
    end = i  # after the last name word: small words only stay in a name between two name words
    while j < n:
        token = tokens[j]
        # first, for names with small words: Bosnia and Herzegovina (most words start no gazetteer name)
        if token.key in LONGEST and (known := known_at(tokens, j, n)):
            j = end = j + known[0]
            if tokens[j - 1].possessive:
                break
        elif _is_name_word(tokens, j, i) or (j > i and _is_particle_name(token)):
            j = end = j + 1
            if token.possessive:
                break
            # The period of an initial or abbreviation stays in the name: George W. Bush, Mr. Putin.
            if j < n and tokens[j].text == "." and (len(token.text) == 1 or token.key in ABBREVIATIONS):
                j = end = j + 1
        elif j > i and j == end and (following := _after_link(tokens, j)):
            j = following
        else:
            break
    return end


def _runs(tokens: list[Token]) -> Iterator[tuple[int, int, bool]]:
    """Runs of name words in one line: (start, end, whether the run opens a sentence)."""
    i, opens, n = 0, True, len(tokens)
    while i < n:
        token = tokens[i]
        end = _run_end(tokens, i) if token.cap else i
        if end > i:
            yield i, end, opens
            opens, i = tokens[end - 1].text == ".", end
            continue
        if token.text in SENTENCE_END:
            opens = True
        elif token.text not in OPENERS:
            opens = False
        i += 1


def _pieces(tokens: list[Token], mode: _Mode) -> Iterator[Piece]:
    """The names in one line, written in ``mode``."""
    last: Piece | None = None
    for start, end, opens in _runs(tokens):
        if mode is not _Mode.NORMAL:
            yield from _classify_headline(tokens[start:end])
            continue
        before = tokens[start - 1] if start and not tokens[start - 1].cap else None
        if before and before.key == "the" and start > 1 and tokens[start - 2].key in LOCATIVES:
            before = tokens[start - 2]  # "in the Ruhr" is read as "in Ruhr"
        partner = None  # "Dublin and Cork": a name joined to a typed one is likely of its kind
        if before and before.key in ("and", "or") and last and last.tokens[-1] is tokens[start - 2]:
            partner = last.kind
        after = _facility_after(tokens, end)
        for piece in _classify(tokens[start:end], opens, before, partner, after):
            last = piece
            yield piece


def _facility_after(tokens: list[Token], end: int) -> bool:
    """Whether the lower-case words after a name make it a facility's: "the Sørvest wind farm"."""
    for token in tokens[end : end + 2]:
        if not token.word or token.cap:
            return False
        if token.key in FACILITIES:
            return True
    return False


def _classify(
    run: list[Token],
    opens: bool = False,
    before: Token | None = None,
    partner: EntityKind | None = None,
    facility: bool = False,
) -> Iterator[Piece]:
    """Type one run of capitalised words in running text. ``opens``: it starts a sentence; ``before``:
    the lower-case word before it; ``partner``: the kind of a name it is joined to by "and";
    ``facility``: the words after it name a facility ("wind farm")."""
    words = [token for token in run if token.word]
    keys = [token.key for token in words]
    several = len(words) > 1
    if not words:
        return
    if kind := known_kind(run):
        yield Piece(run, Evidence.STRONG, kind, "known")
    elif keys[0] in PLACE_PREFIXES and several and known_kind(run[1:]) is EntityKind.PLACE:
        yield Piece(run, Evidence.STRONG, EntityKind.PLACE, "known")  # Blue Nile, Greater London
    elif several and (pieces := _known_pieces(run, whole=True)):
        yield from pieces  # "US House of Representatives": two gazetteer names
    elif several and (kind := _suffix_kind(keys)):
        yield Piece(run, Evidence.STRONG, kind, "suffix")
    elif several and keys[-1] in THING_SUFFIXES:
        yield from _known_pieces(run, whole=False, rest=False)  # World Cup; Tokyo in Tokyo Marathon
        yield Piece(run, Evidence.NONE)
    elif split := _title_split(run):
        yield from _classify_title(run[:split])
        yield Piece(run[split:], Evidence.STRONG, EntityKind.PERSON, "title")
    elif any(is_role_word(key) or key in HONORIFICS for key in keys) and all(map(_is_title_part, run)):
        yield from _classify_title(run)  # "US President", "Foreign Minister": a title, no name
    elif before and before.key in ORG_DESCRIPTORS:  # the charity Open Door; not "the firm Lee runs"
        yield Piece(run, Evidence.WEAK, EntityKind.ORGANIZATION, "context")
    elif is_demonym(keys[-1]):
        yield Piece(run, Evidence.NONE)  # "South African", "Latin American": descriptions, not names
    elif is_demonym(keys[0]):
        yield from _classify(run[1:], False, before, partner, facility)
    elif ((several and keys[0] in FIRST_NAMES) or (before and singular_title(before.key))) and not any(
        token.text == "&" for token in run
    ):  # "Douglas & Lomason" is a firm
        yield Piece(run, Evidence.STRONG, EntityKind.PERSON, "given")  # Steve Witkoff; envoys Witkoff
    elif several and keys[0] in ORG_HEADS:
        yield Piece(run, Evidence.STRONG, EntityKind.ORGANIZATION, "suffix")  # Union Cycliste Internationale
    elif several and (pieces := _known_pieces(run, whole=False)):
        yield from pieces
    elif not several and keys[0] in COMMON_NOUNS:
        yield Piece(run, Evidence.NONE)  # "the Ministry", "the Bank", "the Sun": a common noun, no name
    elif opens and not several and not words[0].upper:
        yield Piece(run, Evidence.DEFERRED)  # "Frustrated with both sides, ..." (but "NASA’s ...")
    else:
        kind = _guess(run, several, before, partner, facility)
        contextual = facility or (not several and kind is EntityKind.PLACE)
        yield Piece(run, Evidence.WEAK, kind, "context" if contextual else "guess")


def _guess(
    run: list[Token], several: bool, before: Token | None, partner: EntityKind | None, facility: bool
) -> EntityKind:
    """The kind of a capitalised name nothing else types.

    A name before a facility ("the Hornsea wind farm") is a place. Two words or more are most often
    a person, unless they are all common words and the first is no given name: "Shining Path" looks
    like no one's name and is more often a body ("Will Young" does look like one). One word joined
    to a typed name is of its kind; after "in" or "near" it is a place, and so is a town's name after
    "to" or "from" ("the road to Gulu"); any other single word that is no part of a person the text
    names in full is more often a company, club or body (a town's name alone too: "Newcastle won").
    """
    keys = tuple(token.key for token in run if token.word)
    if facility:
        return EntityKind.PLACE
    if several:
        common = keys[0] not in GIVEN_NAMES and all(key in COMMON_WORDS for key in keys)
        return EntityKind.ORGANIZATION if common else EntityKind.PERSON
    if partner:
        return partner
    if before and (before.key in LOCATIVES or (before.key in DIRECTIONS and keys in TOWNS)):
        return EntityKind.PLACE
    return EntityKind.ORGANIZATION


def _suffix_kind(keys: list[str]) -> EntityKind | None:
    """Nordlys Energy, Bank of England: organisations; North Sea, Lake Nasser: places."""
    linked = {keys[i - 1] for i in range(1, len(keys)) if keys[i] in LINKS}
    if keys[-1] in ORG_SUFFIXES or linked & ORG_HEADS:
        return EntityKind.ORGANIZATION
    if keys[-1] in THING_SUFFIXES:
        return None  # the Gulf War, the Cape Epic: no place
    if keys[-1] in PLACE_SUFFIXES or keys[0] in PLACE_HEADS:
        return EntityKind.PLACE
    return None


def _is_title_part(token: Token) -> bool:
    """A token that may stand in a title before a name: US, President, of, the, Mr, "."."""
    key = token.key
    return (
        not token.word
        or is_role_word(key)
        or key in HONORIFICS
        or key in LINKS
        or key == "the"
        or known_at([token], 0, 1) is not None
    )


def _title_split(run: list[Token]) -> int | None:
    """Where the name starts after a title or honorific: "US President | Donald Trump", "Mr | Putin".

    The name is the longest tail of other words (the period of an initial included); the part
    before it must hold a title or honorific.
    """
    split = len(run)
    while split and (not _is_title_part(run[split - 1]) or _is_initial_period(run, split - 1)):
        split -= 1
    if split in (0, len(run)) or not (run[split].cap or run[split].key in PARTICLES):
        return None
    has_head = any(singular_title(token.key) or token.key in HONORIFICS for token in run[:split])
    return split if has_head else None


def _is_initial_period(run: list[Token], i: int) -> bool:
    return run[i].text == "." and i > 0 and len(run[i - 1].text) == 1


def _classify_title(title: list[Token]) -> Iterator[Piece]:
    """Names inside a title: "US" in "US President", "Bank of England" in "Bank of England Governor"."""
    part: list[Token] = []
    for token in [*title, None]:
        if token is not None and not (
            not token.word
            or singular_title(token.key)
            or token.key in HONORIFICS
            # "Energy" in "Energy Minister" is part of the title, in "Nordlys Energy Chief" of a name
            or (
                (token.key in MODIFIERS or is_demonym(token.key)) and not (part and token.key in ORG_SUFFIXES)
            )
        ):
            part.append(token)
            continue
        while part and (part[0].key in LINKS or part[0].key == "the"):
            part.pop(0)
        while part and (part[-1].key in LINKS or part[-1].key == "the"):
            part.pop()
        if part:
            yield from _classify(part)
        part = []


def _known_pieces(run: list[Token], whole: bool, rest: bool = True) -> list[Piece]:
    """Gazetteer names inside a run, and what stands between them typed on its own; with ``whole``,
    only if gazetteer names make up the whole run; without ``rest``, the gazetteer names alone.
    Empty if there are none."""
    pieces: list[Piece] = []
    i = loose = 0
    while i < len(run):
        if known := known_at(run, i, len(run)):
            if loose < i:
                if whole:
                    return []
                pieces.extend(_classify(run[loose:i]) if rest else [])
            pieces.append(Piece(run[i : i + known[0]], Evidence.STRONG, known[1].kind, "known"))
            i = loose = i + known[0]
        else:
            i += 1
    if pieces and loose < len(run):
        if whole:
            return []
        pieces.extend(_classify(run[loose:]) if rest else [])
    return pieces


def _classify_headline(run: list[Token]) -> Iterator[Piece]:
    """In a headline only gazetteer names, first name + surname and Mr/Mrs + surname are evidence;
    the rest waits for the text to establish it."""
    i = loose = 0
    while i < len(run):
        token = run[i]
        following = run[i + 1] if i + 1 < len(run) else None
        width, kind = 0, EntityKind.PERSON
        if known := known_at(run, i, len(run)):
            width, kind = known[0], known[1].kind
        elif following and following.word and not _is_title_part(following):
            if token.key in FIRST_NAMES and not token.possessive:
                width = 2
            elif token.key in HONORIFICS:
                i, width = i + 1, 1  # the honorific is no part of the name
        if not width:
            i += 1
            continue
        if loose < i:
            yield Piece(run[loose:i], Evidence.DEFERRED)
        yield Piece(run[i : i + width], Evidence.STRONG, kind, "known")
        i = loose = i + width
    if loose < len(run):
        yield Piece(run[loose:], Evidence.DEFERRED)


class Vocabulary:
    """What the text itself establishes: full names, and the parts that stand for them elsewhere (a
    person's surname or first name, an organisation's name without its suffix: "Nordlys")."""

    def __init__(self) -> None:
        self.full: dict[tuple[str, ...], EntityKind] = {}
        self.partial: dict[tuple[str, ...], EntityKind] = {}

    def learn(self, piece: Piece) -> None:
        assert piece.kind is not None
        keys = piece.keys
        self.full.setdefault(keys, piece.kind)
        if len(keys) > 1 and piece.kind is EntityKind.PERSON:
            self.partial.setdefault(keys[-1:], piece.kind)
            self.partial.setdefault(keys[:1], piece.kind)
        elif len(keys) > 1 and piece.kind is EntityKind.ORGANIZATION and keys[-1] in ORG_SUFFIXES:
            self.partial.setdefault(keys[:-1], piece.kind)

    def get(self, keys: tuple[str, ...]) -> EntityKind | None:
        return self.full.get(keys) or self.partial.get(keys)

    def find(self, run: list[Token]) -> Iterator[Piece]:
        """The established names in a run of deferred words, longest first."""
        i = 0
        while i < len(run):
            for width in range(len(run) - i, 0, -1):
                kind = self.get(tuple(token.key for token in run[i : i + width]))
                if kind is not None and run[i].cap and run[i + width - 1].word:
                    yield Piece(run[i : i + width], Evidence.STRONG, kind, "text")
                    i += width
                    break
            else:
                i += 1


def rule_pieces(text: str, tokens: list[Token]) -> tuple[list[Piece], bytearray]:
    """What the rules find in each line of ``text`` (``tokens``: ``tokenize(text)``, no token crosses a
    line), and a mask of the characters on headline lines (title case or capitals), where a capital
    letter proves nothing."""
    pieces: list[Piece] = []
    headline = bytearray(len(text))
    position = next_token = 0
    for line in text.split("\n"):
        end = position + len(line)
        first_token = next_token
        next_token = bisect.bisect_left(tokens, end, lo=first_token, key=attrgetter("start"))
        line_tokens = tokens[first_token:next_token]
        mode = _mode(line_tokens)
        if mode is not _Mode.NORMAL:
            headline[position:end] = b"\x01" * (end - position)
        pieces.extend(_pieces(line_tokens, mode))
        position = end + 1
    return pieces, headline


def _tagged(text: str) -> list[tuple[int, int, str, float]]:
    """The statistical tagger's spans (start, end, CoNLL type, MISC included), each with its confidence."""
    from ingest.extract import tagger

    return tagger.default_tagger().scored(text)


_TAGGER_KINDS = {"PER": EntityKind.PERSON, "ORG": EntityKind.ORGANIZATION, "LOC": EntityKind.PLACE}
_SURE = 0.8  # the tagger's confidence that lets it overrule the rules


class _Taken:
    """Which characters of a text some span already covers."""

    def __init__(self, size: int) -> None:
        self.mask = bytearray(size)

    def free(self, start: int, end: int) -> bool:
        return not any(self.mask[start:end])

    def take(self, start: int, end: int) -> None:
        self.mask[start:end] = b"\x01" * (end - start)


def extract(text: str, tokens: list[Token] | None = None) -> list[Span]:
    """Person, organisation and place names in ``text``, in order, as character spans. ``tokens``:
    ``tokenize(text)``, where the caller has them already.

    Two readers are combined. The statistical tagger (``ingest.extract.tagger``, a CRF trained on news) reads
    every sentence; the rules read it too, with evidence of three strengths. Where the rules are sure
    (a gazetteer name, a title or honorific before a name, a given name, an organisation or place
    suffix, a name the text establishes), they win; where they found no name on purpose (a
    nationality, an event, a title, a common noun), the tagger's span is dropped; elsewhere the
    tagger decides, and the rules' guesses fill only what it left untouched. On headline lines
    (title case or capitals) only sure evidence counts: gazetteer names, given names, and names
    the rest of the text establishes. The text is one document: a name found in running text is
    also found in its headlines, and a surname alone takes the kind of the full name.
    """

    pieces, headline = rule_pieces(text, tokenize(text) if tokens is None else tokens)
    tagged = _tagged(text)
    size = len(text)
    taken, blocked = _Taken(size), _Taken(size)
    vocabulary = Vocabulary()
    found: list[Piece] = []

    def accept(piece: Piece) -> None:
        taken.take(piece.tokens[0].start, piece.tokens[-1].end)
        found.append(piece)

    strong = [p for p in pieces if p.evidence is Evidence.STRONG]
    owner = [-1] * size
    for index, piece in enumerate(strong):
        owner[piece.tokens[0].start : piece.tokens[-1].end] = [index] * (
            piece.tokens[-1].end - piece.tokens[0].start
        )
    for piece in pieces:
        if piece.evidence is Evidence.NONE:
            blocked.take(piece.tokens[0].start, piece.tokens[-1].end)
    dropped: set[int] = set()
    untyped: list[tuple[int, int, str, float]] = []
    for start, end, label, confidence in tagged:
        inside = set(owner[start:end]) - {-1}
        if not inside:
            untyped.append((start, end, label, confidence))
            continue
        if (
            confidence < _SURE
            or any(strong[i].source not in ("known", "suffix") for i in inside)
            or not blocked.free(start, end)
        ):
            continue  # never over a person's name, a title, a name the text established or an event's
        if len(inside) > 1:
            first, last = (
                min(strong[i].tokens[0].start for i in inside),
                max(strong[i].tokens[-1].end for i in inside),
            )
            if start <= first and last <= end and label in _TAGGER_KINDS:
                # Names inside a longer one: Organisation for Security and Cooperation in Europe.
                dropped.update(inside)
                untyped.append((start, end, label, confidence))
            continue
        index = inside.pop()
        piece = strong[index]
        first, last = piece.tokens[0].start, piece.tokens[-1].end
        if (first, last) == (start, end) or (first == start and text[start:last] == text[start:end] + "."):
            # Same name, other kind: only a gazetteer place read as a body, the team or government
            # named after it ("Leeds won", "Moscow said"), takes the tagger's kind; an organisation
            # is no place, and a dam or a basin no body.
            if piece.kind is EntityKind.PLACE and label == "ORG" and piece.source == "known":
                piece.kind = EntityKind.ORGANIZATION
            if (
                last != end and piece.tokens[-1].text == "."
            ):  # "Lear Corp." ending a sentence: the period is the sentence's
                piece.tokens = piece.tokens[:-1]
        elif start <= first and last <= end and label in _TAGGER_KINDS:
            # The name is part of a longer one: Panama in Panama City, Moscow in Dynamo Moscow. (Not
            # of an event's: Oslo in the Oslo Marathon is still a place the article names.)
            dropped.add(index)
            untyped.append((start, end, label, confidence))
    for index, piece in enumerate(strong):
        if index not in dropped:
            vocabulary.learn(piece)
            accept(piece)
    weak = [p for p in pieces if p.evidence is Evidence.WEAK]
    # The words around a name ("in Haugesund", "the charity Home Ground") beat an unsure tagger.
    for piece in weak:
        start, end = piece.tokens[0].start, piece.tokens[-1].end
        if piece.source != "context" or not (taken.free(start, end) and blocked.free(start, end)):
            continue
        if all(c < _SURE or t == "MISC" for s, e, t, c in untyped if s < end and e > start):
            piece.kind = vocabulary.get(piece.keys) or piece.kind
            accept(piece)
            vocabulary.learn(piece)
    by_tagger: list[Piece] = []
    for start, end, label, confidence in untyped:
        if label not in _TAGGER_KINDS:  # MISC: an event, a nationality; the rules' guess yields to it
            blocked.take(start, end)
            continue
        if (headline[start] and confidence < _SURE) or not taken.free(start, end):
            continue
        if not blocked.free(start, end):
            continue
        tokens = [t for t in tokenize(text, start, end) if t.word or t.text in ".&'’-"]
        if not tokens or not tokens[-1].word:
            continue
        by_tagger.append(Piece(tokens, Evidence.WEAK, _TAGGER_KINDS[label]))
    for piece in sorted(by_tagger, key=lambda p: -len(p.tokens)):
        piece.kind = vocabulary.get(piece.keys) or piece.kind  # one name, one kind in one text
        vocabulary.learn(piece)
        accept(piece)
    for piece in sorted(weak, key=lambda p: -len(p.tokens)):
        start, end = piece.tokens[0].start, piece.tokens[-1].end
        if not (taken.free(start, end) and blocked.free(start, end)):
            continue
        # The tagger found no name here, and the rules only guessed from capitals: a name only if
        # the text establishes it elsewhere.
        kind = vocabulary.get(piece.keys)
        if kind is None:
            continue
        piece.kind = kind
        vocabulary.learn(piece)
        accept(piece)
    for piece in pieces:
        if piece.evidence is Evidence.DEFERRED:
            for name in vocabulary.find(piece.tokens):
                if taken.free(name.tokens[0].start, name.tokens[-1].end):
                    accept(name)
    spans = []
    for piece in sorted(found, key=lambda p: p.tokens[0].start):
        assert piece.kind is not None
        start, end = piece.tokens[0].start, piece.tokens[-1].end
        spans.append(Span(start, end, piece.kind, text[start:end]))
    return spans


# --------------------------------------------------------------------------------------------------
# Mentions in an article: roles, linking, salience
# --------------------------------------------------------------------------------------------------

# Salience weights (they sum to 1): in the headline, in the standfirst, how early the first mention
# stands in reading order, and how often the article names it against its most-named entity.
_HEADLINE_WEIGHT = 0.35
_STANDFIRST_WEIGHT = 0.15
_POSITION_WEIGHT = 0.25
_COUNT_WEIGHT = 0.25

_LIST_GAP = re.compile(r"\s*(?:,\s*and|,|and|&)\s*")
_APPOSITIVE = re.compile(
    r",\s+(?:(?:the|a|an)\s+)?([^,.;:()“”\"]+?)\s*(?=[,.;:)]|\s+(?:who|which|that|whose)\b|$)"
)
_COMMA = re.compile(r"\s*,")
_DETERMINERS = frozenset({"the", "a", "an", "his", "her", "their", "its", "our", "my", "your"})
_APPOSITIVE_LINKS = frozenset({"of", "for", "at", "on", "in", "to", "with"})
_RELATIVE = re.compile(r",\s+who\s+([^,.;:()“”\"]+?)\s*(?=[,.;:)]|$)")


@dataclass(slots=True)
class Field:
    """One text of the article (headline, standfirst, a body block) and where it starts in reading order."""

    text_field: TextField
    block: int | None
    text: str
    offset: int
    # Its tokens as ``extract`` reads them, in the article as one text: offsets ``offset`` on from ``text``'s.
    tokens: list[Token]
    token_starts: list[int]
    # Starts of the tokens inside a place or organisation name, and its kind.
    named: dict[int, EntityKind] = field(default_factory=dict)


@dataclass(slots=True)
class Mention:
    span: Span  # offsets in its field's text
    source: Field
    position: int  # offset in reading order
    role: str | None = None
    plural_role: bool = False  # "envoys Steve Witkoff": the title also covers the next name in a list
    words: tuple[str, ...] = field(init=False)  # the keys of its words, read often when linking

    def __post_init__(self) -> None:
        self.words = tuple(lookup_key(word) for word in self.span.text.split())


def read_fields(draft: ArticleDraft) -> list[Field]:
    texts: list[tuple[TextField, int | None, str]] = [(TextField.HEADLINE, None, draft.headline)]
    if draft.standfirst:
        texts.append((TextField.STANDFIRST, None, draft.standfirst))
    texts += [
        (TextField.BODY, index, block.text)
        for index, block in enumerate(draft.blocks)
        if block.kind is not BlockKind.AD_SLOT and block.text
    ]
    article = "\n".join(text for _, _, text in texts)  # as ``read_mentions`` reads it
    fields, offset = [], 0
    for kind, block, text in texts:
        tokens = tokenize(article, offset, offset + len(text))
        fields.append(Field(kind, block, text, offset, tokens, [token.start for token in tokens]))
        offset += len(text) + 1
    return fields


def read_mentions(fields: list[Field]) -> list[Mention]:
    """Every span ``extract`` finds in the article, read as one text with one field a line."""
    starts = [f.offset for f in fields]
    mentions = []
    tokens = [token for f in fields for token in f.tokens]
    for span in extract("\n".join(f.text for f in fields), tokens):
        source = fields[bisect.bisect_right(starts, span.start) - 1]
        local = Span(span.start - source.offset, span.end - source.offset, span.kind, span.text)
        mentions.append(Mention(local, source, span.start))
        if span.kind is not EntityKind.PERSON:
            first = bisect.bisect_left(source.token_starts, span.start)
            last = bisect.bisect_left(source.token_starts, span.end)
            source.named.update(dict.fromkeys(source.token_starts[first:last], span.kind))
    return mentions


def _role_before(mention: Mention) -> tuple[str, bool] | None:
    """A title written just before the name, and whether it is plural: ("US President", False) for
    US President Donald Trump, ("envoy", True) for envoys Steve Witkoff.

    Title words, their modifiers, nationalities, "of" and place or organisation names may stand in
    it; it must hold a title word. A title that opens a sentence may also stand in apposition before
    the name: "His coach, Esther Wanjiru, said" -> "coach".
    """
    source = mention.source
    tokens, end = source.tokens, bisect.bisect_left(source.token_starts, source.offset + mention.span.start)
    commas = (
        end > 1 and tokens[end - 1].text == "," and _COMMA.match(source.text, mention.span.end) is not None
    )
    end -= commas
    start = end
    while start and tokens[start - 1].word:
        token = tokens[start - 1]
        if not (is_role_word(token.key) or token.key in LINKS or token.start in source.named):
            break
        start -= 1
    while start < end and tokens[start].key in LINKS:
        start += 1
    heads = [token for token in tokens[start:end] if singular_title(token.key)]
    if not heads or (commas and not _opens_sentence(tokens, start)):
        return None
    head = heads[-1]
    singular = singular_title(head.key)
    plural = singular != head.key
    written = head.text
    if plural:  # "envoys" -> "envoy", "Secretaries" -> "Secretary"; case as written
        written = (
            written[:-3] + ("Y" if written.isupper() else "y")
            if singular == head.key[:-3] + "y"
            else written[:-1]
        )
    text, offset = source.text, source.offset  # token offsets are the article's
    role = (
        text[tokens[start].start - offset : head.start - offset]
        + written
        + text[head.end - offset : tokens[end - 1].end - offset]
    )
    return spaced(role), plural


def _opens_sentence(tokens: list[Token], i: int) -> bool:
    """Whether ``tokens[i]`` opens a sentence, after a determiner at most: "His coach", "The minister"."""
    if i and tokens[i - 1].key in _DETERMINERS:
        i -= 1
    return i == 0 or tokens[i - 1].text in SENTENCE_END or tokens[i - 1].text in OPENERS


def _role_after(mention: Mention) -> str | None:
    """A title in apposition: "Marco Rubio, the Secretary of State," -> "Secretary of State".

    The phrase holds a title word among its first five words; after that come only capitalised or
    title words, unless a small word ("of", "at") opens a longer phrase: "an analyst at Calder
    Securities" is a role, "the minister said" is not. A place it ends with says where the person
    is, not what they are: "an analyst at Calder Securities in London" -> "analyst at Calder
    Securities". Failing a title, a relative clause saying whom the person leads is the role:
    "Jonas Vik, who leads the Offshore Workers’ Union," -> "leads the Offshore Workers’ Union".
    """
    return _role_in_apposition(mention) or _role_in_clause(mention)


def _role_in_apposition(mention: Mention) -> str | None:
    source = mention.source
    match = _APPOSITIVE.match(source.text, mention.span.end)
    if not match:
        return None
    phrase = _phrase(source, *match.span(1))
    words = [token for token in phrase if token.word]
    heads = [i for i, token in enumerate(words[:5]) if token.key in TITLES]
    if not heads or len(words) > 12 or (words[0].key in STOP and words[0].start not in source.named):
        return None  # "the minister said" is no role, "the US ambassador" is
    for token in words[heads[0] + 1 :]:
        if token.key in _APPOSITIVE_LINKS:
            break
        if not (token.cap or is_role_word(token.key)):
            return None
    # Where, not what: a trailing "in London", "based in Copenhagen", "near the Hague".
    k = len(phrase)
    while k and source.named.get(phrase[k - 1].start) is EntityKind.PLACE:
        k -= 1
    if k < len(phrase) and k and phrase[k - 1].key == "the":
        k -= 1
    if k < len(phrase) and k > 1 and phrase[k - 1].key in LOCATIVES:
        k -= 2 if phrase[k - 2].key == "based" else 1
        if any(token.key in TITLES for token in phrase[:k]):
            return spaced(source.text[match.start(1) : phrase[k - 1].end - source.offset])
    return spaced(match.group(1))


def _phrase(source: Field, start: int, end: int) -> list[Token]:
    """The tokens of ``source`` from offset ``start`` to ``end`` in its text."""
    first = bisect.bisect_left(source.token_starts, source.offset + start)
    last = bisect.bisect_left(source.token_starts, source.offset + end)
    return source.tokens[first:last]


def _role_in_clause(mention: Mention) -> str | None:
    """ "who leads the Offshore Workers’ Union" -> "leads the Offshore Workers’ Union": a verb of
    leading, then an organisation's name that ends the clause."""
    source = mention.source
    match = _RELATIVE.match(source.text, mention.span.end)
    if not match:
        return None
    phrase = _phrase(source, *match.span(1))
    k = 2 if len(phrase) > 2 and phrase[1].key == "the" else 1
    if (
        len(phrase) <= k
        or phrase[0].key not in LEADS
        or any(source.named.get(token.start) is not EntityKind.ORGANIZATION for token in phrase[k:])
    ):
        return None
    return spaced(match.group(1))


def find_roles(mentions: list[Mention]) -> None:
    """Give each person mention the role written with it: a title before the name, a plural title
    shared along a list ("envoys A and B"), or a title in apposition after it."""
    previous: Mention | None = None
    for mention in mentions:
        if mention.span.kind is not EntityKind.PERSON:
            continue
        if before := _role_before(mention):
            mention.role, mention.plural_role = before
        elif (
            previous is not None
            and previous.plural_role
            and previous.source is mention.source
            and _LIST_GAP.fullmatch(mention.source.text, previous.span.end, mention.span.start)
        ):
            mention.role, mention.plural_role = previous.role, True
        else:
            mention.role = _role_after(mention)
        previous = mention


def _more_specific(new: str, old: str) -> bool:
    """Whether ``new`` says more than ``old``: "US President" than "President"."""
    return len(new) > len(old) and f" {lookup_key(old)} " in f" {lookup_key(new)} "


@dataclass(slots=True)
class Entity:
    kind: EntityKind
    name: str
    mentions: list[Mention] = field(default_factory=list)


def link_entities(mentions: list[Mention]) -> list[Entity]:
    """One entity per thing the article names.

    Places and organisations: one per canonical name ("US" -> "United States"), or as written; a
    shorter organisation name that begins exactly one longer one joins it ("Nordlys" -> "Nordlys
    Energy"). People: one per full name (two words or more). A one-word mention joins the full name
    it is the last word of (failing that, the first word of), before or after it in the article. If
    several full names share that word, it joins the one last named in full before it; if none was
    named before it, it joins none and stands on its own.
    """
    entities: dict[tuple[EntityKind, str], Entity] = {}
    surnames: list[Mention] = []
    for mention in mentions:
        kind = mention.span.kind
        if kind is EntityKind.PERSON and len(mention.words) == 1:
            surnames.append(mention)
            continue
        name = (
            spaced(mention.span.text)
            if kind is EntityKind.PERSON
            else canonical_name(kind, mention.span.text)
        )
        entities.setdefault((kind, lookup_key(name)), Entity(kind, name)).mentions.append(mention)
    people = [entity for (kind, _), entity in entities.items() if kind is EntityKind.PERSON]
    for mention in surnames:
        word = mention.words[0]
        candidates = [p for p in people if p.mentions[0].words[-1] == word]
        candidates = candidates or [p for p in people if p.mentions[0].words[0] == word]
        if len(candidates) > 1:
            earlier = [
                (m.position, p) for p in candidates for m in p.mentions if m.position < mention.position
            ]
            candidates = [max(earlier, key=lambda pair: pair[0])[1]] if earlier else []
        if len(candidates) == 1:
            candidates[0].mentions.append(mention)
        else:
            name = spaced(mention.span.text)
            entities.setdefault(
                (EntityKind.PERSON, lookup_key(name)), Entity(EntityKind.PERSON, name)
            ).mentions.append(mention)
    organisations = [entity for (kind, _), entity in entities.items() if kind is EntityKind.ORGANIZATION]
    for short in organisations:
        words = lookup_key(short.name).split()
        longer = [
            o for o in organisations if lookup_key(o.name).split()[: len(words)] == words and o is not short
        ]
        if len(longer) == 1:
            longer[0].mentions += short.mentions
            short.mentions = []
    return [entity for entity in entities.values() if entity.mentions]


def find_mentions(draft: ArticleDraft) -> list[MentionDraft]:
    """The people, organisations and places an article names, most salient first (ties: first named).

    salience = 0.35 * (named in the headline) + 0.15 * (named in the standfirst)
             + 0.25 * (1 - p) + 0.25 * n / N,
    where p is where the first mention stands in reading order (0 = the headline's first character,
    1 = the end of the body), n the entity's mention count and N the largest count in the article.
    """
    fields = read_fields(draft)
    mentions = read_mentions(fields)
    find_roles(mentions)
    entities = link_entities(mentions)
    length = sum(len(f.text) + 1 for f in fields)
    most = max((len(entity.mentions) for entity in entities), default=1)
    ranked: list[tuple[float, int, MentionDraft]] = []
    for entity in entities:
        entity.mentions.sort(key=lambda m: m.position)
        named_in = {m.source.text_field for m in entity.mentions}
        first = entity.mentions[0].position
        salience = round(
            _HEADLINE_WEIGHT * (TextField.HEADLINE in named_in)
            + _STANDFIRST_WEIGHT * (TextField.STANDFIRST in named_in)
            + _POSITION_WEIGHT * (1 - first / length)
            + _COUNT_WEIGHT * len(entity.mentions) / most,
            4,
        )
        role = None  # the first role given, unless a later one says more ("President" -> "US President")
        for mention in entity.mentions:
            if mention.role and (role is None or _more_specific(mention.role, role)):
                role = mention.role
        name = entity.name
        if entity.kind is EntityKind.PERSON:  # the fullest form the article uses
            name = spaced(max((m.span.text for m in entity.mentions), key=lambda text: len(text.split())))
        locations = [
            Location(m.source.text_field, m.source.block, m.span.start, m.span.end) for m in entity.mentions
        ]
        forms = {spaced(m.span.text) for m in entity.mentions}
        ranked.append((-salience, first, MentionDraft(name, entity.kind, role, locations, forms, salience)))
    ranked.sort(key=lambda item: item[:2])
    return [mention for _, _, mention in ranked]

"""The rule layer: runs of capitalised words in each line, typed by the lexicon (gazetteer, titles,
given names, suffixes) and by the words around them, each with how sure the rules are."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from operator import attrgetter

from ingest.document import EntityKind
from ingest.extract.lexicon import (
    ABBREVIATIONS,
    COMMON_NOUNS,
    COMMON_WORDS,
    DIRECTIONS,
    FACILITIES,
    FIRST_NAMES,
    GIVEN_NAMES,
    HONORIFICS,
    LINK_HEADS,
    LINKS,
    LOCATIVES,
    LONGEST,
    MINOR,
    MODIFIERS,
    OPENERS,
    ORG_DESCRIPTORS,
    ORG_HEADS,
    ORG_SUFFIXES,
    PARTICLES,
    PLACE_HEADS,
    PLACE_PREFIXES,
    PLACE_SUFFIXES,
    SENTENCE_END,
    STOP,
    THING_SUFFIXES,
    TIME,
    TOWNS,
    RuleToken,
    is_demonym,
    is_role_word,
    known_at,
    known_kind,
    singular_title,
)

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
    tokens: list[RuleToken]
    evidence: Evidence
    kind: EntityKind | None = None  # None only while DEFERRED
    # What typed it: "known", "suffix", "title", "given", "text" (STRONG); "context" (the words
    # around it: "the charity X", "in X", "the X wind farm") or "guess" (WEAK).
    source: str = ""

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(token.key for token in self.tokens)


def _mode(tokens: list[RuleToken]) -> _Mode:
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


def _is_name_word(tokens: list[RuleToken], j: int, start: int) -> bool:
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


def _is_particle_name(token: RuleToken) -> bool:
    """A lower-case particle joined to a surname: al-Assad, bin-Salman."""
    particle, _, rest = token.text.partition("-")
    return not token.cap and particle.casefold() in PARTICLES and rest[:1].isupper()


def _after_link(tokens: list[RuleToken], j: int) -> int | None:
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


def _run_end(tokens: list[RuleToken], i: int) -> int:
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


def _runs(tokens: list[RuleToken]) -> Iterator[tuple[int, int, bool]]:
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


def _pieces(tokens: list[RuleToken], mode: _Mode) -> Iterator[Piece]:
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


def _facility_after(tokens: list[RuleToken], end: int) -> bool:
    """Whether the lower-case words after a name make it a facility's: "the Sørvest wind farm"."""
    for token in tokens[end : end + 2]:
        if not token.word or token.cap:
            return False
        if token.key in FACILITIES:
            return True
    return False


def _classify(
    run: list[RuleToken],
    opens: bool = False,
    before: RuleToken | None = None,
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
    by_words = _classify_by_words(run, keys, several)
    if by_words is not None:
        yield from by_words
    else:
        yield from _classify_by_context(run, words, keys, several, opens, before, partner, facility)


def _classify_by_words(run: list[RuleToken], keys: list[str], several: bool) -> list[Piece] | None:
    """The pieces the run's own words type (gazetteer names, suffixes, an event, a title); None if they
    type none, and the words around the run decide."""
    if kind := known_kind(run):
        return [Piece(run, Evidence.STRONG, kind, "known")]
    if keys[0] in PLACE_PREFIXES and several and known_kind(run[1:]) is EntityKind.PLACE:
        return [Piece(run, Evidence.STRONG, EntityKind.PLACE, "known")]  # Blue Nile, Greater London
    if several and (pieces := _known_pieces(run, whole=True)):
        return pieces  # "US House of Representatives": two gazetteer names
    if several and (kind := _suffix_kind(keys)):
        return [Piece(run, Evidence.STRONG, kind, "suffix")]
    if several and keys[-1] in THING_SUFFIXES:
        # World Cup; Tokyo in Tokyo Marathon
        return [*_known_pieces(run, whole=False, rest=False), Piece(run, Evidence.NONE)]
    if split := _title_split(run):
        return [
            *_classify_title(run[:split]),
            Piece(run[split:], Evidence.STRONG, EntityKind.PERSON, "title"),
        ]
    if any(is_role_word(key) or key in HONORIFICS for key in keys) and all(map(_is_title_part, run)):
        return list(_classify_title(run))  # "US President", "Foreign Minister": a title, no name
    return None


def _classify_by_context(
    run: list[RuleToken],
    words: list[RuleToken],
    keys: list[str],
    several: bool,
    opens: bool,
    before: RuleToken | None,
    partner: EntityKind | None,
    facility: bool,
) -> Iterator[Piece]:
    """Type a run its own words do not: by the word before it, nationality, given names, heads, and
    failing those, a guess."""
    if before and before.key in ORG_DESCRIPTORS:  # the charity Open Door; not "the firm Lee runs"
        yield Piece(run, Evidence.WEAK, EntityKind.ORGANIZATION, "context")
    elif is_demonym(keys[-1]):
        yield Piece(run, Evidence.NONE)  # "South African", "Latin American": descriptions, not names
    elif is_demonym(keys[0]):
        yield from _classify(run[1:], False, before, partner, facility)
    elif _is_person(run, keys, several, before):
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


def _is_person(run: list[RuleToken], keys: list[str], several: bool, before: RuleToken | None) -> bool:
    """A given name first, or a title just before the run; but "Douglas & Lomason" is a firm."""
    return bool(
        ((several and keys[0] in FIRST_NAMES) or (before and singular_title(before.key)))
        and not any(token.text == "&" for token in run)
    )


def _guess(
    run: list[RuleToken], several: bool, before: RuleToken | None, partner: EntityKind | None, facility: bool
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


def _is_title_part(token: RuleToken) -> bool:
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


def _title_split(run: list[RuleToken]) -> int | None:
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


def _is_initial_period(run: list[RuleToken], i: int) -> bool:
    return run[i].text == "." and i > 0 and len(run[i - 1].text) == 1


def _classify_title(title: list[RuleToken]) -> Iterator[Piece]:
    """Names inside a title: "US" in "US President", "Bank of England" in "Bank of England Governor"."""
    part: list[RuleToken] = []
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


def _known_pieces(run: list[RuleToken], whole: bool, rest: bool = True) -> list[Piece]:
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


def _classify_headline(run: list[RuleToken]) -> Iterator[Piece]:
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

    def find(self, run: list[RuleToken]) -> Iterator[Piece]:
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


def rule_pieces(text: str, tokens: list[RuleToken]) -> tuple[list[Piece], bytearray]:
    """What the rules find in each line of ``text`` (``tokens``: ``rule_tokens(text)``, no token crosses a
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

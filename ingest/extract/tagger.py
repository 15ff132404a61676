"""A statistical named-entity tagger: people, organisations and places in plain news text.

The model is a linear-chain CRF (python-crfsuite) trained on CoNLL-2003 by ``ingest.train``; the
trained model ships as ``ingest/models/ner.crfsuite`` (provenance in ``ingest/models/README.md``).

Pipeline, all of it shared by training and tagging so both see the same tokens and features:

1. ``tokenize_line`` splits a line of plain text into tokens with exact character offsets (curly
   quotes, possessive and other clitics split off, hyphenated words kept whole, abbreviations such as
   ``U.S.`` and ``Inc.`` kept with their period, numbers such as ``1,250.5`` kept whole).
2. ``sentences`` breaks each line into sentences and classifies the line as normal, title case
   (headline style) or all caps; capitalisation features are conjoined with that mode, since a
   capital letter means little in a headline.
3. ``Featurizer`` turns a sentence into CRF features: the word (lower case, normalised quotes and
   digits), shape, prefixes and suffixes 1-4, capitalisation, a +-2 word context, gazetteer
   membership (``ingest/gazetteer/tagger_*.txt``) and a document-level hint: how the same word is
   written elsewhere in the text (so "TRUMP" or a sentence-initial "Turkey" borrows evidence from
   the body).
4. BIO labels are decoded to character spans; MISC entities are dropped.

Nothing is downloaded: the model and gazetteer are read from the package directory.
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, cast

if TYPE_CHECKING:
    from ingest.extract.crf import CRFModel

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # ingest/, beside models/ and gazetteer/
DEFAULT_MODEL_PATH = PACKAGE_DIR / "models" / "ner.crfsuite"
GAZETTEER_DIR = PACKAGE_DIR / "gazetteer"
GAZETTEER_PREFIX = "tagger_"

KINDS = {"PER": "person", "ORG": "organization", "LOC": "place"}

# --------------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------------

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


class Token(NamedTuple):
    """A token: ``text[start:end] == token.text``."""

    start: int
    end: int
    text: str


# Token(start, end, text) straight from the tuple constructor, without NamedTuple's Python-level __new__:
# most tokens of every text are made here.
_token = functools.partial(tuple.__new__, Token)


def _split_word(text: str, start: int, end: int, out: list[Token]) -> None:
    """Split clitics off a word token: ``Putin’s`` -> ``Putin`` ``’s``; ``don't`` -> ``do`` ``n't``."""
    word = text[start:end]
    cut = max(word.rfind("'"), word.rfind("’"))
    if cut > 0:
        tail = word[cut + 1 :].lower()
        lower = word.lower()
        if (lower.endswith("n't") or lower.endswith("n’t")) and cut == len(word) - 2 and len(word) > 3:
            split = start + len(word) - 3
            _split_word(text, start, split, out)
            out.append(Token(split, end, text[split:end]))
            return
        if tail in _CLITICS:
            split = start + cut
            _split_word(text, start, split, out)
            out.append(Token(split, end, text[split:end]))
            return
    out.append(Token(start, end, word))


_LINE_END_RE = re.compile(r"""[\s"'’”)\]»]*""")


def _at_line_end(text: str, pos: int, stop: int) -> bool:
    """Only closing quotes, brackets and spaces between ``pos`` and the end of the line?"""
    return _LINE_END_RE.fullmatch(text, pos, stop) is not None


def tokenize_line(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """Tokens of ``text[start:end]``, a single line (offsets are into ``text``)."""
    out: list[Token] = []
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
            out.append(Token(s, e - 1, text[s : e - 1]))
            out.append(Token(e - 1, e, "."))
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
                    out.append(Token(s, e + 1, text[s : e + 1]))
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


# --------------------------------------------------------------------------------------------------
# Sentences and line modes
# --------------------------------------------------------------------------------------------------

_SENTENCE_END = frozenset({".", "!", "?", "...", "…", "?!", "!?"})
_CLOSERS = frozenset({'"', "'", "’", "”", ")", "]", "»"})
_OPENERS = frozenset({'"', "'", "‘", "“", "(", "[", "«"})
_STARTS_AFTER = _OPENERS | {":"}  # a word after these is written as a sentence start
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
    tokens: list[Token]
    mode: str  # NORMAL, TITLE or UPPER: the case style of the line the sentence is on


def line_mode(tokens: Sequence[Token]) -> str:
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


def _split_sentences(tokens: list[Token]) -> list[list[Token]]:
    out: list[list[Token]] = []
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
        tokens = tokenize_line(text, start, end)
        if not tokens:
            continue
        mode = line_mode(tokens)
        for chunk in _split_sentences(tokens):
            out.append(Sentence(chunk, mode))
    return out


# --------------------------------------------------------------------------------------------------
# Gazetteer
# --------------------------------------------------------------------------------------------------


class Gazetteer:
    """Lists of names (``tagger_<category>.txt``, one entry a line), matched case-insensitively."""

    def __init__(self, entries: dict[str, Iterable[str]] | None = None) -> None:
        self.index: dict[str, tuple[str, ...]] = {}
        self.max_len = 0
        self.longest: dict[str, int] = {}  # the most words of an entry starting with each word
        for category, names in (entries or {}).items():
            self.add(category, names)

    def add(self, category: str, names: Iterable[str]) -> None:
        index = self.index
        for name in names:
            if name.isalpha():  # most entries: one plain word, no need to tokenize
                key, length = name.lower(), 1
                first = key
            else:
                words = [norm_word(t.text) for t in tokenize_line(name)]
                if not words:
                    continue
                key, length = " ".join(words), len(words)
                first = words[0]
            have = index.get(key)
            if have is None:
                index[key] = (category,)
            elif category not in have:
                index[key] = (*have, category)
            if length > self.max_len:
                self.max_len = length
            if length > self.longest.get(first, 0):
                self.longest[first] = length

    @classmethod
    def load(cls, directory: Path | None = None) -> Gazetteer:
        directory = GAZETTEER_DIR if directory is None else directory
        gazetteer = cls()
        if directory.is_dir():
            for path in sorted(directory.glob(f"{GAZETTEER_PREFIX}*.txt")):
                category = path.stem[len(GAZETTEER_PREFIX) :]
                with path.open(encoding="utf-8") as handle:
                    names = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
                gazetteer.add(category, names)
        return gazetteer

    def match(self, words: Sequence[str], capital: Sequence[bool]) -> list[list[str]]:
        """Per token, features such as ``place:B`` for the longest entries covering it.

        ``words`` are normalised lower-case tokens; ``capital`` says which tokens may start or end
        an entry (capitalised tokens in normal text, any token in a headline).
        """
        n = len(words)
        feats: list[list[str]] = [[] for _ in range(n)]
        if not self.index:
            return feats
        index, longest = self.index, self.longest
        i = 0
        while i < n:
            if not capital[i]:
                i += 1
                continue
            best = 0
            for length in range(min(longest.get(words[i], 0), n - i), 0, -1):
                if not capital[i + length - 1]:
                    continue
                key = words[i] if length == 1 else " ".join(words[i : i + length])
                cats = index.get(key)
                if cats is None:
                    continue
                best = length
                for cat in cats:
                    feats[i].append(f"{cat}:B")
                    for k in range(i + 1, i + length):
                        feats[k].append(f"{cat}:I")
                break
            i += best if best > 1 else 1
        return feats


# --------------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------------

_NORM_TABLE = str.maketrans(
    {"’": "'", "‘": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "—": "-", "–": "-"}
)
_DIGITS = re.compile(r"\d")


@functools.lru_cache(maxsize=65_536)  # the same words recur, in a text and across texts
def norm_word(word: str) -> str:
    """Lower case, straight quotes, digits as 0."""
    low = word.lower().translate(_NORM_TABLE)
    if any(c.isdigit() for c in low):
        low = _DIGITS.sub("0", low)
    return low


def word_shape(word: str) -> str:
    """Short shape: ``Zelenskyy`` -> ``Xx``, ``U.S.`` -> ``X.X.``, ``1996-08-22`` -> ``d-d-d``."""
    out: list[str] = []
    last = ""
    for c in word:
        if c.isupper():
            s = "X"
        elif c.islower():
            s = "x"
        elif c.isdigit():
            s = "d"
        elif c in "’'":
            s = "'"
        elif c.isalpha():
            s = "x"
        else:
            s = c
        if s != last:
            out.append(s)
            last = s
    return "".join(out)


# A CRF feature: its text for training; at tagging time the record crfsuite reads (``CRFModel.records``),
# or b"" for a feature the model has no weight for, which adds nothing to a token's records.
Feature = str | bytes


class _Word(NamedTuple):
    norm: str
    shape: str
    capital: bool  # starts with a capital letter
    # The token's own features, already conjoined with the mode; at tagging time one bytes, their records.
    features: list[Feature]
    # The context features the word gives the tokens around it, built once (empty where it gives none).
    to_next: Feature  # "w-1=<norm>"
    to_after_next: Feature  # "w-2=<norm>"
    to_previous: Feature  # "w+1=<norm>"
    to_before_previous: Feature  # "w+2=<norm>"
    shape_to_next: Feature  # "sh-1=<shape>"
    shape_to_previous: Feature  # "sh+1=<shape>"
    # The norms of the words before and after it whose word pair with it the model knows, with the pair's
    # feature (None, in training: every pair).
    known_before: dict[str, bytes] | None = None
    known_after: dict[str, bytes] | None = None


def _context_word(
    norm: str,
    shape: str,
    capital: bool,
    features: list[str],
    records: dict[str, bytes] | None = None,
    known_before: dict[str, bytes] | None = None,
    known_after: dict[str, bytes] | None = None,
) -> _Word:
    """A ``_Word`` with the context features it gives its neighbours. Given the model's ``records`` (at
    tagging time), only the features the model knows, as records."""

    def given(feature: str) -> Feature:
        return feature if records is None else records.get(feature, b"")

    return _Word(
        norm,
        shape,
        capital,
        list(features) if records is None else [b"".join(records[f] for f in features if f in records)],
        given("w-1=" + norm) if norm else "",
        given("w-2=" + norm) if norm else "",
        given("w+1=" + norm) if norm else "",
        given("w+2=" + norm) if norm else "",
        given("sh-1=" + shape),
        given("sh+1=" + shape),
        known_before,
        known_after,
    )


def _word_pairs(records: dict[str, bytes], prefix: str) -> Iterator[tuple[str, str, bytes]]:
    """(a, b, record) for each ``prefix + a + "|" + b`` feature, split at every "|" (a word may hold one)."""
    for feature, record in records.items():
        if feature.startswith(prefix):
            pair = feature[len(prefix) :]
            cut = pair.find("|")
            while cut >= 0:
                yield pair[:cut], pair[cut + 1 :], record
                cut = pair.find("|", cut + 1)


@functools.lru_cache(maxsize=65_536)  # read once per word, not once per occurrence
def _written_case(word: str) -> tuple[str, int] | None:
    """For ``document_case``: the word in lower case and how it is written (1: capitalised, 2: lower case);
    None for a word that does not start with a letter."""
    c = word[0]
    if not c.isalpha():
        return None
    return word.lower(), 1 if c.isupper() else 2


class Featurizer:
    """Turns sentences into CRF feature lists. Per-word work is cached."""

    def __init__(
        self,
        gazetteer: Gazetteer | None = None,
        cache_size: int = 30_000,
        vocabulary: frozenset[str] | None = None,
        records: dict[str, bytes] | None = None,
    ) -> None:
        self.gazetteer = gazetteer if gazetteer is not None else Gazetteer()
        # Training only: words outside ``vocabulary`` (seen once) get no word-identity features, so the
        # model learns what to do with a word it has never seen from the words it has seen once. At
        # tagging time every word gets them; the model simply has no weight for unseen ones.
        self.vocabulary = vocabulary
        # Tagging only: the model's features, each with the record crfsuite reads (``CRFModel.records``).
        # crfsuite skips every other feature, so those are left out once, when a word is cached, and a word
        # pair's feature is looked up only if the model knows it: the tagger is given less and tags the same.
        self.records_by_feature = records
        self._known_before: dict[str, dict[str, bytes]] = {}
        self._known_after: dict[str, dict[str, bytes]] = {}
        if records is not None:
            for before, word, record in _word_pairs(records, "w-1|w="):
                self._known_before.setdefault(word, {})[before] = record
            for word, after, record in _word_pairs(records, "w|w+1="):
                self._known_after.setdefault(word, {})[after] = record
        # What stands before a sentence's first token and after its last, as context.
        self._before = _context_word("<s>", "<s>", False, [], records)
        self._after = _context_word("</s>", "</s>", False, [], records)
        self._cache: dict[tuple[str, str], _Word] = {}
        self._cache_size = cache_size
        # "sh3=<shape before>|<shape>|<shape after>": a few thousand, each built once
        self._shape_trigram = functools.lru_cache(maxsize=16_384)(self._make_shape_trigram)

    def _make_shape_trigram(self, before: str, shape: str, after: str) -> Feature:
        trigram = f"sh3={before}|{shape}|{after}"
        return self.feature(trigram)

    def feature(self, text: str) -> Feature:
        """A feature as the featurizer gives it: its text in training, else its record (b"" if none)."""
        return text if self.records_by_feature is None else self.records_by_feature.get(text, b"")

    def _word(self, word: str, mode: str) -> _Word:
        key = (word, mode)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        norm = norm_word(word)
        shape = word_shape(word)
        capital = word[0].isupper()
        m = "" if mode == NORMAL else mode
        known = self.vocabulary is None or norm in self.vocabulary
        f = [f"w={norm}", f"{m}sh={shape}"] if known else [f"{m}sh={shape}"]
        n = len(norm)
        if n > 1 and not shape.startswith("d"):
            for k in range(1, min(4, n - 1) + 1):
                f.append(f"p{k}={norm[:k]}")
                f.append(f"s{k}={norm[-k:]}")
        if capital:
            f.append(f"{m}cap")
        if word.isupper() and n > 1:
            f.append(f"{m}allcap")
        if mode != UPPER and n > 1 and word.isupper():
            # acronyms keep their case: "US" is not "us"; "U.S." and "US" share a weight
            f.append("W=" + word.replace(".", ""))
        if "-" in word and n > 2:
            parts = norm.split("-")
            f.append(f"h0={parts[0]}")
            f.append(f"h1={parts[-1]}")
        if n > 12:
            f.append("long")
        if self.records_by_feature is None:
            result = _context_word(norm if known else "", f"{m}{shape}", capital, f)
        else:
            result = _context_word(
                norm if known else "",
                f"{m}{shape}",
                capital,
                f,
                self.records_by_feature,
                self._known_before.get(norm, {}),
                self._known_after.get(norm, {}),
            )
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[key] = result
        return result

    def document_case(self, sents: Sequence[Sentence]) -> dict[str, int]:
        """How words are written in the normal-case sentences of a text, sentence starts excepted.

        Bit 1: seen capitalised; bit 2: seen in lower case.
        """
        seen: dict[str, int] = {}
        for sentence in sents:
            if sentence.mode != NORMAL:
                continue
            for previous, word in itertools.pairwise(token.text for token in sentence.tokens):
                case = _written_case(word)
                if case is None or previous in _STARTS_AFTER:
                    continue
                low, bit = case
                seen[low] = seen.get(low, 0) | bit
        return seen

    def features(self, sentence: Sentence, doc_case: dict[str, int] | None = None) -> list[list[Feature]]:
        mode = sentence.mode
        words = [self._word(t.text, mode) for t in sentence.tokens]
        n = len(words)
        norms = [w.norm for w in words]
        lowers = norms if self.vocabulary is None else [norm_word(t.text) for t in sentence.tokens]
        if mode == NORMAL:
            capital = [w.capital for w in words]
        else:
            capital = [t.text[0].isalnum() for t in sentence.tokens]
        gaz = self.gazetteer.match(lowers, capital)
        padded = [self._before, self._before, *words, self._after, self._after]
        feature = self.feature
        mode_feature = feature(f"mode={mode}")
        m = "" if mode == NORMAL else mode
        gaz0, gaz_prev, gaz_next = f"{m}g=", f"{m}g-1=", f"{m}g+1="
        out: list[list[Feature]] = []
        for i in range(n):
            w = words[i]
            j = i + 2
            before, after = padded[j - 1], padded[j + 1]
            f: list[Feature] = [*w.features, mode_feature]
            if before.to_next:
                f.append(before.to_next)
            if after.to_previous:
                f.append(after.to_previous)
            if padded[j - 2].to_after_next:
                f.append(padded[j - 2].to_after_next)
            if padded[j + 2].to_before_previous:
                f.append(padded[j + 2].to_before_previous)
            if w.norm:
                if before.norm:
                    if w.known_before is None:
                        f.append("w-1|w=" + before.norm + "|" + w.norm)
                    elif before.norm in w.known_before:
                        f.append(w.known_before[before.norm])
                if after.norm:
                    if w.known_after is None:
                        f.append("w|w+1=" + w.norm + "|" + after.norm)
                    elif after.norm in w.known_after:
                        f.append(w.known_after[after.norm])
            f.append(before.shape_to_next)
            f.append(after.shape_to_previous)
            f.append(self._shape_trigram(before.shape, w.shape, after.shape))
            first = i == 0 or (i == 1 and lowers[0] in ('"', "'", "("))
            if first:
                f.append(feature("first"))
                f.append(feature("first|" + w.shape))
            for g in gaz[i]:
                f.append(feature(gaz0 + g))
            if i > 0:
                for g in gaz[i - 1]:
                    f.append(feature(gaz_prev + g))
            if i + 1 < n:
                for g in gaz[i + 1]:
                    f.append(feature(gaz_next + g))
            if doc_case is not None and w.capital and (mode != NORMAL or first):
                seen = doc_case.get(sentence.tokens[i].text.lower())
                if seen is not None:
                    f.append(feature("dc=" + ("C", "L", "B")[seen - 1]))
            out.append(f)
        return out

    def document(self, sents: Sequence[Sentence]) -> list[list[list[Feature]]]:
        doc_case = self.document_case(sents)
        return [self.features(s, doc_case) for s in sents]

    def records(self, sentence: Sentence, doc_case: dict[str, int] | None = None) -> list[bytes]:
        """At tagging time, ``features`` as crfsuite reads them: each token's records joined, the same bytes
        in the same order (so crfsuite adds the same weights in the same order), made without a list per
        token. Kept in step with ``features`` by ``tests/test_tagger.py``."""
        records = self.records_by_feature
        if records is None:
            raise ValueError("records are for tagging: this featurizer was made without the model's records")
        mode = sentence.mode
        tokens = sentence.tokens
        words = [self._word(t.text, mode) for t in tokens]
        n = len(words)
        norms = [w.norm for w in words]
        capital = [w.capital for w in words] if mode == NORMAL else [t.text[0].isalnum() for t in tokens]
        gaz = self.gazetteer.match(norms, capital)
        padded = [self._before, self._before, *words, self._after, self._after]
        mode_record = records.get(f"mode={mode}", b"")
        m = "" if mode == NORMAL else mode
        gaz0, gaz_prev, gaz_next = f"{m}g=", f"{m}g-1=", f"{m}g+1="
        join = cast(Callable[[Iterable[Feature]], bytes], b"".join)  # a tagging featurizer's are all bytes
        no_pairs: dict[str, bytes] = {}
        out: list[bytes] = []
        for i in range(n):
            w = words[i]
            before, after = padded[i + 1], padded[i + 3]
            token = join((
                w.features[0], mode_record, before.to_next, after.to_previous,
                padded[i].to_after_next, padded[i + 4].to_before_previous,
                (w.known_before or no_pairs).get(before.norm, b"") if w.norm and before.norm else b"",
                (w.known_after or no_pairs).get(after.norm, b"") if w.norm and after.norm else b"",
                before.shape_to_next, after.shape_to_previous,
                self._shape_trigram(before.shape, w.shape, after.shape),
            ))  # fmt: skip
            first = i == 0 or (i == 1 and norms[0] in ('"', "'", "("))
            if first:
                token += records.get("first", b"") + records.get("first|" + w.shape, b"")
            if gaz[i] or (i > 0 and gaz[i - 1]) or (i + 1 < n and gaz[i + 1]):
                token += b"".join(records.get(gaz0 + g, b"") for g in gaz[i])
                if i > 0:
                    token += b"".join(records.get(gaz_prev + g, b"") for g in gaz[i - 1])
                if i + 1 < n:
                    token += b"".join(records.get(gaz_next + g, b"") for g in gaz[i + 1])
            if doc_case is not None and w.capital and (mode != NORMAL or first):
                seen = doc_case.get(tokens[i].text.lower())
                if seen is not None:
                    token += records.get("dc=" + ("C", "L", "B")[seen - 1], b"")
            out.append(token)
        return out

    def document_records(self, sents: Sequence[Sentence]) -> list[list[bytes]]:
        doc_case = self.document_case(sents)
        return [self.records(s, doc_case) for s in sents]


_TYPES = ("PER", "ORG", "LOC", "MISC", "O")
_KIND_OF_LABEL = {"O": 4} | {f"{prefix}-{kind}": _TYPES.index(kind) for kind in _TYPES[:4] for prefix in "BI"}


def document_features(sents: Sequence[Sentence], labels: Sequence[Sequence[str]]) -> list[list[list[str]]]:
    """Second-pass features: how a first pass labelled the same word elsewhere in the text.

    For each capitalised word, the labels its other capitalised occurrences got: ``dt=`` the
    majority (every type in a tie), ``dtu=`` when they all agree, and ``dtm=`` for each type the word
    had inside a longer name ("Andrii Sybiha", "Pirelli SpA"), the most telling evidence. So a bare
    "Sybiha" or "Pirelli" elsewhere in the text borrows from it. Empty lists where a word occurs once.
    """
    counts: dict[str, list[int]] = {}
    multi: dict[str, list[int]] = {}
    keys: list[list[tuple[str, int, bool] | None]] = []
    for sentence, row in zip(sents, labels, strict=True):
        sentence_keys: list[tuple[str, int, bool] | None] = []
        n = len(row)
        for i, (token, label) in enumerate(zip(sentence.tokens, row, strict=True)):
            if not token.text[0].isupper():
                sentence_keys.append(None)
                continue
            key = norm_word(token.text)
            kind = _KIND_OF_LABEL[label]
            counts.setdefault(key, [0, 0, 0, 0, 0])[kind] += 1
            in_longer = label != "O" and (
                (i > 0 and label[0] == "I" and row[i - 1][2:] == label[2:])
                or (i + 1 < n and row[i + 1] == "I-" + label[2:])
            )
            if in_longer:
                multi.setdefault(key, [0, 0, 0, 0, 0])[kind] += 1
            sentence_keys.append((key, kind, in_longer))
        keys.append(sentence_keys)
    out: list[list[list[str]]] = []
    made: dict[tuple[str, int, bool], list[str]] = {}  # the same at each like occurrence of a word: made once
    for sentence_keys in keys:
        rows: list[list[str]] = []
        for item in sentence_keys:
            if item is None:
                rows.append([])
                continue
            if item not in made:
                made[item] = _type_features(*item, counts, multi)
            rows.append(list(made[item]))
        out.append(rows)
    return out


def _type_features(
    key: str, kind: int, in_longer: bool, counts: dict[str, list[int]], multi: dict[str, list[int]]
) -> list[str]:
    """``document_features`` of one occurrence of a word, labelled ``kind``, inside a longer name or not."""
    feats: list[str] = []
    others = list(counts[key])
    others[kind] -= 1
    total = sum(others)
    if total:
        top = max(others)
        for k in range(5):
            if others[k] == top:
                feats.append("dt=" + _TYPES[k])
        if top == total:
            feats.append("dtu=" + _TYPES[others.index(top)])
        longer = multi.get(key)
        if longer is not None:
            for k in range(4):
                if longer[k] - (in_longer and k == kind) > 0:
                    feats.append("dtm=" + _TYPES[k])
    return feats


def retagged(sents: Sequence[Sentence]) -> list[bool]:
    """Which sentences ``document_features`` gives any feature, whatever the first pass's labels: those
    with a capitalised word whose normal form is capitalised elsewhere in the text too. Known before the
    first pass, so the first labelling of a sentence tagged again need not be read."""
    keys = [[norm_word(t.text) for t in sentence.tokens if t.text[0].isupper()] for sentence in sents]
    seen = Counter(key for sentence_keys in keys for key in sentence_keys)
    return [any(seen[key] > 1 for key in sentence_keys) for sentence_keys in keys]


# --------------------------------------------------------------------------------------------------
# Decoding and the tagger
# --------------------------------------------------------------------------------------------------


def decode(tokens: Sequence[Token], labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """BIO labels -> (start, end, type) spans; an ``I-`` without its ``B-`` opens an entity."""
    return [(start, stop, kind) for start, stop, kind, _first, _last in _label_runs(tokens, labels)]


class Tagger:
    """Finds people, organisations and places in plain text."""

    def __init__(self, crf: CRFModel, featurizer: Featurizer, path: Path) -> None:
        self._crf = crf
        self._featurizer = featurizer
        self._lock = threading.Lock()  # a crfsuite tagger is not safe to share between threads
        self.path = path

    @classmethod
    def load(cls, path: str | Path | None = None, gazetteer_dir: Path | None = None) -> Tagger:
        """Open a trained model (by default the committed ``ingest/models/ner.crfsuite``)."""
        from ingest.extract.crf import CRFModel

        model = Path(path) if path is not None else DEFAULT_MODEL_PATH
        if not model.is_file():
            raise FileNotFoundError(f"no NER model at {model}: train one with `python -m ingest.train`")
        crf = CRFModel(model)
        return cls(crf, Featurizer(Gazetteer.load(gazetteer_dir), records=crf.records), model)

    def labels(self, sents: Sequence[Sentence]) -> list[list[str]]:
        """BIO labels (PER, ORG, LOC, MISC) for each sentence."""
        out: list[list[str]] = [[] for _ in sents]

        def keep(index: int, labels: list[str]) -> None:
            out[index] = labels

        self._two_passes(sents, keep)
        return out

    def scored(self, text: str) -> list[tuple[int, int, str, float]]:
        """Every span (start, end, CoNLL type, MISC included) with the model's confidence in it: the least
        marginal probability of its labels over the span's tokens."""
        sents = sentences(text)
        spans: list[list[tuple[int, int, str, float]]] = [[] for _ in sents]
        marginal = self._crf.marginal

        def keep(index: int, labels: list[str]) -> None:
            # Marginals describe the sequence tagged last, so they are read here, straight after tagging.
            spans[index] = [
                (start, end, kind, min(marginal(labels[k], k) for k in range(first, last)))
                for start, end, kind, first, last in _label_runs(sents[index].tokens, labels)
            ]

        self._two_passes(sents, keep)
        return [span for sentence_spans in spans for span in sentence_spans]

    def _two_passes(self, sents: Sequence[Sentence], keep: Callable[[int, list[str]], None]) -> None:
        """Tag each sentence, then tag again, with what the first pass made of the same words elsewhere in the
        text (``document_features``), every sentence with a capitalised word that recurs capitalised (known
        before tagging: ``retagged``); ``keep`` sees each sentence's last labelling only, straight after it
        is made."""
        feats = self._featurizer.document_records(sents)
        again = retagged(sents)
        with self._lock:
            tag = self._crf.tag
            first = []
            for index, f in enumerate(feats):
                labels = tag(f) if f else []
                first.append(labels)
                if not again[index]:
                    keep(index, labels)
            extra = document_features(sents, first)
            records = self._featurizer.records_by_feature or {}
            for index, (f, more) in enumerate(zip(feats, extra, strict=True)):
                if again[index]:
                    pairs = zip(f, more, strict=True)
                    # Most tokens get no second-pass feature: their first-pass records go again as they are.
                    keep(
                        index,
                        tag([a + b"".join([records.get(d, b"") for d in b]) if b else a for a, b in pairs]),
                    )

    def tag_all(self, text: str) -> list[tuple[int, int, str]]:
        """Every entity span (start, end, type) with CoNLL types, MISC included."""
        sents = sentences(text)
        spans: list[tuple[int, int, str]] = []
        for sentence, labels in zip(sents, self.labels(sents), strict=True):
            spans.extend(decode(sentence.tokens, labels))
        return spans

    def tag(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, kind) spans, kind one of person, organization, place."""
        return [(s, e, KINDS[t]) for s, e, t in self.tag_all(text) if t in KINDS]


def _label_runs(tokens: Sequence[Token], labels: Sequence[str]) -> Iterator[tuple[int, int, str, int, int]]:
    """(start, end, type, first token, last token + 1) of each labelled run."""
    index, count = 0, len(labels)
    while index < count:
        label = labels[index]
        if label == "O":
            index += 1
            continue
        end = index + 1
        while end < count and labels[end] == "I-" + label[2:]:
            end += 1
        yield tokens[index].start, tokens[end - 1].end, label[2:], index, end
        index = end


_default: Tagger | None = None
_default_lock = threading.Lock()


def default_tagger() -> Tagger:
    """The committed model, loaded once."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Tagger.load()
    return _default

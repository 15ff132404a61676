"""CRF features of a sentence, shared by training and tagging so both see the same features.

``Featurizer`` turns a sentence into features: the word (lower case, normalised quotes and digits), shape,
prefixes and suffixes 1-4, capitalisation, a +-2 word context, gazetteer membership
(``ingest/gazetteer/tagger_*.txt``) and a document-level hint: how the same word is written elsewhere in
the text (so "TRUMP" or a sentence-initial "Turkey" borrows evidence from the body).
``document_features`` gives the second pass what the first made of the same word elsewhere.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, cast

from ingest.extract.tokens import NORMAL, STARTS_AFTER, UPPER, Sentence, tagger_tokens

GAZETTEER_DIR = Path(__file__).resolve().parents[1] / "gazetteer"  # ingest/gazetteer/
GAZETTEER_PREFIX = "tagger_"

# --------------------------------------------------------------------------------------------------
# Gazetteer
# --------------------------------------------------------------------------------------------------


class Gazetteer:
    """Lists of names (``tagger_<category>.txt``, one entry a line), matched case-insensitively."""

    def __init__(self, entries: dict[str, Iterable[str]] | None = None) -> None:
        self.index: dict[str, tuple[str, ...]] = {}
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
                words = [norm_word(t.text) for t in tagger_tokens(name)]
                if not words:
                    continue
                key, length = " ".join(words), len(words)
                first = words[0]
            have = index.get(key)
            if have is None:
                index[key] = (category,)
            elif category not in have:
                index[key] = (*have, category)
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


def _word_features(word: str, mode: str, norm: str, shape: str, capital: bool, known: bool) -> list[str]:
    """A word's own features in a line written in ``mode``: its identity (if ``known``), shape, prefixes and
    suffixes, capitals, hyphenated parts."""
    m = "" if mode == NORMAL else mode
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
    return f


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
        f = _word_features(word, mode, norm, shape, capital, known)
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
                if case is None or previous in STARTS_AFTER:
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
        gaz = self.gazetteer.match(lowers, _capitals(words, sentence))
        padded = [self._before, self._before, *words, self._after, self._after]
        feature = self.feature
        mode_feature = feature(f"mode={mode}")
        m = "" if mode == NORMAL else mode
        prefixes = (f"{m}g=", f"{m}g-1=", f"{m}g+1=")
        out: list[list[Feature]] = []
        for i in range(n):
            w = words[i]
            j = i + 2
            before, after = padded[j - 1], padded[j + 1]
            f: list[Feature] = [*w.features, mode_feature]
            _add_context(f, w, padded[j - 2], before, after, padded[j + 2])
            f.append(self._shape_trigram(before.shape, w.shape, after.shape))
            first = i == 0 or (i == 1 and lowers[0] in ('"', "'", "("))
            if first:
                f.append(feature("first"))
                f.append(feature("first|" + w.shape))
            f.extend(_gazetteer_features(feature, gaz, i, prefixes))
            if doc_case is not None and w.capital and (mode != NORMAL or first):
                written = _written_elsewhere(doc_case, sentence.tokens[i].text)
                if written is not None:
                    f.append(feature(written))
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
        gaz = self.gazetteer.match(norms, _capitals(words, sentence))
        padded = [self._before, self._before, *words, self._after, self._after]
        mode_record = records.get(f"mode={mode}", b"")
        m = "" if mode == NORMAL else mode
        prefixes = (f"{m}g=", f"{m}g-1=", f"{m}g+1=")
        out: list[bytes] = []
        for i in range(n):
            w = words[i]
            token = self._context_record(w, padded, i, mode_record)
            first = i == 0 or (i == 1 and norms[0] in ('"', "'", "("))
            if first:
                token += records.get("first", b"") + records.get("first|" + w.shape, b"")
            if gaz[i] or (i > 0 and gaz[i - 1]) or (i + 1 < n and gaz[i + 1]):
                token += _gazetteer_records(records, gaz, i, prefixes)
            if doc_case is not None and w.capital and (mode != NORMAL or first):
                written = _written_elsewhere(doc_case, tokens[i].text)
                if written is not None:
                    token += records.get(written, b"")
            out.append(token)
        return out

    def _context_record(self, w: _Word, padded: list[_Word], i: int, mode_record: bytes) -> bytes:
        """The records of ``w`` (``padded[i + 2]``) and of what its neighbours give it, as ``features``."""
        before, after = padded[i + 1], padded[i + 3]
        no_pairs = _NO_PAIRS
        return _join_records((
            w.features[0], mode_record, before.to_next, after.to_previous,
            padded[i].to_after_next, padded[i + 4].to_before_previous,
            (w.known_before or no_pairs).get(before.norm, b"") if w.norm and before.norm else b"",
            (w.known_after or no_pairs).get(after.norm, b"") if w.norm and after.norm else b"",
            before.shape_to_next, after.shape_to_previous,
            self._shape_trigram(before.shape, w.shape, after.shape),
        ))  # fmt: skip

    def document_records(self, sents: Sequence[Sentence]) -> list[list[bytes]]:
        doc_case = self.document_case(sents)
        return [self.records(s, doc_case) for s in sents]


_join_records = cast(Callable[[Iterable[Feature]], bytes], b"".join)  # a tagging featurizer's are all bytes
_NO_PAIRS: dict[str, bytes] = {}  # a word whose pairs the model does not know


def _capitals(words: list[_Word], sentence: Sentence) -> list[bool]:
    """Which tokens may start or end a gazetteer entry: capitalised ones, or any word in a headline."""
    if sentence.mode == NORMAL:
        return [w.capital for w in words]
    return [t.text[0].isalnum() for t in sentence.tokens]


def _add_context(
    f: list[Feature], w: _Word, before2: _Word, before: _Word, after: _Word, after2: _Word
) -> None:
    """Append to ``f`` the features the two words either side of ``w`` give it."""
    if before.to_next:
        f.append(before.to_next)
    if after.to_previous:
        f.append(after.to_previous)
    if before2.to_after_next:
        f.append(before2.to_after_next)
    if after2.to_before_previous:
        f.append(after2.to_before_previous)
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


def _gazetteer_features(
    feature: Callable[[str], Feature], gaz: list[list[str]], i: int, prefixes: tuple[str, str, str]
) -> Iterator[Feature]:
    """The gazetteer entries covering token ``i`` and its neighbours, as features."""
    here, previous, following = prefixes
    for g in gaz[i]:
        yield feature(here + g)
    if i > 0:
        for g in gaz[i - 1]:
            yield feature(previous + g)
    if i + 1 < len(gaz):
        for g in gaz[i + 1]:
            yield feature(following + g)


def _gazetteer_records(
    records: dict[str, bytes], gaz: list[list[str]], i: int, prefixes: tuple[str, str, str]
) -> bytes:
    """``_gazetteer_features`` as records, joined."""
    here, previous, following = prefixes
    token = b"".join(records.get(here + g, b"") for g in gaz[i])
    if i > 0:
        token += b"".join(records.get(previous + g, b"") for g in gaz[i - 1])
    if i + 1 < len(gaz):
        token += b"".join(records.get(following + g, b"") for g in gaz[i + 1])
    return token


def _written_elsewhere(doc_case: dict[str, int], word: str) -> str | None:
    """The ``dc=`` feature of a word: written capitalised (C), in lower case (L) or both (B) elsewhere in
    the text; None if it is not."""
    seen = doc_case.get(word.lower())
    return None if seen is None else "dc=" + ("C", "L", "B")[seen - 1]


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

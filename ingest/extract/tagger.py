"""A statistical named-entity tagger: people, organisations and places in plain news text.

The model is a linear-chain CRF (python-crfsuite) trained on CoNLL-2003 by ``ingest.train``; the
trained model ships as ``ingest/models/ner.crfsuite`` (provenance in ``ingest/models/README.md``).

Pipeline, all of it shared by training and tagging so both see the same tokens and features:
``ingest.extract.tokens`` splits the text into sentences of tokens, ``ingest.extract.features`` turns
each into CRF features, the CRF labels them (BIO) in two passes, and the labels are decoded to
character spans.

Nothing is downloaded: the model and gazetteer are read from the package directory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.document import EntityKind
from ingest.extract.features import Featurizer, Gazetteer, document_features, retagged
from ingest.extract.tokens import Sentence, TaggerToken, sentences

if TYPE_CHECKING:
    from ingest.extract.crf import CRFModel

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "ner.crfsuite"  # ingest/models/

#: The entity kind of each CoNLL type the model labels; MISC (events, nationalities, ...) is none.
KINDS = {"PER": EntityKind.PERSON, "ORG": EntityKind.ORGANIZATION, "LOC": EntityKind.PLACE}

# --------------------------------------------------------------------------------------------------
# Decoding and the tagger
# --------------------------------------------------------------------------------------------------


def decode(tokens: Sequence[TaggerToken], labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """BIO labels -> (start, end, type) spans; an ``I-`` without its ``B-`` opens an entity."""
    return [(start, stop, kind) for start, stop, kind, _first, _last in _label_runs(tokens, labels)]


class Tagger:
    """Finds people, organisations and places in plain text."""

    def __init__(self, crf: CRFModel, featurizer: Featurizer) -> None:
        self._crf = crf
        self._featurizer = featurizer
        self._lock = threading.Lock()  # a crfsuite tagger is not safe to share between threads

    @classmethod
    def load(cls, path: str | Path | None = None, gazetteer_dir: Path | None = None) -> Tagger:
        """Open a trained model (by default the committed ``ingest/models/ner.crfsuite``)."""
        from ingest.extract.crf import CRFModel

        model = Path(path) if path is not None else DEFAULT_MODEL_PATH
        if not model.is_file():
            raise FileNotFoundError(f"no NER model at {model}: train one with `python -m ingest.train`")
        crf = CRFModel(model)
        return cls(crf, Featurizer(Gazetteer.load(gazetteer_dir), records=crf.records))

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

    def tag(self, text: str) -> list[tuple[int, int, EntityKind]]:
        """(start, end, kind) spans of people, organisations and places (``KINDS``)."""
        return [(s, e, KINDS[t]) for s, e, t in self.tag_all(text) if t in KINDS]


def _label_runs(
    tokens: Sequence[TaggerToken], labels: Sequence[str]
) -> Iterator[tuple[int, int, str, int, int]]:
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

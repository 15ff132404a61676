"""Names in a text: the statistical tagger's spans and the rules' pieces, combined."""

from __future__ import annotations

from ingest.document import EntityKind, Span
from ingest.extract.lexicon import RuleToken, rule_tokens
from ingest.extract.rules import Evidence, Piece, Vocabulary, rule_pieces
from ingest.extract.tagger import KINDS, default_tagger

#: A tagger's span: start, end, CoNLL type (MISC included) and the model's confidence in it.
_Tagged = tuple[int, int, str, float]

_SURE = 0.8  # the tagger's confidence that lets it overrule the rules


class _Taken:
    """Which characters of a text some span already covers."""

    def __init__(self, size: int) -> None:
        self.mask = bytearray(size)

    def free(self, start: int, end: int) -> bool:
        return not any(self.mask[start:end])

    def take(self, start: int, end: int) -> None:
        self.mask[start:end] = b"\x01" * (end - start)


def find_names(text: str, tokens: list[RuleToken] | None = None) -> list[Span]:
    """Person, organisation and place names in ``text``, in order, as character spans. ``tokens``:
    ``rule_tokens(text)``, where the caller has them already.

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
    pieces, headline = rule_pieces(text, rule_tokens(text) if tokens is None else tokens)
    tagged = default_tagger().scored(text)
    combination = _Combination(text, pieces)
    strong = [p for p in pieces if p.evidence is Evidence.STRONG]
    dropped, untyped = _weigh_tagged(text, strong, tagged, combination.blocked)
    for index, piece in enumerate(strong):
        if index not in dropped:
            combination.vocabulary.learn(piece)
            combination.accept(piece)
    weak = [p for p in pieces if p.evidence is Evidence.WEAK]
    combination.accept_in_context(weak, untyped)
    combination.accept_tagged(untyped, headline)
    combination.accept_established(weak)
    combination.accept_deferred(pieces)
    return combination.spans()


def _owners(strong: list[Piece], size: int) -> list[int]:
    """For each character of the text, the index of the sure piece covering it, or -1."""
    owner = [-1] * size
    for index, piece in enumerate(strong):
        owner[piece.tokens[0].start : piece.tokens[-1].end] = [index] * (
            piece.tokens[-1].end - piece.tokens[0].start
        )
    return owner


def _weigh_tagged(
    text: str, strong: list[Piece], tagged: list[_Tagged], blocked: _Taken
) -> tuple[set[int], list[_Tagged]]:
    """The tagger's spans against the rules' sure pieces: the pieces it overrules (they are part of a longer
    name it found), and its spans over no sure piece or over the pieces it overrules. A sure tagger may
    also retype a gazetteer place in place (``_weigh_one``)."""
    owner = _owners(strong, len(text))
    dropped: set[int] = set()
    untyped: list[_Tagged] = []
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
            first = min(strong[i].tokens[0].start for i in inside)
            last = max(strong[i].tokens[-1].end for i in inside)
            if start <= first and last <= end and label in KINDS:
                # Names inside a longer one: Organisation for Security and Cooperation in Europe.
                dropped.update(inside)
                untyped.append((start, end, label, confidence))
            continue
        index = inside.pop()
        if _weigh_one(text, strong[index], start, end, label):
            dropped.add(index)
            untyped.append((start, end, label, confidence))
    return dropped, untyped


def _weigh_one(text: str, piece: Piece, start: int, end: int, label: str) -> bool:
    """A sure tagger's span over one sure piece: whether the piece is part of the longer name it found. The
    same name read otherwise may retype the piece, or lose a period that is the sentence's."""
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
        return False
    # The name is part of a longer one: Panama in Panama City, Moscow in Dynamo Moscow. (Not
    # of an event's: Oslo in the Oslo Marathon is still a place the article names.)
    return start <= first and last <= end and label in KINDS


class _Combination:
    """The names accepted in one text so far, the characters they cover (``taken``), and the characters
    where no name may be (``blocked``: what the rules or the tagger found to be no name)."""

    def __init__(self, text: str, pieces: list[Piece]) -> None:
        self.text = text
        self.taken, self.blocked = _Taken(len(text)), _Taken(len(text))
        self.vocabulary = Vocabulary()
        self.found: list[Piece] = []
        for piece in pieces:
            if piece.evidence is Evidence.NONE:
                self.blocked.take(piece.tokens[0].start, piece.tokens[-1].end)

    def free(self, start: int, end: int) -> bool:
        return self.taken.free(start, end) and self.blocked.free(start, end)

    def accept(self, piece: Piece) -> None:
        self.taken.take(piece.tokens[0].start, piece.tokens[-1].end)
        self.found.append(piece)

    def accept_in_context(self, weak: list[Piece], untyped: list[_Tagged]) -> None:
        """The words around a name ("in Haugesund", "the charity Home Ground") beat an unsure tagger."""
        for piece in weak:
            start, end = piece.tokens[0].start, piece.tokens[-1].end
            if piece.source != "context" or not self.free(start, end):
                continue
            if all(c < _SURE or t == "MISC" for s, e, t, c in untyped if s < end and e > start):
                piece.kind = self.vocabulary.get(piece.keys) or piece.kind
                self.accept(piece)
                self.vocabulary.learn(piece)

    def accept_tagged(self, untyped: list[_Tagged], headline: bytearray) -> None:
        """The tagger's names where nothing sure stands, longest first; on a headline line only sure ones."""
        by_tagger: list[Piece] = []
        for start, end, label, confidence in untyped:
            if label not in KINDS:  # MISC: an event, a nationality; the rules' guess yields to it
                self.blocked.take(start, end)
                continue
            if (headline[start] and confidence < _SURE) or not self.free(start, end):
                continue
            tokens = [t for t in rule_tokens(self.text, start, end) if t.word or t.text in ".&'’-"]
            if not tokens or not tokens[-1].word:
                continue
            by_tagger.append(Piece(tokens, Evidence.WEAK, KINDS[label]))
        for piece in sorted(by_tagger, key=lambda p: -len(p.tokens)):
            piece.kind = self.vocabulary.get(piece.keys) or piece.kind  # one name, one kind in one text
            self.vocabulary.learn(piece)
            self.accept(piece)

    def accept_established(self, weak: list[Piece]) -> None:
        """The tagger found no name here, and the rules only guessed from capitals: a name only if the text
        establishes it elsewhere."""
        for piece in sorted(weak, key=lambda p: -len(p.tokens)):
            start, end = piece.tokens[0].start, piece.tokens[-1].end
            if not self.free(start, end):
                continue
            kind = self.vocabulary.get(piece.keys)
            if kind is None:
                continue
            piece.kind = kind
            self.vocabulary.learn(piece)
            self.accept(piece)

    def accept_deferred(self, pieces: list[Piece]) -> None:
        """Where capitals prove nothing (headlines, sentence starts): the names the text established."""
        for piece in pieces:
            if piece.evidence is Evidence.DEFERRED:
                for name in self.vocabulary.find(piece.tokens):
                    if self.taken.free(name.tokens[0].start, name.tokens[-1].end):
                        self.accept(name)

    def spans(self) -> list[Span]:
        spans = []
        for piece in sorted(self.found, key=lambda p: p.tokens[0].start):
            assert piece.kind is not None
            start, end = piece.tokens[0].start, piece.tokens[-1].end
            spans.append(Span(start, end, piece.kind, self.text[start:end]))
        return spans

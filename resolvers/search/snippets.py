"""Snippets: the passage of a hit that best matches its query, cut from the hit's text in Python, so both
engines' snippets read alike."""

from __future__ import annotations

import re
from typing import Any

from models.search import fold_text, stem_key, word_terms, words
from resolvers.search.language import SearchExpression, TermKind

#: Where a snippet's highlighted words start and end (Unicode private-use characters, absent from news text).
HIGHLIGHT_START = "\ue000"
HIGHLIGHT_END = "\ue001"

#: A snippet's length in words, at most; and how far before the first matched word it may start, to start
#: where the sentence does.
SNIPPET_WORDS = 32
SNIPPET_LEAD = 12
_SENTENCE_END = re.compile(r"[.!?…]")


def snippet_of_hit(
    headline: str, standfirst: str | None, body: list[dict[str, Any]], expression: SearchExpression
) -> str:
    """The passage of the article that best matches, with HIGHLIGHT_START / _END around each match.

    The passage is the standfirst or a body block with most of the query's terms (then most matches, then
    the first), else the headline; a phrase is one highlight, from its first word to its last. A passage
    over SNIPPET_WORDS words is cut at words, starting at the sentence of the first match when it is near,
    with "…" where text was left out."""
    texts = (standfirst, *(block.get("text") for block in body))
    passages = [text for text in texts if isinstance(text, str) and text]
    best: tuple[int, int] = (0, 0)
    chosen, ranges = None, []
    keys = [[stem_key(word) for word in term.words] for term in expression.terms if not term.excluded]
    for passage in (*passages, headline):
        folded = fold_text(passage)
        if not any(all(key in folded for key in term_keys) for term_keys in keys):
            continue  # no term can match: not worth analysing (most of a hit's paragraphs)
        found = _matches(passage, expression)
        rank = (len({term for _, _, term in found}), len(found))
        if rank > best:
            best, chosen, ranges = rank, passage, found
    if chosen is None:
        chosen = passages[0] if passages else headline
    return _cut(chosen, _merged(ranges))


def _matches(passage: str, expression: SearchExpression) -> list[tuple[int, int, int]]:
    """(start, end, term number) of each match of an included term in ``passage``."""
    terms: list[str] = []
    spans: list[tuple[int, int]] = []
    for match in words(passage):
        for word_term in word_terms(match.group()):
            terms.append(word_term)
            spans.append(match.span())
    found = []
    for number, term in enumerate(expression.terms):
        if term.excluded:
            continue
        first, size = term.words[0], len(term.words)
        if term.kind is TermKind.PREFIX:
            starts = [place for place, word in enumerate(terms) if word.startswith(first)]
        else:
            wanted = list(term.words)
            starts = [
                place
                for place, word in enumerate(terms)
                if word == first and (size == 1 or terms[place : place + size] == wanted)
            ]
        found += [(spans[place][0], spans[place + size - 1][1], number) for place in starts]
    return found


def _merged(ranges: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end, _ in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _cut(passage: str, highlights: list[tuple[int, int]]) -> str:
    spans = [match.span() for match in words(passage)]
    start, end = 0, len(passage)
    if len(spans) > SNIPPET_WORDS:
        first = 0
        if highlights:
            first = next(index for index, span in enumerate(spans) if span[1] > highlights[0][0])
        opening = first
        while opening > 0 and first - opening < SNIPPET_LEAD:
            if _SENTENCE_END.search(passage, spans[opening - 1][1], spans[opening][0]):
                break
            opening -= 1
        else:
            if opening > 0:  # no sentence starts near: a few words of context before the match
                opening = max(0, first - SNIPPET_LEAD // 2)
        closing = min(len(spans), opening + SNIPPET_WORDS)
        start = spans[opening][0] if opening > 0 else 0
        end = spans[closing - 1][1] if closing < len(spans) else len(passage)
    pieces = ["…"] if start > 0 else []
    position = start
    for high_start, high_end in highlights:
        high_start, high_end = max(high_start, start), min(high_end, end)
        if high_start >= high_end:
            continue
        pieces += [passage[position:high_start], HIGHLIGHT_START, passage[high_start:high_end], HIGHLIGHT_END]
        position = high_end
    pieces.append(passage[position:end])
    if end < len(passage):
        pieces.append("…")
    return "".join(pieces).strip()

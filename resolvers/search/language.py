"""The search language, as a newsroom's search box knows it: words (all must appear, stemmed: ``sanctions``
finds "sanction"), ``"quoted phrases"``, prefixes (``sanct*``) and exclusions (``-football``,
``-"world cup"``). ``parse_search`` reads a query once, through the index's own analyzer (models/search.py),
so a query's words are the terms both engines store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from models.search import WORD, analyse, fold, word_terms

MAX_QUERY_LENGTH = 500
MAX_TERMS = 32
MIN_PREFIX = 2

_TOKEN = re.compile(r'(-?)"([^"]*)("?)|(\S+)')
# Endings a prefix may be cut from; the stems of the prefix with each show how an index stores its words.
_ENDINGS = ("", "e", "s", "es", "ed", "ing", "ion", "ions", "ation", "er", "al", "y", "ies", "ity", "ment")


class SearchSyntaxError(ValueError):
    """The query cannot be read; the message says what and where."""


class TermKind(StrEnum):
    WORD = "word"
    PHRASE = "phrase"
    PREFIX = "prefix"


@dataclass(frozen=True, slots=True)
class Term:
    kind: TermKind
    words: tuple[str, ...]  # index terms (models.search.analyse); one unless a phrase; a prefix's, cut back
    excluded: bool = False


@dataclass(frozen=True, slots=True)
class SearchExpression:
    """A parsed query: every included term must match, no excluded term may."""

    terms: tuple[Term, ...]


def parse_search(text: str) -> SearchExpression:
    """Read a query in the search language, or raise SearchSyntaxError naming the problem and its place."""
    if len(text) > MAX_QUERY_LENGTH:
        raise SearchSyntaxError(f"longer than {MAX_QUERY_LENGTH} characters ({len(text)})")
    terms: list[Term] = []
    for match in _TOKEN.finditer(text):
        position = match.start() + 1
        if match.group(4) is None:  # a quoted phrase
            if not match.group(3):
                raise SearchSyntaxError(f"unclosed quote at character {match.start(2)}")
            words = tuple(analyse(match.group(2)))
            if words:
                kind = TermKind.PHRASE if len(words) > 1 else TermKind.WORD
                terms.append(Term(kind, words, excluded=bool(match.group(1))))
            continue
        terms.extend(_bare_term(match.group(4), position))
    if len(terms) > MAX_TERMS:
        raise SearchSyntaxError(f"more than {MAX_TERMS} terms ({len(terms)})")
    if not any(not term.excluded for term in terms):
        if terms:
            raise SearchSyntaxError("nothing to look for: exclusions alone (-word) match almost everything")
        raise SearchSyntaxError("no words to look for")
    return SearchExpression(tuple(terms))


def _bare_term(token: str, position: int) -> list[Term]:
    excluded = token.startswith("-") and len(token) > 1
    body = token[1:] if excluded else token
    if '"' in body:
        raise SearchSyntaxError(f"unexpected quote in {token!r} at character {position}")
    if "*" in body:
        stem = body[:-1]
        runs = fold(stem) if WORD.fullmatch(stem) is not None else []
        if not body.endswith("*") or "*" in stem or len(runs) != 1:
            raise SearchSyntaxError(
                f"{token!r} at character {position}: '*' ends a single word, as in sanct*"
            )
        if len(runs[0]) < MIN_PREFIX:
            raise SearchSyntaxError(
                f"{token!r} at character {position}: a prefix needs at least {MIN_PREFIX} letters"
            )
        return [Term(TermKind.PREFIX, (index_prefix(runs[0]),), excluded)]
    words = tuple(analyse(body))
    if not words:
        return []  # punctuation only: nothing an index holds
    # "U.S." or "30-day": the analyzer splits such a word at its punctuation, so it is a phrase.
    return [Term(TermKind.PHRASE if len(words) > 1 else TermKind.WORD, words, excluded)]


def index_prefix(prefix: str) -> str:
    """The (folded) prefix as the index's stemmed words start: ``negotiat`` -> ``negoti`` (negotiations'
    stem)."""
    stems = [term for ending in _ENDINGS for term in word_terms(prefix + ending)]
    shortest = prefix
    for stem in stems:
        common = 0
        while common < min(len(shortest), len(stem)) and shortest[common] == stem[common]:
            common += 1
        shortest = shortest[:common]
    return shortest if len(shortest) >= MIN_PREFIX else prefix[:MIN_PREFIX]


def has_phrase(expression: SearchExpression) -> bool:
    """Whether the query looks for a phrase (excluded phrases aside)."""
    return any(term.kind is TermKind.PHRASE and not term.excluded for term in expression.terms)


def term_list(expression: SearchExpression, *, excluded: bool) -> list[Term]:
    return [term for term in expression.terms if term.excluded is excluded]

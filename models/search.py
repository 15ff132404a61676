"""The full-text search index: Broadsheet's own analyzer decides the words, both databases store them.

One analyzer (``analyse``) turns text into terms, for the index and for queries alike, so SQLite and
PostgreSQL find the same articles for the same query:

- words are runs of letters and digits (with their combining marks); an apostrophe inside a word joins it
  (``Putin's`` -> ``putins``, ``O'Brien`` -> ``obrien``); anything else separates words, so ``30-day`` is
  the two words ``30`` and ``day`` side by side;
- each word is NFKC-normalised, case-folded and its accents folded: combining marks dropped after NFKD, and
  the letters that do not decompose mapped as PostgreSQL's ``unaccent`` maps them (ø -> o, æ -> ae,
  ß -> ss, ł -> l, đ -> d, þ -> th ...);
- then stemmed with the Snowball English stemmer (PyStemmer); no word is a stop word.

Each engine stores the terms with the most trivial tokenisation it has, so it never splits or stems them
again. It is not a SQLModel table because its shape differs by backend:

- SQLite: ``article_search``, an FTS5 table (headline, standfirst, body: each the terms joined by spaces;
  rowid = article id) with the ``ascii`` tokenizer, which only splits at the spaces.
- PostgreSQL: ``article_search`` (article_id, section_id, published_at, published, document), the document a
  tsvector written as a literal (no text search parser runs): weights A headline, B standfirst, C body, a
  position left empty between them so no phrase spans two; a GIN index; ``headline_words`` and
  ``lead_words`` generated from it for relevance tiers (migration 0007).

Every article is in the index, whatever its status: the writers (resolvers/articles.py, the benchmark
generator, migration 0011) analyse what they write, and the status, section and time of an article a
writer or an operator changes in SQL are what searches see: on SQLite searches read them from ``article``;
on PostgreSQL a trigger copies them to the index row. A deleted article leaves the index (SQLite: a
trigger; PostgreSQL: ``ON DELETE CASCADE``). Text changed in SQL by hand is searched as it was until the
article is written again through Broadsheet.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import Stemmer
from sqlalchemy import TextClause, text

SEARCH_TABLE = "article_search"

#: Letters with no decomposition, folded as PostgreSQL's unaccent folds them (its unaccent.rules).
_LETTERS = str.maketrans(
    {
        "æ": "ae", "ð": "d", "ø": "o", "þ": "th", "ß": "ss", "đ": "d", "ħ": "h", "ı": "i", "ĸ": "q",
        "ł": "l", "ŋ": "n", "œ": "oe", "ŧ": "t", "ƀ": "b", "ƈ": "c", "ƌ": "d", "ƒ": "f", "ƙ": "k",
        "ƚ": "l", "ƞ": "n", "ƥ": "p", "ƫ": "t", "ƭ": "t", "ƴ": "y", "ƶ": "z", "ȡ": "d", "ȥ": "z",
        "ȴ": "l", "ȵ": "n", "ȶ": "t", "ȷ": "j", "ȸ": "db", "ȹ": "qp", "ȼ": "c", "ȿ": "s", "ɀ": "z",
        "ɇ": "e", "ɉ": "j", "ɋ": "q", "ɍ": "r", "ɏ": "y", "ɓ": "b", "ɕ": "c", "ɖ": "d", "ɗ": "d",
        "ɠ": "g", "ɦ": "h", "ɨ": "i", "ɫ": "l", "ɬ": "l", "ɭ": "l", "ɱ": "m", "ɲ": "n", "ɳ": "n",
        "ɼ": "r", "ɽ": "r", "ɾ": "r", "ʂ": "s", "ʈ": "t", "ʐ": "z", "ʑ": "z", "ʝ": "j", "ʉ": "u",
    }
)  # fmt: skip
_APOSTROPHES = str.maketrans("", "", "'’ʼ")


def _mark_ranges() -> str:
    """Combining marks (Unicode categories M*) of the Basic Multilingual Plane, as a regex class body:
    part of the word they sit on, as in text whose accents are stored decomposed."""
    ranges: list[str] = []
    start = None
    for code in range(0x10000 + 1):
        is_mark = code < 0x10000 and unicodedata.category(chr(code)).startswith("M")
        if is_mark and start is None:
            start = code
        elif not is_mark and start is not None:
            ranges.append(f"\\u{start:04x}-\\u{code - 1:04x}")
            start = None
    return "".join(ranges)


_MARK = re.compile(f"[{_mark_ranges()}]+")
#: A word of text as written: letters and digits, with the combining marks after them and apostrophes
#: inside it (one pattern run, no alternation per character: faster than one, docs/benchmarks.md).
WORD = re.compile(rf"[^\W_]+(?:{_MARK.pattern}[^\W_]*|['’][^\W_]+)*")
_RUN = re.compile(r"[^\W_]+")
#: Longer terms are dropped: PostgreSQL refuses a lexeme over 2,047 bytes, and none is a word.
MAX_TERM_LENGTH = 255
#: PostgreSQL keeps positions up to this one (later words all stand there) and 256 positions per lexeme.
MAX_POSITION = 16383


@cache
def _stemmer() -> Any:
    return Stemmer.Stemmer("english")


def fold(word: str) -> list[str]:
    """A word of text as the runs of letters and digits it folds to: NFKC, case-folded, accents folded,
    apostrophes dropped (``Sørensen`` -> ``sorensen``; ``½`` -> ``1``, ``2``)."""
    folded = unicodedata.normalize("NFKC", word).casefold()
    if not folded.isascii():
        decomposed = unicodedata.normalize("NFKD", folded)
        folded = "".join(
            character for character in decomposed if not unicodedata.category(character).startswith("M")
        ).translate(_LETTERS)
    return [run for run in _RUN.findall(folded.translate(_APOSTROPHES)) if len(run) <= MAX_TERM_LENGTH]


def fold_text(text: str) -> str:
    """``text`` folded as ``fold`` folds each word, separators kept: where a term's ``stem_key`` is looked
    for before a text is analysed."""
    if text.isascii():
        return text.lower().replace("'", "")
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return _MARK.sub("", folded).translate(_LETTERS).replace("'", "").replace("’", "").replace("ʼ", "")


def stem_key(term: str) -> str:
    """What the folded text of every word with this term (or a term it starts) contains: the term less
    its last two letters. Stemming changes at most those (``dying`` -> ``die``, ``happy`` -> ``happi``;
    checked against 57,000 English words)."""
    return term[: max(1, len(term) - 2)]


@cache
def word_terms(word: str) -> tuple[str, ...]:
    """The index terms of one word of text (usually one): folded, then stemmed. Cached: news vocabulary
    repeats, so most words of an article were analysed before."""
    return tuple(_stemmer().stemWords(fold(word)))


def words(text: str) -> Iterator[re.Match[str]]:
    """The words of ``text``, with where they stand in it."""
    return WORD.finditer(text)


def analyse(text: str) -> list[str]:
    """``text`` as the index's terms, in order: what both engines store and what queries are made of.

    No word spans white space, so the text is split there first: most pieces are one word of letters and
    digits, known as such without the pattern (``WORD``'s letters are ``isalnum``'s), which is quicker
    (docs/benchmarks.md)."""
    terms: list[str] = []
    for piece in text.split():
        if piece.isalnum():
            terms += word_terms(piece)
        else:
            for word in WORD.findall(piece):
                terms += word_terms(word)
    return terms


def body_text(body: Iterable[dict[str, Any]]) -> str:
    """The searchable text of an article's body blocks, one line each."""
    return "\n".join(block["text"] for block in body if isinstance(block.get("text"), str))


#: An article's terms: its headline's, its standfirst's and its body's.
SearchTerms = tuple[list[str], list[str], list[str]]


def article_terms(headline: str, standfirst: str | None, body: Iterable[dict[str, Any]]) -> SearchTerms:
    return analyse(headline), analyse(standfirst or ""), analyse(body_text(body))


@dataclass(frozen=True, slots=True)
class IndexDocument:
    """What an article's index row holds, ready for either engine: each field's terms joined by spaces
    (SQLite's columns) and the tsvector literal (PostgreSQL's ``document``). Bulk ingest's workers make it,
    so the one process that writes only sends it."""

    headline: str
    standfirst: str
    body: str
    tsvector: str


def index_document(headline: str, standfirst: str | None, body: Iterable[dict[str, Any]]) -> IndexDocument:
    terms = article_terms(headline, standfirst, body)
    headline_text, standfirst_text, body_text_ = (" ".join(field) for field in terms)
    return IndexDocument(headline_text, standfirst_text, body_text_, tsvector_literal(*terms))


@dataclass(frozen=True, slots=True)
class IndexedArticle:
    """What the index holds of an article."""

    id: int
    headline: str
    standfirst: str | None
    body: list[dict[str, Any]]
    section_id: int
    published_at: datetime
    published: bool
    document: IndexDocument | None = None  # made already (bulk ingest's workers), else made when written


def document_of(article: IndexedArticle) -> IndexDocument:
    if article.document is not None:
        return article.document
    return index_document(article.headline, article.standfirst, article.body)


def tsvector_literal(headline: Sequence[str], standfirst: Sequence[str], body: Sequence[str]) -> str:
    """The terms as PostgreSQL's tsvector input: each with its positions and its field's weight, one
    position left empty between fields. Terms are letters and digits only, so quoting needs no escapes."""
    positions: dict[str, list[str]] = {}
    position = 0
    for terms, weight in ((headline, "A"), (standfirst, "B"), (body, "C")):
        for term in terms:
            position += 1
            at = positions.setdefault(term, [])
            if len(at) < 256:
                at.append(f"{min(position, MAX_POSITION)}{weight}")
        position += 1
    return " ".join(f"'{term}':{','.join(at)}" for term, at in positions.items())


_SQLITE_DELETE = text(f"DELETE FROM {SEARCH_TABLE} WHERE rowid = :id")
_SQLITE_INSERT = text(
    f"INSERT INTO {SEARCH_TABLE} (rowid, headline, standfirst, body) "
    "VALUES (:id, :headline, :standfirst, :body)"
)
_POSTGRES_UPSERT = text(
    f"INSERT INTO {SEARCH_TABLE} (article_id, section_id, published_at, published, document) "
    "SELECT id, section_id, published_at, published, CAST(document AS tsvector) "
    "FROM unnest(CAST(:ids AS integer[]), CAST(:sections AS integer[]), "
    "CAST(:times AS timestamptz[]), CAST(:published AS boolean[]), CAST(:documents AS text[])) "
    "AS written (id, section_id, published_at, published, document) "
    "ON CONFLICT (article_id) DO UPDATE SET section_id = EXCLUDED.section_id, "
    "published_at = EXCLUDED.published_at, published = EXCLUDED.published, document = EXCLUDED.document"
)


def index_writes(dialect: str, articles: Sequence[IndexedArticle]) -> list[tuple[TextClause, Any]]:
    """The statements (with their parameters) that make the index rows of ``articles`` what they hold
    now: a fixed number however many articles, so a batch's writer runs them with its own connection."""
    if not articles:
        return []
    documents = [document_of(article) for article in articles]
    if dialect == "sqlite":
        rows = [
            {"id": article.id, "headline": doc.headline, "standfirst": doc.standfirst, "body": doc.body}
            for article, doc in zip(articles, documents, strict=True)
        ]
        return [(_SQLITE_DELETE, [{"id": article.id} for article in articles]), (_SQLITE_INSERT, rows)]
    return [
        (
            _POSTGRES_UPSERT,
            {
                "ids": [article.id for article in articles],
                "sections": [article.section_id for article in articles],
                "times": [article.published_at for article in articles],
                "published": [article.published for article in articles],
                "documents": [doc.tsvector for doc in documents],
            },
        )
    ]


def is_search_table(name: str | None) -> bool:
    """True for the search index and the shadow tables FTS5 keeps beside it."""
    return name is not None and (name == SEARCH_TABLE or name.startswith(f"{SEARCH_TABLE}_"))

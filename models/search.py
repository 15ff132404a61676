"""The full-text search index: storage each database does best, kept in sync by the database itself.

It is not a SQLModel table because its shape differs by backend (see migrations/versions/0002):

- SQLite: ``article_search``, an FTS5 table (headline, standfirst, body; rowid = article id) with the
  porter stemmer, filled by triggers on ``article``.
- PostgreSQL: ``article_search`` (article_id, section_id, published_at, document tsvector with weights A
  headline, B standfirst, C body) with a GIN index, filled by a trigger on ``article``; and
  ``headline_words`` and ``lead_words``, generated from the document: its headline's and its headline's
  and standfirst's lexemes, each GIN-indexed, which relevance ranks by (migration 0007).

Only published articles are indexed. Triggers rather than application code keep it in sync, so every
writer (ingest, re-extraction, the benchmark generator, an operator's SQL) updates it.
"""

from __future__ import annotations

SEARCH_TABLE = "article_search"


def is_search_table(name: str | None) -> bool:
    """True for the search index and the shadow tables FTS5 keeps beside it."""
    return name is not None and (name == SEARCH_TABLE or name.startswith(f"{SEARCH_TABLE}_"))

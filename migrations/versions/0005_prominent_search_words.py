"""Index, per article, the words that stand out in it, so a one-word search need not rank every match.

``ts_rank`` scores a one-word query from where that word stands in the document alone. The document puts
the headline (weight A) first, then the standfirst (B), then the body (C), so a word the body uses once and
nowhere else scores exactly the same in every article: the lowest score a match can have. Every other match,
with the word in the headline or standfirst or used more than once, scores higher. ``prominent`` holds
those other words of each article (lexemes only), GIN-indexed. A one-word search ranks only the articles
where the word is prominent, and takes the rest, which all tie at the lowest score, newest id first from
the primary key: the same order as ranking every match, without reading the 20,000 documents of a word in
2% of a million articles (80 ms; the plans are in docs/benchmarks.md).

A generated column, so every writer of ``article_search`` (the trigger, bulk loaders) fills it. SQLite's
FTS5 search is unchanged.

Reading the rest newest first suits a common word; a rare one is cheaper found through the GIN index and
sorted, and PostgreSQL chooses by its estimate of the word's matches. With the default statistics target
(100) it knows the words in more than about 0.7% of articles and takes any other for 0.33% (3,300 at 1M), so
it read the whole primary key backwards for a word in 20 articles (2.4 s). At 1,000 it knows the words in
more than about 0.07% and takes the rest for 0.03%: estimates near the truth, the GIN index for rare words
(0.3 ms). ANALYZE then samples 300,000 rows (6 s at 1M).

Revision ID: 7b1e4c9d2a65
Revises: 3d8a6f1c2e90
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7b1e4c9d2a65"
down_revision: str | None = "3d8a6f1c2e90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UP = [
    """CREATE FUNCTION article_search_prominent(document tsvector)
        RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT coalesce(array_to_tsvector(array_agg(word.lexeme)), ''::tsvector)
        FROM unnest(document) AS word (lexeme, positions, weights)
        WHERE NOT (cardinality(word.positions) = 1 AND word.weights = '{C}'::text[])
    $$""",
    "ALTER TABLE article_search ADD COLUMN prominent tsvector NOT NULL "
    "GENERATED ALWAYS AS (article_search_prominent(document)) STORED",
    "CREATE INDEX ix_article_search_prominent ON article_search USING gin (prominent)",
    "ALTER TABLE article_search ALTER COLUMN document SET STATISTICS 1000",
    "ALTER TABLE article_search ALTER COLUMN prominent SET STATISTICS 1000",
    "ANALYZE article_search",
]
DOWN = [
    "ALTER TABLE article_search ALTER COLUMN document SET STATISTICS -1",
    "ALTER TABLE article_search DROP COLUMN prominent",
    "DROP FUNCTION article_search_prominent(tsvector)",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DOWN:
            op.execute(statement)

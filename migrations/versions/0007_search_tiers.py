"""Rank search hits by where their words are, each tier read newest first from its own GIN index.

Ranking by ``ts_rank`` scores every match before the first page can be cut, so a word in most articles
cost most of the archive: ``minister`` (in 596,207 of 1,000,000 articles, prominent in 235,991) took 1.3 s
even with 0005's split, on two cores. Search now ranks as WordPress does: every word the query looks for
in the headline, then in the headline or standfirst, then the rest, each tier newest id first
(resolvers/search.py). ``headline_words`` and ``lead_words`` are the document's headline (weight A) and
headline and standfirst (A, B) lexemes with their positions, so phrases work in them too; their GIN
indexes find a tier's rare words, and a tier's common words are read newest first from the primary key.
The lexemes and positions come from the document itself (``ts_filter``), so they cannot drift from it.

``prominent`` (0005) served the old ranking alone and goes, with its index and function: it cost each
written article about 75 us of PostgreSQL's time, more than the two new columns (``ts_filter`` in C).

Adding stored generated columns rewrites ``article_search`` under an exclusive lock: 100 s for 1,000,000
articles on the benchmark machine, and 8 s more for the indexes, during which searches wait. Run it when
the archive is quiet.

Revision ID: 9d4e2b7c1f38
Revises: 5c2f7a9e4b13
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9d4e2b7c1f38"
down_revision: str | None = "5c2f7a9e4b13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UP = [
    "ALTER TABLE article_search DROP COLUMN prominent",
    "DROP FUNCTION article_search_prominent(tsvector)",
    "ALTER TABLE article_search "
    "ADD COLUMN headline_words tsvector NOT NULL GENERATED ALWAYS AS (ts_filter(document, '{a}')) STORED, "
    "ADD COLUMN lead_words tsvector NOT NULL GENERATED ALWAYS AS (ts_filter(document, '{a,b}')) STORED",
    "CREATE INDEX ix_article_search_headline_words ON article_search USING gin (headline_words)",
    "CREATE INDEX ix_article_search_lead_words ON article_search USING gin (lead_words)",
    # As for the document (0005): estimates good enough to tell a rare word from a common one.
    "ALTER TABLE article_search ALTER COLUMN headline_words SET STATISTICS 1000",
    "ALTER TABLE article_search ALTER COLUMN lead_words SET STATISTICS 1000",
    "ANALYZE article_search",
]
DOWN = [
    "ALTER TABLE article_search DROP COLUMN lead_words, DROP COLUMN headline_words",
    # 0005's prominent words, as they were.
    """CREATE FUNCTION article_search_prominent(document tsvector)
        RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT coalesce(array_to_tsvector(array_agg(word.lexeme)), ''::tsvector)
        FROM unnest(document) AS word (lexeme, positions, weights)
        WHERE NOT (cardinality(word.positions) = 1 AND word.weights = '{C}'::text[])
    $$""",
    "ALTER TABLE article_search ADD COLUMN prominent tsvector NOT NULL "
    "GENERATED ALWAYS AS (article_search_prominent(document)) STORED",
    "CREATE INDEX ix_article_search_prominent ON article_search USING gin (prominent)",
    "ALTER TABLE article_search ALTER COLUMN prominent SET STATISTICS 1000",
    "ANALYZE article_search",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DOWN:
            op.execute(statement)

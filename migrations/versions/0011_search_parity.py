"""One search language, one answer: both engines index the terms of Broadsheet's own analyzer.

SQLite (FTS5's porter stemmer and unicode61 tokenizer) and PostgreSQL (its parser, Snowball stemmer and
English stop words) answered the same query differently: ``the`` found nothing on PostgreSQL, ``Sofia``
found "Sofía" only on SQLite, ``ab*`` matched different words. Now ``models.search.analyse`` decides the
terms, in Python, for the index and for queries, and each engine stores them without analysing them again:

- SQLite: ``article_search`` is rebuilt as an FTS5 table of terms with the ``ascii`` tokenizer; its insert
  and update triggers go (they could not call the analyzer); the delete trigger stays.
- PostgreSQL: ``document`` is written by the writers as a tsvector literal; ``article_search_document``
  and the insert trigger go. Every article gets a row, with ``published`` beside section and time, which
  the update trigger now keeps in step with ``article``, so an article unpublished and published again in
  SQL is found as before without being analysed again.

The index is rebuilt in batches of articles analysed in Python, under the migration's transaction: 38 s for
100,000 articles of the benchmark archive (19 s of it Python), so about six minutes per million.
Downgrade restores the index and triggers as 0008 left them and rebuilds the index in SQL.

Revision ID: 0011_search_parity
Revises: 6b3d9f2a8c41
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.search import IndexedArticle, index_writes

revision: str = "0011_search_parity"
down_revision: str | None = "6b3d9f2a8c41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000

SQLITE_UP = [
    "DROP TRIGGER article_search_insert",
    "DROP TRIGGER article_search_update",
    "DROP TRIGGER article_search_delete",
    "DROP TABLE article_search",
    "CREATE VIRTUAL TABLE article_search USING fts5(headline, standfirst, body, tokenize = 'ascii')",
    """CREATE TRIGGER article_search_delete AFTER DELETE ON article BEGIN
        DELETE FROM article_search WHERE rowid = old.id;
    END""",
]
POSTGRESQL_UP = [
    "DROP TRIGGER article_search_inserted ON article",
    "DROP TRIGGER article_search_updated ON article",
    "DROP FUNCTION article_search_inserted()",
    "DROP FUNCTION article_search_updated()",
    "DROP FUNCTION article_search_document(text, text, jsonb)",
    "TRUNCATE article_search",
    "ALTER TABLE article_search ADD COLUMN published boolean NOT NULL",
    # Documents without stop words are a fifth longer (1.9 kB against 1.6 kB on the benchmark archive), past
    # the 2 kB at which PostgreSQL moves a row's longest value out of line: a common word's body tier, which
    # reads documents one by one newest first, then read three pages per row instead of one (2.3 ms against
    # 1.2 ms at 100,000 articles). Rows up to half a page stay whole.
    "ALTER TABLE article_search SET (toast_tuple_target = 4080)",
    # What an operator's UPDATE of status, section or time changes, the index row follows.
    """CREATE FUNCTION article_search_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE article_search AS search
        SET section_id = article.section_id, published_at = article.published_at,
            published = article.status = 'published'
        FROM after_update AS article
        JOIN before_update AS previous ON previous.id = article.id
        WHERE search.article_id = article.id
          AND (article.status, article.section_id, article.published_at)
              IS DISTINCT FROM (previous.status, previous.section_id, previous.published_at);
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER article_search_updated AFTER UPDATE ON article
        REFERENCING OLD TABLE AS before_update NEW TABLE AS after_update
        FOR EACH STATEMENT EXECUTE FUNCTION article_search_updated()""",
]
POSTGRESQL_FINISH = ["ANALYZE article_search"]

# The index as 0008 left it: 0002's FTS5 table and triggers on SQLite; on PostgreSQL 0002's document
# function and 0006's statement triggers.
_SQLITE_BODY_TEXT = (
    "(SELECT coalesce(group_concat(json_extract(value, '$.text'), char(10)), '') "
    "FROM json_each({row}.body) WHERE json_extract(value, '$.text') IS NOT NULL)"
)
_SQLITE_INDEX_ROW = (
    "INSERT INTO article_search (rowid, headline, standfirst, body) "
    "SELECT new.id, new.headline, coalesce(new.standfirst, ''), " + _SQLITE_BODY_TEXT.format(row="new")
)
SQLITE_DOWN = [
    "DROP TRIGGER article_search_delete",
    "DROP TABLE article_search",
    "CREATE VIRTUAL TABLE article_search USING fts5("
    "headline, standfirst, body, tokenize = 'porter unicode61 remove_diacritics 2')",
    f"""CREATE TRIGGER article_search_insert AFTER INSERT ON article WHEN new.status = 'published' BEGIN
        {_SQLITE_INDEX_ROW};
    END""",
    f"""CREATE TRIGGER article_search_update
        AFTER UPDATE OF headline, standfirst, body, status ON article BEGIN
        DELETE FROM article_search WHERE rowid = old.id;
        {_SQLITE_INDEX_ROW} WHERE new.status = 'published';
    END""",
    """CREATE TRIGGER article_search_delete AFTER DELETE ON article BEGIN
        DELETE FROM article_search WHERE rowid = old.id;
    END""",
    "INSERT INTO article_search (rowid, headline, standfirst, body) "
    "SELECT article.id, headline, coalesce(standfirst, ''), "
    + _SQLITE_BODY_TEXT.format(row="article")
    + " FROM article WHERE status = 'published'",
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER article_search_updated ON article",
    "DROP FUNCTION article_search_updated()",
    "DELETE FROM article_search WHERE NOT published",
    "ALTER TABLE article_search RESET (toast_tuple_target)",
    "ALTER TABLE article_search DROP COLUMN published",
    """CREATE FUNCTION article_search_document(headline text, standfirst text, body jsonb)
        RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT setweight(to_tsvector('english'::regconfig, headline), 'A')
            || setweight(to_tsvector('english'::regconfig, coalesce(standfirst, '')), 'B')
            || setweight(to_tsvector('english'::regconfig, jsonb_path_query_array(body, '$[*].text')), 'C')
    $$""",
    "UPDATE article_search AS search "
    "SET document = article_search_document(article.headline, article.standfirst, article.body) "
    "FROM article WHERE article.id = search.article_id",
    """CREATE FUNCTION article_search_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO article_search (article_id, section_id, published_at, document)
        SELECT id, section_id, published_at, article_search_document(headline, standfirst, body)
        FROM inserted
        WHERE status = 'published';
        RETURN NULL;
    END
    $$""",
    """CREATE FUNCTION article_search_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM article_search AS search
        USING after_update AS article
        WHERE search.article_id = article.id AND article.status <> 'published';
        INSERT INTO article_search (article_id, section_id, published_at, document)
        SELECT article.id, article.section_id, article.published_at,
               article_search_document(article.headline, article.standfirst, article.body)
        FROM after_update AS article
        JOIN before_update AS previous ON previous.id = article.id
        WHERE article.status = 'published'
          AND (article.headline, article.standfirst, article.body, article.status, article.section_id,
               article.published_at)
              IS DISTINCT FROM (previous.headline, previous.standfirst, previous.body, previous.status,
                                previous.section_id, previous.published_at)
        ON CONFLICT (article_id) DO UPDATE SET
            section_id = EXCLUDED.section_id,
            published_at = EXCLUDED.published_at,
            document = EXCLUDED.document;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER article_search_inserted AFTER INSERT ON article
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION article_search_inserted()""",
    """CREATE TRIGGER article_search_updated AFTER UPDATE ON article
        REFERENCING OLD TABLE AS before_update NEW TABLE AS after_update
        FOR EACH STATEMENT EXECUTE FUNCTION article_search_updated()""",
    "ANALYZE article_search",
]

_article = sa.table(
    "article",
    sa.column("id", sa.Integer()),
    sa.column("headline", sa.String()),
    sa.column("standfirst", sa.String()),
    sa.column("body", sa.JSON()),
    sa.column("section_id", sa.Integer()),
    sa.column("published_at", sa.DateTime(timezone=True)),
    sa.column("status", sa.String()),
)


def _index_every_article() -> None:
    """Analyse the archive in id order, BATCH articles at a time, and write their index rows."""
    bind = op.get_bind()
    after = 0
    while True:
        rows = bind.execute(
            sa.select(_article).where(_article.c.id > after).order_by(_article.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        articles = [
            IndexedArticle(
                row.id,
                row.headline,
                row.standfirst,
                row.body,
                row.section_id,
                row.published_at,
                row.status == "published",
            )
            for row in rows
        ]
        for statement, parameters in index_writes(bind.dialect.name, articles):
            bind.execute(statement, parameters)
        after = rows[-1].id


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_UP if postgres else SQLITE_UP:
        op.execute(statement)
    _index_every_article()
    if postgres:
        for statement in POSTGRESQL_FINISH:
            op.execute(statement)


def downgrade() -> None:
    for statement in POSTGRESQL_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN:
        op.execute(statement)

"""Full-text search, mention keys for entity pages, and content hashes for resumable bulk ingest.

- ``article_search``: SQLite FTS5 or PostgreSQL tsvector + GIN, kept in sync by triggers (models/search.py).
- ``mention.published_at``: the article's publication time on each mention, so an entity's articles are
  read in order straight from an index (``ix_mention_entity_published``; by prominence
  ``ix_mention_entity_salience``) instead of sorting every article that mentions a famous name.
- ``article.content_hash``: what a bulk ingest compares to skip articles it already stored unchanged.

Revision ID: 5b1f0c9e2d4a
Revises: cda191ee2c41
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "5b1f0c9e2d4a"
down_revision: str | None = "cda191ee2c41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_BODY_TEXT = (
    "(SELECT coalesce(group_concat(json_extract(value, '$.text'), char(10)), '') "
    "FROM json_each({row}.body) WHERE json_extract(value, '$.text') IS NOT NULL)"
)
_SQLITE_INDEX_ROW = (
    "INSERT INTO article_search (rowid, headline, standfirst, body) "
    "SELECT new.id, new.headline, coalesce(new.standfirst, ''), " + _SQLITE_BODY_TEXT.format(row="new")
)

SQLITE_UP = [
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
SQLITE_DOWN = [
    "DROP TRIGGER article_search_delete",
    "DROP TRIGGER article_search_update",
    "DROP TRIGGER article_search_insert",
    "DROP TABLE article_search",
]

POSTGRESQL_UP = [
    # One definition of the document, used by the trigger and by bulk loaders alike.
    """CREATE FUNCTION article_search_document(headline text, standfirst text, body jsonb)
        RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT setweight(to_tsvector('english'::regconfig, headline), 'A')
            || setweight(to_tsvector('english'::regconfig, coalesce(standfirst, '')), 'B')
            || setweight(to_tsvector('english'::regconfig, jsonb_path_query_array(body, '$[*].text')), 'C')
    $$""",
    """CREATE TABLE article_search (
        article_id integer PRIMARY KEY REFERENCES article (id) ON DELETE CASCADE,
        section_id integer NOT NULL,
        published_at timestamptz NOT NULL,
        document tsvector NOT NULL
    )""",
    "CREATE INDEX ix_article_search_document ON article_search USING gin (document)",
    "CREATE INDEX ix_article_search_published ON article_search (published_at, article_id)",
    """CREATE FUNCTION article_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.status <> 'published' THEN
            DELETE FROM article_search WHERE article_id = NEW.id;
            RETURN NULL;
        END IF;
        INSERT INTO article_search (article_id, section_id, published_at, document)
        VALUES (NEW.id, NEW.section_id, NEW.published_at,
                article_search_document(NEW.headline, NEW.standfirst, NEW.body))
        ON CONFLICT (article_id) DO UPDATE SET
            section_id = EXCLUDED.section_id,
            published_at = EXCLUDED.published_at,
            document = EXCLUDED.document;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER article_search_sync
        AFTER INSERT OR UPDATE OF headline, standfirst, body, status, section_id, published_at ON article
        FOR EACH ROW EXECUTE FUNCTION article_search_sync()""",
    "INSERT INTO article_search (article_id, section_id, published_at, document) "
    "SELECT id, section_id, published_at, article_search_document(headline, standfirst, body) "
    "FROM article WHERE status = 'published'",
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER article_search_sync ON article",
    "DROP FUNCTION article_search_sync()",
    "DROP TABLE article_search",
    "DROP FUNCTION article_search_document(text, text, jsonb)",
]


def upgrade() -> None:
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))

    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_at", models.types.UTCDateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE mention SET published_at = "
        "(SELECT published_at FROM article WHERE article.id = mention.article_id)"
    )
    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.alter_column(
            "published_at", existing_type=models.types.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.drop_index("ix_mention_entity_article")
        batch_op.create_index(
            "ix_mention_entity_published", ["entity_id", "published_at", "article_id"], unique=False
        )
        batch_op.create_index(
            "ix_mention_entity_salience",
            ["entity_id", "salience", "published_at", "article_id"],
            unique=False,
        )

    for statement in SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_DOWN:
        op.execute(statement)

    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.drop_index("ix_mention_entity_salience")
        batch_op.drop_index("ix_mention_entity_published")
        batch_op.create_index("ix_mention_entity_article", ["entity_id", "article_id"], unique=False)
        batch_op.drop_column("published_at")

    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_column("content_hash")

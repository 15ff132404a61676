"""Keep ``article_search`` in sync once per statement, not once per row.

The row trigger of 0002 ran a PL/pgSQL function for every article written: an ``INSERT ... ON CONFLICT``
through SPI per row, with ``prominent`` (a SQL function that cannot be inlined) planned afresh each time.
A bulk ingest writes 500 articles per statement, so that bookkeeping was most of the trigger's cost beyond
``to_tsvector`` itself: 20,000 archive articles inserted in one statement took 8.2 s with the row trigger
and 6.5 s with these (PostgreSQL CPU, the benchmark's archive, 2026-12-02).

Statement triggers see the rows a statement wrote as transition tables. PostgreSQL allows those only on a
trigger with one event and no column list, so there are two, and the update trigger itself compares old
and new rows: only articles whose indexed columns (headline, standfirst, body, status, section, time) really
changed are indexed again, and articles no longer published leave the index. Deleting an article removes
its row through the foreign key's ``ON DELETE CASCADE``, as before. SQLite keeps its row triggers (0002).

Revision ID: 5c2f7a9e4b13
Revises: 7b1e4c9d2a65
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5c2f7a9e4b13"
down_revision: str | None = "7b1e4c9d2a65"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UP = [
    "DROP TRIGGER article_search_sync ON article",
    "DROP FUNCTION article_search_sync()",
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
]
DOWN = [
    "DROP TRIGGER article_search_updated ON article",
    "DROP TRIGGER article_search_inserted ON article",
    "DROP FUNCTION article_search_updated()",
    "DROP FUNCTION article_search_inserted()",
    # 0002's row trigger, as it was.
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
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DOWN:
            op.execute(statement)

"""Tell listening servers at once that content changed: a notification on every write to a content table.

Each statement that writes ``section``, ``article``, ``entity``, ``entity_alias`` or ``mention`` calls
``pg_notify('broadsheet_changes', <table>)``, which PostgreSQL delivers when the transaction commits, once
per table however many statements wrote it (models/changes.py). Statement-level triggers, so a batch of 500
articles costs one call. SQLite needs nothing: servers there ask ``PRAGMA data_version``.

Revision ID: 4f7a2c9e1b05
Revises: 2538ee7b0a1f
"""

from collections.abc import Sequence

from alembic import op

revision: str = "4f7a2c9e1b05"
down_revision: str | None = "2538ee7b0a1f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("section", "article", "entity", "entity_alias", "mention")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION broadsheet_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('broadsheet_changes', TG_TABLE_NAME);
            RETURN NULL;
        END
        $$
    """)
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION broadsheet_notify_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_notify_change ON {table}")
    op.execute("DROP FUNCTION broadsheet_notify_change()")

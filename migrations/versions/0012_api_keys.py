"""API keys: a table of partner keys (hashes only) and the secret they are hashed with (models/api_keys.py).

The hashing secret is one random row, written here from the operating system's random source, so each
database has its own and nothing needs configuring. On PostgreSQL a change to what a key may do (created,
rotated, revoked, its scopes or limits) notifies the servers as 0009's triggers do, so a server that keeps
keys in memory drops a revoked key at once; a server recording when a key was last used does not.

Revision ID: 0012_api_keys
Revises: 0011_search_parity
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import models.types

revision: str = "0012_api_keys"
down_revision: str | None = "0011_search_parity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The columns whose change alters what a presented key may do (not ``last_used_at``).
NOTIFYING_COLUMNS = (
    "name, key_hash, previous_hash, previous_until, scopes, rate_amount, rate_seconds, cost_amount, "
    "cost_seconds, persisted_only, revoked_at"
)


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("previous_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("previous_until", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("rate_amount", sa.Integer(), nullable=True),
        sa.Column("rate_seconds", sa.Integer(), nullable=True),
        sa.Column("cost_amount", sa.Integer(), nullable=True),
        sa.Column("cost_seconds", sa.Integer(), nullable=True),
        sa.Column("persisted_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_previous_hash"), ["previous_hash"], unique=False)
    secret = op.create_table(
        "api_key_secret",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(secret, [{"id": 1, "secret": secrets.token_hex(32)}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER api_key_notify_change AFTER INSERT OR UPDATE OF {NOTIFYING_COLUMNS} "
            "OR DELETE OR TRUNCATE ON api_key FOR EACH STATEMENT EXECUTE FUNCTION broadsheet_notify_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER api_key_notify_change ON api_key")
    op.drop_table("api_key_secret")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_previous_hash"))
    op.drop_table("api_key")

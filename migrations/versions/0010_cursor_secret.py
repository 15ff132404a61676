"""The cursor secret: one random value that every server process on this database signs cursors with.

Cursors carry a MAC of the list they belong to (graph/relay.py). Its key lives in the database so that
servers on every host behind a load balancer, and after every restart, agree on it with nothing to
configure; each database gets its own, written here from the operating system's random source.

Revision ID: 6b3d9f2a8c41
Revises: 4f7a2c9e1b05
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "6b3d9f2a8c41"
down_revision: str | None = "4f7a2c9e1b05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "cursor_secret",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(table, [{"id": 1, "secret": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table("cursor_secret")

"""Persisted documents: trusted documents loaded from manifests, and automatic persisted queries kept in the
database when the server has no Redis (models/persisted_documents.py).

No change notification: the servers keep only what a hash names (a document never changes under its hash),
and a trusted document is never taken back by the server, so there is nothing to drop on a change.

Revision ID: 0013_persisted_documents
Revises: 0012_api_keys
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision: str = "0013_persisted_documents"
down_revision: str | None = "0012_api_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "persisted_document",
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    with op.batch_alter_table("persisted_document", schema=None) as batch_op:
        batch_op.create_index(
            "ix_persisted_document_trusted_created_at", ["trusted", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("persisted_document", schema=None) as batch_op:
        batch_op.drop_index("ix_persisted_document_trusted_created_at")
    op.drop_table("persisted_document")

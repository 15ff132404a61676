"""Sections, articles, entities, aliases and mentions: the first schema.

Revision ID: cda191ee2c41
Revises:
Create Date: 2026-11-26 00:49:52.822963
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import models.types

revision: str = "cda191ee2c41"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "entity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("wikidata_id", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    with op.batch_alter_table("entity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entity_kind"), ["kind"], unique=False)

    op.create_table(
        "section",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["section.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("parent_id", "slug", name="uq_section_parent_slug"),
        sa.UniqueConstraint("path"),
    )
    with op.batch_alter_table("section", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_section_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("headline", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("standfirst", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("published_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source_format", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("canonical_url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column(
            "authors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["section.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("canonical_url"),
        sa.UniqueConstraint("slug"),
        sa.UniqueConstraint("source_id"),
    )
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.create_index(
            "ix_article_section_published", ["section_id", "published_at", "id"], unique=False
        )
        batch_op.create_index("ix_article_status_published", ["status", "published_at", "id"], unique=False)

    op.create_table(
        "entity_alias",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("alias", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("normalized", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["entity.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entity_id", "normalized", name="uq_entity_alias_entity_normalized"),
    )
    with op.batch_alter_table("entity_alias", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entity_alias_normalized"), ["normalized"], unique=False)

    op.create_table(
        "mention",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_position", sa.Integer(), nullable=False),
        sa.Column("salience", sa.Float(), nullable=False),
        sa.Column(
            "locations",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entity_id"], ["entity.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("article_id", "entity_id", name="uq_mention_article_entity"),
    )
    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.create_index("ix_mention_entity_article", ["entity_id", "article_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.drop_index("ix_mention_entity_article")

    op.drop_table("mention")
    with op.batch_alter_table("entity_alias", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entity_alias_normalized"))

    op.drop_table("entity_alias")
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_index("ix_article_status_published")
        batch_op.drop_index("ix_article_section_published")

    op.drop_table("article")
    with op.batch_alter_table("section", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_section_parent_id"))

    op.drop_table("section")
    with op.batch_alter_table("entity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entity_kind"))

    op.drop_table("entity")

"""Section pages read their keys from an index of published articles only.

A section page at any depth takes, for each section of the subtree, the next 21 articles from
``(section_id, published_at, id)``, and keeps the newest 21 of them all. With ``status`` out of the index,
every one of those rows (252 for the twelve sections of Sport) had to be fetched from the table to check it
was published, and the rows of an old page are rarely in memory: at 1,000,000 articles page 10,000 read 185
table pages from disk. Indexing only published articles answers the keys from the index alone (an
index-only scan); the table is read for the 21 articles shown.

Revision ID: 3d8a6f1c2e90
Revises: 9c2e71d4b8f3
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d8a6f1c2e90"
down_revision: str | None = "9c2e71d4b8f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PUBLISHED = sa.text("status = 'published'")


def upgrade() -> None:
    op.create_index(
        "ix_article_published_section",
        "article",
        ["section_id", "published_at", "id"],
        postgresql_where=PUBLISHED,
        sqlite_where=PUBLISHED,
    )
    op.drop_index("ix_article_section_published", table_name="article")


def downgrade() -> None:
    op.create_index("ix_article_section_published", "article", ["section_id", "published_at", "id"])
    op.drop_index("ix_article_published_section", table_name="article")

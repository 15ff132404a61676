"""Persisted documents: GraphQL documents a client runs by their SHA-256 hash instead of sending the text.

Two kinds share the table. *Trusted* documents are configuration: loaded by an operator from a build's
manifest (`broadsheet documents add`), the only ones a key created with ``--persisted-only`` may run, and
never removed by the server. *Automatic* ones (Apollo's automatic persisted queries) are a cache that any
client fills by sending a document with its hash; they are kept here only when the server has no Redis, and
then the oldest beyond a count are dropped, so registration is not an unbounded write path.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class PersistedDocument(SQLModel, table=True):
    """One document by its hash: ``sha256`` is the lowercase hex SHA-256 of ``document``'s UTF-8 bytes."""

    __tablename__ = "persisted_document"
    # The automatic documents, newest first: which to drop when there are too many.
    __table_args__ = (Index("ix_persisted_document_trusted_created_at", "trusted", "created_at"),)

    sha256: str = Field(primary_key=True, max_length=64)
    document: str = Field(sa_type=Text)
    trusted: bool = False
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs={"default": utcnow}
    )

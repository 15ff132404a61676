"""SQLModel tables and the database engine. Importing this package registers every table."""

from sqlmodel import SQLModel

from models.api_keys import ApiKey, ApiKeySecret
from models.articles import Article, ArticleStatus
from models.cursor_secret import CursorSecret
from models.entities import Entity, EntityAlias, EntityKind
from models.mentions import Mention, TextField
from models.persisted_documents import PersistedDocument
from models.sections import ROOT_PATH, Section

metadata = SQLModel.metadata

__all__ = [
    "ROOT_PATH",
    "ApiKey",
    "ApiKeySecret",
    "Article",
    "ArticleStatus",
    "CursorSecret",
    "Entity",
    "EntityAlias",
    "EntityKind",
    "Mention",
    "PersistedDocument",
    "Section",
    "TextField",
    "metadata",
]

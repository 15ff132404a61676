"""Mention types: what an article says about an entity, and where."""

from __future__ import annotations

from typing import Any

import strawberry

from graph.entities import EntityNode
from graph.execution import PURE
from models import TextField

strawberry.enum(TextField, name="ArticleTextField", description="A part of an article's text.")


@strawberry.type(description="Where one mention stands in the article's text.")
class MentionLocation:
    field: TextField = strawberry.field(description="Headline, standfirst or body.")
    block: int | None = strawberry.field(description="Index into `body` for body mentions; null otherwise.")
    start: int = strawberry.field(description="Offset of the first character, in that text.")
    end: int = strawberry.field(description="Offset just past the last character.")


@strawberry.type(name="Mention", description="An entity as one article mentions it.")
class MentionNode:
    entity: EntityNode = strawberry.field(description="Who or what is mentioned.")
    role: str | None = strawberry.field(
        description='The role or title the article gives ("Deputy Defence Minister"); null if none.'
    )
    count: int = strawberry.field(description="How many times the article mentions it.")
    salience: float = strawberry.field(
        description="How central it is to the article, 0 to 1; lists are ordered by it."
    )
    raw_locations: strawberry.Private[list[list[Any]]]

    @strawberry.field(description="Every place the article mentions it, in reading order.", metadata=PURE)
    def locations(self) -> list[MentionLocation]:
        return [
            MentionLocation(field=TextField(field), block=block, start=start, end=end)
            for field, block, start, end in self.raw_locations
        ]

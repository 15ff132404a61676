"""What a key's scopes let it do, enforced in the schema as Strawberry documents it: permission classes on
the fields (``PermissionExtension``), never checks inside resolvers.

- ``read``: every root field that serves content carries ``RequireScope(KeyScope.READ)``. Anonymous requests
  (let in when ``BROADSHEET_REQUIRE_API_KEY`` is false) may read published content; a key without ``read``
  gets a ``FORBIDDEN`` error on each such field it asks for (the field is null, or the whole data when the
  field is non-null), whatever else it may do.
- ``drafts``: a list's ``includeDrafts: true`` carries ``DraftsWhenAsked``: refused with ``FORBIDDEN``
  without the scope, so a client knows its key is wrong rather than seeing an empty preview. Lookups by
  slug or id (``article(slug:)``, ``node(id:)``) find a draft only for a key with the scope
  (``Context.may``), and are null otherwise, as for a slug that names nothing: whether an unpublished
  story exists is itself news. So are the names only drafts hold: an entity no published article mentions
  and a section no published article is filed in or below are treated as drafts are (lookups by slug,
  path or id, and the ``mentioning`` and ``section`` filters, find them only with the scope; the entity
  and section lists and a section's ``children`` add them only with ``includeDrafts: true``), the
  condition applied where they are read (resolvers/entities.py, resolvers/sections.py).
- ``write``: ``RequireScope(KeyScope.WRITE)`` is ready for the mutations to come.

The fast executor (graph/execution.py) runs any field with a field extension on Strawberry's own road, so
a denied field is denied there as stock Strawberry denies it.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLErrorExtensions
from strawberry.permission import BasePermission
from strawberry.schema_directive import Location

from graph.context import get_context
from graph.errors import ErrorCode
from models.api_keys import KeyScope

_FORBIDDEN: GraphQLErrorExtensions = {"code": ErrorCode.FORBIDDEN.value}


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="requiresScope",
    repeatable=True,
    description=(
        "The API key scope this field needs (anonymous requests have `read` only); with `argument`, only "
        "when that argument is true. Without it: a FORBIDDEN error."
    ),
)
class RequiresScope:
    scope: str = strawberry.field(description="read, drafts or write.")
    argument: str | None = strawberry.field(
        description="The argument that asks for it, if only that does.", default=strawberry.UNSET
    )


class RequireScope(BasePermission):
    """The request's key must have ``scope`` (anonymous requests have ``read`` only)."""

    error_extensions = _FORBIDDEN

    def __init__(self, scope: KeyScope) -> None:
        self.scope = scope
        self.message = f"This field needs an API key with the `{scope.value}` scope"

    @property
    def schema_directive(self) -> object:
        return RequiresScope(scope=self.scope.value)

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return get_context(info).may(self.scope)


class DraftsWhenAsked(BasePermission):
    """``includeDrafts: true`` needs a key with the ``drafts`` scope; false (the default) needs nothing."""

    error_extensions = _FORBIDDEN
    message = "includeDrafts: drafts need an API key with the `drafts` scope"

    @property
    def schema_directive(self) -> object:
        return RequiresScope(scope=KeyScope.DRAFTS.value, argument="includeDrafts")

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return not kwargs.get("include_drafts") or get_context(info).may(KeyScope.DRAFTS)


#: The description every `includeDrafts` argument of an article list has.
INCLUDE_DRAFTS = (
    "Also unpublished articles (`status: DRAFT`), in the same order: needs an API key with the `drafts` "
    "scope (FORBIDDEN otherwise)."
)
#: The same argument's, on lists of sections and of entities: the names only drafts hold.
INCLUDE_DRAFT_SECTIONS = (
    "Also sections no published article is filed in or below (made for drafts, or emptied), in the same "
    "order: needs an API key with the `drafts` scope (FORBIDDEN otherwise)."
)
INCLUDE_DRAFT_ENTITIES = (
    "Also entities no published article mentions (only drafts do), in the same order: needs an API key "
    "with the `drafts` scope (FORBIDDEN otherwise)."
)

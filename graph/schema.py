"""The schema: root queries, safety limits and caches."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Annotated, Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.permission import PermissionExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from broadsheet.settings import Settings
from graph.articles import (
    AdSlot,
    ArticleConnection,
    ArticleNode,
    ArticleOrder,
    Paragraph,
    Subheading,
    article_by_slug,
    article_connection,
    article_node,
    require,
)
from graph.context import get_context
from graph.cost import QueryCost
from graph.entities import EntityConnection, EntityKind, EntityNode, entity_connection, entity_node
from graph.errors import ClientError, ErrorCode, ValidationErrorCodes, error_code, present
from graph.execution import FastExecutionContext
from graph.filters import FilterArguments, FilterArgumentsExtension, article_filters
from graph.relay import Node, parse_global_id
from graph.scopes import (
    INCLUDE_DRAFT_ENTITIES,
    INCLUDE_DRAFT_SECTIONS,
    INCLUDE_DRAFTS,
    DraftsWhenAsked,
    RequireScope,
)
from graph.search import SearchConnection, SearchOrder, search_connection
from graph.sections import SectionNode, listed_sections, section_by_path, shown_section
from models.api_keys import KeyScope

log = logging.getLogger("broadsheet.graphql")

# Arguments `articles` and `search` share besides their filters (graph.filters), described once.
FirstArgument = Annotated[int, strawberry.argument(description="Page size, 1 to 100.")]
AfterArgument = Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")]
IncludeDraftsArgument = Annotated[bool, strawberry.argument(description=INCLUDE_DRAFTS)]

#: What every root field serving content has: the `read` scope (graph/scopes.py). One instance for them all:
#: it holds no state of a request.
READ = PermissionExtension([RequireScope(KeyScope.READ)])


#: The types `node(id:)` fetches.
NODE_TYPES = frozenset({"Article", "Entity", "Section"})


@strawberry.type(description="Read the newsroom's articles, sections and the entities they mention.")
class Query:
    @strawberry.field(
        description=(
            "Any object by its global id (Relay). A draft article, an entity only drafts mention and a "
            "section no published article is filed in or below are found only with an API key with the "
            "`drafts` scope, and are null otherwise, as for an id that names nothing."
        ),
        extensions=[READ],
    )
    async def node(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> Node | None:
        type_name, key = parse_global_id(id)
        if type_name not in NODE_TYPES:
            raise ClientError(f"id: {id!r} is not a Broadsheet id")
        if key is None:  # past what an id column holds: no row has it
            return None
        context = get_context(info)
        if type_name == "Article":
            return await article_node(info, await context.article_by_id.load(key))
        if type_name == "Entity":
            return entity_node(context, await context.entity_by_id.load(key))
        tree = await context.section_tree(missing_id=key)  # a Section
        return await shown_section(info, tree, tree.by_id.get(key))

    @strawberry.field(
        description=(
            "An article by its slug; null when there is none. Published articles only, unless the API key "
            "has the `drafts` scope: then drafts too (`status` tells them apart). Without it a draft's slug "
            "is null, as a slug that names nothing: whether an unpublished article exists is not told."
        ),
        extensions=[READ],
    )
    async def article(
        self,
        info: strawberry.Info,
        slug: Annotated[str, strawberry.argument(description="The article's slug.")],
    ) -> ArticleNode | None:
        return await article_by_slug(info, require(slug, "slug"))

    @strawberry.field(
        description=(
            "Published articles, newest first, optionally by section, date and who they mention; drafts "
            "too with `includeDrafts: true` (an API key with the `drafts` scope)."
        ),
        extensions=[
            FilterArgumentsExtension(),
            PermissionExtension([RequireScope(KeyScope.READ), DraftsWhenAsked()]),
        ],
    )
    async def articles(
        self,
        info: strawberry.Info,
        filters: FilterArguments,
        order_by: Annotated[ArticleOrder, strawberry.argument(description="Newest or oldest first.")] = (
            ArticleOrder.NEWEST
        ),
        first: FirstArgument = 20,
        after: AfterArgument = None,
        include_drafts: IncludeDraftsArgument = False,
    ) -> ArticleConnection:
        resolved = replace(await article_filters(info, filters), drafts=include_drafts)
        return await article_connection(info, first=first, after=after, filters=resolved, order=order_by)

    @strawberry.field(
        description=(
            "Full-text search of published articles' headline, standfirst and body, best match first: "
            "all the words in the headline, then in the headline or standfirst, then the rest, newest first "
            "within each. "
            'Words must all appear (stemmed: "sanctions" finds "sanction"); "quoted phrases"; '
            'prefixes: sanct*; exclusions: -football or -"world cup". '
            "Drafts are never searched, whatever the key."
        ),
        extensions=[FilterArgumentsExtension(), READ],
    )
    async def search(
        self,
        info: strawberry.Info,
        query: Annotated[str, strawberry.argument(description="What to look for, in the search language.")],
        filters: FilterArguments,
        order_by: Annotated[
            SearchOrder, strawberry.argument(description="Best match first (default), newest or oldest.")
        ] = SearchOrder.RELEVANCE,
        first: FirstArgument = 20,
        after: AfterArgument = None,
    ) -> SearchConnection:
        resolved = await article_filters(info, filters)
        return await search_connection(
            info, text=query, filters=resolved, order=order_by, first=first, after=after
        )

    @strawberry.field(
        description=(
            'A section by path ("" or "/" for Home, "europe", "news/business"); null when there is none. '
            "A section no published article is filed in or below is found only with an API key with the "
            "`drafts` scope."
        ),
        extensions=[READ],
    )
    async def section(
        self,
        info: strawberry.Info,
        path: Annotated[str, strawberry.argument(description="The section's path.")],
    ) -> SectionNode | None:
        return await section_by_path(info, path)

    @strawberry.field(
        description=(
            "Every section with a published article in or below it, in tree order (Home first, each parent "
            "before its children); every section with `includeDrafts`."
        ),
        extensions=[PermissionExtension([RequireScope(KeyScope.READ), DraftsWhenAsked()])],
    )
    async def sections(
        self,
        info: strawberry.Info,
        include_drafts: Annotated[bool, strawberry.argument(description=INCLUDE_DRAFT_SECTIONS)] = False,
    ) -> list[SectionNode]:
        return await listed_sections(info, include_drafts=include_drafts)

    @strawberry.field(
        description=(
            "An entity by its slug; null when there is none. An entity only drafts mention is found only "
            "with an API key with the `drafts` scope."
        ),
        extensions=[READ],
    )
    async def entity(
        self,
        info: strawberry.Info,
        slug: Annotated[str, strawberry.argument(description="The entity's slug.")],
    ) -> EntityNode | None:
        context = get_context(info)
        return entity_node(context, await context.entity_by_slug.load(require(slug, "slug")))

    @strawberry.field(
        description=(
            "Entities published articles mention, by name, optionally of one kind; also those only drafts "
            "mention with `includeDrafts`."
        ),
        extensions=[PermissionExtension([RequireScope(KeyScope.READ), DraftsWhenAsked()])],
    )
    async def entities(
        self,
        info: strawberry.Info,
        kind: Annotated[
            EntityKind | None, strawberry.argument(description="Only entities of this kind.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 100.")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="`endCursor` of the previous page.")
        ] = None,
        include_drafts: Annotated[bool, strawberry.argument(description=INCLUDE_DRAFT_ENTITIES)] = False,
    ) -> EntityConnection:
        return await entity_connection(
            info, kind=kind, first=first, after=after, include_drafts=include_drafts
        )


class RequestedOperation(ExecutionContext):
    """Runs the operation the request names, or the document's only one. Strawberry would run the first of
    several when none is named; the GraphQL spec refuses that request, and graphql-core then says so
    ("Must provide operation name if query contains multiple operations.")."""

    @property
    def operation_name(self) -> str | None:
        return self._provided_operation_name


class BroadsheetSchema(strawberry.Schema):
    """Gives every error its code, masks and logs ours with the request id (so an operator can trace a
    client's "Unexpected error."), and runs only the operation a request names (RequestedOperation)."""

    def _create_execution_context(
        self,
        query: str | None,
        allowed_operation_types: Iterable[OperationType],
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionContext:
        return RequestedOperation(
            query=query,
            schema=self,
            allowed_operations=allowed_operation_types,
            context=context_value,
            root_value=root_value,
            variables=variable_values,
            provided_operation_name=operation_name,
            operation_extensions=operation_extensions,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        request_id = getattr(execution_context.context, "request_id", "-") if execution_context else "-"
        for error in errors:
            code = error_code(error)
            if code is ErrorCode.INTERNAL_SERVER_ERROR:
                log.error(
                    "request %s: unexpected error at %s",
                    request_id,
                    error.path,
                    exc_info=error.original_error or error,
                )
            present(error, code)


def build_schema(
    settings: Settings,
    *,
    execution_context_class: type[StrawberryGraphQLCoreExecutionContext] | None = None,
) -> strawberry.Schema:
    """The schema, on the executor the settings choose; tests may pass an execution context of their own."""
    default_context = (
        FastExecutionContext if settings.fast_execution else StrawberryGraphQLCoreExecutionContext
    )
    # The limit rules are built once: the validation cache keys on the rule classes, so a fresh class per
    # request (as QueryDepthLimiter and MaxAliasesLimiter make) would never hit it.
    limits: list[type[ASTValidationRule]] = [
        depth_rule(settings.max_query_depth, None),
        alias_rule(settings.max_aliases),
    ]
    return BroadsheetSchema(
        query=Query,
        types=[ArticleNode, SectionNode, EntityNode, Paragraph, Subheading, AdSlot],
        execution_context_class=execution_context_class or default_context,
        extensions=[
            # Factories: each operation gets fresh extension instances (they keep per-operation state).
            lambda: AddValidationRules(limits),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            ValidationErrorCodes,
            lambda: QueryCost(max_cost=settings.max_query_cost),
        ],
    )


def sdl() -> str:
    """The schema as SDL, as committed in schema.graphql."""
    return build_schema(Settings()).as_str() + "\n"

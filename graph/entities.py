"""Entity types: the people, organisations and places articles mention."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.permission import PermissionExtension

from graph.context import MAX_RELATED, Context, get_context
from graph.relay import ListCursors, Node, PageInfo, global_id, page_info, page_size
from graph.scopes import INCLUDE_DRAFTS, DraftsWhenAsked
from models import EntityKind
from models.response_cache import ARTICLES, ENTITIES, entity_tag
from resolvers.entities import EntitiesQuery, EntityRow
from resolvers.mentions import EntityArticleOrder, EntityArticleRow, EntityArticlesQuery

if TYPE_CHECKING:
    from graph.articles import ArticleNode


# The models' enum itself is the GraphQL enum: a row's kind, an ingest's and a client's are one type.
strawberry.enum(EntityKind, description="What a named entity is.")
_KINDS = {kind.value: kind for kind in EntityKind}  # a dict lookup is cheaper than EnumType(value)


# The resolvers' enum itself is the GraphQL enum: no second definition to keep in step.
strawberry.enum(EntityArticleOrder, description="How an entity's articles are ordered.")


def entity_articles_list(
    entity_id: int, order: EntityArticleOrder, drafts: bool = False
) -> tuple[object, ...]:
    """What the cursors of an entity's articles bind (``graph.relay.CursorSecret.for_list``); published
    lists' as before drafts could be listed."""
    described = ("entity-articles", entity_id, order.value)
    return (*described, "drafts") if drafts else described


def _edge_cursor(cursors: ListCursors, order: EntityArticleOrder, row: EntityArticleRow) -> str:
    article = row.article
    if order is EntityArticleOrder.NEWEST:
        return cursors.time(article.published_at, article.id)
    return cursors.prominence(row.salience, article.published_at, article.id)


@strawberry.type(
    name="Entity", description="One real person, organisation or place, however articles name it."
)
class EntityNode(Node):
    slug: str = strawberry.field(
        description="Stable key, e.g. `vladimir-putin`; use it with `entity(slug:)`."
    )
    name: str = strawberry.field(description="Canonical name, e.g. Vladimir Putin.")
    kind: EntityKind = strawberry.field(description="Person, organization or place.")
    description: str | None = strawberry.field(description="A one-line description, where known.")
    wikidata_id: str | None = strawberry.field(description="Wikidata item id (Q...), where known.")
    row: strawberry.Private[EntityRow]

    @classmethod
    def of(cls, row: EntityRow) -> EntityNode:
        return cls(
            id=strawberry.ID(global_id("Entity", row.id)),
            slug=row.slug,
            name=row.name,
            kind=_KINDS[row.kind],
            description=row.description,
            wikidata_id=row.wikidata_id,
            row=row,
        )

    @strawberry.field(description="Every name articles use for it (Putin, Vladimir Putin), sorted.")
    async def aliases(self, info: strawberry.Info) -> list[str]:
        return await get_context(info).aliases_by_entity.load(self.row.id)

    @strawberry.field(description="How many published articles mention it (drafts are never counted).")
    async def article_count(self, info: strawberry.Info) -> int:
        return await get_context(info).article_count_by_entity.load(self.row.id)

    @strawberry.field(
        description=(
            "Published articles that mention it, newest first, with the role each gives (drafts too with "
            "`includeDrafts`)."
        ),
        extensions=[PermissionExtension([DraftsWhenAsked()])],
    )
    async def articles(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 100.")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="`endCursor` of the previous page.")
        ] = None,
        order_by: Annotated[
            EntityArticleOrder, strawberry.argument(description="Newest first, or most prominent first.")
        ] = EntityArticleOrder.NEWEST,
        include_drafts: Annotated[bool, strawberry.argument(description=INCLUDE_DRAFTS)] = False,
    ) -> EntityArticleConnection:
        size = page_size(first)
        context = get_context(info)
        cursors = await context.list_cursors(*entity_articles_list(self.row.id, order_by, include_drafts))
        if order_by is EntityArticleOrder.NEWEST:
            key: Any = cursors.parse_time(after)
        else:
            key = cursors.parse_prominence(after)
        query = EntityArticlesQuery(self.row.id, size + 1, order_by, key, drafts=include_drafts)
        rows = await context.entity_articles_page.load(query)
        context.tags.add(ARTICLES)
        page = rows[:size]
        nodes = await context.article_lists.nodes(info, [row.article for row in page])
        edges = [
            EntityArticleEdge(
                cursor=_edge_cursor(cursors, order_by, row),
                node=node,
                role=row.role,
                count=row.count,
                salience=row.salience,
            )
            for row, node in zip(page, nodes, strict=True)
        ]
        return EntityArticleConnection(edges=edges, page_info=_page_info(edges, len(rows) > size, after))

    @strawberry.field(
        description="The entities most often mentioned in the same articles, most shared first."
    )
    async def mentioned_with(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="How many, 1 to 50.")] = 10,
    ) -> list[CoMentionedEntity]:
        size = page_size(first, maximum=MAX_RELATED)
        related = await get_context(info).co_mentioned_by_entity.load(self.row.id)
        get_context(info).tags.update(entity_tag(item.entity.id) for item in related[:size])
        return [
            CoMentionedEntity(entity=EntityNode.of(item.entity), shared_articles=item.shared_articles)
            for item in related[:size]
        ]


@strawberry.type(description="An entity seen in the same articles as another, and how often.")
class CoMentionedEntity:
    entity: EntityNode = strawberry.field(description="The other entity.")
    shared_articles: int = strawberry.field(description="Articles that mention both.")


@strawberry.type(description="An article that mentions an entity, with what the article says of it.")
class EntityArticleEdge:
    cursor: str = strawberry.field(description="Opaque cursor of this edge.")
    node: Annotated[ArticleNode, strawberry.lazy("graph.articles")] = strawberry.field(
        description="The article."
    )
    role: str | None = strawberry.field(description='The role the article gives it ("Russian President").')
    count: int = strawberry.field(description="How many times the article mentions it.")
    salience: float = strawberry.field(description="How central it is to the article, 0 to 1.")


@strawberry.type(description="A page of the articles that mention an entity.")
class EntityArticleConnection:
    edges: list[EntityArticleEdge] = strawberry.field(description="The articles of this page, newest first.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages follow.")


@strawberry.type(description="An entity in a list.")
class EntityEdge:
    cursor: str = strawberry.field(description="Opaque cursor of this edge.")
    node: EntityNode = strawberry.field(description="The entity.")


@strawberry.type(description="A page of entities, by name.")
class EntityConnection:
    edges: list[EntityEdge] = strawberry.field(description="The entities of this page, by name.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages follow.")


def _page_info(
    edges: list[EntityArticleEdge] | list[EntityEdge], has_next: bool, after: str | None
) -> PageInfo:
    return page_info([edge.cursor for edge in edges], has_next=has_next, after=after)


def entity_node(context: Context, row: EntityRow | None) -> EntityNode | None:
    """The entity's node, its cache tag noted; a miss notes the entities' list tag (one may be added)."""
    if row is None:
        context.tags.add(ENTITIES)
        return None
    context.tags.add(entity_tag(row.id))
    return EntityNode.of(row)


def entities_list(kind: EntityKind | None, drafts: bool) -> tuple[object, ...]:
    """What the cursors of an entity list bind (``graph.relay.CursorSecret.for_list``); published lists'
    as before draft-only entities could be listed."""
    described = ("entities", None if kind is None else kind.value)
    return (*described, "drafts") if drafts else described


async def entity_connection(
    info: strawberry.Info, *, kind: EntityKind | None, first: int, after: str | None, include_drafts: bool
) -> EntityConnection:
    size = page_size(first)
    context = get_context(info)
    cursors = await context.list_cursors(*entities_list(kind, include_drafts))
    query = EntitiesQuery(kind, cursors.parse_name(after), size + 1, drafts=include_drafts)
    rows = await context.entities_page.load(query)
    context.tags.add(ENTITIES)
    context.tags.update(entity_tag(row.id) for row in rows[:size])
    edges = [
        EntityEdge(cursor=cursors.name(row.name, row.id), node=EntityNode.of(row)) for row in rows[:size]
    ]
    return EntityConnection(edges=edges, page_info=_page_info(edges, len(rows) > size, after))

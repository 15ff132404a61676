"""Article types, and the one place that turns article rows into GraphQL objects (with batched prefetch)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry

from graph.context import get_context, selects
from graph.entities import EntityKind, EntityNode
from graph.errors import ClientError
from graph.execution import PURE
from graph.mentions import MentionNode
from graph.relay import Node, PageInfo, global_id, page_info, page_size
from graph.sections import BreadcrumbItem, SectionNode, SectionObjects, section_objects
from models import ArticleStatus
from models.response_cache import ARTICLES, article_tag, entity_tag, section_tag
from resolvers.articles import NO_FILTERS, ArticleFilters, ArticleQuery, ArticleRow
from resolvers.mentions import MentionRow

#: Adult reading speed used for `readingTimeMinutes`.
WORDS_PER_MINUTE = 230
_MENTION_FIELDS = frozenset({"mentions", "people", "organizations", "places"})
_BODY_FIELDS = frozenset({"body"})
_LOCATION_FIELDS = frozenset({"locations"})


@strawberry.interface(description="One block of an article body, in reading order.")
class BodyBlock:
    index: int = strawberry.field(description="Position in the body, from 0.")


@strawberry.type(description="A paragraph of body text.")
class Paragraph(BodyBlock):
    text: str = strawberry.field(description="The paragraph, as plain text.")


@strawberry.type(description="A subheading between paragraphs.")
class Subheading(BodyBlock):
    text: str = strawberry.field(description="The subheading, as plain text.")


@strawberry.type(description="Where the page shows an advertisement. Carries no text.")
class AdSlot(BodyBlock):
    pass


def _block(index: int, block: dict[str, Any]) -> BodyBlock:
    kind = block.get("type")
    if kind == "subheading":
        return Subheading(index=index, text=block["text"])
    if kind == "ad_slot":
        return AdSlot(index=index)
    return Paragraph(index=index, text=block.get("text", ""))


# The models' enum itself is the GraphQL enum, as EntityKind is.
strawberry.enum(ArticleStatus, description="Whether an article is published or still a draft.")
_STATUSES = {status.value: status for status in ArticleStatus}


@strawberry.type(description="Where an article came from.")
class ArticleSource:
    format: str = strawberry.field(description="How it arrived: `captured` (page text) or `json`.")
    external_id: str | None = strawberry.field(description="The sender's stable id for it, if any.")
    url: str | None = strawberry.field(description="Canonical URL, if known.")


@strawberry.type(name="Article", description="A news article, with its section trail and who it mentions.")
class ArticleNode(Node):
    slug: str = strawberry.field(description="Unique, URL-safe key; use it with `article(slug:)`.")
    headline: str = strawberry.field(description="The headline.")
    standfirst: str | None = strawberry.field(
        description="The one-sentence summary under the headline, if any."
    )
    published_at: datetime = strawberry.field(description="First published (UTC, ISO 8601).")
    updated_at: datetime = strawberry.field(description="Last changed (UTC, ISO 8601).")
    word_count: int = strawberry.field(description="Words in the body (paragraphs and subheadings).")
    reading_time_minutes: int = strawberry.field(
        description=f"Minutes to read at {WORDS_PER_MINUTE} words a minute."
    )
    authors: list[str] = strawberry.field(description="Bylines, in order; empty when the source gives none.")
    url: str | None = strawberry.field(description="Canonical URL, if known.")
    status: ArticleStatus = strawberry.field(
        description="PUBLISHED, or DRAFT: drafts reach only API keys with the `drafts` scope."
    )
    # Ready values rather than resolvers: a front page asks for these on every article, and an attribute
    # costs the executor far less than a call (see graph/execution.py).
    section: SectionNode = strawberry.field(description="The section it is filed in.")
    breadcrumbs: list[BreadcrumbItem] = strawberry.field(
        description="Home, each section down to the article's, then the article itself."
    )
    people: list[MentionNode] = strawberry.field(
        description="The people it mentions, with the role it gives each, most prominent first."
    )
    organizations: list[MentionNode] = strawberry.field(
        description="The organisations it mentions, most prominent first."
    )
    places: list[MentionNode] = strawberry.field(description="The places it mentions, most prominent first.")
    row: strawberry.Private[ArticleRow]
    loaded_mentions: strawberry.Private[list[MentionNode] | None]

    @strawberry.field(description="Where it came from: format, external id and URL.", metadata=PURE)
    def source(self) -> ArticleSource:
        row = self.row
        return ArticleSource(format=row.source_format, external_id=row.source_id, url=row.canonical_url)

    @strawberry.field(description="The body: paragraphs, subheadings and ad slots, in reading order.")
    def body(self) -> list[BodyBlock]:
        return [_block(index, block) for index, block in enumerate(self.row.body or [])]

    @strawberry.field(description="Who and what it mentions, most prominent first.", metadata=PURE)
    def mentions(
        self,
        kind: Annotated[
            EntityKind | None, strawberry.argument(description="Only entities of this kind.")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="At most this many (1 to 100).")] = None,
    ) -> list[MentionNode]:
        found = self.loaded_mentions or []
        if kind is not None:
            found = [mention for mention in found if mention.entity.kind is kind]
        return found if first is None else found[: page_size(first)]


@strawberry.type(description="An article in a list.")
class ArticleEdge:
    cursor: str = strawberry.field(description="Opaque cursor of this edge.")
    node: ArticleNode = strawberry.field(description="The article.")


@strawberry.enum(description="The order of an article list.")
class ArticleOrder(Enum):
    NEWEST = "newest"
    OLDEST = "oldest"


@strawberry.type(description="A page of articles (Relay connection).")
class ArticleConnection:
    edges: list[ArticleEdge] = strawberry.field(description="The articles of this page with their cursors.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages follow.")
    query: strawberry.Private[ArticleQuery]

    @strawberry.field(description="How many articles match, on all pages together (counted only when asked).")
    async def total_count(self, info: strawberry.Info) -> int:
        filters = replace(self.query, limit=0, after=None, oldest_first=False)
        return await get_context(info).articles_total.load(filters)

    @strawberry.field(description="The articles of this page, without cursors.", metadata=PURE)
    def nodes(self) -> list[ArticleNode]:
        return [edge.node for edge in self.edges]


async def article_nodes(
    info: strawberry.Info,
    rows: Sequence[ArticleRow],
    *,
    read_mentions: Sequence[list[MentionRow]] | None = None,
) -> list[ArticleNode]:
    """GraphQL articles for ``rows``, with everything their selected fields need loaded in batches.

    The section tree, the mentions (entities joined in) and the bodies are each fetched at most once for
    the whole list, and only when selected, so the fields below are plain attributes and sync lookups.
    ``read_mentions`` are the rows' mentions when the caller has read them already.
    """
    context = get_context(info)
    ids = [row.id for row in rows]
    wants_mentions = read_mentions is None and selects(info, _MENTION_FIELDS)
    mentions_loader = (
        context.mentions_with_locations_by_article
        if selects(info, _LOCATION_FIELDS)
        else context.mentions_by_article
    )
    wants_body = selects(info, _BODY_FIELDS) and any(row.body is None for row in rows)
    tree, mentions, bodies = await asyncio.gather(
        context.section_tree(),
        mentions_loader.load_many(ids) if wants_mentions else _nothing(),
        context.body_by_article.load_many(ids) if wants_body else _nothing(),
    )
    if read_mentions is not None:
        mentions = list(read_mentions)
    for row in rows:
        if row.section_id not in tree.by_id:  # filed in a section added since the tree was cached
            tree = await context.section_tree(missing_id=row.section_id)
    sections = section_objects(tree)
    nodes = []
    entity_nodes: dict[int, EntityNode] = {}  # one per entity, however many articles mention it
    tags = context.tags
    for index, row in enumerate(rows):
        if bodies is not None:  # a copy: the row is the loader's, cached for the rest of the request
            row = replace(row, body=bodies[index])
        loaded = None
        if mentions is not None:
            loaded = [
                MentionNode(
                    entity=entity_nodes.get(mention.entity.id)
                    or entity_nodes.setdefault(mention.entity.id, EntityNode.of(mention.entity)),
                    role=mention.role,
                    count=mention.count,
                    salience=mention.salience,
                    raw_locations=mention.locations or [],
                )
                for mention in mentions[index]
            ]
        people: list[MentionNode] = []
        organizations: list[MentionNode] = []
        places: list[MentionNode] = []
        by_kind = {
            EntityKind.PERSON.value: people,
            EntityKind.ORGANIZATION.value: organizations,
            EntityKind.PLACE.value: places,
        }
        for mention_node in loaded or ():
            by_kind[mention_node.entity.row.kind].append(mention_node)
        tags.add(article_tag(row.id))
        tags.add(section_tag(row.section_id))
        nodes.append(
            ArticleNode(
                id=strawberry.ID(global_id("Article", row.id)),
                slug=row.slug,
                headline=row.headline,
                standfirst=row.standfirst,
                published_at=row.published_at,
                updated_at=row.updated_at,
                word_count=row.word_count,
                reading_time_minutes=max(1, math.ceil(row.word_count / WORDS_PER_MINUTE)),
                authors=row.authors,
                url=row.canonical_url,
                status=_STATUSES[row.status],
                section=sections.node(tree.by_id[row.section_id]),
                breadcrumbs=article_breadcrumbs(sections, row),
                people=people,
                organizations=organizations,
                places=places,
                row=row,
                loaded_mentions=loaded,
            )
        )
    tags.update(map(entity_tag, entity_nodes))
    return nodes


def article_breadcrumbs(sections: SectionObjects, row: ArticleRow) -> list[BreadcrumbItem]:
    trail = sections.crumbs(row.section_id)
    section_path = trail[-1].path.rstrip("/")
    own = BreadcrumbItem(position=len(trail) + 1, name=row.headline, path=f"{section_path}/{row.slug}")
    return [*trail, own]


async def _nothing() -> None:
    return None


async def article_node(info: strawberry.Info, row: ArticleRow | None) -> ArticleNode | None:
    if row is None:  # found nothing: an article written later may be what was looked for
        get_context(info).tags.add(ARTICLES)
        return None
    return (await article_nodes(info, [row]))[0]


async def article_by_slug(info: strawberry.Info, slug: str) -> ArticleNode | None:
    """The article with this slug (a draft only for a key with the drafts scope: ``Context.sees_drafts``).
    When its mentions are selected they are read in the same statement as the article: one round trip, not
    two."""
    context = get_context(info)
    if not selects(info, _MENTION_FIELDS):
        return await article_node(info, await context.article_by_slug.load(slug))
    loader = (
        context.article_with_mentions_and_locations_by_slug
        if selects(info, _LOCATION_FIELDS)
        else context.article_with_mentions_by_slug
    )
    found = await loader.load(slug)
    if found is None:
        context.tags.add(ARTICLES)
        return None
    row, mentions = found
    return (await article_nodes(info, [row], read_mentions=[mentions]))[0]


def article_list(filters: ArticleFilters, order: ArticleOrder) -> tuple[object, ...]:
    """What an article list's cursors bind (``graph.relay.CursorSecret.for_list``)."""
    return ("articles", order.value, *filters.described())


async def article_connection(
    info: strawberry.Info,
    *,
    first: int,
    after: str | None,
    filters: ArticleFilters = NO_FILTERS,
    order: ArticleOrder = ArticleOrder.NEWEST,
) -> ArticleConnection:
    size = page_size(first)
    cursors = await get_context(info).list_cursors(*article_list(filters, order))
    query = ArticleQuery(
        limit=size + 1,
        filters=filters,
        oldest_first=order is ArticleOrder.OLDEST,
        after=cursors.parse_time(after),
    )
    rows = await get_context(info).articles_page.load(query)
    get_context(info).tags.add(ARTICLES)
    nodes = await article_nodes(info, rows[:size])
    edges = [ArticleEdge(cursor=cursors.time(node.published_at, node.row.id), node=node) for node in nodes]
    return ArticleConnection(
        edges=edges,
        page_info=page_info([edge.cursor for edge in edges], has_next=len(rows) > size, after=after),
        query=query,
    )


class ArticleLists:
    """How the types this module imports list articles: a section's and an entity's. They reach it through
    the request's context (``Context.article_lists``) rather than by importing this module, which imports
    theirs (an article carries its section and the entities it mentions), so imports go one way."""

    __slots__ = ()
    nodes = staticmethod(article_nodes)
    connection = staticmethod(article_connection)


def require(value: str, argument: str) -> str:
    """A non-blank string argument, stripped."""
    value = value.strip()
    if not value:
        raise ClientError(f"{argument}: must not be empty")
    return value

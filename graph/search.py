"""Search types: hits with their relevance and a highlighted snippet, in a Relay connection."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import datetime

import strawberry

from graph.articles import ArticleNode, article_nodes
from graph.context import get_context, selects
from graph.errors import ClientError
from graph.execution import PURE
from graph.relay import PageInfo, page_info, page_size
from models.response_cache import ARTICLES
from resolvers.articles import ArticleFilters
from resolvers.search import TIERS, SearchHit, SearchOrder, SearchQuery
from resolvers.search.language import SearchExpression, SearchSyntaxError, parse_search
from resolvers.search.snippets import HIGHLIGHT_END, HIGHLIGHT_START

_SNIPPET_FIELDS = frozenset({"snippet"})


# The resolvers' enum itself is the GraphQL enum: no second definition to keep in step.
strawberry.enum(SearchOrder, description="The order of search hits.")


@strawberry.type(description="A stretch of text, by character offsets (Unicode code points, end exclusive).")
class TextRange:
    start: int = strawberry.field(description="Offset of the first character.")
    end: int = strawberry.field(description="Offset just past the last character.")


@strawberry.type(description="A passage of the article around the words the query matched.")
class Snippet:
    text: str = strawberry.field(description="The passage as plain text; '…' marks where it was cut.")
    highlights: list[TextRange] = strawberry.field(description="Where the matched words are in `text`.")

    @strawberry.field(
        description="The passage as HTML: text escaped, matched words in `<mark>`.", metadata=PURE
    )
    def html(self) -> str:
        parts, position = [], 0
        for highlight in self.highlights:
            parts.append(html.escape(self.text[position : highlight.start]))
            parts.append(f"<mark>{html.escape(self.text[highlight.start : highlight.end])}</mark>")
            position = highlight.end
        parts.append(html.escape(self.text[position:]))
        return "".join(parts)


_MARKERS = re.compile(f"({re.escape(HIGHLIGHT_START)}|{re.escape(HIGHLIGHT_END)})")


def snippet_of(marked: str) -> Snippet:
    """A Snippet from the engine's text, whose highlighted words sit between HIGHLIGHT_START and _END.

    Works on the runs between markers, not on characters: a snippet has a few marks and hundreds of
    characters. A mark left open, or an end without a start, highlights nothing."""
    text: list[str] = []
    highlights: list[TextRange] = []
    length, start = 0, None
    for piece in _MARKERS.split(marked):
        if piece == HIGHLIGHT_START:
            start = length
        elif piece == HIGHLIGHT_END:
            if start is not None and length > start:
                highlights.append(TextRange(start=start, end=length))
            start = None
        elif piece:
            text.append(piece)
            length += len(piece)
    return Snippet(text="".join(text), highlights=highlights)


@strawberry.type(description="An article that matched a search.")
class SearchEdge:
    cursor: str = strawberry.field(description="Opaque cursor of this hit.")
    node: ArticleNode = strawberry.field(description="The article.")
    score: float = strawberry.field(
        description="Relevance by where the query's words are: 3 when all are in the headline, 2 when each "
        "is in the headline or standfirst, 1 otherwise (the body). Hits of equal score come newest first."
    )
    snippet: Snippet | None = strawberry.field(
        description="The passage that best matches, with the matched words marked."
    )


@strawberry.type(description="A page of search hits (Relay connection).")
class SearchConnection:
    edges: list[SearchEdge] = strawberry.field(description="The hits of this page with their cursors.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages follow.")
    query: strawberry.Private[SearchQuery]

    @strawberry.field(description="How many articles match, on all pages together (counted only when asked).")
    async def total_count(self, info: strawberry.Info) -> int:
        filters = replace(self.query, limit=0, after=None, order=SearchOrder.RELEVANCE, with_snippets=False)
        return await get_context(info).search_total.load(filters)


def parse_query(text: str) -> SearchExpression:
    try:
        return parse_search(text)
    except SearchSyntaxError as error:
        raise ClientError(f"query: {error}") from None


def search_list(text: str, filters: ArticleFilters, order: SearchOrder) -> tuple[object, ...]:
    """What a search's cursors bind (``graph.relay.CursorSecret.for_list``): the query as typed, save for
    runs of spaces, which change nothing, then the order and the filters."""
    return ("search", " ".join(text.split()), order.value, *filters.described())


async def search_connection(
    info: strawberry.Info,
    *,
    text: str,
    filters: ArticleFilters,
    order: SearchOrder,
    first: int,
    after: str | None,
) -> SearchConnection:
    size = page_size(first)
    expression = parse_query(text)
    cursors = await get_context(info).list_cursors(*search_list(text, filters, order))
    position: tuple[float, int] | tuple[datetime, int] | None
    if order is SearchOrder.RELEVANCE:
        position = cursors.parse_score(after, TIERS)
    else:
        position = cursors.parse_time(after)
    query = SearchQuery(
        expression=expression,
        limit=size + 1,
        order=order,
        filters=filters,
        after=position,
        with_snippets=selects(info, _SNIPPET_FIELDS),
    )
    hits: list[SearchHit] = await get_context(info).search_page.load(query)
    page = hits[:size]
    get_context(info).tags.add(ARTICLES)
    nodes = await article_nodes(info, [hit.article for hit in page])
    edges = [
        SearchEdge(
            cursor=cursors.score(hit.score, hit.article.id)
            if order is SearchOrder.RELEVANCE
            else cursors.time(hit.article.published_at, hit.article.id),
            node=node,
            score=hit.score,
            snippet=None if hit.snippet is None else snippet_of(hit.snippet),
        )
        for hit, node in zip(page, nodes, strict=True)
    ]
    return SearchConnection(
        edges=edges,
        page_info=page_info([edge.cursor for edge in edges], has_next=len(hits) > size, after=after),
        query=query,
    )

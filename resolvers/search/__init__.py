"""Full-text search: one query language, one answer, run by SQLite FTS5 or PostgreSQL full-text search.

The language, as a newsroom's search box knows it: words (all must appear, stemmed: ``sanctions`` finds
"sanction"), ``"quoted phrases"``, prefixes (``sanct*``) and exclusions (``-football``, ``-"world cup"``).
Accents and case never matter (``Sorensen`` finds "Sørensen") and no word is too common to look for.
``language.parse_search`` reads it once, through the index's own analyzer (models/search.py), so a query's
words are the terms both engines store; each engine gets it rendered in its own syntax, never pasted as text.
Snippets are cut from the hits' text in Python (``snippets``), the same for both.

Relevance is where the query's words appear, as WordPress ranks its search: articles with every word in
the headline first, then those with every word in the headline or standfirst, then the rest (the words in
the body); within each tier, newest id first. A hit's score is its tier (``HEADLINE``, ``LEAD``,
``BODY``), a property of the article alone, so keyset pages stay put while articles arrive, and each tier is
read newest first from an index and cut off at the page: a word in 60% of a million articles costs what a
rare one does. Ranking every match by ``ts_rank`` or ``bm25`` instead took over a second for such a word on
PostgreSQL (docs/benchmarks.md). Both engines rank the same way, ties broken by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Float,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    table,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncConnection

from models import Article, Mention
from models.search import SEARCH_TABLE
from models.types import UTCDateTime
from resolvers.articles import (
    LIST_COLUMNS,
    NO_FILTERS,
    ArticleFilters,
    ArticleRow,
    article_row,
    filter_slots,
    filter_values,
    mentions_kind,
    query_slot,
)
from resolvers.search.language import SearchExpression, Term, TermKind, has_phrase, term_list
from resolvers.search.snippets import snippet_of_hit
from resolvers.statements import cached_statement

_article = Article.__table__  # type: ignore[attr-defined]
_mention = Mention.__table__  # type: ignore[attr-defined]


#: A hit's score by relevance, its tier: every word the query looks for in the headline; each in the
#: headline or standfirst; otherwise (the words are in the body).
HEADLINE = 3.0
LEAD = 2.0
BODY = 1.0
TIERS = (HEADLINE, LEAD, BODY)
#: How many of the newest index entries PostgreSQL reads in order for a search with a phrase before it finds
#: the rest of the phrase's matches through the GIN index (``_Postgres._windowed``).
PHRASE_WINDOW = 5_000


class SearchOrder(StrEnum):
    RELEVANCE = "relevance"  # by (tier, id), best first
    NEWEST = "newest"  # by (published_at, id), newest first
    OLDEST = "oldest"  # by (published_at, id), oldest first


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """One page of search hits among the published articles that pass ``filters``.

    ``after`` is the sort key of the last hit seen: (tier, id) for RELEVANCE, (published_at, id) otherwise.
    """

    expression: SearchExpression
    limit: int
    order: SearchOrder = SearchOrder.RELEVANCE
    filters: ArticleFilters = NO_FILTERS
    after: tuple[float, int] | tuple[datetime, int] | None = None
    with_snippets: bool = False


@dataclass(slots=True)
class SearchHit:
    article: ArticleRow
    score: float
    snippet: str | None  # with HIGHLIGHT_START / HIGHLIGHT_END around matched words


async def search_articles(
    connection: AsyncConnection, queries: Sequence[SearchQuery]
) -> list[list[SearchHit]]:
    """Several pages of hits in one statement, one list per query, each in its query's order."""
    engine = _engine(connection)

    def build() -> Select[Any] | CompoundSelect[Any]:
        pages = [engine.page(query, _Slots.of(query, number)) for number, query in enumerate(queries)]
        return pages[0] if len(pages) == 1 else union_all(*(select(page.subquery()) for page in pages))

    statement = cached_statement(("search", engine.name, *map(_shape, queries)), build)
    result: list[list[SearchHit]] = [[] for _ in queries]
    width = len(LIST_COLUMNS)
    for values in await connection.execute(statement, _values(engine, queries)):
        query = queries[values[-1]]
        row, body = article_row(values), values[width + 1]
        snippet = (
            None if body is None else snippet_of_hit(row.headline, row.standfirst, body, query.expression)
        )
        result[values[-1]].append(SearchHit(row, values[width], snippet))
    for query, hits in zip(queries, result, strict=True):
        hits.sort(key=lambda hit: _sort_key(query.order, hit), reverse=query.order is not SearchOrder.OLDEST)
    return result


async def count_search_matches(connection: AsyncConnection, queries: Sequence[SearchQuery]) -> list[int]:
    """How many published articles match each query, all pages together, in one statement."""
    engine = _engine(connection)

    def build() -> Select[Any] | CompoundSelect[Any]:
        counts = [engine.count(query, _Slots.of(query, number)) for number, query in enumerate(queries)]
        return counts[0] if len(counts) == 1 else union_all(*(select(count.subquery()) for count in counts))

    statement = cached_statement(("search count", engine.name, *map(_shape, queries)), build)
    result = [0] * len(queries)
    for total, number in await connection.execute(statement, _values(engine, queries)):
        result[number] = int(total)
    return result


@dataclass(frozen=True, slots=True)
class _Slots:
    """A query's values as bound parameters, named for the query's place in the statement: a statement is
    built once for each shape of query (``_shape``) and run with each search's values (``_values``), since
    building one cost more than PostgreSQL took to run a rare word's search (docs/benchmarks.md)."""

    number: int
    terms: tuple[BindParameter[str], ...]  # PostgreSQL: each term's text for its tsquery function
    matches: dict[str, BindParameter[str]]  # SQLite: the FTS5 queries, by the names of _Sqlite.matches
    section_ids: BindParameter[Any] | None
    entity_ids: tuple[BindParameter[int], ...]
    entity_kind: BindParameter[str] | None
    since: BindParameter[datetime] | None
    until: BindParameter[datetime] | None
    after: tuple[BindParameter[Any], BindParameter[int]] | None
    limit: BindParameter[int]
    window: BindParameter[int]  # PostgreSQL, with a phrase: PHRASE_WINDOW

    @classmethod
    def of(cls, query: SearchQuery, number: int) -> _Slots:
        def slot(name: str, type_: Any, **options: Any) -> BindParameter[Any]:
            return query_slot(number, name, type_, **options)

        after_type = Float() if query.order is SearchOrder.RELEVANCE else UTCDateTime()
        return cls(
            number,
            tuple(slot(f"term{index}", String()) for index in range(len(query.expression.terms))),
            {name: slot(name, String()) for name in _Sqlite.MATCHES},
            None if query.filters.section_ids is None else slot("sections", Integer(), expanding=True),
            *filter_slots(number, query.filters),
            after=None
            if query.after is None
            else (slot("after_key", after_type), slot("after_id", Integer())),
            limit=slot("limit", Integer()),
            window=slot("window", Integer()),
        )


def _shape(query: SearchQuery) -> tuple[Any, ...]:
    """What the text of a query's statement depends on; everything else is a parameter's value."""
    return (
        query.order,
        tuple((term.kind, term.excluded) for term in query.expression.terms),
        *query.filters.shape(),
        query.after is not None,
        query.with_snippets,
    )


def _values(engine: _Postgres | _Sqlite, queries: Sequence[SearchQuery]) -> dict[str, Any]:
    """The parameters of the statement for ``queries``, by the names ``_Slots.of`` gives them."""
    values: dict[str, Any] = {}
    for number, query in enumerate(queries):
        prefix = f"q{number}_"
        if isinstance(engine, _Postgres):
            for index, term in enumerate(query.expression.terms):
                values[f"{prefix}term{index}"] = _Postgres.term_text(term)
        else:
            values |= {f"{prefix}{name}": match for name, match in _Sqlite.matches(query.expression).items()}
        values |= filter_values(prefix, query.filters)
        if query.after is not None:
            values[f"{prefix}after_key"], values[f"{prefix}after_id"] = query.after
        values[f"{prefix}limit"] = query.limit
        if isinstance(engine, _Postgres) and has_phrase(query.expression):
            values[f"{prefix}window"] = PHRASE_WINDOW
    return values


def _snippet_source(query: SearchQuery) -> ColumnElement[Any]:
    """The column a hit's snippet is cut from: the body (headline and standfirst are list columns), or
    NULL when no snippet is asked for (typed, so a statement of several searches reads bodies alike)."""
    return _article.c.body if query.with_snippets else cast(null(), _article.c.body.type)


def _sort_key(order: SearchOrder, hit: SearchHit) -> tuple[Any, ...]:
    if order is SearchOrder.RELEVANCE:
        return (hit.score, hit.article.id)
    return (hit.article.published_at, hit.article.id)


def _engine(connection: AsyncConnection) -> _Postgres | _Sqlite:
    return _Postgres() if connection.dialect.name == "postgresql" else _Sqlite()


def _filters(slots: _Slots, article_id: Any, section_id: Any, published_at: Any) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if slots.section_ids is not None:
        conditions.append(section_id.in_(slots.section_ids))
    for entity_id in slots.entity_ids:
        conditions.append(
            exists().where(and_(_mention.c.article_id == article_id, _mention.c.entity_id == entity_id))
        )
    if slots.entity_kind is not None:
        conditions.append(mentions_kind(article_id, slots.entity_kind))
    if slots.since is not None:
        conditions.append(published_at >= slots.since)
    if slots.until is not None:
        conditions.append(published_at < slots.until)
    return conditions


def _time_keyset(query: SearchQuery, slots: _Slots, article_id: Any, published_at: Any) -> tuple[Any, Any]:
    """A time order's (sort columns, the condition that resumes after its cursor)."""
    columns = (published_at, article_id)
    if slots.after is None:
        return columns, None
    key = tuple_(*columns)
    resume = key > tuple_(*slots.after) if query.order is SearchOrder.OLDEST else key < tuple_(*slots.after)
    return columns, resume


def _ordered(statement: Select[Any], query: SearchQuery, columns: tuple[Any, ...]) -> Select[Any]:
    if query.order is SearchOrder.OLDEST:
        return statement.order_by(*columns)
    return statement.order_by(*(column.desc() for column in columns))


def _tier_score(tier: float) -> ColumnElement[float]:
    return cast(literal_column(repr(tier)), Float)


def _after_tier(slots: _Slots, tier: float, article_id: Any) -> ColumnElement[bool] | None:
    """The rows of ``tier`` that come after the cursor: all of a worse tier, older ids of its own, none of
    a better one. With the cursor's values known when planning, the tiers it has passed are never read."""
    if slots.after is None:
        return None
    score, after_id = slots.after
    return or_(score > _tier_score(tier), and_(score == _tier_score(tier), article_id < after_id))


def _by_tier(parts: Sequence[Select[Any]], limit: BindParameter[int]) -> CompoundSelect[Any]:
    """The tiers' pages, best tier first, cut at the page. Each part is read only when the ones before it
    fall short of the page: PostgreSQL's Append and SQLite's compound SELECT run their parts in turn."""
    return union_all(*parts).limit(limit)


class _Postgres:
    """tsvector documents in ``article_search`` with GIN indexes on the whole document and on the words of
    the headline and of the headline and standfirst (migration 0007)."""

    name = "postgresql"

    _search = table(
        SEARCH_TABLE,
        column("article_id"),
        column("section_id"),
        column("published_at", UTCDateTime()),
        column("published"),
        column("document", TSVECTOR()),
        column("headline_words", TSVECTOR()),
        column("lead_words", TSVECTOR()),
    )
    _edge_search = _search.alias("edge")  # where a phrase's window ends (``_windowed``)

    @staticmethod
    def term_text(term: Term) -> str:
        """The term as tsquery input: quoted terms, exactly the document's (letters and digits only, so
        nothing to escape), no text search parser or dictionary in between."""
        if term.kind is TermKind.PREFIX:
            return f"'{term.words[0]}':*"
        return " <-> ".join(f"'{word}'" for word in term.words)

    def tsquery(
        self, expression: SearchExpression, slots: _Slots, *, included_only: bool = False
    ) -> ColumnElement[Any]:
        """The expression as a tsquery of the terms' tsquery values, bound as parameters. ``included_only``
        leaves out the exclusions: what a tier asks of its part of the article."""
        included: list[ColumnElement[Any]] = []
        excluded: list[ColumnElement[Any]] = []
        for term, text in zip(expression.terms, slots.terms, strict=True):
            part: ColumnElement[Any] = cast(text, TSQUERY)
            (excluded if term.excluded else included).append(part)
        combined = included[0]
        for part in included[1:]:
            combined = combined.op("&&")(part)
        for part in [] if included_only else excluded:
            combined = combined.op("&&")(func.tsquery_not(part))
        return combined

    def _matching(self, slots: _Slots, columns: Sequence[Any], *conditions: Any) -> Select[Any]:
        search = self._search.c
        return select(*columns).where(
            search.published,
            *conditions,
            *_filters(slots, search.article_id, search.section_id, search.published_at),
        )

    def _by_relevance(
        self, query: SearchQuery, slots: _Slots, tsquery: ColumnElement[Any]
    ) -> CompoundSelect[Any]:
        search = self._search.c
        excludes = any(term.excluded for term in query.expression.terms)
        headline, lead = self._in_headline_and_lead(query, slots)
        anywhere: ColumnElement[bool] = search.document.bool_op("@@")(tsquery)
        # The headline's and lead's words are the document's (positions too), so a tier implies the match
        # unless the query excludes words, which only the whole document can rule out.
        tiers: tuple[tuple[float, list[ColumnElement[bool]]], ...] = (
            (HEADLINE, [headline, anywhere] if excludes else [headline]),
            (LEAD, [lead, ~headline, anywhere] if excludes else [lead, ~headline]),
            (BODY, [anywhere, ~lead]),
        )
        windowed = has_phrase(query.expression)
        if windowed:  # ids above this are the window: the newest PHRASE_WINDOW ids (``_windowed``)
            newest = select(func.max(self._edge_search.c.article_id) - slots.window).scalar_subquery()
        parts = []
        for tier, conditions in tiers:
            resume = _after_tier(slots, tier, search.article_id)
            part = self._matching(
                slots,
                [search.article_id, _tier_score(tier).label("score")],
                *conditions,
                *([] if resume is None else [resume]),
            )
            if windowed:
                parts += self._windowed(
                    part,
                    window=search.article_id > newest,
                    rest=search.article_id <= newest,
                    ordered=[search.article_id.desc()],
                    unordered=[(search.article_id + 0).desc()],
                    limit=slots.limit,
                )
            else:
                parts.append(part.order_by(search.article_id.desc()).limit(slots.limit))
        return _by_tier(parts, slots.limit)

    def _in_headline_and_lead(
        self, query: SearchQuery, slots: _Slots
    ) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        """Whether every word the query looks for is in the headline; in the headline or standfirst."""
        included = self.tsquery(query.expression, slots, included_only=True)
        search = self._search.c
        return search.headline_words.bool_op("@@")(included), search.lead_words.bool_op("@@")(included)

    @staticmethod
    def _windowed(
        part: Select[Any],
        *,
        window: ColumnElement[bool],
        rest: ColumnElement[bool],
        ordered: list[Any],
        unordered: list[Any],
        limit: BindParameter[int],
    ) -> list[Select[Any]]:
        """A part of a search with a phrase, in two: its matches among the newest index entries, read in
        order, then the rest, found through the GIN index and sorted. PostgreSQL estimates a phrase as if its
        words were independent, so a phrase of common words that never stand together looks common, and
        reading an index in order to find it read all of it (``"defence minister"`` by date at 1M: tens of
        seconds; docs/benchmarks.md).
        Ordered by an expression no index returns in order, the rest costs at most the articles that hold
        every word of the phrase."""
        return [
            part.where(window).order_by(*ordered).limit(limit),
            part.where(rest).order_by(*unordered).limit(limit),
        ]

    def _by_time(
        self, query: SearchQuery, slots: _Slots, tsquery: ColumnElement[Any]
    ) -> Select[Any] | CompoundSelect[Any]:
        search = self._search.c
        headline, lead = self._in_headline_and_lead(query, slots)
        score = case((headline, _tier_score(HEADLINE)), (lead, _tier_score(LEAD)), else_=_tier_score(BODY))
        columns, resume = _time_keyset(query, slots, search.article_id, search.published_at)
        hits = self._matching(
            slots, [search.article_id, score.label("score")], search.document.bool_op("@@")(tsquery)
        )
        if resume is not None:
            hits = hits.where(resume)
        if not has_phrase(query.expression):
            return _ordered(hits, query, columns).limit(slots.limit)
        # The entry PHRASE_WINDOW places along the order, where the window ends; with fewer entries there
        # is none (NULL), and the window, bounded by infinity instead, holds them all.
        edge = self._edge_search.c
        edge_columns = (edge.published_at, edge.article_id)
        edge_row = _ordered(select(*edge_columns), query, edge_columns).offset(slots.window).limit(1)
        edge_time = edge_row.with_only_columns(edge.published_at).scalar_subquery()
        edge_id = edge_row.with_only_columns(edge.article_id).scalar_subquery()
        oldest = query.order is SearchOrder.OLDEST
        beyond: ColumnElement[Any] = literal_column(
            "'infinity'::timestamptz" if oldest else "'-infinity'::timestamptz"
        )
        key, bound = tuple_(*columns), tuple_(edge_time, edge_id)
        window_end = tuple_(func.coalesce(edge_time, beyond), func.coalesce(edge_id, 0))
        unordered = (search.published_at + literal_column("interval '0'"), search.article_id)
        return _by_tier(
            self._windowed(
                hits,
                window=key < window_end if oldest else key > window_end,
                rest=key >= bound if oldest else key <= bound,
                ordered=[column if oldest else column.desc() for column in columns],
                unordered=[column if oldest else column.desc() for column in unordered],
                limit=slots.limit,
            ),
            slots.limit,
        )

    def page(self, query: SearchQuery, slots: _Slots) -> Select[Any]:
        tsquery = self.tsquery(query.expression, slots)
        if query.order is SearchOrder.RELEVANCE:
            page = self._by_relevance(query, slots, tsquery).subquery("page")
        else:
            page = self._by_time(query, slots, tsquery).subquery("page")
        number = literal(slots.number).label("query_number")
        return select(*LIST_COLUMNS, page.c.score, _snippet_source(query), number).join_from(
            page, _article, _article.c.id == page.c.article_id
        )

    def count(self, query: SearchQuery, slots: _Slots) -> Select[Any]:
        columns = [func.count().label("total"), literal(slots.number).label("query_number")]
        return self._matching(
            slots, columns, self._search.c.document.bool_op("@@")(self.tsquery(query.expression, slots))
        )


class _Sqlite:
    """The FTS5 table ``article_search`` (rowid = article id; columns headline, standfirst, body)."""

    name = "sqlite"
    _search: ColumnElement[Any] = literal_column(SEARCH_TABLE)
    #: Each tier's FTS5 query, by its name in ``matches``.
    _tier_matches: ClassVar[dict[float, str]] = {
        HEADLINE: "tier_headline",
        LEAD: "tier_lead",
        BODY: "tier_body",
    }
    #: The names ``matches`` gives its queries: the whole query, where the words are, and each tier.
    MATCHES = ("match", "in_headline", "in_lead", *_tier_matches.values())
    _rowid: ColumnElement[Any] = literal_column(f"{SEARCH_TABLE}.rowid")

    @staticmethod
    def matches(expression: SearchExpression) -> dict[str, str]:
        """The expression in FTS5 syntax, by slot name: the whole query (``match``), and for each tier the
        query restricted to its rows. Every word is a quoted string, so none is read as syntax."""

        def render(term: Term) -> str:
            if term.kind is TermKind.PREFIX:
                return f'"{term.words[0]}"*'
            return '"' + " ".join(term.words) + '"'

        included = " AND ".join(render(term) for term in term_list(expression, excluded=False))
        excluded = [render(term) for term in term_list(expression, excluded=True)]
        whole = f"({included}) NOT ({' OR '.join(excluded)})" if excluded else included
        headline = f"{{headline}} : ({included})"
        lead = f"{{headline standfirst}} : ({included})"
        return {
            "match": whole,
            "in_headline": headline,
            "in_lead": lead,
            "tier_headline": f"({headline}) AND ({whole})",
            "tier_lead": f"(({lead}) AND ({whole})) NOT ({headline})",
            "tier_body": f"({whole}) NOT ({lead})",
        }

    def _matching(self, slots: _Slots, match: BindParameter[str], columns: Sequence[Any]) -> Select[Any]:
        return (
            select(*columns)
            .select_from(table(SEARCH_TABLE))
            .join(_article, _article.c.id == self._rowid)
            .where(
                self._search.op("MATCH")(match),
                _article.c.status == literal_column("'published'"),
                *_filters(slots, _article.c.id, _article.c.section_id, _article.c.published_at),
            )
        )

    def _is_match(self, match: BindParameter[str], article_id: Any) -> ColumnElement[bool]:
        return exists(
            select(self._rowid)
            .select_from(table(SEARCH_TABLE))
            .where(self._search.op("MATCH")(match), self._rowid == article_id)
        )

    def _by_relevance(self, slots: _Slots) -> CompoundSelect[Any]:
        parts = []
        for tier in TIERS:
            match = slots.matches[self._tier_matches[tier]]
            part = self._matching(
                slots, match, [_article.c.id.label("article_id"), _tier_score(tier).label("score")]
            )
            resume = _after_tier(slots, tier, self._rowid)
            if resume is not None:
                part = part.where(resume)
            # FTS5 hands its matches out newest rowid first itself, so the part stops at the page.
            part = part.order_by(self._rowid.desc()).limit(slots.limit)
            parts.append(select(part.subquery()))
        return _by_tier(parts, slots.limit)

    def _by_time(self, query: SearchQuery, slots: _Slots) -> Select[Any]:
        score = case(
            (self._is_match(slots.matches["in_headline"], _article.c.id), _tier_score(HEADLINE)),
            (self._is_match(slots.matches["in_lead"], _article.c.id), _tier_score(LEAD)),
            else_=_tier_score(BODY),
        )
        columns, resume = _time_keyset(query, slots, _article.c.id, _article.c.published_at)
        hits = self._matching(
            slots, slots.matches["match"], [_article.c.id.label("article_id"), score.label("score")]
        )
        if resume is not None:
            hits = hits.where(resume)
        return _ordered(hits, query, columns).limit(slots.limit)

    def page(self, query: SearchQuery, slots: _Slots) -> Select[Any]:
        if query.order is SearchOrder.RELEVANCE:
            page = self._by_relevance(slots).subquery("page")
        else:
            page = self._by_time(query, slots).subquery("page")
        number = literal(slots.number).label("query_number")
        return select(*LIST_COLUMNS, page.c.score, _snippet_source(query), number).join_from(
            page, _article, _article.c.id == page.c.article_id
        )

    def count(self, query: SearchQuery, slots: _Slots) -> Select[Any]:
        return self._matching(
            slots,
            slots.matches["match"],
            [func.count().label("total"), literal(slots.number).label("query_number")],
        )

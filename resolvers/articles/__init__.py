"""Articles: light rows for lists (no body unless asked), lookups and keyset pages; the writes are in
``writes``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Exists,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    exists,
    func,
    literal,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from models import Article, ArticleStatus, Entity, EntityKind, Mention
from models.types import UTCDateTime
from resolvers.keys import storable
from resolvers.statements import cached_statement

T = TypeVar("T")

_article = Article.__table__  # type: ignore[attr-defined]
_mention = Mention.__table__  # type: ignore[attr-defined]
_entity = Entity.__table__  # type: ignore[attr-defined]

LIST_COLUMNS = (
    _article.c.id,
    _article.c.slug,
    _article.c.headline,
    _article.c.standfirst,
    _article.c.section_id,
    _article.c.published_at,
    _article.c.updated_at,
    _article.c.word_count,
    _article.c.authors,
    _article.c.canonical_url,
    _article.c.source_format,
    _article.c.source_id,
    _article.c.status,
)
NEWEST_FIRST = (_article.c.published_at.desc(), _article.c.id.desc())
OLDEST_FIRST = (_article.c.published_at, _article.c.id)


@dataclass(slots=True)
class ArticleRow:
    id: int
    slug: str
    headline: str
    standfirst: str | None
    section_id: int
    published_at: datetime
    updated_at: datetime
    word_count: int
    authors: list[str]
    canonical_url: str | None
    source_format: str
    source_id: str | None
    status: str  # an ArticleStatus value: DRAFT only where the request may see drafts
    body: list[dict[str, Any]] | None = None


#: Where a page of newest-first articles resumes: strictly older than this (published_at, id).
ArticleKey = tuple[datetime, int]


@dataclass(frozen=True, slots=True)
class ArticleFilters:
    """Which articles a list or a search holds: in any of ``section_ids``, mentioning each of ``entity_ids``
    and at least one entity of ``entity_kind``, published ``since <= published_at < until``; published ones
    only, unless ``drafts`` (a list asked for drafts, and allowed them: graph/scopes.py; searches never do).

    ``section`` is the section asked for and whether its subsections count, as a list's cursors bind it
    (``described``): ``section_ids`` grows when a subsection is added, and the list's cursors must stay good
    then. It is left out of comparisons: the ids decide what is read, so equal reads share one load.
    """

    section_ids: tuple[int, ...] | None = None
    entity_ids: tuple[int, ...] = ()
    entity_kind: EntityKind | None = None
    since: datetime | None = None
    until: datetime | None = None
    drafts: bool = False
    section: tuple[int, bool] | None = field(default=None, compare=False)

    def described(self) -> tuple[object, ...]:
        """The filters as a list's cursors bind them: equal for equivalent arguments (entities in any
        order, times in UTC, a section by any spelling of its path)."""
        described = (self.section, sorted(self.entity_ids), self.entity_kind, self.since, self.until)
        return (*described, "drafts") if self.drafts else described  # published lists keep their cursors

    def shape(self) -> tuple[Any, ...]:
        """Which filters are set: what the text of a statement depends on (their values are parameters)."""
        return (
            self.section_ids is not None,
            len(self.entity_ids),
            self.entity_kind is not None,
            self.since is not None,
            self.until is not None,
            self.drafts,
        )


#: Every published article.
NO_FILTERS = ArticleFilters()


@dataclass(frozen=True, slots=True)
class ArticleQuery:
    """One page of the articles passing ``filters``. ``limit`` rows are returned at most.

    Newest first unless ``oldest_first``; ``after`` is the (published_at, id) of the last row seen.
    """

    limit: int
    filters: ArticleFilters = NO_FILTERS
    oldest_first: bool = False
    after: ArticleKey | None = None


def _columns(with_body: bool) -> tuple[Any, ...]:
    return (*LIST_COLUMNS, _article.c.body) if with_body else LIST_COLUMNS


def article_row(values: Sequence[Any], with_body: bool = False) -> ArticleRow:
    """An ArticleRow from a result row that starts with LIST_COLUMNS (then the body, ``with_body``)."""
    row = ArticleRow(*values[: len(LIST_COLUMNS)])
    if with_body:
        row.body = values[len(LIST_COLUMNS)]
    return row


#: Every status but published, as an IN list an index on status can serve.
UNPUBLISHED = [status.value for status in ArticleStatus if status is not ArticleStatus.PUBLISHED]


def visible(statement: Select[Any], drafts: bool) -> Select[Any]:
    """Only published articles, unless ``drafts``: the one condition every read of articles applies."""
    return statement if drafts else statement.where(_article.c.status == ArticleStatus.PUBLISHED)


def _by(key: str, with_body: bool, drafts: bool) -> Select[Any]:
    """Articles whose ``key`` column is in the list bound as ``keys``: published ones, drafts too if
    ``drafts``."""
    return visible(
        select(*_columns(with_body)).where(_article.c[key].in_(bindparam("keys", expanding=True))), drafts
    )


# Built once: the lookups every article page makes, so a request spends nothing on building them.
_CASES = [(with_body, drafts) for with_body in (False, True) for drafts in (False, True)]
_BY_SLUG = {case: _by("slug", *case) for case in _CASES}
_BY_ID = {case: _by("id", *case) for case in _CASES}


async def articles_by_slugs(
    connection: AsyncConnection, slugs: Sequence[str], *, with_body: bool, drafts: bool = False
) -> dict[str, ArticleRow]:
    """The articles of these slugs: published ones, drafts too if ``drafts``."""
    statement = _BY_SLUG[(with_body, drafts)]
    result = await connection.execute(statement, {"keys": list(filter(storable, slugs))})
    rows = [article_row(values, with_body) for values in result.all()]
    return {row.slug: row for row in rows}


async def articles_by_ids(
    connection: AsyncConnection, ids: Sequence[int], *, with_body: bool, drafts: bool = False
) -> dict[int, ArticleRow]:
    """The articles of these ids: published ones, drafts too if ``drafts``."""
    result = await connection.execute(_BY_ID[(with_body, drafts)], {"keys": list(ids)})
    rows = [article_row(values, with_body) for values in result.all()]
    return {row.id: row for row in rows}


@dataclass(frozen=True, slots=True)
class _PageSlots:
    """A page query's values as bound parameters named for its place in the statement: a statement is built
    once for each shape of query (``_page_shape``) and run with each query's values (``_page_values``);
    building one per request was a large share of a section's or an entity's page (docs/benchmarks.md)."""

    number: int
    limit: BindParameter[int]
    section_ids: BindParameter[Any] | None  # the list (PostgreSQL reads it as an array: ``_sections_page``)
    each_section: tuple[BindParameter[int], ...]  # SQLite reads the sections one by one
    entity_ids: tuple[BindParameter[int], ...]
    entity_kind: BindParameter[str] | None
    since: BindParameter[datetime] | None
    until: BindParameter[datetime] | None
    after: tuple[BindParameter[datetime], BindParameter[int]] | None
    drafts: bool  # drafts too (not a parameter: it decides the statement's conditions)

    @classmethod
    def of(cls, query: ArticleQuery, number: int, *, lateral: bool) -> _PageSlots:
        def slot(name: str, type_: Any, **options: Any) -> BindParameter[Any]:
            return query_slot(number, name, type_, **options)

        sections = query.filters.section_ids
        # Several sections and no entity: read section by section (``_page``).
        several = sections is not None and len(sections) > 1 and not query.filters.entity_ids
        return cls(
            number,
            slot("limit", Integer()),
            None
            if sections is None
            else slot("sections", ARRAY(Integer))
            if several and lateral
            else slot("sections", Integer(), expanding=True),
            tuple(slot(f"section{index}", Integer()) for index in range(len(sections or ())))
            if several and not lateral
            else (),
            *filter_slots(number, query.filters),
            after=None
            if query.after is None
            else (slot("after_time", UTCDateTime()), slot("after_id", Integer())),
            drafts=query.filters.drafts,
        )


def query_slot(number: int, name: str, type_: Any, **options: Any) -> BindParameter[Any]:
    """The bound parameter ``name`` of query ``number`` of a statement (``q<number>_<name>``)."""
    return bindparam(f"q{number}_{name}", type_=type_, **options)


def filter_slots(
    number: int, filters: ArticleFilters
) -> tuple[
    tuple[BindParameter[int], ...],
    BindParameter[str] | None,
    BindParameter[datetime] | None,
    BindParameter[datetime] | None,
]:
    """The slots of the filters article lists and searches share (but sections, which each reads its own
    way): one per entity, the kind, the time window; None for a filter the query does not set."""
    return (
        tuple(query_slot(number, f"entity{index}", Integer()) for index in range(len(filters.entity_ids))),
        None if filters.entity_kind is None else query_slot(number, "kind", String()),
        None if filters.since is None else query_slot(number, "since", UTCDateTime()),
        None if filters.until is None else query_slot(number, "until", UTCDateTime()),
    )


def _page_shape(query: ArticleQuery, lateral: bool) -> tuple[Any, ...]:
    """What the text of a page query's statement depends on; everything else is a parameter's value."""
    sections = query.filters.section_ids
    return (
        *query.filters.shape(),
        lateral,
        # Section by section: PostgreSQL reads any number with one statement, SQLite needs one read each.
        None if sections is None else (len(sections) > 1 if lateral else len(sections)),
        query.oldest_first,
        query.after is not None,
    )


def filter_values(prefix: str, filters: ArticleFilters) -> dict[str, Any]:
    """The filters' parameters of one query, named as its slots name them (``prefix`` is ``q<number>_``);
    the filters of article lists and of searches are the same."""
    values: dict[str, Any] = {}
    if filters.section_ids is not None:
        values[f"{prefix}sections"] = list(filters.section_ids)
    for index, entity_id in enumerate(filters.entity_ids):
        values[f"{prefix}entity{index}"] = entity_id
    for name, value in (("kind", filters.entity_kind), ("since", filters.since), ("until", filters.until)):
        if value is not None:
            values[f"{prefix}{name}"] = value
    return values


def _page_values(queries: Sequence[ArticleQuery]) -> dict[str, Any]:
    """The parameters of the statement for ``queries``, by the names ``_PageSlots.of`` gives them."""
    values: dict[str, Any] = {}
    for number, query in enumerate(queries):
        prefix = f"q{number}_"
        values |= filter_values(prefix, query.filters)
        values[f"{prefix}limit"] = query.limit
        for index, section_id in enumerate(query.filters.section_ids or ()):
            values[f"{prefix}section{index}"] = section_id
        if query.after is not None:
            values[f"{prefix}after_time"], values[f"{prefix}after_id"] = query.after
    return values


def _filtered(
    slots: _PageSlots,
    columns: Sequence[Any],
    *,
    sections: ColumnElement[bool] | None,
    entity_ids: Sequence[BindParameter[int]],
) -> Select[Any]:
    """Published articles (drafts too, if the query says so) in ``sections`` (a condition, or any section),
    mentioning each of ``entity_ids``, and passing the query's other filters."""
    # FROM named: with drafts, a count may have no condition to bring the table in.
    statement = visible(select(*columns).select_from(_article), slots.drafts)
    if sections is not None:
        statement = statement.where(sections)
    for entity_id in entity_ids:
        statement = statement.where(
            exists().where(and_(_mention.c.article_id == _article.c.id, _mention.c.entity_id == entity_id))
        )
    if slots.entity_kind is not None:
        statement = statement.where(mentions_kind(_article.c.id, slots.entity_kind))
    if slots.since is not None:
        statement = statement.where(_article.c.published_at >= slots.since)
    if slots.until is not None:
        statement = statement.where(_article.c.published_at < slots.until)
    return statement


def _in_sections(slots: _PageSlots) -> ColumnElement[bool] | None:
    return None if slots.section_ids is None else _article.c.section_id.in_(slots.section_ids)


def mentions_kind(article_id: Any, kind: str | ColumnElement[str]) -> Exists:
    """The article mentions at least one entity of ``kind`` (a value, or a bound parameter to give it)."""
    return exists(
        select(_mention.c.article_id)
        .join(_entity, _entity.c.id == _mention.c.entity_id)
        .where(_mention.c.article_id == article_id, _entity.c.kind == kind)
    )


def _page(query: ArticleQuery, slots: _PageSlots, columns: tuple[Any, ...], *, lateral: bool) -> Select[Any]:
    """One keyset page, written so that the database reads it in order from an index, whatever the depth.

    - By entity: walk the first entity's mentions in (published_at, article_id) order
      (ix_mention_entity_published) instead of testing every article for the mention.
    - By several sections: one ordered, limited read per section (ix_article_section_published), merged;
      at most ``limit`` rows per section, instead of sorting the whole subtree or scanning past others.
      With ``lateral`` (PostgreSQL, see ``_sections_page``) the keys come from the index alone and the table
      is read for the page's rows only. SQLite has no LATERAL: a UNION ALL of one read per section.
    - Otherwise: the newest (or oldest) published articles (ix_article_status_published).
    """
    order = OLDEST_FIRST if query.oldest_first else NEWEST_FIRST
    if slots.entity_ids:
        mention = _mention.alias("driving_mention")
        first, *others = slots.entity_ids
        statement = _filtered(slots, columns, sections=_in_sections(slots), entity_ids=others).join(
            mention, and_(mention.c.article_id == _article.c.id, mention.c.entity_id == first)
        )
        key = (mention.c.published_at, mention.c.article_id)
        return _resume(statement, query, slots, key).order_by(*_directed(key, query)).limit(slots.limit)
    if query.filters.section_ids is not None and len(query.filters.section_ids) > 1:
        if lateral:
            return _sections_page(query, slots, columns)
        reads = [
            select(
                _resume(
                    _filtered(slots, columns, sections=_article.c.section_id == section_id, entity_ids=()),
                    query,
                    slots,
                )
                .order_by(*order)
                .limit(slots.limit)
                .subquery()
            )
            for section_id in slots.each_section
        ]
        merged = union_all(*reads).subquery("by_section")
        key = (merged.c.published_at, merged.c.id)
        return select(merged).order_by(*_directed(key, query)).limit(slots.limit)
    statement = _filtered(slots, columns, sections=_in_sections(slots), entity_ids=())
    return _resume(statement, query, slots).order_by(*order).limit(slots.limit)


def _sections_page(query: ArticleQuery, slots: _PageSlots, columns: tuple[Any, ...]) -> Select[Any]:
    """A page of several sections on PostgreSQL: for each section (a LATERAL join to the list of them), the
    next ``limit`` keys from ix_article_published_section alone; the newest ``limit`` of those; then the
    table for those rows only. One small statement to build and plan, whatever the number of sections."""
    sections = func.unnest(slots.section_ids).table_valued("id").render_derived("sections")
    per_section = (
        _resume(
            _filtered(slots, (_article.c.published_at, _article.c.id), sections=None, entity_ids=()),
            query,
            slots,
        )
        .where(_article.c.section_id == sections.c.id)
        .order_by(*_directed((_article.c.published_at, _article.c.id), query))
        .limit(slots.limit)
        .lateral("by_section")
    )
    keys = (
        select(per_section.c.published_at, per_section.c.id)
        .select_from(sections)
        .join(per_section, true())
        .order_by(*_directed((per_section.c.published_at, per_section.c.id), query))
        .limit(slots.limit)
        .subquery("page_keys")
    )
    return (
        select(*columns)
        .join_from(keys, _article, _article.c.id == keys.c.id)
        .order_by(*_directed((keys.c.published_at, keys.c.id), query))
    )


def _directed(key: Sequence[Any], query: ArticleQuery) -> tuple[Any, ...]:
    """``key``'s columns in the query's order: ascending for oldest first, else descending."""
    return tuple(key) if query.oldest_first else tuple(column.desc() for column in key)


def _resume(
    statement: Select[Any], query: ArticleQuery, slots: _PageSlots, key: Sequence[Any] = ()
) -> Select[Any]:
    """Only rows after the query's cursor, by ``key`` (the article's (published_at, id) by default)."""
    if slots.after is None:
        return statement
    position = tuple_(*(key or (_article.c.published_at, _article.c.id)))
    return statement.where(
        position > tuple_(*slots.after) if query.oldest_first else position < tuple_(*slots.after)
    )


async def count_articles_matching(connection: AsyncConnection, queries: Sequence[ArticleQuery]) -> list[int]:
    """How many articles pass each query's filters, all pages together, in one statement."""

    def build() -> Select[Any] | CompoundSelect[Any]:
        counts = []
        for number, query in enumerate(queries):
            slots = _PageSlots.of(query, number, lateral=False)
            columns = [func.count().label("total"), literal(number).label("query_number")]
            counts.append(
                _filtered(slots, columns, sections=_in_sections(slots), entity_ids=slots.entity_ids)
            )
        return counts[0] if len(counts) == 1 else union_all(*(select(count.subquery()) for count in counts))

    statement = cached_statement(("count", *(query.filters.shape() for query in queries)), build)
    result = [0] * len(queries)
    for total, number in await connection.execute(statement, _page_values(queries)):
        result[number] = int(total)
    return result


async def list_articles(
    connection: AsyncConnection, queries: Sequence[ArticleQuery], *, with_body: bool
) -> list[list[ArticleRow]]:
    """Several pages in one statement (a UNION ALL of keyset pages), one list per query, in order."""
    columns = _columns(with_body)
    lateral = connection.dialect.name == "postgresql"

    def build() -> Select[Any] | CompoundSelect[Any]:
        if len(queries) == 1:
            return _page(queries[0], _PageSlots.of(queries[0], 0, lateral=lateral), columns, lateral=lateral)
        return union_all(
            *(
                select(
                    _page(
                        query,
                        _PageSlots.of(query, number, lateral=lateral),
                        (*columns, literal(number).label("query_number")),
                        lateral=lateral,
                    ).subquery()
                )
                for number, query in enumerate(queries)
            )
        )

    key = ("page", with_body, *(_page_shape(query, lateral) for query in queries))
    rows = await connection.execute(cached_statement(key, build), _page_values(queries))
    if len(queries) == 1:
        return [[article_row(values, with_body) for values in rows]]
    result: list[list[ArticleRow]] = [[] for _ in queries]
    for values in rows.all():
        result[values[-1]].append(article_row(values, with_body))
    for query, page in zip(queries, result, strict=True):
        page.sort(key=lambda row: (row.published_at, row.id), reverse=not query.oldest_first)
    return result


@dataclass(slots=True)
class ArticleText:
    """What entity extraction reads of a stored article."""

    id: int
    headline: str
    standfirst: str | None
    body: list[dict[str, Any]]
    published_at: datetime


async def article_texts(connection: AsyncConnection, *, after_id: int, limit: int) -> list[ArticleText]:
    """Articles in id order after ``after_id`` (every status), for passes over the whole archive."""
    statement = (
        select(
            _article.c.id,
            _article.c.headline,
            _article.c.standfirst,
            _article.c.body,
            _article.c.published_at,
        )
        .where(_article.c.id > after_id)
        .order_by(_article.c.id)
        .limit(limit)
    )
    return [ArticleText(*row) for row in await connection.execute(statement)]


async def count_articles(connection: AsyncConnection) -> int:
    return int(await connection.scalar(select(func.count()).select_from(_article)) or 0)

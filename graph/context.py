"""Per-request context: the engine, the request id, and DataLoaders that batch every lookup."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from graphql import FieldNode, FragmentSpreadNode, GraphQLResolveInfo, InlineFragmentNode, SelectionSetNode
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.responses import Response
from strawberry.dataloader import DataLoader

from graph.errors import ClientError, ErrorCode
from graph.limits import Budget
from graph.relay import CursorSecret, ListCursors
from models.api_keys import KeyScope
from models.changes import ChangeWatcher, Scope
from models.cursor_secret import read_cursor_secret
from models.db import StatementTimeout, reading
from resolvers import api_keys, articles, entities, mentions, search, sections

if TYPE_CHECKING:
    from graph.articles import ArticleLists

#: Keys one batch reads at most: each is a bound parameter of one statement, and SQLite builds before 3.32
#: refuse more than 999 of them; past a few hundred, one statement is no cheaper than two anyway.
MAX_BATCH_SIZE = 500

K = TypeVar("K")
V = TypeVar("V")

#: What a client reads when PostgreSQL stopped a statement of its request (``statement_timeout``).
STATEMENT_TIMEOUT_MESSAGE = (
    "the request ran past the server's time limit and was stopped: narrow it down (a section, a date "
    "range, or for a search fewer common words in a quoted phrase)"
)

#: How many co-mentioned entities are loaded per entity; the `first` argument slices this.
MAX_RELATED = 50


class Kept(Generic[V]):
    """One value read from the database and kept while ``scope``'s generation is unchanged
    (``models.changes``: a notification from any writer, in any process); read again on the first request
    after a change, or whenever changes cannot be seen (then on every request). One read however many
    requests wait for it."""

    def __init__(
        self, changes: ChangeWatcher, scope: Scope, load: Callable[[AsyncConnection], Awaitable[V]]
    ) -> None:
        self.changes = changes
        self.scope = scope
        self.load = load
        self._value: V | None = None
        self._generation: int | None = None
        self._loading: tuple[int | None, asyncio.Future[V]] | None = None

    def get(self, engine: AsyncEngine, *, stale: V | None = None) -> Awaitable[V]:
        """The current value; pass one a request found lacking as ``stale`` to force a new read."""
        generation = self.changes.generation(self.scope)
        value = self._value
        if (
            value is not None
            and value is not stale
            and generation is not None
            and generation == self._generation
        ):
            return _ready(value)
        # One read however many requests are waiting for it, unless it may have begun before what they saw.
        if self._loading is None or self._loading[0] != generation or generation is None or stale is not None:
            self._loading = (generation, asyncio.ensure_future(self._load(engine, generation)))
        return self._loading[1]

    async def _load(self, engine: AsyncEngine, generation: int | None) -> V:
        try:
            async with reading(engine) as connection:
                value = await self.load(connection)
            if generation is not None and (self._generation is None or generation >= self._generation):
                self._value, self._generation = value, generation
            return value
        finally:
            if self._loading is not None and self._loading[0] == generation:
                self._loading = None


class SectionTreeCache:
    """The section tree, shared by the requests of one app: it is small, read on almost every request, and
    changes rarely. It is kept while the database's sections are unchanged; a request that meets a section
    the tree lacks (one written a moment before its notification arrived) reads it again at once.

    Beside it, the sections published articles are filed in, kept while no content changes (publishing a
    draft changes no section), from which the public sections are worked out (``SectionTree.public``) once
    for each pair: what a request without the drafts scope may list and look up. Kept apart from the tree,
    so that article pages, which need only the tree, never wait for it.
    """

    def __init__(self, changes: ChangeWatcher) -> None:
        self.tree = Kept(changes, Scope.SECTIONS, sections.load_section_tree)
        self.filed = Kept(changes, Scope.CONTENT, sections.sections_with_published_articles)
        self._public: tuple[sections.SectionTree, frozenset[int], frozenset[int]] | None = None

    def get(
        self, engine: AsyncEngine, *, stale: sections.SectionTree | None = None
    ) -> Awaitable[sections.SectionTree]:
        """The current tree; pass the tree a request found lacking as ``stale`` to force a new read."""
        return self.tree.get(engine, stale=stale)

    def public(self, tree: sections.SectionTree, filed: frozenset[int]) -> frozenset[int]:
        """The public sections of ``tree``, given the sections published articles are ``filed`` in."""
        kept = self._public
        if kept is None or kept[0] is not tree or kept[1] is not filed:
            kept = self._public = (tree, filed, tree.public(filed))
        return kept[2]


class CursorSecretCache:
    """The cursor secret, read by the app's first request that makes or checks a cursor, and kept: it
    changes only when an operator rotates it, and servers are restarted then (models/cursor_secret.py).
    Read then rather than at start-up, so that a server still starts while its database is away."""

    def __init__(self) -> None:
        self._secret: CursorSecret | None = None

    async def get(self, engine: AsyncEngine) -> CursorSecret:
        if self._secret is None:  # requests that come at once may each read it: the same row, no harm done
            async with engine.connect() as connection:
                self._secret = CursorSecret(await read_cursor_secret(connection))
        return self._secret


async def _ready(value: V) -> V:
    return value


@dataclass
class Context:
    engine: AsyncEngine
    lookups: AsyncEngine  # for reads by unique key (``models.db.create_engine``); may be ``engine`` itself
    request_id: str
    sections_cache: SectionTreeCache
    cursor_secret: CursorSecretCache
    article_lists: ArticleLists  # for the sections' and entities' article lists (graph.articles.ArticleLists)
    api_key: api_keys.ApiKeyRow | None = None  # the key the request presented (graph/auth.py); None: none
    budget: Budget | None = None  # the query-cost budget it spends (graph/limits.py); None: not over HTTP
    response: Response | None = field(default=None, repr=False)  # its status and headers, for refusals
    #: What the answer contains, as cache tags (models/response_cache.py), for the cache and CDNs.
    tags: set[str] = field(default_factory=set, repr=False)
    _section_tree: sections.SectionTree | None = field(default=None, repr=False)
    _public_sections: frozenset[int] | None = field(default=None, repr=False)

    def may(self, scope: KeyScope) -> bool:
        """Whether the request may act within ``scope``: a key, as its scopes say; anonymous requests (let in
        when ``BROADSHEET_REQUIRE_API_KEY`` is false) may read published content, nothing else. The
        permission classes (graph/scopes.py) and ``sees_drafts`` ask it."""
        return scope in api_keys.granted_scopes(self.api_key)

    @cached_property
    def sees_drafts(self) -> bool:
        """Lookups by slug or id find drafts too: the request's key has the drafts scope."""
        return self.may(KeyScope.DRAFTS)

    def refuse(self, status: int, retry_after: int) -> None:
        """Answer with ``status`` and a ``Retry-After`` (graph/cost.py's refusals)."""
        if self.response is not None:
            self.response.status_code = status
            self.response.headers["retry-after"] = str(retry_after)

    async def read(self, query: Callable[[AsyncConnection], Awaitable[V]], *, lookup: bool = False) -> V:
        """Run one read on a pooled connection; each batch gets its own, so batches may overlap. ``lookup``:
        a read by unique key, on the engine whose plans PostgreSQL may keep.

        Autocommit: a batch is one statement, so a transaction around it would only add a BEGIN and a
        ROLLBACK round trip (batches of one request never shared a snapshot anyway).
        """
        try:
            async with reading(self.lookups if lookup else self.engine) as connection:
                return await query(connection)
        except StatementTimeout:
            raise ClientError(STATEMENT_TIMEOUT_MESSAGE, code=ErrorCode.TIMEOUT) from None

    async def list_cursors(self, *description: object) -> ListCursors:
        """The cursors of the list ``description`` names (``graph.relay.CursorSecret.for_list``)."""
        secret = await self.cursor_secret.get(self.engine)
        return secret.for_list(*description)

    async def section_tree(
        self, *, missing_id: int | None = None, missing_path: str | None = None
    ) -> sections.SectionTree:
        """The section tree this request sees; read again (once) if it lacks a section the request met."""
        tree = self._section_tree
        try:
            if tree is None:
                tree = await self.sections_cache.get(self.engine)
            lacking = (missing_id is not None and missing_id not in tree.by_id) or (
                missing_path is not None and missing_path not in tree.by_path
            )
            if lacking:
                tree = await self.sections_cache.get(self.engine, stale=tree)
        except StatementTimeout:
            raise ClientError(STATEMENT_TIMEOUT_MESSAGE, code=ErrorCode.TIMEOUT) from None
        self._section_tree = tree
        return tree

    async def public_sections(self, *, drafts: bool) -> frozenset[int] | None:
        """The sections a read may show (resolvers/sections.py says which are public): None, all of them,
        for a read that may show drafts (a lookup with the drafts scope, a list that asked for drafts)."""
        if drafts:
            return None
        if self._public_sections is not None:  # asked once per section listed: work it out once
            return self._public_sections
        try:
            tree, filed = await asyncio.gather(
                self.section_tree(), self.sections_cache.filed.get(self.engine)
            )
        except StatementTimeout:
            raise ClientError(STATEMENT_TIMEOUT_MESSAGE, code=ErrorCode.TIMEOUT) from None
        lacking = next((section_id for section_id in filed if section_id not in tree.by_id), None)
        if lacking is not None:  # a section published since the tree was read
            tree = await self.section_tree(missing_id=lacking)
        self._public_sections = self.sections_cache.public(tree, filed)
        return self._public_sections

    def _loader(
        self, batch: Callable[[AsyncConnection, list[K]], Awaitable[Sequence[V]]], *, lookup: bool = False
    ) -> DataLoader[K, V]:
        async def load(keys: list[K]) -> Sequence[V]:
            return await self.read(lambda connection: batch(connection, keys), lookup=lookup)

        return DataLoader(load_fn=load, max_batch_size=MAX_BATCH_SIZE)

    @cached_property
    def article_by_slug(self) -> DataLoader[str, articles.ArticleRow | None]:
        async def batch(connection: AsyncConnection, slugs: list[str]) -> list[articles.ArticleRow | None]:
            found = await articles.articles_by_slugs(
                connection, slugs, with_body=True, drafts=self.sees_drafts
            )
            return [found.get(slug) for slug in slugs]

        return self._loader(batch, lookup=True)

    @cached_property
    def article_by_id(self) -> DataLoader[int, articles.ArticleRow | None]:
        async def batch(connection: AsyncConnection, ids: list[int]) -> list[articles.ArticleRow | None]:
            found = await articles.articles_by_ids(connection, ids, with_body=True, drafts=self.sees_drafts)
            return [found.get(key) for key in ids]

        return self._loader(batch, lookup=True)

    @cached_property
    def body_by_article(self) -> DataLoader[int, list[dict[str, Any]]]:
        async def batch(connection: AsyncConnection, ids: list[int]) -> list[list[dict[str, Any]]]:
            found = await articles.articles_by_ids(connection, ids, with_body=True, drafts=self.sees_drafts)
            return [(found[key].body or []) if key in found else [] for key in ids]

        return self._loader(batch, lookup=True)

    @cached_property
    def articles_page(self) -> DataLoader[articles.ArticleQuery, list[articles.ArticleRow]]:
        async def batch(
            connection: AsyncConnection, queries: list[articles.ArticleQuery]
        ) -> list[list[articles.ArticleRow]]:
            return await articles.list_articles(connection, queries, with_body=False)

        return self._loader(batch)

    @cached_property
    def articles_total(self) -> DataLoader[articles.ArticleQuery, int]:
        """Totals for connections that ask for `totalCount`, keyed by their filters."""
        return self._loader(articles.count_articles_matching)

    @cached_property
    def search_page(self) -> DataLoader[search.SearchQuery, list[search.SearchHit]]:
        return self._loader(search.search_articles)

    @cached_property
    def search_total(self) -> DataLoader[search.SearchQuery, int]:
        """Totals for searches that ask for `totalCount`, keyed by their filters."""
        return self._loader(search.count_search_matches)

    @cached_property
    def mentions_by_article(self) -> DataLoader[int, list[mentions.MentionRow]]:
        """Mentions without their locations: most pages never show them, and decoding them is not free."""
        return self._mentions_loader(with_locations=False)

    @cached_property
    def mentions_with_locations_by_article(self) -> DataLoader[int, list[mentions.MentionRow]]:
        return self._mentions_loader(with_locations=True)

    @cached_property
    def article_with_mentions_by_slug(
        self,
    ) -> DataLoader[str, tuple[articles.ArticleRow, list[mentions.MentionRow]] | None]:
        return self._article_with_mentions_loader(with_locations=False)

    @cached_property
    def article_with_mentions_and_locations_by_slug(
        self,
    ) -> DataLoader[str, tuple[articles.ArticleRow, list[mentions.MentionRow]] | None]:
        return self._article_with_mentions_loader(with_locations=True)

    def _article_with_mentions_loader(
        self, *, with_locations: bool
    ) -> DataLoader[str, tuple[articles.ArticleRow, list[mentions.MentionRow]] | None]:
        async def batch(
            connection: AsyncConnection, slugs: list[str]
        ) -> list[tuple[articles.ArticleRow, list[mentions.MentionRow]] | None]:
            found = await mentions.articles_with_mentions_by_slugs(
                connection, slugs, with_locations=with_locations, drafts=self.sees_drafts
            )
            return [found.get(slug) for slug in slugs]

        return self._loader(batch, lookup=True)

    def _mentions_loader(self, *, with_locations: bool) -> DataLoader[int, list[mentions.MentionRow]]:
        async def batch(connection: AsyncConnection, ids: list[int]) -> list[list[mentions.MentionRow]]:
            found = await mentions.mentions_by_article_ids(connection, ids, with_locations=with_locations)
            return [found[key] for key in ids]

        return self._loader(batch, lookup=True)

    @cached_property
    def entity_by_slug(self) -> DataLoader[str, entities.EntityRow | None]:
        async def batch(connection: AsyncConnection, slugs: list[str]) -> list[entities.EntityRow | None]:
            found = await entities.entities_by_slugs(connection, slugs, drafts=self.sees_drafts)
            return [found.get(slug) for slug in slugs]

        return self._loader(batch, lookup=True)

    @cached_property
    def entity_by_id(self) -> DataLoader[int, entities.EntityRow | None]:
        async def batch(connection: AsyncConnection, ids: list[int]) -> list[entities.EntityRow | None]:
            found = await entities.entities_by_ids(connection, ids, drafts=self.sees_drafts)
            return [found.get(key) for key in ids]

        return self._loader(batch, lookup=True)

    @cached_property
    def entities_page(self) -> DataLoader[entities.EntitiesQuery, list[entities.EntityRow]]:
        return self._loader(entities.list_entities)

    @cached_property
    def aliases_by_entity(self) -> DataLoader[int, list[str]]:
        async def batch(connection: AsyncConnection, ids: list[int]) -> list[list[str]]:
            found = await entities.aliases_by_entity_ids(connection, ids)
            return [found[key] for key in ids]

        return self._loader(batch, lookup=True)

    @cached_property
    def article_count_by_entity(self) -> DataLoader[int, int]:
        async def batch(connection: AsyncConnection, ids: list[int]) -> list[int]:
            found = await entities.article_counts_by_entity_ids(connection, ids)
            return [found[key] for key in ids]

        return self._loader(batch)

    @cached_property
    def co_mentioned_by_entity(self) -> DataLoader[int, list[entities.CoMention]]:
        async def batch(connection: AsyncConnection, ids: list[int]) -> list[list[entities.CoMention]]:
            found = await entities.co_mentioned_by_entity_ids(connection, ids, limit=MAX_RELATED)
            return [found[key] for key in ids]

        return self._loader(batch)

    @cached_property
    def entity_articles_page(
        self,
    ) -> DataLoader[mentions.EntityArticlesQuery, list[mentions.EntityArticleRow]]:
        return self._loader(mentions.list_entity_articles)


def get_context(info: Any) -> Context:
    context: Context = info.context
    return context


def selects(info: Any, names: frozenset[str]) -> bool:
    """Whether any field named in ``names`` is selected anywhere below the current field.

    Root resolvers use it to prefetch what their items will need in one batch, so those fields can be plain
    attributes instead of one coroutine per item. Over-selecting (a name in a deeper object) only costs a
    prefetch, never a wrong answer.
    """
    raw: GraphQLResolveInfo = info._raw_info
    stack: list[SelectionSetNode | None] = [node.selection_set for node in raw.field_nodes]
    seen_fragments: set[str] = set()
    while stack:
        selection_set = stack.pop()
        if selection_set is None:
            continue
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value in names:
                    return True
                stack.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen_fragments:
                seen_fragments.add(selection.name.value)
                fragment = raw.fragments.get(selection.name.value)
                stack.append(fragment.selection_set if fragment else None)
    return False

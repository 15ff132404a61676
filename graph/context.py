"""Per-request context: the engine, the request id, and DataLoaders that batch every lookup."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from graphql import FieldNode, FragmentSpreadNode, GraphQLResolveInfo, InlineFragmentNode, SelectionSetNode
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from strawberry.dataloader import DataLoader

from resolvers import articles, entities, mentions, sections

K = TypeVar("K")
V = TypeVar("V")

#: How many co-mentioned entities are loaded per entity; the `first` argument slices this.
MAX_RELATED = 50


@dataclass
class Context:
    engine: AsyncEngine
    request_id: str
    _section_tree: asyncio.Task[sections.SectionTree] | None = field(default=None, repr=False)

    async def read(self, query: Callable[[AsyncConnection], Awaitable[V]]) -> V:
        """Run one read on a pooled connection; each batch gets its own, so batches may overlap."""
        async with self.engine.connect() as connection:
            return await query(connection)

    def section_tree(self) -> Awaitable[sections.SectionTree]:
        """The whole section tree, read once per request however many fields ask for it."""
        if self._section_tree is None:
            self._section_tree = asyncio.ensure_future(self.read(sections.load_section_tree))
        return self._section_tree

    def _loader(
        self, batch: Callable[[AsyncConnection, list[K]], Awaitable[Sequence[V]]]
    ) -> DataLoader[K, V]:
        async def load(keys: list[K]) -> Sequence[V]:
            return await self.read(lambda connection: batch(connection, keys))

        return DataLoader(load_fn=load)

    @cached_property
    def article_by_slug(self) -> DataLoader[str, articles.ArticleRow | None]:
        async def batch(connection: AsyncConnection, slugs: list[str]) -> list[articles.ArticleRow | None]:
            found = await articles.articles_by_slugs(connection, slugs, with_body=True)
            return [found.get(slug) for slug in slugs]

        return self._loader(batch)

    @cached_property
    def article_by_id(self) -> DataLoader[int, articles.ArticleRow | None]:
        async def batch(connection: AsyncConnection, ids: list[int]) -> list[articles.ArticleRow | None]:
            found = await articles.articles_by_ids(connection, ids, with_body=True)
            return [found.get(key) for key in ids]

        return self._loader(batch)

    @cached_property
    def body_by_article(self) -> DataLoader[int, list[dict[str, Any]]]:
        async def batch(connection: AsyncConnection, ids: list[int]) -> list[list[dict[str, Any]]]:
            found = await articles.articles_by_ids(connection, ids, with_body=True)
            return [(found[key].body or []) if key in found else [] for key in ids]

        return self._loader(batch)

    @cached_property
    def articles_page(self) -> DataLoader[articles.ArticleQuery, list[articles.ArticleRow]]:
        async def batch(
            connection: AsyncConnection, queries: list[articles.ArticleQuery]
        ) -> list[list[articles.ArticleRow]]:
            return await articles.list_articles(connection, queries, with_body=False)

        return self._loader(batch)

    @cached_property
    def mentions_by_article(self) -> DataLoader[int, list[mentions.MentionRow]]:
        async def batch(connection: AsyncConnection, ids: list[int]) -> list[list[mentions.MentionRow]]:
            found = await mentions.mentions_by_article_ids(connection, ids)
            return [found[key] for key in ids]

        return self._loader(batch)

    @cached_property
    def entity_by_slug(self) -> DataLoader[str, entities.EntityRow | None]:
        async def batch(connection: AsyncConnection, slugs: list[str]) -> list[entities.EntityRow | None]:
            found = await entities.entities_by_slugs(connection, slugs)
            return [found.get(slug) for slug in slugs]

        return self._loader(batch)

    @cached_property
    def entity_by_id(self) -> DataLoader[int, entities.EntityRow | None]:
        async def batch(connection: AsyncConnection, ids: list[int]) -> list[entities.EntityRow | None]:
            found = await entities.entities_by_ids(connection, ids)
            return [found.get(key) for key in ids]

        return self._loader(batch)

    @cached_property
    def aliases_by_entity(self) -> DataLoader[int, list[str]]:
        async def batch(connection: AsyncConnection, ids: list[int]) -> list[list[str]]:
            found = await entities.aliases_by_entity_ids(connection, ids)
            return [found[key] for key in ids]

        return self._loader(batch)

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

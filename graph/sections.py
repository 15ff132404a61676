"""Section and breadcrumb types, built from the request's in-memory section tree."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from graph.context import get_context
from graph.execution import PURE
from graph.relay import Node, global_id
from resolvers.sections import SectionRow, SectionTree

if TYPE_CHECKING:
    from graph.articles import ArticleConnection


@strawberry.type(description="One step of a breadcrumb trail (schema.org ListItem).")
class BreadcrumbItem:
    position: int = strawberry.field(description="1 for Home, counting down the trail.")
    name: str = strawberry.field(description="What the trail shows: a section name or the headline.")
    path: str = strawberry.field(description='Site path of the step: "/", "/europe", "/europe/<article>".')


def section_url_path(row: SectionRow) -> str:
    return f"/{row.path}" if row.path else "/"


def section_crumbs(tree: SectionTree, section_id: int) -> list[BreadcrumbItem]:
    """Home down to the section. Cached on the tree, so fifty articles in one section build it once."""
    key = ("crumbs", section_id)
    cached: list[BreadcrumbItem] | None = tree.derived.get(key)
    if cached is None:
        cached = [
            BreadcrumbItem(position=position, name=row.name, path=section_url_path(row))
            for position, row in enumerate(tree.lineage(section_id), start=1)
        ]
        tree.derived[key] = cached
    return cached


@strawberry.type(name="Section", description="A section of the site; sections form a tree under Home.")
class SectionNode(Node):
    slug: str = strawberry.field(description="This level's slug (Home's is `home`).")
    name: str = strawberry.field(description="Display name, e.g. Europe.")
    path: str = strawberry.field(
        description='Slugs from the root joined by "/" (e.g. `news/business`); Home\'s path is "".'
    )
    depth: int = strawberry.field(description="0 for Home, 1 for its children, and so on.")
    row: strawberry.Private[SectionRow]
    tree: strawberry.Private[SectionTree]

    @classmethod
    def of(cls, row: SectionRow, tree: SectionTree) -> SectionNode:
        """The section's API object, made once per tree (sections are immutable between tree reads)."""
        key = ("node", row.id)
        node: SectionNode | None = tree.derived.get(key)
        if node is None:
            node = cls(
                id=strawberry.ID(global_id("Section", row.id)),
                slug=row.slug,
                name=row.name,
                path=row.path,
                depth=row.depth,
                row=row,
                tree=tree,
            )
            tree.derived[key] = node
        return node

    @strawberry.field(description="Home down to this section, for a breadcrumb trail.", metadata=PURE)
    def breadcrumbs(self) -> list[BreadcrumbItem]:
        return section_crumbs(self.tree, self.row.id)

    @strawberry.field(description="The section this one is in; null for Home.", metadata=PURE)
    def parent(self) -> SectionNode | None:
        parent_id = self.row.parent_id
        return None if parent_id is None else SectionNode.of(self.tree.by_id[parent_id], self.tree)

    @strawberry.field(description="Sections directly below this one, by name.", metadata=PURE)
    def children(self) -> list[SectionNode]:
        return [SectionNode.of(child, self.tree) for child in self.row.children]

    @strawberry.field(description="Published articles in this section, newest first.")
    async def articles(
        self,
        info: strawberry.Info,
        include_subsections: Annotated[
            bool, strawberry.argument(description="Also list articles of sections below this one.")
        ] = True,
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 100.")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="`endCursor` of the previous page.")
        ] = None,
    ) -> Annotated[ArticleConnection, strawberry.lazy("graph.articles")]:
        from graph.articles import article_connection, section_filters

        filters = section_filters(self, include_subsections)
        return await article_connection(info, filters=filters, first=first, after=after)


async def section_by_path(info: strawberry.Info, path: str) -> SectionNode | None:
    from resolvers.sections import normalize_path

    normalized = normalize_path(path)
    tree = await get_context(info).section_tree(missing_path=normalized)
    row = tree.by_path.get(normalized)
    return None if row is None else SectionNode.of(row, tree)

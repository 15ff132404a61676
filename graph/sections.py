"""Section and breadcrumb types, built from the request's in-memory section tree.

The tree is every section, shared by every request of the process; what a request may see of it is decided
where a section is served: without the drafts scope a section that is not public (resolvers/sections.py:
no published article filed in or below it) is read as one that does not exist, by path, by id, in the
section list and among a section's children. A section reached through a published article (its section,
parents, breadcrumbs) is public by that very article, so those fields need no check.
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.permission import PermissionExtension

from graph.context import get_context
from graph.execution import PURE
from graph.relay import Node, global_id
from graph.scopes import INCLUDE_DRAFT_SECTIONS, INCLUDE_DRAFTS, DraftsWhenAsked
from models.response_cache import SECTIONS, section_tag
from resolvers.articles import NO_FILTERS, ArticleFilters
from resolvers.sections import SectionRow, SectionTree, normalize_path

if TYPE_CHECKING:
    from graph.articles import ArticleConnection


@strawberry.type(description="One step of a breadcrumb trail (schema.org ListItem).")
class BreadcrumbItem:
    position: int = strawberry.field(description="1 for Home, counting down the trail.")
    name: str = strawberry.field(description="What the trail shows: a section name or the headline.")
    path: str = strawberry.field(description='Site path of the step: "/", "/europe", "/europe/<article>".')


def section_url_path(row: SectionRow) -> str:
    return f"/{row.path}" if row.path else "/"


class SectionObjects:
    """The API objects of one section tree: each section's node and breadcrumb trail, made once and kept as
    long as the tree is (a tree never changes; sections changing bring a new one), so fifty articles in one
    section share one trail and one node."""

    __slots__ = ("_crumbs", "_nodes", "tree")

    def __init__(self, tree: SectionTree) -> None:
        self.tree = tree
        self._nodes: dict[int, SectionNode] = {}
        self._crumbs: dict[int, list[BreadcrumbItem]] = {}

    def node(self, row: SectionRow) -> SectionNode:
        node = self._nodes.get(row.id)
        if node is None:
            node = self._nodes[row.id] = SectionNode(
                id=strawberry.ID(global_id("Section", row.id)),
                slug=row.slug,
                name=row.name,
                path=row.path,
                depth=row.depth,
                row=row,
                objects=self,
            )
        return node

    def crumbs(self, section_id: int) -> list[BreadcrumbItem]:
        """Home down to the section."""
        crumbs = self._crumbs.get(section_id)
        if crumbs is None:
            crumbs = self._crumbs[section_id] = [
                BreadcrumbItem(position=position, name=row.name, path=section_url_path(row))
                for position, row in enumerate(self.tree.lineage(section_id), start=1)
            ]
        return crumbs


# Keyed by the tree itself: the objects go when the app's cache lets its tree go.
_OBJECTS: weakref.WeakKeyDictionary[SectionTree, SectionObjects] = weakref.WeakKeyDictionary()


def section_objects(tree: SectionTree) -> SectionObjects:
    """The API objects of ``tree``, made on first use."""
    objects = _OBJECTS.get(tree)
    if objects is None:
        objects = _OBJECTS[tree] = SectionObjects(tree)
    return objects


@strawberry.type(name="Section", description="A section of the site; sections form a tree under Home.")
class SectionNode(Node):
    slug: str = strawberry.field(description="This level's slug (Home's is `home`).")
    name: str = strawberry.field(description="Display name, e.g. Europe.")
    path: str = strawberry.field(
        description='Slugs from the root joined by "/" (e.g. `news/business`); Home\'s path is "".'
    )
    depth: int = strawberry.field(description="0 for Home, 1 for its children, and so on.")
    row: strawberry.Private[SectionRow]
    objects: strawberry.Private[SectionObjects]  # its tree's, which made it

    @property
    def tree(self) -> SectionTree:
        return self.objects.tree

    @strawberry.field(description="Home down to this section, for a breadcrumb trail.", metadata=PURE)
    def breadcrumbs(self) -> list[BreadcrumbItem]:
        return self.objects.crumbs(self.row.id)

    @strawberry.field(description="The section this one is in; null for Home.", metadata=PURE)
    def parent(self) -> SectionNode | None:
        parent_id = self.row.parent_id
        return None if parent_id is None else self.objects.node(self.tree.by_id[parent_id])

    @strawberry.field(
        description=(
            "Sections directly below this one, by name: those with a published article in or below them; "
            "every one with `includeDrafts`."
        ),
        extensions=[PermissionExtension([DraftsWhenAsked()])],
    )
    async def children(
        self,
        info: strawberry.Info,
        include_drafts: Annotated[bool, strawberry.argument(description=INCLUDE_DRAFT_SECTIONS)] = False,
    ) -> list[SectionNode]:
        context = get_context(info)
        context.tags.add(SECTIONS)  # a section below this one may be added, or shown once published
        public = await context.public_sections(drafts=include_drafts)
        return [
            self.objects.node(child) for child in self.row.children if public is None or child.id in public
        ]

    @strawberry.field(
        description="Published articles in this section, newest first (drafts too with `includeDrafts`).",
        extensions=[PermissionExtension([DraftsWhenAsked()])],
    )
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
        include_drafts: Annotated[bool, strawberry.argument(description=INCLUDE_DRAFTS)] = False,
    ) -> Annotated[ArticleConnection, strawberry.lazy("graph.articles")]:
        filters = replace(section_filters(self, include_subsections), drafts=include_drafts)
        return await get_context(info).article_lists.connection(
            info, filters=filters, first=first, after=after
        )


async def section_by_path(info: strawberry.Info, path: str) -> SectionNode | None:
    """The section at ``path``, if the request may see it: a lookup, so any section for a key with the
    drafts scope, as a lookup of an article finds a draft."""
    normalized = normalize_path(path)
    tree = await get_context(info).section_tree(missing_path=normalized)
    return await shown_section(info, tree, tree.by_path.get(normalized))


async def shown_section(
    info: strawberry.Info, tree: SectionTree, row: SectionRow | None
) -> SectionNode | None:
    """``row``'s node, or None when there is no such section or the request may not see it; its cache tag
    noted, or on a miss the sections' list tag (a section may be added, or shown once published)."""
    context = get_context(info)
    public = None if row is None else await context.public_sections(drafts=context.sees_drafts)
    if row is None or (public is not None and row.id not in public):
        context.tags.add(SECTIONS)
        return None
    context.tags.add(section_tag(row.id))
    return section_objects(tree).node(row)


async def listed_sections(info: strawberry.Info, *, include_drafts: bool) -> list[SectionNode]:
    """Every section the list may show, in tree order: the public ones, or all with ``include_drafts``."""
    context = get_context(info)
    context.tags.add(SECTIONS)
    public = await context.public_sections(drafts=include_drafts)
    tree = await context.section_tree()
    objects = section_objects(tree)
    return [objects.node(row) for row in tree.walk() if public is None or row.id in public]


def section_filters(found: SectionNode, include_subsections: bool) -> ArticleFilters:
    """The articles of a section; for Home and everything below it, no filter at all."""
    section = (found.row.id, include_subsections)
    if not include_subsections:
        return ArticleFilters(section_ids=(found.row.id,), section=section)
    if found.tree.root is not None and found.row.id == found.tree.root.id:
        return NO_FILTERS
    return ArticleFilters(section_ids=tuple(found.tree.subtree_ids(found.row.id)), section=section)

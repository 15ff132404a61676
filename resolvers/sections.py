"""The section tree: read whole (it is small), written one path at a time by ingestion; and which of its
sections the public sees.

A section is public when it is Home or a published article is filed in it or anywhere below it. A section
made for a draft (ingest creates the path a record names) is news before the draft is published, and one
left empty (its articles moved or unpublished) leads a reader nowhere; neither belongs in navigation. Every
section on the way to a published article is public, so a published article's breadcrumbs are always whole.
Without the drafts scope the others are read as sections that do not exist (graph/sections.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from slugify import slugify
from sqlalchemy import exists, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from models import ROOT_PATH, Article, ArticleStatus, Section

ROOT_NAME = "Home"
_table = Section.__table__  # type: ignore[attr-defined]
_article = Article.__table__  # type: ignore[attr-defined]


@dataclass(slots=True)
class SectionRow:
    id: int
    parent_id: int | None
    slug: str
    name: str
    path: str
    children: list[SectionRow] = field(default_factory=list)
    depth: int = 0


# One read of the table: equal by identity, and weakly referable, as the layer above keys what it derives
# from a tree by the tree.
@dataclass(slots=True, eq=False, weakref_slot=True)
class SectionTree:
    """Every section, indexed by id and path, with each node's children in name order."""

    by_id: dict[int, SectionRow]
    by_path: dict[str, SectionRow]
    root: SectionRow | None

    def lineage(self, section_id: int) -> list[SectionRow]:
        """The sections from the root down to ``section_id``, both included."""
        chain: list[SectionRow] = []
        node: SectionRow | None = self.by_id.get(section_id)
        while node is not None:
            chain.append(node)
            node = self.by_id.get(node.parent_id) if node.parent_id is not None else None
        chain.reverse()
        return chain

    def subtree_ids(self, section_id: int) -> list[int]:
        """``section_id`` and every section below it."""
        ids: list[int] = []
        stack = [self.by_id[section_id]]
        while stack:
            node = stack.pop()
            ids.append(node.id)
            stack.extend(node.children)
        return ids

    def public(self, filed: Iterable[int]) -> frozenset[int]:
        """The public sections, given the sections published articles are ``filed`` in: Home, and each of
        those with every section above it. Ids the tree lacks (added since it was read) add nothing."""
        shown = {self.root.id} if self.root is not None else set()
        for section_id in filed:
            node = self.by_id.get(section_id)
            while node is not None and node.id not in shown:
                shown.add(node.id)
                node = self.by_id.get(node.parent_id) if node.parent_id is not None else None
        return frozenset(shown)

    def walk(self) -> list[SectionRow]:
        """Every section in tree order (a parent before its children)."""
        ordered: list[SectionRow] = []
        stack = [self.root] if self.root else []
        while stack:
            node = stack.pop()
            ordered.append(node)
            stack.extend(reversed(node.children))
        return ordered


async def load_section_tree(connection: AsyncConnection) -> SectionTree:
    result = await connection.execute(
        select(_table.c.id, _table.c.parent_id, _table.c.slug, _table.c.name, _table.c.path)
    )
    by_id = {row.id: SectionRow(row.id, row.parent_id, row.slug, row.name, row.path) for row in result}
    root = None
    for node in by_id.values():
        if node.parent_id is None:
            root = node
        else:
            by_id[node.parent_id].children.append(node)
    for node in by_id.values():
        node.children.sort(key=lambda child: child.name.casefold())
    tree = SectionTree(by_id=by_id, by_path={node.path: node for node in by_id.values()}, root=root)
    for node in tree.walk():
        node.depth = 0 if node.parent_id is None else by_id[node.parent_id].depth + 1
    return tree


async def sections_with_published_articles(connection: AsyncConnection) -> frozenset[int]:
    """The sections at least one published article is filed in directly.

    One probe of ix_article_published_section per section (the status is written out, not bound, so that
    both databases may use that partial index), rather than reading every published article's section."""
    filed = exists().where(
        _article.c.section_id == _table.c.id,
        _article.c.status == literal(ArticleStatus.PUBLISHED.value, literal_execute=True),
    )
    return frozenset((await connection.execute(select(_table.c.id).where(filed))).scalars())


def normalize_path(path: str) -> str:
    """A client's path ("/News/Business/", "news/business") as stored ("news/business")."""
    return "/".join(slugify(part) for part in path.strip().strip("/").split("/") if part.strip())


async def ensure_section_path(connection: AsyncConnection, names: Sequence[str]) -> int:
    """The id of the section at ``names`` below Home, creating Home and any missing level."""
    parent_id = await _ensure(connection, None, ROOT_NAME, ROOT_PATH)
    path = ROOT_PATH
    for name in names:
        slug = slugify(name)
        path = f"{path}/{slug}" if path else slug
        parent_id = await _ensure(connection, parent_id, name, path)
    return parent_id


async def _ensure(connection: AsyncConnection, parent_id: int | None, name: str, path: str) -> int:
    existing = await connection.scalar(select(_table.c.id).where(_table.c.path == path))
    if existing is not None:
        return int(existing)
    slug = path.rsplit("/", 1)[-1] if path else slugify(name)
    return int(
        await connection.scalar(
            insert(_table).values(parent_id=parent_id, slug=slug, name=name, path=path).returning(_table.c.id)
        )
    )

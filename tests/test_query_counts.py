"""No N+1: the front page costs the same few SQL statements for 5 articles as for 50."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from ingest.document import ArticleDraft, Block, BlockKind
from ingest.store import store_article
from tests.conftest import StatementLog, data_of, graphql, warm_up

FRONT_PAGE = """
query FrontPage($first: Int!) {
  articles(first: $first) {
    edges {
      cursor
      node {
        id slug headline standfirst publishedAt
        section { name path }
        breadcrumbs { name path }
        people { role count entity { name kind slug } }
        mentions(first: 10) { role count entity { name kind } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SECTIONS = [
    ("Europe",),
    ("World", "Africa"),
    ("News", "Business"),
    ("Science",),
    ("Sport", "Football", "Cups"),
]


PEOPLE = [("Amara", "Okafor"), ("Tomas", "Berg"), ("Lena", "Brandt"), ("Mats", "Eriksen"), ("Priya", "Raman")]
PLACES = ["Lisbon", "Madrid", "Vienna", "Athens"]


async def _archive(engine: AsyncEngine, size: int) -> None:
    """``size`` articles, each naming two of five people (with roles), one of four cities and a bank."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for number in range(size):
        (first, last), (other_first, other_last) = PEOPLE[number % 5], PEOPLE[(number + 1) % 5]
        body = (
            f"Finance Minister {first} {last} met Deputy Mayor {other_first} {other_last} in "
            f"{PLACES[number % 4]} on Monday. {last} said the Bank of Portugal agreed."
        )
        draft = ArticleDraft(
            headline=f"Talks number {number} end without a deal",
            blocks=[Block(BlockKind.PARAGRAPH, body)],
            section_path=SECTIONS[number % len(SECTIONS)],
            standfirst="A short summary.",
            published_at=start + timedelta(hours=number),
            source_id=f"wire-{number}",
            source_format="json",
        )
        await store_article(engine, draft)


@pytest.mark.parametrize("query", [FRONT_PAGE])
async def test_front_page_statements_do_not_grow_with_page_size(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient, sql: StatementLog, query: str
) -> None:
    await _archive(engine, 55)
    await warm_up(app, client)
    counts = {}
    for first in (5, 50):
        sql.clear()
        articles = data_of(await graphql(client, query, {"first": first}))["articles"]
        assert len(articles["edges"]) == first
        assert all(edge["node"]["people"] for edge in articles["edges"])
        assert all(len(edge["node"]["breadcrumbs"]) >= 3 for edge in articles["edges"])
        counts[first] = sql.count
    assert counts[5] == counts[50] == 2, sql.statements  # the articles, their mentions with entities


async def test_entity_pages_are_batched(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient, sql: StatementLog
) -> None:
    await _archive(engine, 12)
    query = """
    query { entities(first: 30) { edges { node {
        name articleCount aliases mentionedWith(first: 3) { sharedArticles entity { name } }
        articles(first: 2) { edges { role count node {
          headline breadcrumbs { name } people { entity { name } } } } }
    } } } }
    """
    await warm_up(app, client)
    sql.clear()
    edges = data_of(await graphql(client, query))["entities"]["edges"]
    assert len(edges) == 10  # five people, four cities, one bank
    # entities page, counts, aliases, co-mentions, articles per entity (one UNION), their mentions
    assert sql.count == 6, sql.statements


async def test_articles_by_slug_come_with_their_mentions_in_one_statement(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient, sql: StatementLog
) -> None:
    """An article by slug and its mentions are one statement; three articles in one document share it, and
    a slug with no article gives null, not someone else's mentions."""
    await _archive(engine, 6)
    slugs = [
        edge["node"]["slug"]
        for edge in data_of(await graphql(client, "{ articles(first: 3) { edges { node { slug } } } }"))[
            "articles"
        ]["edges"]
    ]
    fields = "slug people { role entity { name } } mentions(first: 2) { count entity { slug } }"
    document = "{ " + " ".join(
        f'a{n}: article(slug: "{slug}") {{ {fields} }}' for n, slug in enumerate(slugs)
    )
    document += ' missing: article(slug: "no-such-article") { ' + fields + " } }"
    await warm_up(app, client)
    sql.clear()
    found = data_of(await graphql(client, document))
    assert sql.count == 1, sql.statements
    assert found["missing"] is None
    for number, slug in enumerate(slugs):
        article = found[f"a{number}"]
        assert article["slug"] == slug and article["people"] and len(article["mentions"]) == 2
    # The same mentions, in the same order, as the articles list gives, where they are read by id.
    listed = data_of(await graphql(client, "{ articles(first: 3) { edges { node { " + fields + " } } } }"))
    assert [edge["node"] for edge in listed["articles"]["edges"]] == [found[f"a{n}"] for n in range(3)]

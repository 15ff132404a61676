"""Keyset paging on both databases: every list walks to its end without gaps or repeats while articles
arrive, and the filters of `articles` combine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.document import ArticleDraft, Block, BlockKind
from ingest.store import store_article
from tests.conftest import data_of, graphql

START = datetime(2026, 1, 1, tzinfo=UTC)
SECTIONS = [("World", "Europe"), ("World", "Asia"), ("Business",), ("World",)]


def _draft(number: int, *, published: datetime, body: str | None = None) -> ArticleDraft:
    return ArticleDraft(
        headline=f"Dispatch {number}",
        blocks=[
            Block(BlockKind.PARAGRAPH, body or f"Kremlin officials met in Warsaw about ceasefire {number}.")
        ],
        section_path=SECTIONS[number % len(SECTIONS)],
        published_at=published,
        source_id=f"dispatch-{number}",
        source_format="json",
    )


LISTS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "front page": (
        "query($after: String, $order: ArticleOrder) {"
        " list: articles(first: 4, after: $after, orderBy: $order)"
        " { edges { node { slug } } pageInfo { hasNextPage endCursor } } }",
        lambda data: data["list"],
    ),
    "section subtree": (
        'query($after: String, $order: ArticleOrder) { list: articles(section: "world", first: 4, '
        "after: $after, orderBy: $order) { edges { node { slug } } pageInfo { hasNextPage endCursor } } }",
        lambda data: data["list"],
    ),
    "entity": (
        'query($after: String) { entity(slug: "kremlin") { list: articles(first: 4, after: $after) '
        "{ edges { node { slug } } pageInfo { hasNextPage endCursor } } } }",
        lambda data: data["entity"]["list"],
    ),
    "search": (
        'query($after: String) { list: search(query: "ceasefire", orderBy: NEWEST, first: 4, after: $after)'
        " { edges { node { slug } } pageInfo { hasNextPage endCursor } } }",
        lambda data: data["list"],
    ),
}


@pytest.mark.parametrize("name", list(LISTS))
async def test_walking_newest_first_while_articles_arrive(
    engine: AsyncEngine, client: httpx.AsyncClient, name: str
) -> None:
    """Articles published after the walk began are ahead of it; one backdated into the unread part is read
    once, in its place. Nothing is skipped or repeated."""
    query, page_of = LISTS[name]
    for number in range(20):
        await store_article(engine, _draft(number, published=START + timedelta(hours=number)))
    seen: list[str] = []
    after, arrivals = None, 100
    while True:
        page = page_of(data_of(await graphql(client, query, {"after": after})))
        seen += [edge["node"]["slug"] for edge in page["edges"]]
        # Two new articles after each page: one newest of all, one backdated to the archive's start.
        await store_article(engine, _draft(arrivals, published=START + timedelta(days=30, hours=arrivals)))
        await store_article(engine, _draft(arrivals + 1, published=START - timedelta(hours=arrivals)))
        arrivals += 2
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)), "an article was served twice"
    originals = [slug for slug in seen if int(slug.rsplit("-", 1)[1]) < 100]
    in_scope = {"section subtree": 15}.get(name, 20)  # "world" holds three sections of the four
    assert len(originals) == in_scope, "an article that was there all along was skipped"
    backdated = [slug for slug in seen if int(slug.rsplit("-", 1)[1]) >= 100]
    assert all(int(slug.rsplit("-", 1)[1]) % 2 == 1 for slug in backdated), "a newer arrival jumped in"


async def test_walking_oldest_first_reaches_the_articles_that_arrived(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    query, page_of = LISTS["front page"]
    for number in range(10):
        await store_article(engine, _draft(number, published=START + timedelta(hours=number)))
    seen: list[str] = []
    after, arrivals = None, 100
    while True:
        page = page_of(data_of(await graphql(client, query, {"after": after, "order": "OLDEST"})))
        seen += [edge["node"]["slug"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        if arrivals < 106:  # arrives ahead of the walk, so it must be read
            await store_article(engine, _draft(arrivals, published=START + timedelta(days=1, hours=arrivals)))
            arrivals += 1
    assert len(seen) == len(set(seen)) == 10 + (arrivals - 100)
    assert seen[:10] == [f"dispatch-{number}" for number in range(10)]


async def test_filters_combine(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    bodies = {
        0: "Vladimir Putin spoke to Donald Trump about Ukraine.",
        1: "Vladimir Putin visited Minsk.",
        2: "Donald Trump and Vladimir Putin did not meet.",
        3: "Vladimir Putin and Donald Trump met again.",
        4: "The Kremlin said nothing.",
        5: "Donald Trump spoke to Vladimir Putin.",
        6: "Markets were quiet.",
        7: "Vladimir Putin met Donald Trump.",
    }
    for number, body in bodies.items():
        await store_article(engine, _draft(number, published=START + timedelta(days=number), body=body))
    query = """query($section: String, $mentioning: [String!], $kind: EntityKind, $since: DateTime,
                     $until: DateTime, $order: ArticleOrder) {
      articles(section: $section, mentioning: $mentioning, mentioningKind: $kind, since: $since,
               until: $until, orderBy: $order, first: 100) { totalCount edges { node { slug } } } }"""

    async def slugs(**variables: Any) -> list[str]:
        found = data_of(await graphql(client, query, variables))["articles"]
        numbers = [int(edge["node"]["slug"].rsplit("-", 1)[1]) for edge in found["edges"]]
        assert found["totalCount"] == len(numbers)
        return [str(number) for number in numbers]

    both = ["vladimir-putin", "donald-trump"]
    assert await slugs(mentioning=both) == ["7", "5", "3", "2", "0"]
    # Sections cycle World/Europe, World/Asia, Business, World: "world" holds 0, 1, 3, 4, 5, 7.
    assert await slugs(mentioning=both, section="world") == ["7", "5", "3", "0"]
    assert await slugs(mentioning=both, section="world", since="2026-01-03T00:00:00Z") == ["7", "5", "3"]
    window = {"since": "2026-01-03T00:00:00Z", "until": "2026-01-07T00:00:00Z"}
    assert await slugs(mentioning=both, section="world", order="OLDEST", **window) == ["3", "5"]
    assert await slugs(kind="PLACE") == ["1", "0"]  # Minsk, Ukraine
    assert await slugs(kind="ORGANIZATION", section="world") == ["4"]
    assert await slugs(mentioning=["vladimir-putin"], kind="PLACE", section="world/asia") == ["1"]
    refused = await graphql(client, query, {"since": "2026-01-05T00:00:00Z", "until": "2026-01-05T00:00:00Z"})
    assert refused["errors"][0]["message"] == "until: must be later than since"

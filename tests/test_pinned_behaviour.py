"""Behaviour that one-line bugs used to slip past: each test here fails under a small bug a review planted
(issue 17), on both databases and through the API as clients see it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.document import ArticleDraft, Block, BlockKind
from ingest.extract.mentions import find_mentions
from ingest.store import store_article
from tests.conftest import data_of, graphql

MOMENT = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def _draft(
    number: int,
    *,
    published: datetime = MOMENT,
    section: tuple[str, ...] = ("World",),
    body: str = "Kremlin officials met in Warsaw to discuss a ceasefire.",
) -> ArticleDraft:
    return ArticleDraft(
        headline=f"Dispatch {number}",
        blocks=[Block(BlockKind.PARAGRAPH, body)],
        section_path=section,
        published_at=published,
        source_id=f"pinned-{number}",
        source_format="json",
    )


PAGE = "edges { node { slug } } pageInfo { hasNextPage endCursor }"
#: Each list that pages by time, with the articles of one publication time in it.
TIED_LISTS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "front page, newest": (f"articles(first: 2, after: $after) {{ {PAGE} }}", lambda d: d["list"]),
    "front page, oldest": (
        f"articles(first: 2, after: $after, orderBy: OLDEST) {{ {PAGE} }}",
        lambda d: d["list"],
    ),
    "section page": (
        f'section(path: "world") {{ articles(first: 2, after: $after) {{ {PAGE} }} }}',
        lambda d: d["list"]["articles"],
    ),
    "entity page": (
        f'entity(slug: "kremlin") {{ articles(first: 2, after: $after) {{ {PAGE} }} }}',
        lambda d: d["list"]["articles"],
    ),
    "search, newest": (
        f'search(query: "ceasefire", orderBy: NEWEST, first: 2, after: $after) {{ {PAGE} }}',
        lambda d: d["list"],
    ),
    "search, oldest": (
        f'search(query: "ceasefire", orderBy: OLDEST, first: 2, after: $after) {{ {PAGE} }}',
        lambda d: d["list"],
    ),
    "search, best match": (
        f'search(query: "ceasefire", first: 2, after: $after) {{ {PAGE} }}',
        lambda d: d["list"],
    ),
}


@pytest.mark.parametrize("name", list(TIED_LISTS))
async def test_articles_of_one_publication_time_page_by_id_too(
    engine: AsyncEngine, client: httpx.AsyncClient, name: str
) -> None:
    """Five articles published in the same second, two a page: all five, once each, in id order."""
    for number in range(5):
        await store_article(engine, _draft(number))
    selection, connection_of = TIED_LISTS[name]
    query = f"query($after: String) {{ list: {selection} }}"
    slugs: list[str] = []
    after = None
    for _ in range(5):
        page = connection_of(data_of(await graphql(client, query, {"after": after})))
        slugs += [edge["node"]["slug"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    in_order = [f"dispatch-{number}" for number in range(5)]
    assert slugs == (in_order if "oldest" in name else in_order[::-1])


async def test_breadcrumbs_of_a_section_three_deep_name_every_level(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await store_article(engine, _draft(1, section=("World", "Europe", "Baltic")))
    data = data_of(
        await graphql(
            client,
            '{ article(slug: "dispatch-1") { breadcrumbs { position name path } }'
            ' section(path: "world/europe/baltic") { breadcrumbs { position name path } } }',
        )
    )
    trail = [
        {"position": 1, "name": "Home", "path": "/"},
        {"position": 2, "name": "World", "path": "/world"},
        {"position": 3, "name": "Europe", "path": "/world/europe"},
        {"position": 4, "name": "Baltic", "path": "/world/europe/baltic"},
    ]
    assert data["section"]["breadcrumbs"] == trail
    assert data["article"]["breadcrumbs"] == [
        *trail,
        {"position": 5, "name": "Dispatch 1", "path": "/world/europe/baltic/dispatch-1"},
    ]


def test_a_title_before_the_name_beats_a_role_after_it() -> None:
    draft = _draft(1, body="Finance Minister Clara Okafor, the party leader, said the budget would pass.")
    roles = {mention.name: mention.role for mention in find_mentions(draft)}
    assert roles["Clara Okafor"] == "Finance Minister"


async def test_served_mention_locations_cut_exactly_the_name_from_the_served_text(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    draft = ArticleDraft(
        headline="Putin and Zelenskyy trade offers",
        standfirst="Vladimir Putin said talks could resume in Istanbul.",
        blocks=[
            Block(BlockKind.PARAGRAPH, "Ukrainian President Volodymyr Zelenskyy answered from Kyiv."),
            Block(BlockKind.SUBHEADING, "What Putin wants"),
            Block(BlockKind.PARAGRAPH, "Putin repeated that Russia wanted talks in Istanbul."),
        ],
        section_path=("Europe",),
        published_at=MOMENT,
        source_id="locations-1",
        source_format="json",
    )
    stored = await store_article(engine, draft)
    data = data_of(
        await graphql(
            client,
            "query($slug: String!) { article(slug: $slug) { headline standfirst"
            " body { ... on Paragraph { text } ... on Subheading { text } }"
            " mentions(first: 20) { entity { name aliases } locations { field block start end } } } }",
            {"slug": stored.slug},
        )
    )["article"]
    texts = {"HEADLINE": data["headline"], "STANDFIRST": data["standfirst"]}
    checked = 0
    for mention in data["mentions"]:
        names = {mention["entity"]["name"], *mention["entity"]["aliases"]}
        for location in mention["locations"]:
            field = location["field"]
            text = data["body"][location["block"]]["text"] if field == "BODY" else texts[field]
            written = text[location["start"] : location["end"]]
            assert written in names, (mention["entity"]["name"], location, written)
            checked += 1
    assert checked >= 8  # Putin alone is named five times


async def test_mentioned_with_lists_most_shared_articles_first_with_their_counts(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    bodies = [
        "Kremlin officials met Nordlys Energy and Baltic Cable in Warsaw.",
        "Kremlin officials met Nordlys Energy and Baltic Cable in Oslo.",
        "Kremlin officials met Nordlys Energy in Riga.",
    ]
    for number, body in enumerate(bodies):
        await store_article(engine, _draft(number, body=body))
    data = data_of(
        await graphql(
            client, '{ entity(slug: "kremlin") { mentionedWith { entity { name } sharedArticles } } }'
        )
    )
    related = [(row["entity"]["name"], row["sharedArticles"]) for row in data["entity"]["mentionedWith"]]
    counts = [count for _, count in related]
    assert counts == sorted(counts, reverse=True) and counts[0] == 3
    assert related[0] == ("Nordlys Energy", 3)
    assert ("Baltic Cable", 2) in related and ("Riga", 1) in related
    for count in set(counts):  # ties by name
        names = [name for name, shared in related if shared == count]
        assert names == sorted(names, key=str.casefold)


@pytest.mark.parametrize("field", ["articles", "search"])
async def test_since_is_inclusive_and_until_exclusive(
    engine: AsyncEngine, client: httpx.AsyncClient, field: str
) -> None:
    for number, offset in enumerate([-1, 0, 1, 2]):  # minutes from ``since``
        await store_article(engine, _draft(number, published=MOMENT + timedelta(minutes=offset)))
    since, until = MOMENT.isoformat(), (MOMENT + timedelta(minutes=2)).isoformat()
    search = 'query: "ceasefire", ' if field == "search" else ""
    query = (
        f'{{ list: {field}({search}since: "{since}", until: "{until}", first: 10) '
        "{ totalCount edges { node { slug } } } }"
    )
    found = data_of(await graphql(client, query))["list"]
    assert [edge["node"]["slug"] for edge in found["edges"]] == ["dispatch-2", "dispatch-1"]
    assert found["totalCount"] == 2

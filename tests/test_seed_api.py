"""The seed article, ingested and served whole through GraphQL over HTTP, on both databases."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import data_of, graphql
from tests.helpers import ingest_page
from tests.shared import SEED_ORGANIZATIONS, SEED_PEOPLE, SEED_PLACES, shared_path

HEADLINE = "Putin, Trump to Skip Ukraine’s Peace Talks Proposed by Kremlin"
STANDFIRST = (
    "Putin and Trump’s absence from Ukraine peace talks dims hopes for progress in ending Russia’s war."
)
PEOPLE = SEED_PEOPLE
ORGANIZATIONS = set(SEED_ORGANIZATIONS)
PLACES = set(SEED_PLACES)
SUBHEADINGS = [
    "Kremlin Sends Delegation, But Without Putin",
    "Trump Drops Out, Delegation Arrives",
    "Kyiv Draws the Line on Neutrality",
]

# The issue's own query, as a client sends it.
FRONT = (
    "{ articles(first: 1) { edges { node { slug headline breadcrumbs { name } "
    "people { entity { name } role } } } } }"
)

ARTICLE = """
query Seed($slug: String!) {
  article(slug: $slug) {
    id slug headline standfirst wordCount readingTimeMinutes
    section { name path }
    breadcrumbs { position name path }
    body { __typename index ... on Paragraph { text } ... on Subheading { text } }
    people { entity { name slug } role count }
    organizations { entity { name } count }
    places { entity { name } count }
    mentions { entity { name kind } salience locations { field block start end } }
  }
}
"""


async def _seed(engine: AsyncEngine) -> str:
    seed = shared_path("seed", "daily-guardian-peace-talks.txt")
    first = await ingest_page(engine, seed)
    again = await ingest_page(engine, seed)
    assert first.created and not again.created
    assert first.article_id == again.article_id and first.slug == again.slug
    return first.slug


async def test_front_page_answer_is_the_seed(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    await _seed(engine)
    edges = data_of(await graphql(client, FRONT))["articles"]["edges"]
    assert len(edges) == 1
    node = edges[0]["node"]
    assert node["headline"] == HEADLINE
    assert [crumb["name"] for crumb in node["breadcrumbs"]] == ["Home", "Europe", HEADLINE]
    assert {person["entity"]["name"]: person["role"] for person in node["people"]} == PEOPLE
    assert len(node["people"]) == 9


async def test_seed_article_whole(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    slug = await _seed(engine)
    article = data_of(await graphql(client, ARTICLE, {"slug": slug}))["article"]
    assert article["slug"] == "putin-trump-to-skip-ukraines-peace-talks-proposed-by-kremlin"
    assert article["standfirst"] == STANDFIRST
    assert article["section"] == {"name": "Europe", "path": "europe"}
    assert article["breadcrumbs"] == [
        {"position": 1, "name": "Home", "path": "/"},
        {"position": 2, "name": "Europe", "path": "/europe"},
        {"position": 3, "name": HEADLINE, "path": f"/europe/{slug}"},
    ]
    body = article["body"]
    assert [block["index"] for block in body] == list(range(len(body)))
    assert [block["text"] for block in body if block["__typename"] == "Subheading"] == SUBHEADINGS
    paragraphs = [block["text"] for block in body if block["__typename"] == "Paragraph"]
    assert len(paragraphs) == 10
    assert not any("Advertisement" in text or "Scroll to continue" in text for text in paragraphs)
    assert HEADLINE not in paragraphs  # the repeated headline is the image caption, not body text
    assert [block["__typename"] for block in body].count("AdSlot") == 2
    assert paragraphs[0].startswith("US President Donald Trump and Russian President Vladimir Putin")
    assert (
        article["wordCount"] == 397 and article["readingTimeMinutes"] == 2
    )  # body text, as `wc -w` counts it

    people = {person["entity"]["name"]: person for person in article["people"]}
    assert {name: person["role"] for name, person in people.items()} == PEOPLE
    # Surname-only mentions land on the full name introduced earlier.
    assert people["Vladimir Putin"]["count"] == 11  # headline, standfirst, subheading and body
    assert people["Donald Trump"]["count"] == 9
    assert people["Volodymyr Zelenskyy"]["count"] == 4
    assert people["Marco Rubio"]["count"] == 2
    assert {org["entity"]["name"] for org in article["organizations"]} == ORGANIZATIONS
    assert {place["entity"]["name"] for place in article["places"]} == PLACES
    assert len(article["places"]) == len(PLACES) and len(article["organizations"]) == 2

    saliences = [mention["salience"] for mention in article["mentions"]]
    assert saliences == sorted(saliences, reverse=True)
    for mention in article["mentions"]:
        for location in mention["locations"]:
            source = {"headline": HEADLINE, "standfirst": STANDFIRST}.get(location["field"].lower())
            if source is None:
                source = body[location["block"]]["text"]
            assert source[location["start"] : location["end"]], mention


async def test_ingesting_twice_keeps_one_of_everything(engine: AsyncEngine) -> None:
    await _seed(engine)
    async with engine.connect() as connection:
        counts = {
            table: await connection.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("article", "section", "entity", "mention")
        }
    assert counts == {"article": 1, "section": 2, "entity": 19, "mention": 19}


async def test_places_carry_the_aliases_readers_use(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    await _seed(engine)
    query = (
        '{ us: entity(slug: "united-states") { name kind aliases } k: entity(slug: "kremlin") { aliases } }'
    )
    data = data_of(await graphql(client, query))
    assert data["us"]["name"] == "United States" and data["us"]["kind"] == "PLACE"
    # "U.S." is the same lookup key as "US", which the article wrote; both find the entity.
    assert {"US", "United States", "America"} <= set(data["us"]["aliases"])
    assert "Kremlin" in data["k"]["aliases"]

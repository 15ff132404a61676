"""One entity per real person across articles, ambiguous surnames kept apart, and stable re-extraction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.document import ArticleDraft, Block, BlockKind
from ingest.reextract import reextract
from ingest.store import store_article
from tests.conftest import PAGES, StatementLog, data_of, graphql
from tests.helpers import ingest_page


async def _article(engine: AsyncEngine, number: int, body: str) -> None:
    await store_article(
        engine,
        ArticleDraft(
            headline=f"Dispatch {number}",
            blocks=[Block(BlockKind.PARAGRAPH, body)],
            section_path=("Politics",),
            published_at=datetime(2026, 5, 1, tzinfo=UTC) + timedelta(days=number),
            source_id=f"dispatch-{number}",
            source_format="json",
        ),
    )


ENTITY = """query($slug: String!) { entity(slug: $slug) { name articleCount aliases
    articles(first: 10) { edges { role node { headline } } } } }"""


async def test_a_person_named_differently_in_two_articles_is_one_entity(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await _article(engine, 1, "Former Prime Minister Tony Blair spoke in London on Monday.")
    await _article(engine, 2, "Mr Blair told reporters in Paris that the plan would fail.")
    await _article(engine, 3, "Blair, the envoy, later flew to Rome.")
    entity = data_of(await graphql(client, ENTITY, {"slug": "tony-blair"}))["entity"]
    assert entity["articleCount"] == 3
    assert [(edge["node"]["headline"], edge["role"]) for edge in entity["articles"]["edges"]] == [
        ("Dispatch 3", "envoy"),
        ("Dispatch 2", None),
        ("Dispatch 1", "Former Prime Minister"),
    ]
    assert {"Tony Blair", "Blair"} <= set(entity["aliases"])


async def test_an_ambiguous_surname_is_not_merged(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    await _article(engine, 1, "Former Prime Minister Tony Blair spoke in London on Monday.")
    await _article(engine, 2, "The lawyer Cherie Blair opened the conference in Leeds.")
    await _article(engine, 3, "Blair said the talks would go on.")
    tony = data_of(await graphql(client, ENTITY, {"slug": "tony-blair"}))["entity"]
    cherie = data_of(await graphql(client, ENTITY, {"slug": "cherie-blair"}))["entity"]
    assert tony["articleCount"] == 1 and cherie["articleCount"] == 1


async def _snapshot(engine: AsyncEngine) -> list[tuple]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT m.article_id, m.entity_id, e.slug, m.role, m.count, m.first_position, m.salience "
                "FROM mention m JOIN entity e ON e.id = m.entity_id ORDER BY m.article_id, m.entity_id"
            )
        )
        return [tuple(row) for row in rows]


async def test_reextraction_is_idempotent_and_keeps_entity_ids(engine: AsyncEngine) -> None:
    for page in sorted(PAGES.glob("*.txt")):
        await ingest_page(engine, page)
    before = await _snapshot(engine)
    first = await reextract(engine, batch_size=2)
    after_first = await _snapshot(engine)
    second = await reextract(engine, batch_size=2)
    assert first.articles == second.articles == 3
    assert first.entities_created == second.entities_created == 0
    assert before == after_first == await _snapshot(engine)
    assert len(before) > 20


async def test_reextraction_writes_a_batch_in_statements_its_size_does_not_change(
    engine: AsyncEngine, sql: StatementLog
) -> None:
    """It links as ingest does, not mention by mention: a batch of eight costs what a batch of two does."""
    bodies = [
        "Former Prime Minister Tony Blair met Clara Okafor of the World Bank in Lisbon.",
        "The Red Cross said Amara Okafor and Mr Blair would visit Madrid and Porto.",
    ]
    for number in range(2):
        await _article(engine, number, bodies[number])
    sql.clear()
    assert (await reextract(engine, batch_size=8)).articles == 2
    two = sql.count
    for number in range(2, 8):
        await _article(engine, number, f"{bodies[number % 2]} Dispatch {number} named Berlin too.")
    before = await _snapshot(engine)
    sql.clear()
    assert (await reextract(engine, batch_size=8)).articles == 8
    assert sql.count == two
    assert await _snapshot(engine) == before


async def test_an_entitys_articles_by_prominence_page_without_gaps(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await _article(
        engine, 1, "Lisbon hosted the summit. Much later, Former Prime Minister Tony Blair arrived."
    )
    await _article(
        engine, 2, "Former Prime Minister Tony Blair spoke first. Blair spoke again. Mr Blair left."
    )
    await _article(engine, 3, "Former Prime Minister Tony Blair opened the fair in Lisbon.")
    await _article(engine, 4, "Madrid and Lisbon agreed a rail link; Tony Blair was seen at the signing.")
    query = """query($after: String) { entity(slug: "tony-blair") {
        articles(first: 1, after: $after, orderBy: PROMINENCE) {
          edges { salience node { headline } } pageInfo { hasNextPage endCursor } } } }"""
    seen, after = [], None
    while True:
        page = data_of(await graphql(client, query, {"after": after}))["entity"]["articles"]
        seen += [(edge["salience"], edge["node"]["headline"]) for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(headline for _, headline in seen) == [f"Dispatch {n}" for n in range(1, 5)]
    assert [salience for salience, _ in seen] == sorted((salience for salience, _ in seen), reverse=True)
    assert seen[0][1] == "Dispatch 2"  # named three times, first: the most prominent
    newest_first = """query($after: String) {
        entity(slug: "tony-blair") { articles(after: $after) { edges { cursor } } } }"""
    newest = await graphql(client, newest_first, {"after": after})
    assert newest["errors"][0]["message"].startswith(
        "after:"
    )  # a prominence cursor is not a newest-first one


async def test_a_headline_in_capitals_links_to_the_people_it_names(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await store_article(
        engine,
        ArticleDraft(
            headline="PUTIN REJECTS TRUMP’S CEASEFIRE PLAN",
            blocks=[
                Block(
                    BlockKind.PARAGRAPH,
                    "Russian President Vladimir Putin on Friday rejected a plan put forward by US President "
                    "Donald Trump. Putin said the terms favoured Kyiv.",
                )
            ],
            section_path=("World",),
        ),
    )
    query = """{ articles(first: 1) { edges { node { people { entity { name aliases } role count } } } } }"""
    people = data_of(await graphql(client, query))["articles"]["edges"][0]["node"]["people"]
    assert [(p["entity"]["name"], p["role"], p["count"]) for p in people] == [
        ("Vladimir Putin", "Russian President", 3),
        ("Donald Trump", "US President", 2),
    ]
    assert people[0]["entity"]["aliases"] == ["Putin", "Vladimir Putin"]  # "PUTIN" is the same name

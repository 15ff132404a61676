"""The GraphQL API over HTTP: lookups, paging, the section tree, entities, and clear errors for bad input."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from broadsheet.settings import Settings
from graph.app import create_app
from ingest.document import ArticleDraft, Block, BlockKind
from ingest.store import store_article
from tests.conftest import PAGES, StatementLog, data_of, graphql, warm_up
from tests.helpers import ingest_page


def _draft(number: int, section: tuple[str, ...], body: str = "Nothing of note happened.") -> ArticleDraft:
    return ArticleDraft(
        headline=f"Report number {number}",
        blocks=[Block(BlockKind.PARAGRAPH, body)],
        section_path=section,
        published_at=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=number),
        source_id=f"report-{number}",
        source_format="json",
    )


async def _pages(engine: AsyncEngine) -> None:
    for page in sorted(PAGES.glob("*.txt")):
        await ingest_page(engine, page)


def _errors(body: dict) -> list[str]:
    assert body.get("data") is None or any(value is None for value in body["data"].values()), body
    return [error["message"] for error in body["errors"]]


async def test_paging_walks_every_article_once_newest_first(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    for number in range(23):
        await store_article(engine, _draft(number, ("News", "Business") if number % 2 else ("Europe",)))
    query = """query($after: String) { articles(first: 10, after: $after) {
        edges { cursor node { headline publishedAt } }
        pageInfo { hasNextPage hasPreviousPage endCursor } } }"""
    seen, after, pages = [], None, 0
    while True:
        page = data_of(await graphql(client, query, {"after": after}))["articles"]
        pages += 1
        seen += [edge["node"]["headline"] for edge in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == [f"Report number {number}" for number in reversed(range(23))]


async def test_section_filters_and_tree(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    for number in range(6):
        await store_article(engine, _draft(number, ("News", "Business") if number % 2 else ("News",)))
    query = """query($section: String, $sub: Boolean!) {
        articles(section: $section, includeSubsections: $sub, first: 20) {
          edges { node { headline section { path } } } } }"""
    with_sub = data_of(await graphql(client, query, {"section": "news", "sub": True}))["articles"]["edges"]
    only = data_of(await graphql(client, query, {"section": "/News/", "sub": False}))["articles"]["edges"]
    business = data_of(await graphql(client, query, {"section": "news/business", "sub": True}))["articles"][
        "edges"
    ]
    assert len(with_sub) == 6 and len(only) == 3 and len(business) == 3
    assert {edge["node"]["section"]["path"] for edge in business} == {"news/business"}

    tree = data_of(
        await graphql(
            client,
            """{ sections { name path depth parent { name } children { name } }
                 section(path: "news/business") { name breadcrumbs { name path } articles(first: 2) {
                   edges { node { headline } } pageInfo { hasNextPage } } } }""",
        )
    )
    assert [(s["name"], s["path"], s["depth"]) for s in tree["sections"]] == [
        ("Home", "", 0),
        ("News", "news", 1),
        ("Business", "news/business", 2),
    ]
    assert tree["sections"][0]["parent"] is None and tree["sections"][0]["children"] == [{"name": "News"}]
    section = tree["section"]
    assert [crumb["path"] for crumb in section["breadcrumbs"]] == ["/", "/news", "/news/business"]
    assert section["articles"]["pageInfo"]["hasNextPage"] is True
    assert [edge["node"]["headline"] for edge in section["articles"]["edges"]] == [
        "Report number 5",
        "Report number 3",
    ]


async def test_node_lookup_by_global_id(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    await _pages(engine)
    first = data_of(
        await graphql(
            client,
            """{ articles(first: 1) { edges { node {
                 id slug section { id name } people { entity { id slug } } } } } }""",
        )
    )["articles"]["edges"][0]["node"]
    person = first["people"][0]["entity"]
    nodes = data_of(
        await graphql(
            client,
            """query($a: ID!, $s: ID!, $e: ID!) {
                a: node(id: $a) { __typename id ... on Article { slug } }
                s: node(id: $s) { __typename ... on Section { name } }
                e: node(id: $e) { __typename ... on Entity { slug } } }""",
            {"a": first["id"], "s": first["section"]["id"], "e": person["id"]},
        )
    )
    assert nodes["a"] == {"__typename": "Article", "id": first["id"], "slug": first["slug"]}
    assert nodes["s"] == {"__typename": "Section", "name": first["section"]["name"]}
    assert nodes["e"] == {"__typename": "Entity", "slug": person["slug"]}


async def test_entity_lists_its_articles_with_roles(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    await store_article(engine, _draft(1, ("Europe",), "Finance Minister Amara Okafor spoke in Lisbon."))
    await store_article(engine, _draft(2, ("Europe",), "Amara Okafor, the prime minister, flew to Madrid."))
    entity = data_of(
        await graphql(
            client,
            """{ entity(slug: "amara-okafor") { name kind articleCount aliases
                 articles(first: 10) { edges { role node { headline } } }
                 mentionedWith { entity { name } sharedArticles } } }""",
        )
    )["entity"]
    assert entity["name"] == "Amara Okafor" and entity["kind"] == "PERSON" and entity["articleCount"] == 2
    assert [(edge["node"]["headline"], edge["role"]) for edge in entity["articles"]["edges"]] == [
        ("Report number 2", "prime minister"),
        ("Report number 1", "Finance Minister"),
    ]
    assert {item["entity"]["name"] for item in entity["mentionedWith"]} == {"Lisbon", "Madrid"}


async def test_entities_by_kind_in_name_order(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    await _pages(engine)
    query = """query($after: String) { entities(kind: PLACE, first: 2, after: $after) {
        edges { node { name kind } } pageInfo { hasNextPage endCursor } } }"""
    names, after = [], None
    while True:
        page = data_of(await graphql(client, query, {"after": after}))["entities"]
        names += [edge["node"]["name"] for edge in page["edges"]]
        assert all(edge["node"]["kind"] == "PLACE" for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names == sorted(names) and len(names) == len(set(names)) >= 3


async def test_missing_things_are_null(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    data = data_of(
        await graphql(
            client,
            '{ article(slug: "nope") { id } entity(slug: "nope") { id } section(path: "nope") { id } }',
        )
    )
    assert data == {"article": None, "entity": None, "section": None}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ articles(first: 0) { edges { cursor } } }", "first: must be between 1 and 100, got 0"),
        ("{ articles(first: 101) { edges { cursor } } }", "first: must be between 1 and 100, got 101"),
        (
            '{ articles(after: "bm9wZQ") { edges { cursor } } }',
            "after: 'bm9wZQ' is not a cursor from this list",
        ),
        ('{ articles(after: "!!!") { edges { cursor } } }', "after: '!!!' is not a cursor from this list"),
        ('{ articles(section: "no/such") { edges { cursor } } }', "section: no section at path 'no/such'"),
        (
            '{ articles(mentioning: ["nobody"]) { edges { cursor } } }',
            "mentioning: no entity with slug 'nobody'",
        ),
        ('{ node(id: "not-an-id") { id } }', "id: 'not-an-id' is not a Broadsheet id"),
        ('{ node(id: "V2lkZ2V0OjE") { id } }', "id: 'V2lkZ2V0OjE' is not a Broadsheet id"),
        ('{ article(slug: "  ") { id } }', "slug: must not be empty"),
        ("{ entities(first: 500) { edges { cursor } } }", "first: must be between 1 and 100, got 500"),
    ],
)
async def test_bad_arguments_get_clear_errors(client: httpx.AsyncClient, query: str, message: str) -> None:
    assert _errors(await graphql(client, query)) == [message]


async def test_cursor_from_another_list_is_refused(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    await _pages(engine)
    cursor = data_of(await graphql(client, "{ entities(first: 1) { pageInfo { endCursor } } }"))["entities"][
        "pageInfo"
    ]["endCursor"]
    messages = _errors(
        await graphql(client, "query($c: String) { articles(after: $c) { edges { cursor } } }", {"c": cursor})
    )
    assert messages == [f"after: {cursor!r} is not a cursor from this list"]


async def test_limits_on_depth_aliases_and_tokens(client: httpx.AsyncClient) -> None:
    deep = "{ sections { " + "children { " * 12 + "name" + " }" * 12 + " } }"
    assert "exceeds maximum operation depth" in _errors(await graphql(client, deep))[0]
    aliases = "{ " + " ".join(f"a{n}: sections {{ name }}" for n in range(40)) + " }"
    assert "aliases" in _errors(await graphql(client, aliases))[0]
    tokens = "{ sections { " + "name " * 3000 + "} }"
    assert "token" in _errors(await graphql(client, tokens))[0].lower()


async def test_syntax_and_unknown_fields_are_readable(client: httpx.AsyncClient) -> None:
    assert "Syntax Error" in _errors(await graphql(client, "{ articles( "))[0]
    assert "Cannot query field 'nope'" in _errors(await graphql(client, "{ nope }"))[0]
    response = await client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "Traceback" not in response.text


async def test_queries_over_get(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    await _pages(engine)
    response = await client.get(
        "/graphql", params={"query": "{ articles(first: 2) { edges { node { slug } } } }"}
    )
    assert response.status_code == 200
    assert len(response.json()["data"]["articles"]["edges"]) == 2
    assert response.headers["x-request-id"]
    metric, duration = response.headers["server-timing"].split(";dur=")
    assert metric == "app" and float(duration) > 0


async def test_graphiql_and_health(client: httpx.AsyncClient, engine: AsyncEngine, database_url: str) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    health = await client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok", "database": "ok"}

    closed = create_app(Settings(database_url=database_url, graphiql=False), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=closed), base_url="http://t") as other:
        assert (await other.get("/graphql", headers={"accept": "text/html"})).status_code == 404


async def test_unexpected_errors_are_masked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A database that is down: the client sees a generic message and a request id, never SQL or a trace."""
    from models.db import create_engine

    url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    down = create_engine(url)
    app = create_app(Settings(database_url=url), engine=down)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        with caplog.at_level(logging.ERROR, logger="broadsheet"):
            response = await http.post(
                "/graphql", json={"query": "{ sections { name } }"}, headers={"x-request-id": "req-42"}
            )
        health = await http.get("/healthz")
    await down.dispose()
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == "Unexpected error."
    assert "SELECT" not in response.text and "Traceback" not in response.text
    assert response.headers["x-request-id"] == "req-42"
    assert any("req-42" in record.getMessage() for record in caplog.records)
    assert health.status_code == 503


async def test_sections_added_after_the_tree_was_cached_show_at_once(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await store_article(engine, _draft(1, ("Europe",)))
    query = """{ articles(first: 5) { edges { node { breadcrumbs { name } } } }
                 section(path: "science/space") { name } }"""
    before = data_of(await graphql(client, query))
    assert before["section"] is None
    await store_article(engine, _draft(2, ("Science", "Space")))
    after = data_of(await graphql(client, query))
    assert after["section"] == {"name": "Space"}
    assert [crumb["name"] for crumb in after["articles"]["edges"][0]["node"]["breadcrumbs"]] == [
        "Home",
        "Science",
        "Space",
        "Report number 2",
    ]


async def test_date_window_order_and_totals(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    for number in range(12):  # one a minute from 2026-03-01T00:00Z
        await store_article(engine, _draft(number, ("News", "Business") if number % 3 else ("Europe",)))
    query = """query($since: DateTime, $until: DateTime, $order: ArticleOrder!, $after: String) {
        articles(since: $since, until: $until, orderBy: $order, first: 3, after: $after) {
          totalCount edges { node { headline } } pageInfo { hasNextPage endCursor } } }"""
    window = {"since": "2026-03-01T00:02:00Z", "until": "2026-03-01T00:09:00"}  # no zone: UTC
    seen, after = [], None
    while True:
        page = data_of(await graphql(client, query, {**window, "order": "OLDEST", "after": after}))[
            "articles"
        ]
        assert page["totalCount"] == 7
        seen += [edge["node"]["headline"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"Report number {number}" for number in range(2, 9)]
    newest = data_of(await graphql(client, query, {"order": "NEWEST"}))["articles"]
    assert newest["totalCount"] == 12 and newest["edges"][0]["node"]["headline"] == "Report number 11"
    refused = await graphql(client, query, {"order": "NEWEST", "after": after})
    assert refused["errors"][0]["message"].startswith("after:")  # an oldest-first cursor


async def test_totals_are_counted_only_when_asked_and_in_one_batch(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient, sql: StatementLog
) -> None:
    for number in range(6):
        await store_article(engine, _draft(number, ("News", "Business") if number % 2 else ("Europe",)))
    await warm_up(app, client)
    sql.clear()
    data_of(await graphql(client, "{ articles(first: 2) { edges { cursor } } }"))
    assert sql.count == 1
    sql.clear()
    sections = data_of(await graphql(client, "{ sections { path articles(first: 1) { totalCount } } }"))
    assert {s["path"]: s["articles"]["totalCount"] for s in sections["sections"]} == {
        "": 6,
        "europe": 3,
        "news": 3,
        "news/business": 3,
    }
    assert sql.count == 2  # one page query and one count query for all four sections


async def test_lookups_by_key_run_on_their_own_pool_whose_plans_are_kept(
    engine: AsyncEngine, database_url: str
) -> None:
    """On PostgreSQL the app opens two engines: an article page (a read by unique key) runs on the one whose
    sessions may keep a statement's plan, and a search on the one that plans every statement for its
    values. Each names its sessions, so pg_stat_activity shows which ran what."""
    if engine.dialect.name != "postgresql":
        pytest.skip("plan caching is PostgreSQL's; SQLite has one engine")
    await store_article(engine, _draft(1, ("Europe",)))
    app = create_app(Settings(database_url=database_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        article = await graphql(http, '{ article(slug: "report-number-1") { headline people { role } } }')
        assert data_of(article)["article"]["headline"] == "Report number 1"
        hits = await graphql(http, '{ search(query: "report") { edges { node { slug } } } }')
        assert len(data_of(hits)["search"]["edges"]) == 1
        async with engine.connect() as connection:
            sessions = await connection.execute(
                text(
                    "SELECT application_name, query FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name LIKE 'broadsheet%'"
                )
            )
            ran = {(name, "json_agg" in query, "article_search" in query) for name, query in sessions}
    assert ("broadsheet-lookups", True, False) in ran  # the article and its mentions, in one statement
    assert ("broadsheet", False, True) in ran  # the search
    assert not any(name == "broadsheet-lookups" and searched for name, _, searched in ran)

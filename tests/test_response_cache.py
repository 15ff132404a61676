"""The opt-in response cache in one process, without Redis: identical successful requests skip execution;
errors are never kept."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from tests.conftest import PAGES, StatementLog, caught_up, data_of, graphql
from tests.helpers import ingest_page

FRONT = "query($n: Int!) { articles(first: $n) { edges { node { headline people { entity { name } } } } } }"


async def test_identical_requests_are_served_from_memory(
    engine: AsyncEngine, cached_app: Starlette, cached: httpx.AsyncClient, sql: StatementLog
) -> None:
    for page in sorted(PAGES.glob("*.txt")):
        await ingest_page(engine, page)
    await caught_up(cached_app)  # else the notice of those writes could drop the answer kept next
    first = await cached.post("/graphql", json={"query": FRONT, "variables": {"n": 2}})
    sql.clear()
    again = await cached.post("/graphql", json={"query": FRONT, "variables": {"n": 2}})
    assert sql.count == 0
    assert again.json()["data"] == first.json()["data"] and again.status_code == 200
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert int(again.headers["content-length"]) == len(again.content)

    other = data_of(await graphql(cached, FRONT, {"n": 1}))
    assert sql.count > 0 and len(other["articles"]["edges"]) == 1
    by_get = await cached.get("/graphql", params={"query": "{ entities(first: 2) { edges { cursor } } }"})
    sql.clear()
    assert (
        await cached.get("/graphql", params={"query": "{ entities(first: 2) { edges { cursor } } }"})
    ).json() == (by_get.json())
    assert sql.count == 0


async def test_a_kept_answer_is_sent_with_the_same_headers_every_time(
    cached_app: Starlette, cached: httpx.AsyncClient
) -> None:
    """Each hit's request id and timing go on that hit's answer only, never into the kept header list (which
    once grew by two headers a hit, until load generators could no longer read the answers)."""
    query = {"query": "{ sections { name } }"}
    await caught_up(cached_app)
    first = await cached.post("/graphql", json=query)
    names = sorted(name for name, _ in first.headers.multi_items())
    for _ in range(5_000):
        hit = await cached.post("/graphql", json=query)
        assert sorted(name for name, _ in hit.headers.multi_items()) == names
    assert hit.json()["data"] == first.json()["data"]
    assert hit.json()["extensions"]["cost"]["requested"] == first.json()["extensions"]["cost"]["requested"]
    assert names.count("x-request-id") == names.count("server-timing") == 1


async def test_responses_with_errors_are_not_kept(cached: httpx.AsyncClient, sql: StatementLog) -> None:
    query = '{ entities(first: 3) { edges { cursor } } entity(slug: " ") { name } }'
    await graphql(cached, "{ entities(first: 1) { edges { cursor } } }")  # the cursor secret, read once
    for _ in range(2):
        sql.clear()
        body = await graphql(cached, query)
        assert body["errors"][0]["message"] == "slug: must not be empty"
        assert sql.count == 1  # the entities page ran again


async def test_off_by_default(client: httpx.AsyncClient, sql: StatementLog) -> None:
    query = "{ entities(first: 3) { edges { cursor } } }"
    await graphql(client, query)
    sql.clear()
    await graphql(client, query)
    assert sql.count == 1

"""Query cost over HTTP, on both executors (CI runs the api-marked tests again on the stock one) and both
databases: the README's worked example to the unit, a costly document refused with its figure, a budget
spent like a leaky bucket, and the figure itself for the shapes the rule names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from graphql import parse
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from broadsheet.quota import Limit
from broadsheet.settings import Settings
from graph.app import create_app
from graph.cost import LIST_SIZE, operation_cost
from graph.schema import build_schema
from models.api_keys import KeyScope
from models.types import utcnow
from resolvers.api_keys import create_key

# The README's worked example ("Limits and cost"): 10 + 10 + 10 + 10 + 50 + 50.
WORKED_EXAMPLE = """{
  articles(first: 10) {
    edges { node { headline section { name } mentions(first: 5) { role entity { name } } } }
  }
}"""
WORKED_COST = 140

pytestmark = pytest.mark.api  # every test here, on both executors


@pytest.fixture
async def limited_app(engine: AsyncEngine, database_url: str) -> AsyncIterator[Starlette]:
    """The real app, refusing above 5,000."""
    application = create_app(Settings(database_url=database_url, max_query_cost=5_000), engine=engine)
    async with application.router.lifespan_context(application):
        yield application


async def key_with_budget(engine: AsyncEngine, cost: Limit) -> dict[str, str]:
    async with engine.begin() as connection:
        _row, key = await create_key(connection, "partner", [KeyScope.READ], cost=cost, now=utcnow())
    return {"authorization": f"Bearer {key}"}


async def ask(
    app: Starlette, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        return await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


def reset_at(body: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(body["extensions"]["cost"]["resetAt"].replace("Z", "+00:00"))


async def test_the_worked_example_costs_what_the_readme_says(app: Starlette, engine: AsyncEngine) -> None:
    """A budget of 1,000 a day refills 140 units in about 3 h 22 min (the refill in a test's time is
    under one unit, so the figures are exact)."""
    headers = await key_with_budget(engine, Limit(1_000, 86_400))
    answered = await ask(app, WORKED_EXAMPLE, headers)
    body = answered.json()
    assert answered.status_code == 200 and "errors" not in body
    assert {name: body["extensions"]["cost"][name] for name in ("requested", "remaining")} == {
        "requested": WORKED_COST,
        "remaining": 1_000 - WORKED_COST,
    }
    expected = datetime.now(UTC) + timedelta(seconds=WORKED_COST * 86.4)
    assert abs(reset_at(body) - expected) < timedelta(seconds=3)
    again = (await ask(app, WORKED_EXAMPLE, headers)).json()
    assert again["extensions"]["cost"]["remaining"] == 1_000 - 2 * WORKED_COST


async def test_a_costly_document_is_refused_with_its_figure(limited_app: Starlette) -> None:
    costly = "{ articles(first: 100) { nodes { mentions(first: 50) { entity { name } } } } }"
    figure = 100 + 100 + 100 * 50 + 100 * 50  # articles, nodes (the connection's items), mentions, entities
    refused = await ask(limited_app, costly)
    body = refused.json()
    assert body["errors"] == [
        {
            "message": f"The query's cost is {figure}, over the maximum of 5000: ask for fewer items",
            "extensions": {"code": "QUERY_TOO_COSTLY", "cost": figure},
        }
    ]
    assert body.get("data") is None and body["extensions"]["cost"] == {"requested": figure}
    just = "{ articles(first: 100) { nodes { mentions(first: 24) { entity { name } } } } }"  # 5,000
    assert "errors" not in (await ask(limited_app, just)).json()


async def test_a_spent_budget_is_429_until_it_refills(app: Starlette, engine: AsyncEngine) -> None:
    headers = await key_with_budget(engine, Limit(300, 3600))  # one unit each 12 s
    spent = [(await ask(app, WORKED_EXAMPLE, headers)).json()["extensions"]["cost"] for _ in range(2)]
    assert [figures["remaining"] for figures in spent] == [160, 20]
    refused = await ask(app, WORKED_EXAMPLE, headers)
    body = refused.json()
    assert refused.status_code == 429
    assert body["errors"][0]["extensions"] == {"code": "QUERY_BUDGET_EXCEEDED", "cost": WORKED_COST}
    wait = int(refused.headers["retry-after"])
    assert 120 * 12 - 5 <= wait <= 120 * 12  # 120 units short, 12 s each
    assert body["extensions"]["cost"]["remaining"] == 20
    whole = await ask(app, "{ articles(first: 100) { nodes { section { name } } } }", headers)  # 300
    assert (
        whole.status_code == 429
    )  # the whole budget: it waits for the bucket to drain, not refused outright
    assert whole.json()["errors"][0]["extensions"]["code"] == "QUERY_BUDGET_EXCEEDED"
    too_big = await ask(
        app, "{ articles(first: 100) { nodes { section { name } } } sections { name } }", headers
    )
    assert too_big.json()["errors"][0]["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 310}


async def test_anonymous_budgets_are_per_address(engine: AsyncEngine, database_url: str) -> None:
    settings = Settings(database_url=database_url, anonymous_cost=Limit(200, 3600))
    application = create_app(settings, engine=engine)
    async with application.router.lifespan_context(application):
        answers: dict[str, list[httpx.Response]] = {}
        for address in ("192.0.2.1", "192.0.2.1", "192.0.2.2"):
            transport = httpx.ASGITransport(app=application, client=(address, 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                answers.setdefault(address, []).append(
                    await http.post("/graphql", json={"query": WORKED_EXAMPLE})
                )
    assert [answer.status_code for answer in answers["192.0.2.1"]] == [200, 429]
    assert answers["192.0.2.2"][0].json()["extensions"]["cost"]["remaining"] == 60


async def test_with_limits_off_nothing_is_counted_or_charged_and_the_maximum_still_holds(
    engine: AsyncEngine, database_url: str, redis_settings: dict[str, Any]
) -> None:
    """Three queries of a key limited to two a minute through a server with limits off (the second and third
    answered from its response cache, which charges kept answers when limits are on), then one through a
    server with them on, sharing one Redis: the first three pass without RateLimit fields and spend nothing,
    so the fourth finds the key's rate and budget untouched."""
    async with engine.begin() as connection:
        _row, key = await create_key(
            connection, "partner", [KeyScope.READ], rate=Limit(2, 60), cost=Limit(1_000, 86_400), now=utcnow()
        )
    headers = {"authorization": f"Bearer {key}"}
    shared = {"database_url": database_url, "max_query_cost": 5_000, **redis_settings}
    off = create_app(Settings(**shared, limits_enabled=False, response_cache_seconds=60), engine=engine)
    on = create_app(Settings(**shared), engine=engine)
    async with off.router.lifespan_context(off), on.router.lifespan_context(on):
        unlimited = [await ask(off, WORKED_EXAMPLE, headers) for _ in range(3)]
        costly = await ask(
            off, "{ articles(first: 100) { nodes { mentions(first: 50) { entity { name } } } } }"
        )
        limited = await ask(on, WORKED_EXAMPLE, headers)
    assert [answer.status_code for answer in unlimited] == [200, 200, 200]
    assert not any(
        "ratelimit" in answer.headers or "ratelimit-policy" in answer.headers for answer in unlimited
    )
    assert [answer.json()["extensions"]["cost"] for answer in unlimited] == [{"requested": WORKED_COST}] * 3
    assert costly.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert limited.status_code == 200 and limited.headers["ratelimit"] == '"default";r=1;t=30'
    assert limited.json()["extensions"]["cost"]["remaining"] == 1_000 - WORKED_COST


SCHEMA = build_schema(Settings())._schema


@pytest.mark.parametrize(
    ("document", "variables", "cost"),
    [
        ("{ __typename sections { name } }", {}, LIST_SIZE),
        ("{ sections { name children { name } } }", {}, LIST_SIZE + LIST_SIZE * LIST_SIZE),
        ("query($n: Int! = 3) { entities(first: $n) { edges { node { name } } } }", {}, 3 + 3 + 3),
        (
            "query($n: Int!) { entities(first: $n) { ...E } }"
            " fragment E on EntityConnection { edges { node { slug } } }",
            {"n": 7},
            21,
        ),
        ("{ articles { nodes { body { ... on Paragraph { text } } } } }", {}, 20 + 20 + 20 * LIST_SIZE),
        ('{ article(slug: "x") { mentions { entity { name } } } }', {}, 1 + LIST_SIZE + LIST_SIZE),
        ("{ __schema { types { name fields { name } } } }", {}, 0),
    ],
)
def test_the_rule(document: str, variables: dict[str, Any], cost: int) -> None:
    assert operation_cost(SCHEMA, parse(document), None, variables) == cost

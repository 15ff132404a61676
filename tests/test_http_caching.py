"""HTTP caching and the shared response cache, as browsers, CDNs and partners meet them: ETags and 304s,
Cache-Control by who asks, surrogate keys naming what an answer holds, answers shared across server
processes through Redis, purged by what a write changed, and computed once however many ask at once."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from broadsheet.quota import Limit
from broadsheet.settings import Settings
from graph.app import create_app
from ingest.document import ArticleDraft
from ingest.store import store_article
from models.api_keys import KeyScope
from models.response_cache import RETRY_SECONDS, Purger
from tests.conftest import StatementLog, caught_up
from tests.helpers import json_article, serving
from tests.test_cli import broadsheet
from tests.test_limits import RedisDoor
from tests.test_scopes import new_key

pytestmark = pytest.mark.api  # over HTTP: CI runs these on both executors (tags are collected by resolvers)

FRONT = """query Front($n: Int!) { articles(first: $n) { edges { node { slug headline section { name }
  breadcrumbs { name } mentions(first: 10) { role entity { name kind } } } } } }"""
#: A budget that refills slowly enough for two requests in a row to show what each spent.
SLOW = Limit(1_000_000, 86_400)
ARTICLE = "query One($slug: String!) { article(slug: $slug) { headline people { entity { name } } } }"


def draft(slug: str, headline: str, body: str, hour: int) -> ArticleDraft:
    return json_article(slug, headline, body, hour=hour, day=(2026, 5, 1))


TALKS = draft("warsaw-talks", "Talks in Warsaw", "Vladimir Putin's envoy met Donald Tusk in Warsaw.", 9)
PORT = draft("gdansk-port", "Port of Gdansk grows", "The Port of Gdansk said Orlen would invest.", 10)


def persisted(query: str, variables: dict[str, Any]) -> dict[str, str]:
    """Query parameters of a GET naming a persisted query by its hash alone."""
    sha = hashlib.sha256(query.encode()).hexdigest()
    return {
        "extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha}}),
        "variables": json.dumps(variables),
    }


@asynccontextmanager
async def running(
    engine: AsyncEngine, database_url: str, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=database_url, **settings), engine=engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        yield client


def headlines(answer: httpx.Response) -> list[str]:
    return [edge["node"]["headline"] for edge in answer.json()["data"]["articles"]["edges"]]


def app_of(client: httpx.AsyncClient) -> Starlette:
    app: Starlette = client.app  # type: ignore[attr-defined]
    return app


@pytest.fixture
async def archive(engine: AsyncEngine) -> dict[str, int]:
    talks = await store_article(engine, TALKS)
    port = await store_article(engine, PORT)
    return {"talks": talks.article_id, "port": port.article_id}


async def test_a_public_get_has_an_etag_cache_control_vary_and_its_surrogate_keys(
    engine: AsyncEngine, database_url: str, archive: dict[str, int]
) -> None:
    async with running(
        engine, database_url, http_max_age=15, http_s_maxage=120, http_stale_while_revalidate=45
    ) as client:
        answer = await client.get("/graphql", params={"query": FRONT, "variables": '{"n": 5}'})
        assert answer.status_code == 200
        assert (
            answer.headers["cache-control"] == "public, max-age=15, s-maxage=120, stale-while-revalidate=45"
        )
        assert answer.headers["vary"] == "Accept, Authorization, X-API-Key"
        keys = set(answer.headers["surrogate-key"].split(" "))
        assert {f"article:{archive['talks']}", f"article:{archive['port']}", "articles"} <= keys
        people = {key for key in keys if key.startswith("entity:")}
        assert len(people) >= 4  # Putin, Tusk, Warsaw, Orlen, the port...
        assert any(key.startswith("section:") for key in keys)

        etag = answer.headers["etag"]
        again = await client.get(
            "/graphql", params={"query": FRONT, "variables": '{"n": 5}'}, headers={"if-none-match": etag}
        )
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
        assert again.headers["cache-control"] == answer.headers["cache-control"]
        assert "ratelimit" in again.headers  # a 304 is a request like any other
        other = await client.get(
            "/graphql", params={"query": FRONT, "variables": '{"n": 1}'}, headers={"if-none-match": etag}
        )
        assert other.status_code == 200 and other.headers["etag"] != etag

        posted = await client.post("/graphql", json={"query": FRONT, "variables": {"n": 5}})
        assert posted.status_code == 200
        assert "etag" not in posted.headers and "cache-control" not in posted.headers


async def test_the_etag_is_of_the_data_not_of_the_cost_figures(
    engine: AsyncEngine, database_url: str, archive: dict[str, int]
) -> None:
    async with running(engine, database_url, anonymous_cost=SLOW) as client:
        first = await client.get("/graphql", params={"query": FRONT, "variables": '{"n": 2}'})
        second = await client.get("/graphql", params={"query": FRONT, "variables": '{"n": 2}'})
    assert first.json()["extensions"]["cost"]["remaining"] > second.json()["extensions"]["cost"]["remaining"]
    assert first.headers["etag"] == second.headers["etag"]


async def test_who_may_keep_what(engine: AsyncEngine, database_url: str, archive: dict[str, int]) -> None:
    drafts = await new_key(engine, "desk", [KeyScope.READ, KeyScope.DRAFTS])
    reader = await new_key(engine, "partner", [KeyScope.READ])
    async with running(engine, database_url, surrogate_key_header="Cache-Tag") as client:
        params = {"query": ARTICLE, "variables": '{"slug": "warsaw-talks"}'}
        private = await client.get("/graphql", params=params, headers=drafts)
        assert private.headers["cache-control"] == "private, no-store"
        public = await client.get("/graphql", params=params, headers=reader)
        assert public.headers["cache-control"].startswith("public, ")
        assert f"article:{archive['talks']}" in public.headers["cache-tag"].split()
        assert "surrogate-key" not in public.headers

        missing = await client.get("/graphql", params={"query": ARTICLE, "variables": '{"slug": "nothing"}'})
        assert missing.json()["data"] == {"article": None}
        assert missing.headers["cache-tag"] == "articles"  # an article written later may be this one

        failed = await client.get("/graphql", params={"query": '{ entity(slug: " ") { name } }'})
        assert failed.json()["errors"] and failed.headers["cache-control"] == "no-store"
        assert "etag" not in failed.headers

        unknown = await client.get("/graphql", params=persisted(FRONT, {"n": 1}))
        assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert unknown.headers["cache-control"] == "private, no-cache, must-revalidate"


async def test_apq_register_then_get_by_hash_with_an_etag_and_a_304(
    engine: AsyncEngine, database_url: str, archive: dict[str, int]
) -> None:
    async with running(engine, database_url, response_cache_seconds=60) as client:
        params = persisted(FRONT, {"n": 2})
        assert (await client.get("/graphql", params=params)).json()["errors"][0]["extensions"][
            "code"
        ] == "PERSISTED_QUERY_NOT_FOUND"
        registered = await client.post(
            "/graphql",
            json={"query": FRONT, "variables": {"n": 2}, "extensions": json.loads(params["extensions"])},
        )
        assert registered.status_code == 200 and "errors" not in registered.json()
        answer = await client.get("/graphql", params=params)
        assert answer.status_code == 200
        assert answer.json()["data"] == registered.json()["data"]
        assert answer.headers["etag"]
        not_modified = await client.get(
            "/graphql", params=params, headers={"if-none-match": answer.headers["etag"]}
        )
        assert not_modified.status_code == 304 and not_modified.content == b""


async def test_a_kept_answer_is_charged_to_the_budget_like_a_computed_one(
    engine: AsyncEngine, database_url: str, archive: dict[str, int], sql: StatementLog
) -> None:
    """Two answers in a row from the cache (no SQL): the second's remaining budget is the first's less the
    query's cost. (On SQLite the key's first use is written down, which clears what the process kept: the
    loop waits for answers that come from the cache.)"""
    reader = await new_key(engine, "partner", [KeyScope.READ])
    body = {"query": FRONT, "variables": {"n": 2}}
    kept: list[dict[str, Any]] = []
    async with running(engine, database_url, response_cache_seconds=60, key_cost=SLOW) as client:
        for _attempt in range(100):
            sql.clear()
            answer = (await client.post("/graphql", json=body, headers=reader)).json()
            kept = [*kept, answer] if sql.count == 0 else []
            if len(kept) == 2:
                break
            await asyncio.sleep(0.02)
    first, second = kept
    assert second["data"] == first["data"]
    cost = first["extensions"]["cost"]["requested"]
    assert second["extensions"]["cost"]["requested"] == cost
    spent = first["extensions"]["cost"]["remaining"] - second["extensions"]["cost"]["remaining"]
    assert cost - 1 <= spent <= cost  # less what refilled meanwhile


async def test_a_write_purges_only_the_answers_it_changes(
    engine: AsyncEngine,
    database_url: str,
    archive: dict[str, int],
    redis_settings: dict[str, Any],
    sql: StatementLog,
) -> None:
    settings = {**redis_settings, "response_cache_seconds": 60, "response_cache_local_seconds": 0}
    purge = Purger(redis_settings["redis_url"], redis_settings["redis_prefix"])
    async with running(engine, database_url, **settings) as client:
        talks = {"query": ARTICLE, "variables": {"slug": "warsaw-talks"}}
        port = {"query": ARTICLE, "variables": {"slug": "gdansk-port"}}
        front = {"query": FRONT, "variables": {"n": 5}}
        for body in (talks, port, front):
            await client.post("/graphql", json=body)
        sql.clear()
        for body in (talks, port, front):
            await client.post("/graphql", json=body)
        assert sql.count == 0  # all three kept in Redis

        changed = draft(
            "gdansk-port", "Port of Gdansk grows again", "The Port of Gdansk said Orlen would invest.", 10
        )
        stored = await store_article(engine, changed)
        await purge(stored.tags)
        sql.clear()
        assert (await client.post("/graphql", json=talks)).json()["data"]["article"][
            "headline"
        ] == "Talks in Warsaw"
        assert sql.count == 0  # untouched by the write
        answer = (await client.post("/graphql", json=port)).json()
        assert answer["data"]["article"]["headline"] == "Port of Gdansk grows again"
        assert "Port of Gdansk grows again" in headlines(await client.post("/graphql", json=front))
    await purge.close()


async def test_a_missing_answer_is_computed_once_however_many_ask_in_however_many_processes(
    engine: AsyncEngine,
    database_url: str,
    archive: dict[str, int],
    redis_settings: dict[str, Any],
    sql: StatementLog,
) -> None:
    settings = {**redis_settings, "response_cache_seconds": 60}
    body = {"query": FRONT, "variables": {"n": 5}}
    async with (
        running(engine, database_url, **settings) as one,
        running(engine, database_url, **settings) as two,
    ):
        for client in (one, two):  # each process starts up
            await client.post(
                "/graphql", json={"query": "{ sections { name } articles(first: 1) { edges { cursor } } }"}
            )
            await caught_up(app_of(client))
        sql.clear()
        answers = await asyncio.gather(
            *(client.post("/graphql", json=body) for _ in range(10) for client in (one, two))
        )
        pages = [statement for statement in sql.statements if statement.startswith("SELECT article.")]
    assert {answer.status_code for answer in answers} == {200}
    assert len({json.dumps(answer.json()["data"]) for answer in answers}) == 1
    assert len(pages) == 1  # twenty requests, one page of articles read


async def test_after_an_ingest_the_front_page_of_every_process_shows_the_new_article(
    engine: AsyncEngine,
    database_url: str,
    archive: dict[str, int],
    redis_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    """Two `broadsheet serve` processes sharing Redis, each with the front page kept; `broadsheet ingest` of
    a new article; the next front page from either shows it."""
    env = {
        "BROADSHEET_REDIS_URL": redis_settings["redis_url"],
        "BROADSHEET_REDIS_PREFIX": redis_settings["redis_prefix"],
        "BROADSHEET_RESPONSE_CACHE_SECONDS": "300",
    }
    record = {
        "source_id": "fresh-1",
        "headline": "Fresh news from Vilnius",
        "section": "World/Europe",
        "published_at": "2026-06-01T09:00:00Z",
        "body": "Gitanas Nauseda spoke in Vilnius on Monday.",
    }
    path = tmp_path / "fresh.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    params = persisted(FRONT, {"n": 3})
    register = {"query": FRONT, "variables": {"n": 3}, "extensions": json.loads(params["extensions"])}
    async with (
        serving(database_url, env) as first_url,
        serving(database_url, env) as second_url,
        httpx.AsyncClient(base_url=first_url) as first,
        httpx.AsyncClient(base_url=second_url) as second,
    ):
        assert (await first.post("/graphql", json=register)).status_code == 200
        for client in (first, second, first, second):
            before = await client.get("/graphql", params=params)
            assert before.status_code == 200
            assert headlines(before)[0] == "Port of Gdansk grows"
        done = await broadsheet("ingest", str(path), database_url=database_url, **env)
        assert done.returncode == 0, done.stderr
        for client in (first, second):
            after = await client.get("/graphql", params=params)
            assert headlines(after)[0] == "Fresh news from Vilnius"
            assert after.headers["etag"] != before.headers["etag"]


async def test_a_write_names_what_it_changed_as_cache_tags(engine: AsyncEngine) -> None:
    """An update names the article, every entity it mentioned before or mentions now (their pages and
    counts change), and the lists (an article may show an entity or section only drafts held)."""
    first = await store_article(engine, draft("riga", "In Riga", "Angela Merkel spoke in Riga.", 8))
    entities = await entity_ids(engine)
    assert first.tags >= {f"article:{first.article_id}", "articles", "entities", "sections"}
    assert {f"entity:{entity_id}" for entity_id in entities.values()} <= first.tags

    moved = draft("riga", "In Riga", "Olaf Scholz spoke in Riga.", 8)
    second = await store_article(engine, moved)
    after = await entity_ids(engine)
    assert second.article_id == first.article_id
    assert {
        f"entity:{entities['Angela Merkel']}",  # mentioned no more
        f"entity:{after['Olaf Scholz']}",  # new
        f"entity:{entities['Riga']}",  # still
        f"article:{first.article_id}",
        "articles",
        "entities",
        "sections",
    } <= second.tags

    unchanged = await store_article(engine, moved)
    assert unchanged.tags == frozenset()


async def entity_ids(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT name, id FROM entity"))
        return {name: entity_id for name, entity_id in rows}


async def test_with_redis_away_answers_are_computed_then_shared_again_once_it_is_back(
    engine: AsyncEngine,
    database_url: str,
    archive: dict[str, int],
    redis_settings: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    sql: StatementLog,
) -> None:
    """Redis away: every answer computed (none refused), the log says so once; back: answers come from
    Redis again, with nothing restarted."""
    door = RedisDoor(int(redis_settings["redis_url"].split(":")[2].split("/")[0]))
    settings = {
        "redis_url": f"redis://127.0.0.1:{door.port}/0",  # nothing listens there yet
        "redis_prefix": redis_settings["redis_prefix"],
        "response_cache_seconds": 60,
        "response_cache_local_seconds": 0,  # every answer from Redis, or computed
    }
    params = {"query": FRONT, "variables": '{"n": 2}'}
    async with running(engine, database_url, **settings) as client:
        await client.get("/graphql", params=params)
        with caplog.at_level(logging.ERROR, logger="broadsheet.response_cache"):
            sql.clear()
            away = [await client.get("/graphql", params=params)]
            computed = sql.count
            await asyncio.sleep(RETRY_SECONDS + 0.1)  # tried again, failed again: not logged again
            away.append(await client.get("/graphql", params=params))
        await door.open()
        try:
            await asyncio.sleep(RETRY_SECONDS + 0.1)
            await client.get("/graphql", params=params)  # computed, and kept in Redis
            sql.clear()
            back = await client.get("/graphql", params=params)
            from_redis = sql.count
        finally:
            await door.shut()
    assert [answer.status_code for answer in away] == [200, 200] and computed > 0
    assert len({answer.headers["etag"] for answer in [*away, back]}) == 1
    unreachable = [
        record for record in caplog.records if "response cache: Redis is unreachable" in record.message
    ]
    assert len(unreachable) == 1
    assert back.status_code == 200 and from_redis == 0

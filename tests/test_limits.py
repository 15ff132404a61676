"""Rate limits as partners meet them, over HTTP: per key across server processes (through Redis), per address
without a key, the RateLimit header fields on every answer, and what happens while Redis is away."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from broadsheet.quota import Limit
from broadsheet.settings import Settings
from graph.app import create_app
from models.api_keys import KeyScope
from models.rate_limits import RETRY_SECONDS
from models.types import utcnow
from resolvers.api_keys import create_key
from tests.helpers import free_port, serving
from tests.test_cli import broadsheet

QUERY = {"query": "{ __typename }"}


async def limited_key(engine: AsyncEngine, rate: Limit, name: str = "partner") -> str:
    async with engine.begin() as connection:
        _row, key = await create_key(connection, name, [KeyScope.READ], rate=rate, now=utcnow())
    return key


@asynccontextmanager
async def started(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Starlette]:
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        yield app


def client_from(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50_000))
    return httpx.AsyncClient(transport=transport, base_url="http://broadsheet.test")


def refusal(response: httpx.Response) -> tuple[int, str, str | None]:
    body: dict[str, Any] = response.json()
    return response.status_code, body["errors"][0]["extensions"]["code"], response.headers.get("retry-after")


async def test_the_101st_request_of_a_key_limited_to_100_a_minute_is_429_across_two_servers(
    engine: AsyncEngine, database_url: str, redis_settings: dict[str, Any]
) -> None:
    """Two `broadsheet serve` processes sharing one Redis, requests alternating between them: the key's 100
    pass and the 101st does not. GCRA also refills one request each 0.6 s, so a request passes past the 100th
    only for each 0.6 s the burst took (on a busy machine, one or two); without Redis each process would let
    its own 100 through, 200 in all."""
    key = await limited_key(engine, Limit(100, 60))
    other = await limited_key(engine, Limit(100, 60), "another")
    env = {
        "BROADSHEET_REDIS_URL": redis_settings["redis_url"],
        "BROADSHEET_REDIS_PREFIX": redis_settings["redis_prefix"],
    }
    headers = {"authorization": f"Bearer {key}"}
    async with (
        serving(database_url, env) as one,
        serving(database_url, env) as two,
        httpx.AsyncClient(base_url=one) as first,
        httpx.AsyncClient(base_url=two) as second,
    ):
        clients = [first, second]
        for http in clients:  # each server's first request is slow (connections, the script into Redis)
            warm = await http.post("/graphql", json=QUERY, headers={"x-api-key": other})
            assert warm.status_code == 200
        started_at = time.monotonic()
        answers: list[httpx.Response] = []
        for wave in range(0, 100, 20):
            answers += await asyncio.gather(
                *(
                    clients[i % 2].post("/graphql", json=QUERY, headers=headers)
                    for i in range(wave, wave + 20)
                )
            )
        for extra in range(10):  # until the first refusal
            answers.append(await clients[extra % 2].post("/graphql", json=QUERY, headers=headers))
            if answers[-1].status_code != 200:
                break
        elapsed = time.monotonic() - started_at
    *passed, last = answers
    refills = int(elapsed / 0.6)
    assert [answer.status_code for answer in passed] == [200] * len(passed)
    assert 100 <= len(passed) <= 100 + refills, (len(passed), elapsed)  # 100 exactly when it took < 0.6 s
    remaining = [int(answer.headers["ratelimit"].split("r=")[1].split(";")[0]) for answer in passed]
    assert max(remaining) == 99 and min(remaining) == 0
    assert all(answer.headers["ratelimit-policy"] == '"default";q=100;w=60' for answer in answers)
    status, code, retry_after = refusal(last)
    assert (status, code) == (429, "RATE_LIMITED")
    assert retry_after == "1"  # the next refill is under 0.6 s away
    assert last.headers["ratelimit"].startswith('"default";r=0;t=')


async def test_anonymous_requests_are_limited_per_address_and_every_answer_says_where_it_stands(
    engine: AsyncEngine, database_url: str
) -> None:
    settings = Settings(database_url=database_url, anonymous_rate=Limit(3, 60))
    async with (
        started(settings, engine) as app,
        client_from(app, "192.0.2.1") as one,
        client_from(app, "192.0.2.2") as other,
    ):
        answers = [await one.post("/graphql", json=QUERY) for _ in range(2)]
        answers.append(await one.post("/graphql", content=b"{", headers={"content-type": "application/json"}))
        refused = await one.get("/graphql", params={"query": "{ __typename }"})
        elsewhere = await other.post("/graphql", json=QUERY)
        key = await limited_key(engine, Limit(5, 60))
        keyed = await one.post("/graphql", json=QUERY, headers={"x-api-key": key})
    assert [answer.status_code for answer in answers] == [200, 200, 400]  # a bad request counts and is told
    assert [answer.headers["ratelimit"] for answer in answers] == [
        '"default";r=2;t=20',
        '"default";r=1;t=40',
        '"default";r=0;t=60',
    ]
    assert all(answer.headers["ratelimit-policy"] == '"default";q=3;w=60' for answer in answers)
    assert refusal(refused) == (429, "RATE_LIMITED", "20")
    assert refused.headers["ratelimit"] == '"default";r=0;t=60'
    assert "3/minute" in refused.json()["errors"][0]["message"]
    assert elsewhere.status_code == 200 and elsewhere.headers["ratelimit"] == '"default";r=2;t=20'
    assert keyed.status_code == 200 and keyed.headers["ratelimit-policy"] == '"default";q=5;w=60'


class RedisDoor:
    """A TCP relay to the test Redis on a port of its own, opened and shut at will: Redis down and up again
    without touching the Redis other test runs share."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def shut(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for task in self.tasks:
            task.cancel()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self.tasks.add(task)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError, asyncio.CancelledError):
            while chunk := await source.read(65_536):
                sink.write(chunk)
                await sink.drain()
        sink.close()


@pytest.mark.parametrize("fail_open", [True, False])
async def test_redis_away_fails_open_or_closed_logs_once_and_recovers_by_itself(
    engine: AsyncEngine,
    database_url: str,
    redis_settings: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    fail_open: bool,
) -> None:
    redis_url: str = redis_settings["redis_url"]
    door = RedisDoor(int(redis_url.split(":")[2].split("/")[0]))
    settings = Settings(
        database_url=database_url,
        redis_url=f"redis://127.0.0.1:{door.port}/0",  # nothing listens there yet
        redis_prefix=redis_settings["redis_prefix"],
        anonymous_rate=Limit(5, 60),
        limits_fail_open=fail_open,
    )
    async with started(settings, engine) as app, client_from(app, "192.0.2.9") as http:
        with caplog.at_level(logging.ERROR, logger="broadsheet.limits"):
            away = [await http.post("/graphql", json=QUERY)]
            await asyncio.sleep(RETRY_SECONDS + 0.1)  # tried again, failed again: not logged again
            away.append(await http.post("/graphql", json=QUERY))
        await door.open()
        try:
            await asyncio.sleep(RETRY_SECONDS + 0.1)
            back = await http.post("/graphql", json=QUERY)
        finally:
            await door.shut()
    unreachable = [record for record in caplog.records if "Redis is unreachable" in record.getMessage()]
    assert len(unreachable) == 1
    if fail_open:  # each process counts on its own meanwhile
        assert [answer.status_code for answer in away] == [200, 200]
        assert [answer.headers["ratelimit"].split(";")[1] for answer in away] == ["r=4", "r=3"]
    else:
        assert [refusal(answer)[::2] for answer in away] == [(503, "1")] * 2
    assert back.status_code == 200
    assert back.headers["ratelimit"].split(";")[1] == "r=4"  # Redis's count, which saw none of the above
    shared = Redis.from_url(redis_url)
    try:
        assert await shared.exists(f"{redis_settings['redis_prefix']}rate:address:192.0.2.9")
    finally:
        await shared.aclose()


async def test_keys_list_shows_the_requests_and_cost_a_key_used_today(
    engine: AsyncEngine, database_url: str, redis_settings: dict[str, Any]
) -> None:
    key = await limited_key(engine, Limit(100, 60))
    settings = Settings(database_url=database_url, **redis_settings)
    async with started(settings, engine) as app, client_from(app, "192.0.2.3") as http:
        for _ in range(3):  # 10 each: a list of 10 sections
            answered = await http.post(
                "/graphql", json={"query": "{ sections { name } }"}, headers={"x-api-key": key}
            )
            assert answered.status_code == 200
        await http.post("/graphql", json=QUERY)  # anonymous: counted for no key
    env = {
        "BROADSHEET_REDIS_URL": redis_settings["redis_url"],
        "BROADSHEET_REDIS_PREFIX": redis_settings["redis_prefix"],
    }
    listed = await listed_keys(database_url, **env)
    assert (listed["name"], listed["requests today"], listed["cost today"]) == ("partner", "3", "30")
    unknown = await listed_keys(database_url)  # without Redis the servers' counts are not known here
    assert unknown["requests today"] == unknown["cost today"] == "-"


async def listed_keys(database_url: str, **env: str) -> dict[str, str]:
    """The one row of `broadsheet keys list`, by column."""
    listed = await broadsheet("keys", "list", database_url=database_url, **env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    header = next([cell.strip() for cell in line.split("┃")[1:-1]] for line in lines if "┃" in line)
    (row,) = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if "│" in line]
    return dict(zip(header, row, strict=True))

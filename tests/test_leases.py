"""Leases (models/rate_limits.py) on the real Redis: a key with a large limit spends most of its units
without a round trip, yet two processes sharing it never get past its limit; what it used today counts what
was spent; its RateLimit figures still go down with each request."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from typing import Any, cast

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from broadsheet.quota import Limit
from broadsheet.settings import Settings
from models.rate_limits import Decision, Limits, MemoryLimits, key_usage_today
from tests.test_limits import QUERY, limited_key, started


class CountingRedis(Redis):
    """The real client, counting the scripts it runs: Redis's own command statistics are shared with every
    other test run using this server."""

    evalshas = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if args[0] == "EVALSHA":
            self.evalshas += 1
        return await super().execute_command(*args, **options)


async def test_a_large_limit_is_spent_mostly_without_redis_and_its_usage_is_what_was_spent(
    redis_settings: dict[str, Any],
) -> None:
    """2,000 requests from 50 coroutines at once: one question to Redis at a time per key, so two or three
    in all (the first lease is the request's own unit; the next is sized by that pace). Today's usage counts
    the 2,000 spent, not the units leased, once the process has told Redis (``close``)."""
    redis = cast(CountingRedis, CountingRedis.from_url(redis_settings["redis_url"]))  # from_url builds cls
    prefix = redis_settings["redis_prefix"]
    limits = Limits(redis, prefix, fail_open=False)
    limit = Limit(1_000_000, 60)  # leases of up to 10,000

    async def requests(count: int) -> list[Decision | None]:
        return [await limits.take("rate:key:7", limit, 1, "rate:key:7") for _ in range(count)]

    try:
        answers = [
            answer for batch in await asyncio.gather(*(requests(40) for _ in range(50))) for answer in batch
        ]
        asked = redis.evalshas
        await limits.close()
        used = await key_usage_today(redis, prefix, [7])
    finally:
        await redis.aclose()
    assert len(answers) == 2_000 and all(answer is not None and answer.allowed for answer in answers)
    assert 1 <= asked <= 5, asked
    assert used == {7: (2_000, 0)}


async def test_two_processes_sharing_a_key_never_get_past_its_limit(redis_settings: dict[str, Any]) -> None:
    """Two ``Limits`` on one Redis (as two server processes are), 20 coroutines each asking as fast as they
    can for a second, a key of 1,000/minute (leases of up to 10, for 0.6 s). Together they get the burst of
    1,000 less at most the lift of one lease (10, see the module) and two leases' worth (20) left unspent,
    plus one unit per 60 ms refilled; and what they spent, replayed through GCRA in order, always passes: no
    moment in which they had more than the limit allows, not only in total."""
    limit = Limit(1_000, 60)
    clients = [Redis.from_url(redis_settings["redis_url"]) for _ in range(2)]
    processes = [Limits(client, redis_settings["redis_prefix"], fail_open=False) for client in clients]
    spent: list[float] = []
    started_at = time.monotonic()

    async def ask(limits: Limits) -> None:
        while time.monotonic() - started_at < 1.0:
            answer = await limits.take("rate:key:8", limit, 1)
            assert answer is not None
            if answer.allowed:
                spent.append(time.monotonic())
            else:
                await asyncio.sleep(0.001)

    try:
        await asyncio.gather(*(ask(limits) for limits in processes for _ in range(20)))
    finally:
        for client in clients:
            await client.aclose()
    refills = math.ceil((time.monotonic() - started_at) / 0.06)
    assert 1_000 - 10 - 20 <= len(spent) <= 1_000 + refills, (len(spent), refills)
    replay = MemoryLimits(clock=iter(sorted(spent)).__next__)
    assert all([(await replay.take("key", limit, 1)).allowed for _ in spent])


async def test_ratelimit_figures_go_down_with_each_request_served_from_a_lease(
    engine: AsyncEngine, database_url: str, redis_settings: dict[str, Any]
) -> None:
    """A key of 864,000/day (10 a second, leases of up to 8,640): each answer says fewer units are left than
    the one before, by one a request (more when a lease is taken: its lift), except where a unit refilled
    in between."""
    key = await limited_key(engine, Limit(864_000, 86_400))
    settings = Settings(database_url=database_url, **redis_settings)
    started_at = time.monotonic()
    async with started(settings, engine) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://broadsheet.test") as http:
            answers = [await http.post("/graphql", json=QUERY, headers={"x-api-key": key}) for _ in range(30)]
    refills = math.ceil((time.monotonic() - started_at) / 0.1)
    assert all(answer.status_code == 200 for answer in answers)
    left = [int(answer.headers["ratelimit"].split("r=")[1].split(";")[0]) for answer in answers]
    assert left[0] == 863_999
    steps = [before - after for before, after in itertools.pairwise(left)]
    assert all(step >= 0 for step in steps) and steps.count(0) <= refills, (left, refills)
    assert sum(step == 1 for step in steps) >= len(steps) - 2 - refills  # most from the lease, one by one


async def test_a_client_over_its_limit_is_refused_without_asking_redis_again_until_it_could_pass(
    redis_settings: dict[str, Any],
) -> None:
    """Refused at 5/second, 20 more requests are refused in the process (Redis would refuse them too until
    the retry time it gave); a smaller quantity than the one refused still asks; after the wait, a pass."""
    redis = cast(CountingRedis, CountingRedis.from_url(redis_settings["redis_url"]))
    limits = Limits(redis, redis_settings["redis_prefix"], fail_open=False)
    rate, budget = Limit(5, 1), Limit(1_000, 3_600)
    try:
        passed = [await limits.take("rate:key:9", rate, 1)]  # and the script is in Redis's cache
        loaded = redis.evalshas
        passed += [await limits.take("rate:key:9", rate, 1) for _ in range(4)]
        refused = [await limits.take("rate:key:9", rate, 1) for _ in range(21)]
        asked = redis.evalshas - loaded
        spent = await limits.take("cost:key:9", budget, 900)
        too_much = await limits.take("cost:key:9", budget, 200)
        less = await limits.take("cost:key:9", budget, 50)
        await asyncio.sleep(0.25)
        later = await limits.take("rate:key:9", rate, 1)
    finally:
        await redis.aclose()
    assert all(answer is not None and answer.allowed for answer in passed)
    assert asked == 4 + 1
    assert all(answer is not None and not answer.allowed and answer.remaining == 0 for answer in refused)
    assert all(0 < answer.retry_after <= 0.2 for answer in refused if answer is not None)
    assert [answer is not None and answer.allowed for answer in (spent, too_much, less, later)] == [
        True,
        False,
        True,
        True,
    ]

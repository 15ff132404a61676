"""Rate limits and cost budgets, counted with GCRA (the generic cell rate algorithm), in Redis when there is
one (shared by every server process and host) and in this process's memory otherwise.

GCRA keeps one number per limited thing: its *theoretical arrival time* (TAT), the moment at which it will
have used nothing. A limit of ``amount`` per ``seconds`` spends ``seconds / amount`` of it per unit; a
request of ``quantity`` units passes when the TAT it would leave is no more than ``seconds`` ahead of now.
That is a leaky bucket of ``amount`` units draining at the limit's rate, which is what a cost budget is
(Shopify's): a request is one unit of its rate limit and its query cost is that many units of its budget.

Why our own Lua script rather than the `limits` library: one EVALSHA does the check, the charge and the
figures the headers need (units left, when the quota is whole again) in one round trip, on Redis's clock
(so hosts whose clocks differ agree), with one key per limited thing; `limits` has no GCRA, its moving
window keeps an entry per unit (50,000 for a cost budget of 50,000/minute), and its figures for the
headers are another round trip. The algorithm is a dozen lines here and in Lua, tested through both.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from models.api_keys import Limit

log = logging.getLogger("broadsheet.limits")

#: Seconds to leave Redis alone after it failed, before trying it again.
RETRY_SECONDS = 1.0
#: Seconds between two log lines saying Redis is unreachable.
LOG_EVERY_SECONDS = 60.0
#: Limited things a process remembers before it forgets those whose quota is whole again.
MEMORY_ENTRIES = 100_000
#: Days a per-day usage counter is kept in Redis (today's and yesterday's are read).
USAGE_DAYS = 2


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request passes a limit, and what to tell the client about that limit."""

    allowed: bool
    limit: Limit
    remaining: int  # units left after this request (when refused: left now)
    reset_after: float  # seconds until the whole quota is back
    retry_after: float  # when refused, seconds until the request would pass; 0 when allowed


def decision(allowed: bool, limit: Limit, until_full: float, retry_after: float) -> Decision:
    """A decision from the time until the quota is whole again (``until_full``)."""
    used = until_full * limit.amount / limit.seconds
    remaining = max(0, limit.amount - math.ceil(used - 1e-6))  # 1e-6: rounding of stored times
    return Decision(allowed, limit, remaining, max(until_full, 0.0), max(retry_after, 0.0))


def gcra(tat: float | None, now: float, limit: Limit, quantity: int) -> tuple[Decision, float | None]:
    """The decision for ``quantity`` units at ``now`` given the stored TAT, and the TAT to store (None when
    refused: nothing changes). A quantity above the limit's amount never passes; callers refuse it first."""
    interval = limit.seconds / limit.amount
    start = now if tat is None or tat < now else tat
    new_tat = start + quantity * interval
    allow_at = new_tat - limit.seconds
    if allow_at > now:
        return decision(False, limit, start - now, allow_at - now), None
    return decision(True, limit, new_tat - now, 0.0), new_tat


class MemoryLimits:
    """GCRA in this process: right for one server process, and what each process falls back to while
    Redis is away (when failing open)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._tats: dict[str, float] = {}

    async def take(self, key: str, limit: Limit, quantity: int, usage: str | None = None) -> Decision:
        now = self._clock()
        verdict, tat = gcra(self._tats.get(key), now, limit, quantity)
        if tat is not None:
            self._tats[key] = tat
            if len(self._tats) > MEMORY_ENTRIES:  # forget what has fully drained
                self._tats = {name: kept for name, kept in self._tats.items() if kept > now}
        return verdict


# GCRA as above, in microseconds on Redis's clock. KEYS[1]: the TAT; KEYS[2] (optional): a usage counter
# that a passing request adds its quantity to. ARGV: microseconds per unit, the period in microseconds,
# the quantity, the usage counter's lifetime in seconds. Returns {allowed, microseconds until the quota is
# whole, microseconds until it would pass}. Times are written with %.0f: tostring() keeps 14 digits only.
GCRA_SCRIPT = """
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local quantity = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + quantity * interval
local allow_at = new_tat - period
if allow_at > now then
  return {0, string.format('%.0f', tat - now), string.format('%.0f', allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
if KEYS[2] then
  redis.call('INCRBY', KEYS[2], quantity)
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
end
return {1, string.format('%.0f', new_tat - now), '0'}
"""


def usage_key(prefix: str, day: str, key: str) -> str:
    """The Redis key counting what ``key`` (``rate:key:12``, ``cost:key:12``) used on ``day`` (UTC)."""
    return f"{prefix}usage:{day}:{key}"


def today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


async def key_usage_today(redis: Redis, prefix: str, key_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Requests and query cost each key used today (UTC), as counted by the servers sharing ``redis``."""
    if not key_ids:
        return {}
    day = today()
    names = [
        usage_key(prefix, day, f"{kind}:key:{key_id}") for key_id in key_ids for kind in ("rate", "cost")
    ]
    values = [int(value or 0) for value in await redis.mget(names)]
    return {key_id: (values[2 * i], values[2 * i + 1]) for i, key_id in enumerate(key_ids)}


class RedisLimits:
    """GCRA in Redis (``GCRA_SCRIPT``, run by EVALSHA), shared by every process using the same prefix."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(GCRA_SCRIPT)  # EVALSHA, loading the script when Redis lacks it

    async def take(self, key: str, limit: Limit, quantity: int, usage: str | None = None) -> Decision:
        keys = [self._prefix + key]
        if usage is not None:
            keys.append(usage_key(self._prefix, today(), usage))
        period = limit.seconds * 1_000_000
        args = [period / limit.amount, period, quantity, USAGE_DAYS * 86_400]
        allowed, until_full, retry_after = await self._script(keys=keys, args=args)
        return decision(bool(allowed), limit, int(until_full) / 1e6, int(retry_after) / 1e6)


class Limits:
    """Where limits are counted: Redis when configured, else this process. While Redis is unreachable it
    fails open (each process counts on its own) or closed (``take`` answers None: refuse), says so in the
    log at most once a minute, and tries Redis again a second later, so it recovers by itself."""

    def __init__(
        self, redis: Redis | None, prefix: str, *, fail_open: bool, clock: Callable[[], float] = time.time
    ) -> None:
        self._shared = RedisLimits(redis, prefix) if redis is not None else None
        self._memory = MemoryLimits(clock)
        self._fail_open = fail_open
        self._clock = clock
        self._retry_at = 0.0
        self._logged_at: float | None = None
        self._down = False

    async def take(self, key: str, limit: Limit, quantity: int, usage: str | None = None) -> Decision | None:
        """Take ``quantity`` units of ``limit`` for ``key``; ``usage`` names the counter of what a key used
        today (Redis only). None: Redis is away and the server fails closed."""
        if self._shared is None:
            return await self._memory.take(key, limit, quantity)
        now = self._clock()
        if now >= self._retry_at:
            try:
                verdict = await self._shared.take(key, limit, quantity, usage)
            except (RedisError, OSError) as error:
                self._unreachable(now, error)
            else:
                if self._down:
                    self._down = False
                    log.warning("rate limits: Redis answers again; limits are shared again")
                return verdict
        return await self._memory.take(key, limit, quantity) if self._fail_open else None

    def _unreachable(self, now: float, error: Exception) -> None:
        self._down = True
        self._retry_at = now + RETRY_SECONDS
        if self._logged_at is None or now - self._logged_at >= LOG_EVERY_SECONDS:
            self._logged_at = now
            action = "each process limits on its own" if self._fail_open else "requests are refused (503)"
            log.error("rate limits: Redis is unreachable (%s: %s); %s", type(error).__name__, error, action)

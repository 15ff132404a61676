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

Leases. A Redis round trip per request costs more than the rest of a cached answer (measured: one from
redis-py per request takes a trivial uvicorn app from ~33,000 to ~12,000 requests a second), so a process
takes a key's units from the shared count in batches: a *lease*, charged to Redis at once and spent in the
process, for ``lease_lifetime`` (1 s, or 1% of a shorter period's). A process asks for what it spent in its
last lease's lifetime (its pace), at most 1% of the limit (``lease_ceiling``), and at least what the request
needs; Redis grants what the count has room for, up to that. So a key of 100/minute leases one unit, the
request's own: it is counted in Redis request by request, exactly, as before; one of 600/minute leases up
to 6, and a busy key of 1,000,000/minute goes to Redis a few times a second per process (a lease lasts
0.6 s and holds up to 10,000).

A lease never lets a key exceed its limit: every unit spent was charged in Redis first, and the script
charges a lease that may be spent up to its lifetime later as if the count could not drain before then
(it lifts the TAT to at least now + the lifetime), so the shared count never drains units a process still
holds and the spending itself keeps to GCRA. The price is the other way: a key may get fewer than its
limit, by the units of leases whose time ran out unspent (at most one lease per process each time its pace
drops) and by the lift (at most the lifetime's worth of refill: 1% of the limit). A refusal is kept too:
until the retry time Redis gave, a request for as many units or more is refused in the process, as Redis
would refuse it, so a client over its limit that keeps asking costs no round trips either.

What a key used today (``broadsheet keys list``) counts what was spent, not what was leased: a lease's
unspent units were never used. A process adds what it spent from a lease when it next asks Redis for that
key, and at shutdown (``Limits.close``), so the counters lag by at most a lease per process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from redis.asyncio import Redis
from redis.exceptions import RedisError

from broadsheet.quota import Limit

log = logging.getLogger("broadsheet.limits")

#: Seconds to leave Redis alone after it failed, before trying it again.
RETRY_SECONDS = 1.0
#: Seconds between two log lines saying Redis is unreachable.
LOG_EVERY_SECONDS = 60.0
#: Limited things a process remembers before it forgets those whose quota is whole again.
MEMORY_ENTRIES = 100_000
#: Days a per-day usage counter is kept in Redis (today's and yesterday's are read).
USAGE_DAYS = 2
#: A lease holds at most 1/LEASE_SHARE of a limit and lasts at most 1/LEASE_SHARE of its period...
LEASE_SHARE = 100
#: ... and the seconds it lasts at most: the longer, the fewer round trips and the more units a process
#: that goes quiet leaves unspent.
LEASE_SECONDS = 1.0


class Decision(NamedTuple):
    """Whether a request passes a limit, and what to tell the client about that limit. (A named tuple: two
    are made for every request, and a frozen dataclass costs several times as much to make.)"""

    allowed: bool
    limit: Limit
    remaining: int  # units left after this request (when refused: left now)
    reset_after: float  # seconds until the whole quota is back
    retry_after: float  # when refused, seconds until the request would pass; 0 when allowed


def decision(allowed: bool, limit: Limit, until_full: float, retry_after: float, spare: int = 0) -> Decision:
    """A decision from the time until the quota is whole again (``until_full``); ``spare``: units of a lease
    this process holds, which that time counts as used but are still the client's to spend."""
    used = until_full * limit.amount / limit.seconds - spare
    remaining = min(limit.amount, max(0, limit.amount - math.ceil(used - 1e-6)))  # 1e-6: rounding of times
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


# GCRA as above, in microseconds on Redis's clock, granting a lease. KEYS[1]: the TAT; KEYS[2] (optional): a
# usage counter. ARGV: microseconds per unit, the period in microseconds, the quantity needed, the lease
# wanted (units, at least the quantity), the lease's lifetime in microseconds, the usage counter's lifetime
# in seconds, units the usage counter gains if the quantity passes, units it gains anyway. Returns {allowed,
# microseconds until the quota is whole, microseconds until it would pass, units granted}. A lease beyond
# the quantity starts from now + its lifetime at the earliest (see the module). Times are written with %.0f:
# tostring() keeps 14 digits only.
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
local allowed = allow_at <= now
local granted = quantity
local counted = tonumber(ARGV[8])
if allowed then
  local lifted = math.max(tat, now + tonumber(ARGV[5]))
  local more = math.min(tonumber(ARGV[4]), math.floor((now + period - lifted) / interval))
  if more > quantity then
    granted = more
    new_tat = lifted + more * interval
  end
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
  counted = counted + tonumber(ARGV[7])
end
if KEYS[2] and counted > 0 then
  redis.call('INCRBY', KEYS[2], counted)
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[6]))
end
if not allowed then
  return {0, string.format('%.0f', tat - now), string.format('%.0f', allow_at - now), 0}
end
return {1, string.format('%.0f', new_tat - now), '0', granted}
"""


def lease_ceiling(limit: Limit) -> int:
    """The most units a lease holds: under 200, one at most, a request's own (so counted in Redis exactly)."""
    return limit.amount // LEASE_SHARE


def lease_lifetime(limit: Limit) -> float:
    return min(LEASE_SECONDS, limit.seconds / LEASE_SHARE)


@dataclass(slots=True)
class Lease:
    """Units of one limited thing this process took from Redis and may spend without asking again until
    ``ends_at`` (``Limits``'s clock, counted from before the question left, so never after Redis's)."""

    limit: Limit
    usage: str | None
    left: int = 0
    granted: int = 0  # the last lease's units, spent ones included: with its time, this process's pace
    taken_at: float = 0.0
    ends_at: float = 0.0  # the clock is past it: nothing granted yet
    full_at: float = 0.0  # when Redis's count is whole again, as of its last answer
    unreported: int = 0  # units spent since Redis last heard from this process, not yet in the usage counter
    renewing: asyncio.Event | None = None  # set when the one question in flight for it is answered
    # Redis refused this many units (spare included) until then: so would it as many or more until a new
    # lease, the count only fills meanwhile (a client over its limit that keeps asking costs no round trip).
    refused: int = 0
    refused_until: float = 0.0

    def spend(self, now: float, quantity: int) -> Decision | None:
        """A decision without Redis, or None when only Redis can say."""
        live = now < self.ends_at
        if live and self.left >= quantity:
            self.left -= quantity
            if self.usage is not None:
                self.unreported += quantity
            return decision(True, self.limit, self.full_at - now, 0.0, spare=self.left)
        if now < self.refused_until and quantity >= self.refused:
            spare = self.left if live else 0
            return decision(False, self.limit, self.full_at - now, self.refused_until - now, spare=spare)
        return None

    def wanted(self, now: float, need: int) -> int:
        """Units to ask Redis for: ``need``, or what this process spent in a lease's lifetime at the pace
        of its last lease if more, up to the ceiling."""
        elapsed = max(min(now, self.ends_at) - self.taken_at, 1e-6)
        pace = math.ceil((self.granted - self.left) * lease_lifetime(self.limit) / elapsed)
        return max(need, min(pace, lease_ceiling(self.limit)))

    def answered(self, now: float, reply: list[bytes | int], need: int, spare: int) -> Decision:
        """The decision from Redis's ``reply`` to a question asked at ``now`` for ``need`` units, with
        ``spare`` units of this lease to be spent first; keeps the new lease when it passed."""
        allowed, until_full, retry_after, granted = (int(value) for value in reply)
        self.unreported = 0  # the script counted them
        self.full_at = now + until_full / 1e6
        if not allowed:
            self.refused, self.refused_until = need + spare, now + retry_after / 1e6
            return decision(False, self.limit, until_full / 1e6, retry_after / 1e6, spare=spare)
        self.granted, self.left = granted, granted - need
        self.refused_until = 0.0  # a new lease: spare units the refusal did not have
        self.taken_at, self.ends_at = now, now + lease_lifetime(self.limit)
        return decision(True, self.limit, until_full / 1e6, 0.0, spare=self.left)


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

    async def renew(self, key: str, lease: Lease, quantity: int, now: float) -> Decision:
        """Take ``quantity`` units for ``key``: what is left of a live ``lease`` first, the rest from Redis
        with a new lease around it."""
        spare = lease.left if now < lease.ends_at else 0
        need = quantity - spare
        keys = [self._prefix + key]
        if lease.usage is not None:
            keys.append(usage_key(self._prefix, today(), lease.usage))
        limit = lease.limit
        period = limit.seconds * 1_000_000
        lifetime = lease_lifetime(limit) * 1_000_000
        args = [period / limit.amount, period, need, lease.wanted(now, need), lifetime]
        args += [USAGE_DAYS * 86_400, quantity, lease.unreported]
        return lease.answered(now, await self._script(keys=keys, args=args), need, spare)

    async def report(self, usage: dict[str, int]) -> None:
        """Add units spent (by usage counter name) to today's usage counters."""
        day = today()
        async with self._redis.pipeline(transaction=False) as pipe:
            for name, units in usage.items():
                pipe.incrby(usage_key(self._prefix, day, name), units)
                pipe.expire(usage_key(self._prefix, day, name), USAGE_DAYS * 86_400)
            await pipe.execute()


class Limits:
    """Where limits are counted: Redis when configured (by leases, see the module), else this process.
    While Redis is unreachable it fails open (each process counts on its own) or closed (``take`` answers
    None: refuse), says so in the log at most once a minute, and tries Redis again a second later, so it
    recovers by itself. A lease already granted is spent meanwhile either way: Redis counted it."""

    def __init__(
        self,
        redis: Redis | None,
        prefix: str,
        *,
        fail_open: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shared = RedisLimits(redis, prefix) if redis is not None else None
        self._memory = MemoryLimits(clock)
        self._leases: dict[str, Lease] = {}
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
        # One question to Redis per key at a time: the others wait for its lease and spend from it.
        while (renewing := (lease := self._lease(key, limit, usage)).renewing) is not None:
            await renewing.wait()
        now = self._clock()
        spent = lease.spend(now, quantity)
        if spent is not None:
            return spent
        if now >= self._retry_at:
            lease.renewing = asked = asyncio.Event()
            try:
                verdict = await self._shared.renew(key, lease, quantity, now)
            except (RedisError, OSError) as error:
                self._unreachable(now, error)
            else:
                if self._down:
                    self._down = False
                    log.warning("rate limits: Redis answers again; limits are shared again")
                return verdict
            finally:
                lease.renewing = None
                asked.set()
        return await self._memory.take(key, limit, quantity) if self._fail_open else None

    async def close(self) -> None:
        """Add what this process spent from leases and has not told Redis to today's usage counters."""
        unreported = {
            lease.usage: lease.unreported
            for lease in self._leases.values()
            if lease.usage and lease.unreported
        }
        if self._shared is None or not unreported:
            return
        try:
            await self._shared.report(unreported)
        except (RedisError, OSError) as error:
            log.error(
                "rate limits: usage of %d keys not counted (%s: %s)",
                len(unreported),
                type(error).__name__,
                error,
            )

    def _lease(self, key: str, limit: Limit, usage: str | None) -> Lease:
        lease = self._leases.get(key)
        if lease is not None and lease.limit == limit:
            return lease
        if lease is None and len(self._leases) >= MEMORY_ENTRIES:  # forget what has nothing left to do
            now = self._clock()
            self._leases = {
                name: kept
                for name, kept in self._leases.items()
                if kept.ends_at > now or kept.unreported or kept.renewing is not None
            }
        # A new limit (the key's was changed) starts afresh; what was spent is still to be counted.
        self._leases[key] = Lease(limit, usage, unreported=lease.unreported if lease else 0)
        return self._leases[key]

    def _unreachable(self, now: float, error: Exception) -> None:
        self._down = True
        self._retry_at = now + RETRY_SECONDS
        if self._logged_at is None or now - self._logged_at >= LOG_EVERY_SECONDS:
            self._logged_at = now
            action = "each process limits on its own" if self._fail_open else "requests are refused (503)"
            log.error("rate limits: Redis is unreachable (%s: %s); %s", type(error).__name__, error, action)

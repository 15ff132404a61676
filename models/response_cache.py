"""The response cache's shared store: whole GraphQL answers in Redis, shared by every server process and
host, each filed under the tags of what it contains, so that a write purges exactly the answers it changes.

Tags name an article, an entity or a section (``article:12``, ``entity:7``, ``section:3``), or a kind's
lists (``articles``, ``entities``, ``sections``). An answer carries the tag of every object in it and the
list tag of every list in it, and of every lookup that found nothing (a new article may be what was looked
for). A write purges the tags of what it wrote, and the list tags of the kinds it added to. The same tags
go to CDNs in the surrogate-key header (graph/cache.py), so one purge vocabulary serves both.

Purge and store are Lua scripts, so each is atomic in Redis. A purge deletes every entry filed under its
tags and moves an epoch on; a store is refused when the epoch moved since its answer began to be computed,
so an answer computed from data read before a write is never stored after that write's purge.

The keys of one Redis database are used by one script each, so a single Redis (or a primary with replicas)
is assumed, not a cluster.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from models.shared_state import create_redis

log = logging.getLogger("broadsheet.response_cache")

ARTICLES = "articles"
ENTITIES = "entities"
SECTIONS = "sections"
#: Seconds to leave Redis alone after it failed, before trying it again.
RETRY_SECONDS = 1.0
#: Seconds between two log lines saying Redis is unreachable.
LOG_EVERY_SECONDS = 60.0


def article_tag(article_id: int) -> str:
    return f"article:{article_id}"


def entity_tag(entity_id: int) -> str:
    return f"entity:{entity_id}"


def section_tag(section_id: int) -> str:
    return f"section:{section_id}"


# KEYS[1]: the entry; KEYS[2]: its lock; KEYS[3]: the epoch. ARGV[1]: the lock's lifetime in ms (0: take no
# lock). Returns {entry or false, 1 when this caller now holds the lock, the epoch}.
_LOOKUP = """
local entry = redis.call('GET', KEYS[1])
local epoch = redis.call('GET', KEYS[3]) or '0'
if entry then return {entry, 0, epoch} end
local locked = 0
if tonumber(ARGV[1]) > 0 and redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then locked = 1 end
return {false, locked, epoch}
"""

# KEYS[1]: the entry; KEYS[2]: its lock; KEYS[3]: the epoch. ARGV: the epoch the answer was computed under,
# the value, its lifetime in ms, the tag keys' prefix, then the tags. Returns 1 when stored.
_STORE = """
redis.call('DEL', KEYS[2])
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[1] then return 0 end
local lifetime = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[2], 'PX', lifetime)
for i = 5, #ARGV do
  local tag = ARGV[4] .. ARGV[i]
  redis.call('SADD', tag, KEYS[1])
  if redis.call('PTTL', tag) < lifetime then redis.call('PEXPIRE', tag, lifetime) end
end
return 1
"""

# KEYS[1]: the epoch. ARGV: the tag keys' prefix, then the tags. Returns how many entries went.
_PURGE = """
redis.call('INCR', KEYS[1])
local gone = 0
for i = 2, #ARGV do
  local tag = ARGV[1] .. ARGV[i]
  for _, entry in ipairs(redis.call('SMEMBERS', tag)) do gone = gone + redis.call('DEL', entry) end
  redis.call('DEL', tag)
end
return gone
"""


class SharedResponses:
    """Answers in Redis under ``{prefix}rc:``. Every method treats Redis being away as a miss (or a
    no-op), logged at most once a minute, and leaves Redis alone for a second after it failed: the cache is
    an accelerator, never a reason to fail or slow a request."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}rc:"
        self._epoch = f"{self._prefix}epoch"
        self._lookup = redis.register_script(_LOOKUP)
        self._store = redis.register_script(_STORE)
        self._purge = redis.register_script(_PURGE)
        self._logged_at: float | None = None
        self._retry_at = 0.0

    def _keys(self, digest: str) -> list[str]:
        return [f"{self._prefix}e:{digest}", f"{self._prefix}l:{digest}", self._epoch]

    async def claim(self, digest: str, lock_ms: int) -> tuple[bytes | None, bool, str] | None:
        """The entry if there is one; else whether this caller now holds the right to compute it (for
        ``lock_ms``; 0 asks for no lock), and the epoch to store it under. None: Redis is away."""
        if time.monotonic() < self._retry_at:
            return None
        try:
            entry, locked, epoch = await self._lookup(keys=self._keys(digest), args=[lock_ms])
        except (RedisError, OSError) as error:
            self._unreachable(error)
            return None
        return entry or None, bool(locked), epoch.decode() if isinstance(epoch, bytes) else str(epoch)

    async def store(self, digest: str, value: bytes, tags: Iterable[str], seconds: float, epoch: str) -> bool:
        """Keep ``value`` under its tags unless a purge came since ``epoch``; release the lock either way."""
        lifetime = max(1, int(seconds * 1000))
        if time.monotonic() < self._retry_at:
            return False
        try:
            stored = await self._store(
                keys=self._keys(digest), args=[epoch, value, lifetime, f"{self._prefix}t:", *tags]
            )
        except (RedisError, OSError) as error:
            self._unreachable(error)
            return False
        return bool(stored)

    async def release(self, digest: str) -> None:
        """Give up the right to compute ``digest`` (its answer is not to be kept), so waiters stop waiting."""
        try:
            await self._redis.delete(f"{self._prefix}l:{digest}")
        except (RedisError, OSError) as error:
            self._unreachable(error)

    async def purge(self, tags: Iterable[str]) -> int:
        """Delete every answer filed under any of ``tags``; how many went. Raises RedisError: a writer
        must know its purge failed (it says so; the answers then live until they expire)."""
        gone = await self._purge(keys=[self._epoch], args=[f"{self._prefix}t:", *sorted(set(tags))])
        return int(gone)

    def _unreachable(self, error: Exception) -> None:
        now = time.monotonic()
        self._retry_at = now + RETRY_SECONDS  # a Redis that hangs would cost every request its timeout
        if self._logged_at is None or now - self._logged_at >= LOG_EVERY_SECONDS:
            self._logged_at = now
            name = type(error).__name__
            log.error("response cache: Redis is unreachable (%s: %s); answering without it", name, error)


class Purger:
    """A writer's side of the shared cache: once a write has committed, purge the tags it changed. Without
    Redis there is nothing shared to purge: each server process's own cache hears of every write through
    models/changes.py. A failed purge is logged, not raised: the write stands, and the answers it should
    have purged live until they expire."""

    def __init__(self, redis_url: str | None, prefix: str) -> None:
        self._redis = create_redis(redis_url) if redis_url else None
        self._shared = SharedResponses(self._redis, prefix) if self._redis is not None else None

    async def __call__(self, tags: Iterable[str]) -> None:
        tags = set(tags)
        if self._shared is None or not tags:
            return
        try:
            await self._shared.purge(tags)
        except (RedisError, OSError) as error:
            log.error(
                "response cache: could not purge %d tags (%s: %s); what they name lives until it expires",
                len(tags),
                type(error).__name__,
                error,
            )

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

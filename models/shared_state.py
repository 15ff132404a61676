"""Redis: the state that every server process and host must agree on (rate limits, persisted queries, the
response cache), when ``BROADSHEET_REDIS_URL`` is set. Without it that state stays in each process, which is
right for the embedded default (SQLite, one server process).

The client connects lazily and gives up quickly (half a second), so a Redis that is away slows no request
much; what a feature does then (serve without it, or refuse) is the feature's choice.
"""

from __future__ import annotations

from redis.asyncio import Redis

#: Seconds to wait for Redis to connect or answer before counting it as away.
TIMEOUT_SECONDS = 0.5


def create_redis(url: str) -> Redis:
    """A pooled client for ``url``; nothing is connected until the first command."""
    return Redis.from_url(
        url,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
        health_check_interval=30,
    )

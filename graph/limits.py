"""Rate limits at the HTTP edge: each GraphQL request spends one unit of its key's rate (the key's own, else
the default for keys) or, without a key, of its client address's (the anonymous rate). Every answer says
where the client stands in the IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers, the
structured-field syntax of its drafts since 08):

    RateLimit-Policy: "default";q=600;w=60      (600 requests per 60-second window)
    RateLimit: "default";r=599;t=60             (599 left; the whole quota is back within 60 seconds)

Over the limit: 429 with ``Retry-After`` and a GraphQL error coded RATE_LIMITED. The limit's counting
(GCRA, in Redis by leases or in the process) is models/rate_limits.py. The request's query-cost budget,
charged once its document is parsed (graph/cost.py), is handed on in the ASGI scope (``budget_of``).

The client address is the connection's; behind a proxy, run uvicorn with ``--forwarded-allow-ips`` so it is
the client's rather than the proxy's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broadsheet.quota import Limit
from graph.auth import authenticated
from graph.errors import ErrorCode
from graph.http import error_response
from models.rate_limits import Decision, Limits

SCOPE_ENTRY = "broadsheet.budget"
#: The policy's name in the header fields (one policy per request: the key's or the address's).
POLICY = "default"
#: Clients (keys, addresses) whose counter names a process keeps made.
MAX_COUNTED = 10_000
UNAVAILABLE = "Rate limits cannot be checked right now (the shared store is unreachable); retry shortly"


@dataclass(frozen=True, slots=True)
class Budget:
    """Whose query-cost budget a request spends, and how big it is."""

    limits: Limits
    key: str  # ``cost:key:12`` or ``cost:address:192.0.2.1``
    limit: Limit
    usage: str | None  # a key's usage counter (``broadsheet keys list``); None for addresses

    async def charge(self, cost: int) -> Decision | None:
        """Spend ``cost`` units; None when the store is away and the server fails closed."""
        return await self.limits.take(self.key, self.limit, cost, self.usage)


def budget_of(scope: Scope) -> Budget | None:
    """The budget ``RateLimits`` set for this request; None outside the GraphQL path, and when limits are
    off (``BROADSHEET_LIMITS_ENABLED``: the middleware is not installed)."""
    budget: Budget | None = scope.get(SCOPE_ENTRY)
    return budget


def seconds(value: float) -> int:
    """Whole seconds for a header: rounded up, so a client that waits that long is not early."""
    return max(1, math.ceil(value - 1e-6)) if value > 0 else 0


def rate_headers(verdict: Decision) -> list[tuple[bytes, bytes]]:
    return [_policy(verdict.limit), _state(verdict.remaining, seconds(verdict.reset_after))]


@lru_cache(maxsize=64)
def _policy(limit: Limit) -> tuple[bytes, bytes]:
    return b"ratelimit-policy", f'"{POLICY}";q={limit.amount};w={limit.seconds}'.encode()


@lru_cache(maxsize=4096)
def _state(remaining: int, reset_seconds: int) -> tuple[bytes, bytes]:
    return b"ratelimit", f'"{POLICY}";r={remaining};t={reset_seconds}'.encode()


class RateLimits:
    """ASGI middleware after ApiKeyAuth (it needs the key), on the GraphQL path only (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        limits: Limits,
        key_rate: Limit,
        key_cost: Limit,
        anonymous_rate: Limit,
        anonymous_cost: Limit,
    ) -> None:
        self.app = app
        self.path = path
        self.limits = limits
        self.key_rate, self.key_cost = key_rate, key_cost
        self.anonymous_rate, self.anonymous_cost = anonymous_rate, anonymous_cost
        # Who -> the names of its counters and its budget, made once rather than on every request.
        self._counters: dict[tuple[object, ...], tuple[str, str | None, Budget]] = {}

    def _counted(
        self, who: str, usage: str | None, rate: Limit, cost: Limit
    ) -> tuple[str, str | None, Budget]:
        found = self._counters.get((who, rate, cost))
        if found is None:
            if len(self._counters) >= MAX_COUNTED:
                self._counters.clear()
            budget = Budget(self.limits, f"cost:{who}", cost, f"cost:{usage}" if usage else None)
            found = (f"rate:{who}", f"rate:{usage}" if usage else None, budget)
            self._counters[(who, rate, cost)] = found
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        key = authenticated(scope)
        if key is not None:
            who, usage = f"key:{key.id}", f"key:{key.id}"
            rate, cost = key.rate or self.key_rate, key.cost or self.key_cost
        else:
            client = scope.get("client")
            who, usage = f"address:{client[0] if client else 'unknown'}", None
            rate, cost = self.anonymous_rate, self.anonymous_cost
        counter, usage_counter, budget = self._counted(who, usage, rate, cost)
        verdict = await self.limits.take(counter, rate, 1, usage_counter)
        if verdict is None or not verdict.allowed:
            await self._refuse(scope, receive, send, verdict, rate)
            return
        headers = rate_headers(verdict)
        scope[SCOPE_ENTRY] = budget

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]  # never extend a kept list
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, verdict: Decision | None, rate: Limit
    ) -> None:
        accept = Headers(scope=scope).get("accept")
        if verdict is None:
            refused = error_response(503, UNAVAILABLE, accept=accept, headers={"retry-after": "1"})
            await refused(scope, receive, send)
            return
        wait = seconds(verdict.retry_after)
        message = f"Rate limit of {rate} exceeded: retry in {wait} s"
        refused = error_response(
            429, message, accept=accept, headers={"retry-after": str(wait)}, code=ErrorCode.RATE_LIMITED
        )
        refused.raw_headers.extend(rate_headers(verdict))
        await refused(scope, receive, send)

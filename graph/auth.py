"""Who is asking: the API key a GraphQL request presents, checked at the HTTP edge before anything reads the
request, the response cache included, so no answer (cached or not) reaches a refused key.

A key comes as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. One that is malformed, unknown,
revoked, or the previous key of a rotation past its grace period is refused with 401 and
``WWW-Authenticate: Bearer``, whatever ``BROADSHEET_REQUIRE_API_KEY`` says; no key at all is refused only
when that setting is true, and is otherwise served anonymously. The key found (``ApiKeyRow``: name, scopes,
limits) goes into the ASGI scope (``authenticated``), from which the GraphQL context takes it.

Keys found are kept in memory by their hash while the database is unchanged (``models.changes``, as the
section tree is; migration 0012 makes a change to a key notify the servers on PostgreSQL), so a request with
a known key costs an HMAC and a dictionary lookup, and a revocation shows on the next request. When a key
was last used is written at most once a minute per server process, for every key used meanwhile, in one
statement, off the request's path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from graph.http import error_response, header
from models.api_keys import read_api_key_secret
from models.changes import ChangeWatcher
from models.changes import Scope as ChangeScope
from models.db import DatabaseUnavailable, reading
from models.types import utcnow
from resolvers.api_keys import KEY_SHAPE, ApiKeyRow, PresentedKey, key_by_digest, key_digest, record_use

log = logging.getLogger("broadsheet.auth")

#: Where the key a request presented is kept in its ASGI scope (None: anonymous).
SCOPE_ENTRY = "broadsheet.api_key"
#: Seconds between two writes of when keys were last used, per server process.
USE_RECORDED_EVERY = 60.0
#: Presented keys whose digest a process remembers.
MAX_REMEMBERED_DIGESTS = 4096

NO_KEY = 'Bearer realm="broadsheet"'
BAD_KEY = 'Bearer realm="broadsheet", error="invalid_token"'
KEY_REQUIRED = "An API key is required: send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`"
DATABASE_AWAY = "The API key cannot be checked now: the database is unreachable. Try again shortly"
REFUSED_KEY = (
    "The API key is not valid: unknown, revoked, or replaced by a rotation whose grace period is over"
)


class Unauthenticated(Exception):
    """A request refused for its key (401), with the challenge to answer with."""

    def __init__(self, message: str, challenge: str = BAD_KEY) -> None:
        super().__init__(message)
        self.challenge = challenge


def authenticated(scope: Scope) -> ApiKeyRow | None:
    """The key the request presented, None when it presented none."""
    key: ApiKeyRow | None = scope.get(SCOPE_ENTRY)
    return key


def presented_key(scope: Scope) -> str | None:
    """The key in ``Authorization: Bearer`` or ``X-API-Key`` (both, if they agree); None when neither."""
    authorization = header(scope, b"authorization")
    bearer = None
    if authorization is not None:
        scheme, _, credentials = authorization.strip().partition(" ")
        bearer = credentials.strip()
        if scheme.lower() != "bearer" or not bearer:
            raise Unauthenticated("The Authorization header must be `Bearer <key>`")
    given = header(scope, b"x-api-key")
    if given is not None:
        given = given.strip()
        if not given:
            raise Unauthenticated("The X-API-Key header is empty")
        if bearer is not None and given != bearer:
            raise Unauthenticated("Authorization and X-API-Key present different keys: send one")
    return bearer or given


class KeyStore:
    """The keys requests presented, by hash, and when they were used; one per app."""

    def __init__(self, changes: ChangeWatcher, engine: Callable[[], AsyncEngine]) -> None:
        self._changes = changes
        self._engine = engine
        self._secret: bytes | None = None
        self._keys: dict[str, PresentedKey] = {}
        self._generation: int | None = None
        self._used: dict[int, datetime] = {}
        self._next_write = 0.0
        self._writing: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        # The digests of keys presented lately: a keyed hash is 5 µs, a fifth of a cached answer's time.
        self._digests: dict[str, str] = {}

    async def find(self, key: str) -> ApiKeyRow | None:
        """The valid key ``key`` is, or None; its use is noted."""
        if self._secret is None:  # read on first use, so that a server starts while its database is away
            async with reading(self._engine()) as connection:
                self._secret = await read_api_key_secret(connection)
        digest = self._digests.get(key)
        if digest is None:
            if len(self._digests) >= MAX_REMEMBERED_DIGESTS:
                self._digests.clear()
            digest = self._digests[key] = key_digest(self._secret, key)
        generation = self._changes.generation(ChangeScope.CONTENT)  # read before the data, as it is kept
        if generation is None or generation != self._generation:
            self._keys.clear()
            self._generation = generation
        now = utcnow()
        found = self._keys.get(digest)
        if found is None:
            async with reading(self._engine()) as connection:
                found = await key_by_digest(connection, digest, now=now)
            if found is None:
                return None  # not kept: unknown keys cost a lookup each, and no memory
            if generation is not None and generation == self._generation:
                self._keys[digest] = found
        elif not found.valid_at(now):
            return None
        self._used[found.key.id] = now
        if self._writing is None:
            self._writing = asyncio.create_task(self._record_use())
        return found.key

    async def close(self) -> None:
        """Write what is left to write, at once (the server is stopping)."""
        self._closing.set()
        if self._writing is not None:
            await self._writing

    async def _record_use(self) -> None:
        """Write what is pending, at most once every USE_RECORDED_EVERY, until nothing is."""
        try:
            while self._used:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._next_write - time.monotonic()):
                        await self._closing.wait()
                used, self._used = self._used, {}
                self._next_write = time.monotonic() + USE_RECORDED_EVERY
                try:
                    async with self._engine().begin() as connection:
                        await record_use(connection, used)
                except Exception:  # a task of its own: nobody else would hear of it
                    log.exception("could not record when API keys were last used")
        finally:
            self._writing = None


class ApiKeyAuth:
    """ASGI middleware in front of the GraphQL path (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, path: str, keys: KeyStore, required: bool, graphiql: bool) -> None:
        self.app = app
        self.path = path
        self.keys = keys
        self.required = required
        self.graphiql = graphiql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        try:
            scope[SCOPE_ENTRY] = await self._key(scope)
        except Unauthenticated as refused:
            challenge = {"www-authenticate": refused.challenge}
            response = error_response(401, str(refused), accept=header(scope, b"accept"), headers=challenge)
            await response(scope, receive, send)
            return
        except DatabaseUnavailable:
            log.warning("API key not checked: the database is unreachable", exc_info=True)
            retry = {"retry-after": "1"}
            response = error_response(503, DATABASE_AWAY, accept=header(scope, b"accept"), headers=retry)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _key(self, scope: Scope) -> ApiKeyRow | None:
        presented = presented_key(scope)
        if presented is None:
            if self.required and not self._opens_graphiql(scope):
                raise Unauthenticated(KEY_REQUIRED, NO_KEY)
            return None
        key = await self.keys.find(presented) if KEY_SHAPE.fullmatch(presented) else None
        if key is None:
            raise Unauthenticated(REFUSED_KEY)
        return key

    def _opens_graphiql(self, scope: Scope) -> bool:
        """A browser opening the playground: it runs nothing, and its user adds the key in its headers."""
        if (
            not self.graphiql
            or scope["method"] != "GET"
            or "text/html" not in (header(scope, b"accept") or "")
        ):
            return False
        params = QueryParams(scope.get("query_string", b""))
        return "query" not in params and "extensions" not in params

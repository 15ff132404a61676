"""Persisted queries at the GraphQL endpoint: Apollo's automatic persisted queries, and trusted documents for
keys created with ``--persisted-only``.

A request names a document by hash in ``extensions.persistedQuery`` (``{"version": 1, "sha256Hash": ...}``):

- with the hash alone, the known document of that hash runs; unknown, the answer is Apollo's
  ``PersistedQueryNotFound`` error (code ``PERSISTED_QUERY_NOT_FOUND``, HTTP 200 as Apollo Server sends it,
  whatever the media type), and the client sends the document with its hash;
- with the document too, the hash must be its SHA-256 (else a 400, Apollo Server's ``provided sha does not
  match query``); the document runs, and is registered if it parsed and validated, so nothing a client
  cannot run is kept.

Registration is open to anyone, so it is bounded: a document is no larger than a request body
(``BROADSHEET_MAX_BODY_BYTES``); with Redis each expires ``BROADSHEET_PERSISTED_QUERY_TTL_SECONDS`` after its
last use (and Redis's own memory policy applies), without Redis the database keeps the newest
``BROADSHEET_PERSISTED_QUERY_MAX_DOCUMENTS``. Redis away: a hash is not found and nothing is registered, so
clients fall back to sending documents, and the API keeps serving.

A key created with ``--persisted-only`` runs trusted documents only, and by hash only, as Apollo's
safelisting with ``require_id`` does: a request of such a key with a document's text is refused with
``PERSISTED_QUERY_ID_REQUIRED`` (registering included), and a hash not trusted with
``PERSISTED_QUERY_NOT_IN_LIST`` (Apollo Router's codes). Both are 403, for either media type: GraphQL over
HTTP says a client not permitted to issue the request should get 403, 401 or the like; the key is known (not
a 401), and refused.

What a hash names never changes, so each server process keeps the documents it met by hash (least recently
used go first) and asks Redis or the database only for hashes it has not met; the parser's cache
(graph/schema.py) then parses each text once.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from graphql import GraphQLError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from graph.errors import ErrorCode
from graph.http import RequestRefused
from models.db import reading
from models.types import utcnow
from resolvers.api_keys import ApiKeyRow
from resolvers.persisted_documents import (
    HASH_SHAPE,
    document_hash,
    find_document,
    redis_find,
    redis_store,
    store_automatic,
)

log = logging.getLogger("broadsheet.persisted")

#: Documents each server process keeps by hash.
KEPT_DOCUMENTS = 1024
#: Seconds between two log lines about Redis being away.
REDIS_LOGGED_EVERY = 60.0

ID_REQUIRED = (
    "This API key runs trusted documents only, by hash: send "
    '`extensions.persistedQuery` ({"version": 1, "sha256Hash": "<hash>"}) without `query`'
)
NOT_IN_LIST = "This API key runs trusted documents only, and no trusted document has this hash"


class PersistedQueryNotFound(Exception):
    """The hash names no document known here: the client should send the document with it."""

    def result(self) -> ExecutionResult:
        code = {"code": ErrorCode.PERSISTED_QUERY_NOT_FOUND.value}
        return ExecutionResult(data=None, errors=[GraphQLError("PersistedQueryNotFound", extensions=code)])


def persisted_hash(extensions: dict[str, object] | None) -> str | None:
    """The hash ``extensions.persistedQuery`` names, None without one; a 400 for a malformed one."""
    entry = (extensions or {}).get("persistedQuery")
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise RequestRefused(400, '`extensions.persistedQuery` must be {"version": 1, "sha256Hash": ...}')
    if entry.get("version") != 1:
        raise RequestRefused(400, "Unsupported persisted query version")
    sha = entry.get("sha256Hash")
    if not isinstance(sha, str) or not HASH_SHAPE.fullmatch(sha.lower()):
        raise RequestRefused(400, "`sha256Hash` must be the SHA-256 of the document, in 64 hex digits")
    return sha.lower()


class PersistedDocuments:
    """The documents known by hash, for one app: kept in this process, in Redis, and in the database."""

    def __init__(
        self,
        engine: Callable[[], AsyncEngine],
        redis: Redis | None,
        *,
        prefix: str,
        ttl_seconds: int,
        max_documents: int,
    ) -> None:
        self._engine = engine
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._max_documents = max_documents
        self._known: OrderedDict[str, tuple[str, bool]] = OrderedDict()  # hash -> (document, trusted)
        self._redis_logged = 0.0

    async def document(
        self, request: GraphQLRequestData, key: ApiKeyRow | None
    ) -> tuple[str | None, tuple[str, str] | None]:
        """The document the request runs, and what to register (its hash and text) once it validated.
        RequestRefused for what the request or its key may not do; PersistedQueryNotFound."""
        sha = persisted_hash(request.extensions)
        if key is not None and key.persisted_only:
            if request.query or sha is None:
                raise RequestRefused(403, ID_REQUIRED, code="PERSISTED_QUERY_ID_REQUIRED")
            trusted = await self._find(sha, trusted=True)
            if trusted is None:
                raise RequestRefused(403, NOT_IN_LIST, code="PERSISTED_QUERY_NOT_IN_LIST")
            return trusted, None
        if sha is None:
            return request.query, None
        if not request.query:
            found = await self._find(sha, trusted=False)
            if found is None:
                raise PersistedQueryNotFound
            return found, None
        if document_hash(request.query) != sha:
            raise RequestRefused(400, "provided sha does not match query")
        return request.query, (sha, request.query)

    async def register(self, sha: str, document: str) -> None:
        """Keep a document a client sent with its hash (which matched), once it parsed and validated."""
        if self._redis is not None:
            try:
                await redis_store(self._redis, self._prefix, sha, document, ttl=self._ttl)
            except RedisError as error:
                self._redis_away(error)
                return
        else:
            async with self._engine().begin() as connection:
                await store_automatic(connection, sha, document, keep=self._max_documents, now=utcnow())
        self._keep(sha, document, trusted=False)

    async def _find(self, sha: str, *, trusted: bool) -> str | None:
        """The document of that hash (a trusted one only, if ``trusted``), or None."""
        known = self._known.get(sha)
        if known is not None and (known[1] or not trusted):
            self._known.move_to_end(sha)
            return known[0]
        if self._redis is not None and not trusted:
            try:
                text = await redis_find(self._redis, self._prefix, sha, ttl=self._ttl)
            except RedisError as error:
                self._redis_away(error)
                text = None
            if text is not None:
                self._keep(sha, text, trusted=False)
                return text
        async with reading(self._engine()) as connection:
            found = await find_document(connection, sha)
        if found is None or (trusted and not found.trusted):
            return None  # not kept: an unknown hash costs a lookup each time, and no memory
        self._keep(sha, found.text, trusted=found.trusted)
        return found.text

    def _keep(self, sha: str, document: str, *, trusted: bool) -> None:
        self._known[sha] = (document, trusted)
        self._known.move_to_end(sha)
        while len(self._known) > KEPT_DOCUMENTS:
            self._known.popitem(last=False)

    def _redis_away(self, error: RedisError) -> None:
        now = time.monotonic()
        if now >= self._redis_logged + REDIS_LOGGED_EVERY:
            self._redis_logged = now
            log.warning("persisted queries: Redis is away (%s); serving without it", error)

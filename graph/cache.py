"""Caching GraphQL answers at two levels: what HTTP caches (browsers, CDNs) may keep, and the server's own
response cache.

HTTP. An answer to a GET carries an ``ETag`` (a hash of its data, not of its cost figures, which change with
every request), and ``If-None-Match`` naming it gets a 304. ``Cache-Control`` says who may keep it: ``public,
max-age, s-maxage, stale-while-revalidate`` (settings) for a successful answer to a request whose key may
not see drafts; ``private, no-store`` when it may (an answer may hold drafts); ``no-store`` for an answer
with errors; Apollo's ``private, no-cache, must-revalidate`` for PERSISTED_QUERY_NOT_FOUND, so no cache
keeps the refusal after the document is registered. ``Vary: Accept, Authorization, X-API-Key``: a CDN keeps
one copy per key (each key's requests count against its own limits). The surrogate-key header
(``BROADSHEET_SURROGATE_KEY_HEADER``) lists the answer's cache tags (models/response_cache.py), so a CDN can
purge by what a write changed. POST answers get none of these: HTTP caches do not reuse them.

The server's response cache (``BROADSHEET_RESPONSE_CACHE_SECONDS`` > 0) keeps successful answers keyed by
the document (the SHA-256 of its text, else the persisted query's hash), the operation name, the variables,
the media type asked for, the key's scopes and whether it may run trusted documents only (such a key is
never served an answer to a document it may not run). With Redis the answers are shared by every process
and purged by tags when a write commits; each process also keeps what it served for
``BROADSHEET_RESPONSE_CACHE_LOCAL_SECONDS``, and clears that at any write (``models.changes``). Without Redis
each process keeps its own, until anything changes. A missing answer is computed once: other requests for
it, in this process or another, wait for it (a Redis lock) instead of computing it too.

A kept answer is charged to the request's cost budget as if computed (a partner's bill does not depend on
the cache), and ``extensions.cost`` is filled in for the request at hand. Answers over the budget are not
served from the cache: the request goes on to be refused as any other.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.auth import authenticated
from graph.cost import cost_figures
from graph.errors import ErrorCode
from graph.http import response_media_type
from graph.limits import budget_of
from models.api_keys import KeyScope
from models.changes import ChangeWatcher
from models.changes import Scope as ChangeScope
from models.response_cache import SharedResponses
from resolvers.api_keys import granted_scopes

#: Answers larger than this are served but not kept.
MAX_BODY_BYTES = 2_000_000
#: Answers a process keeps in memory at most (least recently used go first).
MAX_LOCAL_ENTRIES = 512
#: How long a request waits for another to compute the same answer before computing it itself.
LOCK_SECONDS = 10.0
POLL_SECONDS = 0.01
#: Longer surrogate-key headers are not sent (CDNs refuse them: Fastly's limit is 16 KiB); the answer is
#: then ``private``, since a CDN could not purge it.
MAX_SURROGATE_KEY_BYTES = 16_000
#: Requests whose cache key a process remembers (parsing a request for its key costs more than serving it).
MAX_REMEMBERED_KEYS = 4096
MAX_REMEMBERED_BODY_BYTES = 8192
#: Where the request's answer tags are collected (``graph.context.Context.tags``).
TAGS_ENTRY = "broadsheet.tags"
VARY = b"Accept, Authorization, X-API-Key"
_EXTENSIONS = b',"extensions":{"cost":'
_NOT_FOUND = ErrorCode.PERSISTED_QUERY_NOT_FOUND.value.encode()


def answer_tags(scope: Scope) -> set[str]:
    """The set the request's context adds the answer's cache tags to."""
    tags: set[str] = scope.setdefault(TAGS_ENTRY, set())
    return tags


@dataclass(frozen=True, slots=True)
class HttpCaching:
    """What Cache-Control says of public answers, and the surrogate-key header's name."""

    max_age: int
    s_maxage: int
    stale_while_revalidate: int
    surrogate_key_header: str

    @property
    def public(self) -> bytes:
        return (
            f"public, max-age={self.max_age}, s-maxage={self.s_maxage}, "
            f"stale-while-revalidate={self.stale_while_revalidate}"
        ).encode()


@dataclass(frozen=True, slots=True)
class Kept:
    """A kept answer: its body without the trailing ``}`` and without ``extensions``, and what serving it
    again needs."""

    data: bytes
    media_type: bytes
    etag: bytes
    cost: int | None  # ``extensions.cost.requested``; None when the answer had no cost figures
    cache_control: bytes
    tags: bytes  # the surrogate-key header's value; empty when none is sent
    plain: bytes  # the whole body for a request without a budget

    @classmethod
    def of(cls, body: bytes, media_type: bytes, cache_control: bytes, tags: bytes) -> Kept:
        cut = body.rfind(_EXTENSIONS)
        cost = None
        if cut >= 0:
            figures = orjson.loads(body[cut + len(_EXTENSIONS) : -2])
            cost = figures.get("requested")
            data = body[:cut]
        else:
            data = body[:-1]
        plain = _plain(data, cost)
        etag = b'"%s"' % hashlib.blake2b(data, digest_size=16).hexdigest().encode()
        return cls(data, media_type, etag, cost, cache_control, tags, plain)

    def encode(self) -> bytes:
        meta = orjson.dumps(
            {
                "type": self.media_type.decode(),
                "cost": self.cost,
                "cc": self.cache_control.decode(),
                "tags": self.tags.decode(),
                "etag": self.etag.decode(),
            }
        )
        return len(meta).to_bytes(4, "big") + meta + self.data

    @classmethod
    def decode(cls, value: bytes) -> Kept:
        size = int.from_bytes(value[:4], "big")
        meta = orjson.loads(value[4 : 4 + size])
        data = value[4 + size :]
        cost = meta["cost"]
        media_type, cache_control, tags = meta["type"].encode(), meta["cc"].encode(), meta["tags"].encode()
        return cls(data, media_type, meta["etag"].encode(), cost, cache_control, tags, _plain(data, cost))


class ResponseCache:
    """ASGI middleware in front of the GraphQL endpoint, inside key checking and rate limiting (see the
    module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        http: HttpCaching,
        changes: ChangeWatcher,
        seconds: float,
        shared: SharedResponses | None = None,
        local_seconds: float = 0.0,
    ) -> None:
        self.app = app
        self.path = path
        self.http = http
        self.changes = changes
        self.seconds = seconds
        self.shared = shared
        # Without Redis this process's memory is the cache; with it, a short first level in front of Redis.
        self.local_seconds = seconds if shared is None else min(local_seconds, seconds)
        self._surrogate_key = http.surrogate_key_header.lower().encode()
        self._public = http.public
        # digest -> (expiry, data generation, answer)
        self._local: OrderedDict[bytes, tuple[float, int, Kept]] = OrderedDict()
        self._computing: dict[bytes, asyncio.Future[None]] = {}
        self._digests: dict[tuple[object, ...], bytes | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or scope["path"] != self.path or method not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive) if method == "POST" else b""
        headers = dict(scope["headers"])
        key = authenticated(scope)
        scopes = granted_scopes(key)
        cache_control = b"private, no-store" if KeyScope.DRAFTS in scopes else self._public
        digest = None
        if self.seconds > 0:
            digest = self._digest(scope, body, headers, scopes, key is not None and key.persisted_only)
        if digest is not None:
            if await self._serve_kept(scope, send, digest, headers):
                return
            waited = self._computing.get(digest)
            if waited is not None:  # this process computes it already: wait, then serve what it kept
                await asyncio.shield(waited)
                if await self._serve_kept(scope, send, digest, headers):
                    return
            else:
                await self._compute(scope, body, send, headers, digest, cache_control)
                return
        await self.app(scope, _replay(body), self._decorating(scope, send, headers, cache_control, None))

    def _digest(
        self,
        scope: Scope,
        body: bytes,
        headers: dict[bytes, bytes],
        scopes: tuple[str, ...],
        persisted_only: bool,
    ) -> bytes | None:
        """The request's cache key (``_digest``), remembered for the exact bytes of the request."""
        if len(body) > MAX_REMEMBERED_BODY_BYTES:
            return _digest(scope, body, headers, scopes, persisted_only)
        accept = headers.get(b"accept")
        raw = (scope["method"], scope.get("query_string"), body, accept, scopes, persisted_only)
        try:
            return self._digests[raw]
        except KeyError:
            if len(self._digests) >= MAX_REMEMBERED_KEYS:
                self._digests.clear()
            digest = self._digests[raw] = _digest(scope, body, headers, scopes, persisted_only)
            return digest

    async def _serve_kept(self, scope: Scope, send: Send, digest: bytes, headers: dict[bytes, bytes]) -> bool:
        """Serve the kept answer, if there is one this request may have; whether it did."""
        kept = self._local_answer(digest)
        if kept is None:
            return False
        return await self._send_kept(scope, send, kept, headers)

    def _local_answer(self, digest: bytes) -> Kept | None:
        entry = self._local.get(digest)
        if entry is None:
            return None
        expires, generation, kept = entry
        if expires <= time.monotonic() or generation != self.changes.generation(ChangeScope.CONTENT):
            del self._local[digest]
            return None
        self._local.move_to_end(digest)
        return kept

    def _keep_locally(self, digest: bytes, generation: int | None, kept: Kept) -> None:
        if generation is None or self.local_seconds <= 0:
            return
        self._local[digest] = (time.monotonic() + self.local_seconds, generation, kept)
        self._local.move_to_end(digest)
        while len(self._local) > MAX_LOCAL_ENTRIES:
            self._local.popitem(last=False)

    async def _send_kept(self, scope: Scope, send: Send, kept: Kept, headers: dict[bytes, bytes]) -> bool:
        budget = budget_of(scope)
        if budget is None or kept.cost is None:
            body = kept.plain
        else:
            if kept.cost > budget.limit.amount:
                return False
            verdict = await budget.charge(kept.cost)
            if verdict is None or not verdict.allowed:  # refused as any request would be, by the endpoint
                return False
            reset_at = cost_figures(verdict)["resetAt"]
            figures = b'{"requested":%d,"remaining":%d,"resetAt":"%s"}' % (
                kept.cost,
                verdict.remaining,
                reset_at.encode(),
            )
            body = b"%s%s%s}}" % (kept.data, _EXTENSIONS, figures)
        if await self._sent_not_modified(scope, send, kept, headers):
            return True
        is_get = scope["method"] == "GET"
        response_headers = [
            (b"content-type", kept.media_type),
            (b"content-length", str(len(body)).encode()),
            *(_http_headers(self, kept) if is_get else ()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})
        return True

    async def _sent_not_modified(
        self, scope: Scope, send: Send, kept: Kept, headers: dict[bytes, bytes]
    ) -> bool:
        """A 304 when a GET's ``If-None-Match`` names the answer's ETag; whether it was sent."""
        if scope["method"] != "GET" or not _matches(headers.get(b"if-none-match"), kept.etag):
            return False
        await send({"type": "http.response.start", "status": 304, "headers": _http_headers(self, kept)})
        await send({"type": "http.response.body", "body": b""})
        return True

    async def _compute(
        self,
        scope: Scope,
        body: bytes,
        send: Send,
        headers: dict[bytes, bytes],
        digest: bytes,
        cache_control: bytes,
    ) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._computing[digest] = done
        try:
            generation = self.changes.generation(ChangeScope.CONTENT)  # read before the data, as it is kept
            epoch = None
            if self.shared is not None:
                found = await self._shared_answer(digest.hex())
                if isinstance(found, Kept):
                    self._keep_locally(digest, generation, found)
                    if not await self._send_kept(scope, send, found, headers):
                        decorating = self._decorating(scope, send, headers, cache_control, None)
                        await self.app(scope, _replay(body), decorating)
                    return
                epoch = found
            keep = _Keep(self, digest, generation, epoch)
            await self.app(scope, _replay(body), self._decorating(scope, send, headers, cache_control, keep))
            await keep.finish()
        finally:
            del self._computing[digest]
            done.set_result(None)

    async def _shared_answer(self, key: str) -> Kept | str | None:
        """The answer from Redis, waiting while another process computes it; else the epoch to store the
        answer this process computes under (None: do not store it)."""
        assert self.shared is not None
        deadline = time.monotonic() + LOCK_SECONDS
        while True:
            claimed = await self.shared.claim(key, int(LOCK_SECONDS * 1000))
            if claimed is None:  # Redis is away
                return None
            value, locked, epoch = claimed
            if value is not None:
                return Kept.decode(value)
            if locked:
                return epoch
            if time.monotonic() >= deadline:
                return None  # compute it here; the holder of the lock will store it
            await asyncio.sleep(POLL_SECONDS)

    def _decorating(
        self,
        scope: Scope,
        send: Send,
        headers: dict[bytes, bytes],
        cache_control: bytes,
        keep: _Keep | None,
    ) -> Send:
        """A ``send`` that holds the response until its body is whole, to add the caching headers (or turn
        it into a 304), and hands a successful answer to ``keep``."""
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def decorate(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            content = b"".join(chunks)
            status, response_headers, kept = self._finished(scope, start, content, cache_control)
            if keep is not None and kept is not None:
                keep.answer = kept
            if kept is not None and await self._sent_not_modified(scope, send, kept, headers):
                return
            await send({**start, "status": status, "headers": response_headers})
            await send({"type": "http.response.body", "body": content})

        return decorate

    def _finished(
        self, scope: Scope, start: dict[str, Any], content: bytes, cache_control: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], Kept | None]:
        """The response's status and headers with caching headers added, and the answer when it may be
        kept and reused."""
        status: int = start["status"]
        response_headers: list[tuple[bytes, bytes]] = list(start.get("headers", ()))
        is_get = scope["method"] == "GET"
        kept = None
        if status == 200 and len(content) <= MAX_BODY_BYTES and _successful(content):
            media_type = next((value for name, value in response_headers if name == b"content-type"), b"")
            tags = " ".join(sorted(answer_tags(scope))).encode()
            if len(tags) > MAX_SURROGATE_KEY_BYTES:
                tags, cache_control = b"", b"private, max-age=0"
            kept = Kept.of(content, media_type, cache_control, tags)
            if is_get:
                response_headers += _http_headers(self, kept)
        elif is_get:
            refusal = _NOT_FOUND in content and status == 200
            response_headers.append(
                (b"cache-control", b"private, no-cache, must-revalidate" if refusal else b"no-store")
            )
        return status, response_headers, kept


class _Keep:
    """Keeps the answer a request computed, once it is sent: in this process, and in Redis."""

    def __init__(
        self, cache: ResponseCache, digest: bytes, generation: int | None, epoch: str | None
    ) -> None:
        self.cache = cache
        self.digest = digest
        self.generation = generation
        self.epoch = epoch
        self.answer: Kept | None = None

    async def finish(self) -> None:
        cache, answer = self.cache, self.answer
        if answer is not None:
            cache._keep_locally(self.digest, self.generation, answer)
        if cache.shared is None or self.epoch is None:
            return
        if answer is None:
            await cache.shared.release(self.digest.hex())
            return
        tags = answer.tags.split() if answer.tags else []
        await cache.shared.store(
            self.digest.hex(), answer.encode(), [tag.decode() for tag in tags], cache.seconds, self.epoch
        )


def _plain(data: bytes, cost: int | None) -> bytes:
    """The body of a kept answer for a request with no budget: the cost figures are the cost alone."""
    return data + b"}" if cost is None else b'%s%s{"requested":%d}}}' % (data, _EXTENSIONS, cost)


def _http_headers(cache: ResponseCache, kept: Kept) -> list[tuple[bytes, bytes]]:
    headers = [(b"etag", kept.etag), (b"cache-control", kept.cache_control), (b"vary", VARY)]
    if kept.tags:
        headers.append((cache._surrogate_key, kept.tags))
    return headers


def _successful(content: bytes) -> bool:
    """Whether the body is a GraphQL result with data and no errors, whose only extension is its cost (the
    one extension a kept answer knows how to fill in anew)."""
    try:
        document = orjson.loads(content)
    except orjson.JSONDecodeError:
        return False  # GraphiQL's page, or anything else that is not a GraphQL result
    if not isinstance(document, dict) or "errors" in document or document.get("data") is None:
        return False
    extensions = document.get("extensions")
    return extensions is None or (set(extensions) == {"cost"} and content.endswith(b"}}}"))


def _matches(if_none_match: bytes | None, etag: bytes) -> bool:
    """Whether ``If-None-Match`` names the answer's ETag (weak comparison, as RFC 9110 has it for it)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(b","):
        candidate = candidate.strip()
        if candidate == b"*" or candidate.removeprefix(b"W/") == etag:
            return True
    return False


def _digest(
    scope: Scope, body: bytes, headers: dict[bytes, bytes], scopes: tuple[str, ...], persisted_only: bool
) -> bytes | None:
    """The cache key of the request (see the module); None when it is not a well-formed GraphQL request
    (the endpoint answers those)."""
    try:
        if scope["method"] == "GET":
            params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            request: dict[str, Any] = {name: values[-1] for name, values in params.items()}
            for name in ("variables", "extensions"):
                if name in request:
                    request[name] = orjson.loads(request[name])
        else:
            request = orjson.loads(body)
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(request, dict):
        return None
    query = request.get("query")
    if isinstance(query, str) and query:
        document = hashlib.sha256(query.encode()).hexdigest()
    else:
        extensions = request.get("extensions")
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        named = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if not isinstance(named, str):
            return None
        document = named.lower()
    accept = headers.get(b"accept")
    media_type = response_media_type(accept.decode("latin-1") if accept is not None else None)
    try:
        variables = orjson.dumps(request.get("variables"), option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    key = hashlib.blake2b(digest_size=20)
    for part in (
        document,
        str(request.get("operationName")),
        str(media_type),
        ",".join(scopes),
        "trusted" if persisted_only else "",
    ):
        key.update(part.encode() + b"\0")
    key.update(variables)
    return key.digest()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive

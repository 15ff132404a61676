"""An opt-in micro-cache of whole GraphQL responses, for the pages many clients ask for at once.

A front page asked for hundreds of times a second is the same bytes for all of them; serving those bytes for
a few seconds spares the server from resolving thousands of fields per request, as a CDN in front of a news
API would. Off unless ``BROADSHEET_RESPONSE_CACHE_SECONDS`` is above 0. Only successful responses without
errors are kept, keyed by the whole request (method, query string, body and the headers that change the
answer) and by what its API key may do (its scopes: a key with drafts sees drafts where others see null, a
key without read is refused; and whether it may run trusted documents only, so that such a key is never
served an answer to a document it may not run), never longer than the setting, and only while the data is
unchanged (``models.changes``): a write by an ingest or another server shows at once.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.auth import authenticated
from models.changes import ChangeWatcher
from models.changes import Scope as ChangeScope
from resolvers.api_keys import granted_scopes

#: Responses larger than this are served but not kept.
MAX_BODY_BYTES = 2_000_000
_KEY_HEADERS = (b"content-type", b"accept")
_SKIPPED_HEADERS = {b"x-request-id", b"content-length"}


class ResponseCache:
    """ASGI middleware in front of the GraphQL endpoint."""

    def __init__(
        self, app: ASGIApp, *, path: str, seconds: float, changes: ChangeWatcher, max_entries: int = 512
    ) -> None:
        self.app = app
        self.path = path
        self.seconds = seconds
        self.changes = changes
        self.max_entries = max_entries
        # key -> (expiry, data generation, status, headers, body)
        self._entries: OrderedDict[bytes, tuple[float, int, int, list[tuple[bytes, bytes]], bytes]] = (
            OrderedDict()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive) if scope["method"] == "POST" else b""
        key = self._key(scope, body)
        entry = self._entries.get(key)
        now = time.monotonic()
        generation = self.changes.generation(ChangeScope.CONTENT)  # read before the data, as it is kept
        if entry is not None and entry[0] > now and entry[1] == generation:
            self._entries.move_to_end(key)
            _expires, _generation, status, headers, content = entry
            # A copy: middleware above adds this answer's own headers (its request id) to the list it gets.
            await send({"type": "http.response.start", "status": status, "headers": list(headers)})
            await send({"type": "http.response.body", "body": content})
            return
        if generation is None:  # changes cannot be seen: nothing kept can be trusted
            self._entries.clear()
            await self.app(scope, _replay(body), send)
            return
        await self.app(scope, _replay(body), self._recording(send, key, now, generation))

    def _key(self, scope: Scope, body: bytes) -> bytes:
        digest = hashlib.blake2b(digest_size=20)
        digest.update(scope["method"].encode() + b"\0" + scope.get("query_string", b"") + b"\0" + body)
        headers = dict(scope["headers"])
        for name in _KEY_HEADERS:
            digest.update(b"\0" + headers.get(name, b""))
        # Set by ApiKeyAuth, outside this middleware: keys that may do the same share answers.
        key = authenticated(scope)
        digest.update(b"\0" + ",".join(granted_scopes(key)).encode())
        digest.update(b"\0persisted-only" if key is not None and key.persisted_only else b"\0")
        return digest.digest()

    def _recording(self, send: Send, key: bytes, now: float, generation: int) -> Send:
        start: dict[str, object] = {}
        chunks: list[bytes] = []

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message, headers=list(message.get("headers", [])))  # before others add theirs
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._keep(key, now, generation, start, b"".join(chunks))
            await send(message)

        return record

    def _keep(
        self, key: bytes, now: float, generation: int, start: dict[str, object], content: bytes
    ) -> None:
        if start.get("status") != 200 or len(content) > MAX_BODY_BYTES:
            return
        try:
            document = orjson.loads(content)
        except orjson.JSONDecodeError:
            return  # GraphiQL's page, or anything else that is not a GraphQL result
        if not isinstance(document, dict) or "errors" in document or "data" not in document:
            return
        headers = [(name, value) for name, value in start.get("headers", []) if name not in _SKIPPED_HEADERS]  # type: ignore[attr-defined]
        headers.append((b"content-length", str(len(content)).encode()))
        self._entries[key] = (now + self.seconds, generation, 200, headers, content)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


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

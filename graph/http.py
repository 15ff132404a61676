"""GraphQL over HTTP at the edges: media types and status codes as the spec has them, request limits, CORS,
and a last-resort answer to errors nobody expected. Every refusal is a GraphQL-shaped JSON body whose
``extensions.code`` says what kind it is (``HTTP_ERROR_CODES``), and never a stack trace.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from functools import lru_cache

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.types import ExecutionResult

from graph.errors import ErrorCode

log = logging.getLogger("broadsheet.http")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"

#: ``extensions.code`` of a request refused before GraphQL ran, by HTTP status.
HTTP_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

#: Longest query string accepted (GET requests), unless the body limit is lower.
MAX_QUERY_STRING_BYTES = 32_768

# Headers a partner's browser app may send, and read, across origins.
CORS_REQUEST_HEADERS = ("Content-Type", "Authorization", "X-API-Key", "X-Request-ID")
CORS_EXPOSED_HEADERS = ("X-Request-ID", "Server-Timing", "RateLimit", "RateLimit-Policy", "Retry-After")

_QUALITY = re.compile(r"0(\.\d{0,3})?|1(\.0{0,3})?")


class RequestRefused(HTTPException):
    """A request refused before GraphQL ran (Strawberry's HTTPException, with response headers, and an
    ``extensions.code`` more precise than the status's when given)."""

    def __init__(
        self,
        status_code: int,
        reason: str,
        headers: Mapping[str, str] | None = None,
        *,
        code: str | None = None,
    ) -> None:
        super().__init__(status_code, reason)
        self.headers = dict(headers or {})
        self.code = code


@lru_cache(maxsize=256)
def response_media_type(accept: str | None) -> str | None:
    """The media type to answer in for this Accept header, None when it accepts neither of ours (406).

    ``application/graphql-response+json`` when the client names it with a q no lower than JSON's;
    ``application/json`` otherwise, also for ``*/*`` and for no Accept header at all, as the spec says."""
    if accept is None or not accept.strip():
        return JSON
    # For each of ours: the q of the most specific media range that matches it (exact 2, type/* 1, */* 0).
    best = {GRAPHQL_RESPONSE_JSON: (-1, 0.0), JSON: (-1, 0.0)}
    for media_range in accept.split(","):
        name, *parameters = (part.strip() for part in media_range.split(";"))
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                quality = float(value) if _QUALITY.fullmatch(value.strip()) else -1.0
        if quality < 0:
            continue  # a malformed q: ignore the range rather than guess
        name = name.lower()
        for ours in best:
            specificity = {ours: 2, "application/*": 1, "*/*": 0}.get(name, -1)
            if specificity > best[ours][0]:
                best[ours] = (specificity, quality)
    (named, newer), (_, json) = best[GRAPHQL_RESPONSE_JSON], best[JSON]
    if named == 2 and newer > 0 and newer >= json:
        return GRAPHQL_RESPONSE_JSON
    if json > 0:
        return JSON
    return GRAPHQL_RESPONSE_JSON if newer > 0 else None


def error_response(
    status: int,
    message: str,
    *,
    accept: str | None = None,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
) -> Response:
    """A GraphQL-over-HTTP error body (no ``data``: nothing ran) in the media type the client accepts; its
    code is the status's unless given."""
    code = code or HTTP_ERROR_CODES.get(status, "BAD_REQUEST")
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    media_type = response_media_type(accept) or JSON
    return Response(
        orjson.dumps(body), status_code=status, media_type=f"{media_type}; charset=utf-8", headers=headers
    )


async def refused_by_router(request: Request, error: Exception) -> Response:
    """Starlette's own refusals (unknown path, method not allowed) in the same shape as ours."""
    assert isinstance(error, StarletteHTTPException)
    return error_response(
        error.status_code, error.detail, accept=request.headers.get("accept"), headers=error.headers
    )


def require_json_body(content_type: str | None) -> None:
    """POST bodies are ``application/json`` in UTF-8 (the spec's only required request media type)."""
    if not content_type:
        raise RequestRefused(415, f"A POST request needs a Content-Type header: {JSON}")
    media_type, parameters = parse_content_type(content_type)
    if media_type.lower() != JSON:
        raise RequestRefused(415, f"Content-Type {media_type!r} is not supported: send {JSON}")
    charset = parameters.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise RequestRefused(415, f"charset {charset!r} is not supported: send UTF-8")


def graphql_request(document: object, where: str) -> GraphQLRequestData:
    """The GraphQL request in a decoded body or query string, each parameter of the type the spec says."""
    if not isinstance(document, dict):
        batched = " (batches of operations are not supported)" if isinstance(document, list) else ""
        message = f'The {where} must be a JSON object like {{"query": ...}}, not {_json_kind(document)}'
        raise RequestRefused(400, message + batched)
    for name, kinds, expected in (
        ("query", (str,), "a string"),
        ("operationName", (str,), "a string"),
        ("variables", (dict,), "an object"),
        ("extensions", (dict,), "an object"),
    ):
        value = document.get(name)
        if value is not None and not isinstance(value, kinds):
            raise RequestRefused(400, f"`{name}` must be {expected} or null, not {_json_kind(value)}")
    return GraphQLRequestData(
        query=document.get("query"),
        variables=document.get("variables"),
        operation_name=document.get("operationName"),
        extensions=document.get("extensions"),
    )


def is_request_error(result: ExecutionResult) -> bool:
    """Errors raised before execution began (syntax, validation, variables, operation name): no data and
    no error at a field's path. The spec answers these without a ``data`` entry."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(error.path is None for error in errors)


def request_error(message: str) -> ExecutionResult:
    """The operation the request names cannot be found or chosen."""
    code = {"code": ErrorCode.OPERATION_RESOLUTION_FAILURE.value}
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions=code)])


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


class _BodyTooLarge(Exception):
    pass


def header(scope: Scope, name: bytes) -> str | None:
    """The request's first ``name`` header (lowercase, as ASGI gives names), None without one: what
    Starlette's ``Headers(scope=scope).get`` answers, without decoding every name on the way (the edges ask
    for a header or two on every request)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestLimits:
    """Refuses a body over ``max_body_bytes`` with 413 before it is read whole: at once when Content-Length
    says so, otherwise as soon as the streamed (chunked) bytes pass the limit; and a query string over
    ``max_query_bytes`` with 414. Starlette's RequestBodyLimitMiddleware answers in plain text, and only once
    the app reads the body."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_query_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_query_bytes = max_query_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = header(scope, b"accept")
        if len(scope.get("query_string", b"")) > self.max_query_bytes:
            message = f"The query string is over {self.max_query_bytes} bytes: POST the request instead"
            await error_response(414, message, accept=accept)(scope, receive, send)
            return
        declared = header(scope, b"content-length") or ""
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send, accept)
            return
        if scope["method"] == "GET" and not declared and header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # no body to limit (the common GET: served from a cache)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._too_large(scope, receive, send, accept)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, accept: str | None) -> None:
        message = f"The request body is larger than the limit of {self.max_body_bytes} bytes"
        await error_response(413, message, accept=accept)(scope, receive, send)


class LastResort:
    """Answers an exception that nothing else handled with a JSON 500 naming the request id, and logs it
    with its trace. A client that went away mid-request is not an error and gets no answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        request_id = scope.get("request_id", "-")
        try:
            await self.app(scope, receive, watched_send)
        except ClientDisconnect:
            log.info("request %s: the client disconnected before sending its whole request", request_id)
        except Exception:
            log.exception("request %s: unhandled error", request_id)
            if not started:
                message = f"Internal server error (request id {request_id})"
                accept = Headers(scope=scope).get("accept")
                await error_response(500, message, accept=accept)(scope, receive, send)


class OriginCORS(CORSMiddleware):
    """Starlette's CORS, except that an origin not allowed gets no CORS headers at all: Starlette's would
    still send Allow-Credentials and Expose-Headers on responses, and the allow headers on a preflight."""

    def preflight_response(self, request_headers: Headers) -> Response:
        origin = request_headers["origin"]
        if not self.is_allowed_origin(origin):
            message = f"Origin {origin!r} may not call this API from a browser"
            accept = request_headers.get("accept")
            return error_response(400, message, accept=accept, headers={"vary": "Origin"})
        return super().preflight_response(request_headers)

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        origin = request_headers.get("origin")
        refused = origin is not None and not self.is_allowed_origin(origin)
        if message["type"] == "http.response.start" and refused:
            MutableHeaders(scope=message).add_vary_header("Origin")
            await send(message)
            return
        await super().send(message, send, request_headers)

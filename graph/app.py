"""The ASGI app: GraphQL (POST and GET, GraphiQL optional), a health check, and a request id on everything;
the HTTP edges (media types, limits, CORS, error bodies) are in graph/http.py."""

from __future__ import annotations

import gc
import itertools
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from orjson import JSONDecodeError
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from broadsheet.settings import Settings, get_settings
from graph.articles import ArticleLists
from graph.auth import ApiKeyAuth, KeyStore, authenticated
from graph.cache import HttpCaching, ResponseCache, answer_tags
from graph.context import Context, CursorSecretCache, SectionTreeCache
from graph.errors import ErrorCode
from graph.graphiql import OfflineGraphiQL, graphiql_asset_routes
from graph.http import (
    CORS_EXPOSED_HEADERS,
    CORS_REQUEST_HEADERS,
    GRAPHQL_RESPONSE_JSON,
    JSON,
    MAX_QUERY_STRING_BYTES,
    LastResort,
    OriginCORS,
    RequestLimits,
    RequestRefused,
    error_response,
    graphql_request,
    header,
    is_request_error,
    refused_by_router,
    request_error,
    require_json_body,
    response_media_type,
)
from graph.limits import RateLimits, budget_of
from graph.persisted import PersistedDocuments, PersistedQueryNotFound
from graph.schema import build_schema
from models.changes import ChangeWatcher
from models.db import create_server_engines
from models.rate_limits import Limits
from models.response_cache import SharedResponses
from models.shared_state import create_redis
from resolvers.health import ping

log = logging.getLogger("broadsheet.app")


class GraphQLEndpoint(OfflineGraphiQL, GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, orjson bodies and GraphiQL served offline, speaking GraphQL
    over HTTP as the spec has it: the response media type follows Accept, a request error is a 400 under
    graphql-response+json (a 200 under application/json, as clients of that type expect), and a malformed
    request is a 4xx with a GraphQL error body, never a plain-text answer."""

    def __init__(
        self,
        engines: dict[str, AsyncEngine],
        sections_cache: SectionTreeCache,
        cursor_secret: CursorSecretCache,
        persisted: PersistedDocuments,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._engines = engines
        self._sections_cache = sections_cache
        self._cursor_secret = cursor_secret
        self._persisted = persisted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as refused:  # Strawberry's and ours (RequestRefused, with headers)
            headers = getattr(refused, "headers", None) or (
                {"allow": "GET, POST"} if refused.status_code == 405 else None
            )
            accept = request.headers.get("accept")
            code = getattr(refused, "code", None)
            response = error_response(
                refused.status_code, refused.reason, accept=accept, headers=headers, code=code
            )
        await response(scope, receive, send)

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(
            engine=self._engines["engine"],
            lookups=self._engines["lookups"],
            request_id=request.scope.get("request_id", "-"),
            sections_cache=self._sections_cache,
            cursor_secret=self._cursor_secret,
            article_lists=ArticleLists(),
            api_key=authenticated(request.scope),
            budget=budget_of(request.scope),
            response=response,
            tags=answer_tags(request.scope),
        )

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A GET with a persisted query's hash alone runs it: the playground is for a GET naming no document.
        return super().should_render_graphql_ide(request) and not request.query_params.get("extensions")

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = response_media_type(request.headers.get("accept")) or JSON
        return sub_response

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        if response_media_type(request.headers.get("accept")) is None:
            raise RequestRefused(406, f"Accept must allow {GRAPHQL_RESPONSE_JSON} or {JSON}")
        if request.method == "GET":
            params = request.query_params
            document: object = {
                "query": params.get("query"),
                "operationName": params.get("operationName"),
                "variables": self._json_parameter(params.get("variables"), "variables"),
                "extensions": self._json_parameter(params.get("extensions"), "extensions"),
            }
            return graphql_request(document, "query string")
        require_json_body(request.content_type)
        return graphql_request(self.parse_json(await request.get_body()), "request body")

    def _json_parameter(self, value: str | None, name: str) -> object:
        if not value:
            return None
        try:
            return self.decode_json(value)
        except JSONDecodeError as error:
            raise RequestRefused(400, f"The `{name}` parameter is not valid JSON: {error}") from None

    def parse_json(self, data: str | bytes) -> object:
        try:
            return self.decode_json(data)
        except JSONDecodeError as error:  # orjson's: invalid UTF-8 and nesting past 1024 levels included
            raise RequestRefused(400, f"The request body is not valid JSON: {error}") from None

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def execute_single(  # Strawberry's, with persisted queries, and its refusals as the spec's answers
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        method = request_adapter.method
        allowed = OperationType.from_http(method)
        if method == "GET" and not self.allow_queries_via_get:
            allowed -= {OperationType.QUERY}
        try:
            query, register = await self._persisted.document(request_data, context.api_key)
        except PersistedQueryNotFound as missing:
            sub_response.status_code = 200  # Apollo Server's status, which its clients expect
            return missing.result()
        try:
            result = await self.schema.execute(
                query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as error:  # a mutation by GET: the spec's 405
            raise RequestRefused(405, error.as_http_error_reason(method), {"allow": "POST"}) from None
        except CannotGetOperationTypeError as error:
            return request_error(
                error.as_http_error_reason() if error.operation_name else "Must provide an operation."
            )
        except MissingQueryError:
            raise RequestRefused(400, "The request has no `query` (a GraphQL document)") from None
        if register is not None and not is_request_error(result):  # kept only once it parsed and validated
            await self._persisted.register(*register)
        return result

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        media_type = response_media_type(request.headers.get("accept"))
        if media_type == GRAPHQL_RESPONSE_JSON and is_request_error(result):
            del response["data"]  # the spec: no data entry when nothing ran, and then a 4xx status
        return response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        nothing_ran = isinstance(response_data, dict) and "data" not in response_data
        errors: list[Any] = response_data.get("errors") or [] if isinstance(response_data, dict) else []
        # Nothing ran because of us, not the request: a server error, not a bad request.
        ours = nothing_ran and any(
            (error.get("extensions") or {}).get("code") == ErrorCode.INTERNAL_SERVER_ERROR for error in errors
        )
        response = Response(
            self.encode_json(response_data),
            status_code=sub_response.status_code or (500 if ours else 400 if nothing_ran else 200),
            media_type=f"{sub_response.media_type or JSON}; charset=utf-8",
        )
        response.headers.raw.extend(sub_response.headers.raw)
        response.background = sub_response.background
        return response


class RequestId:
    """Tags each request with an id (the client's X-Request-ID if sane, else a new one) and echoes it, with
    the time the server spent on it until the response started (a W3C ``Server-Timing: app;dur=`` header in
    milliseconds), so clients and benchmarks can tell server time from the network's.

    A new id is this app's random prefix and a count: unique across processes and hosts like a random one,
    without a system call for randomness on every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._prefix = os.urandom(8).hex()
        self._count = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = header(scope, b"x-request-id") or ""
        if not (0 < len(given) <= 64 and given.isprintable()):
            given = f"{self._prefix}{next(self._count):016x}"
        request_id = given
        scope["request_id"] = request_id
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                headers = message.setdefault("headers", [])
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"server-timing", f"app;dur={elapsed:.2f}".encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> Starlette:
    """The app. Pass an engine to share one for every read (tests); otherwise it opens its own at start-up
    (``models.db.create_server_engines``)."""
    settings = settings or get_settings()
    state: dict[str, AsyncEngine] = {}
    if engine is not None:
        state["engine"] = state["lookups"] = engine
    changes = ChangeWatcher(engine.url if engine is not None else make_url(settings.database_url))
    redis = create_redis(settings.redis_url) if settings.redis_url else None
    keys = KeyStore(changes, lambda: state["lookups"])
    limits = Limits(redis, settings.redis_prefix, fail_open=settings.limits_fail_open)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        owned = "engine" not in state
        if owned:
            opened = create_server_engines(
                settings.database_url,
                pool_size=settings.pool_size,
                pool_overflow=settings.pool_overflow,
                echo=settings.sql_echo,
                statement_timeout=settings.statement_timeout_seconds,
            )
            state["engine"], state["lookups"] = opened.engine, opened.lookups
        await changes.start()
        # Long-lived objects (schema, modules) leave the collector's generations, so per-request
        # collections only scan per-request garbage.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await keys.close()
            await changes.close()
            await limits.close()  # what was spent from leases, into today's usage counters
            if redis is not None:
                await redis.aclose()
            if owned:
                await opened.dispose()
                state.clear()

    def current_engine() -> AsyncEngine:
        return state["engine"]

    async def healthz(_request: Request) -> Response:
        try:
            async with current_engine().connect() as connection:
                await ping(connection)
        except Exception:
            log.exception("health check: database unreachable")
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    persisted = PersistedDocuments(
        lambda: state["lookups"],
        redis,
        prefix=settings.redis_prefix,
        ttl_seconds=settings.persisted_query_ttl_seconds,
        max_documents=settings.persisted_query_max_documents,
    )
    graphql = GraphQLEndpoint(
        state,
        SectionTreeCache(changes),
        CursorSecretCache(),
        persisted,
        schema=build_schema(settings),
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=True,
    )
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            *graphiql_asset_routes(enabled=settings.graphiql),
        ],
        lifespan=lifespan,
        exception_handlers={StarletteHTTPException: refused_by_router},
    )
    app.state.changes = changes  # what the server has heard of writes (tests wait on it)
    app.state.api_keys = keys
    app.state.redis = redis  # None without BROADSHEET_REDIS_URL: shared state stays in this process
    # Outermost last: RequestId, CORS, LastResort, ApiKeyAuth, RateLimits, RequestLimits, ResponseCache, then
    # the routes. So every answer carries a request id and (for allowed origins) CORS headers, 500s included;
    # a refused key is refused before anything reads the request or answers from the cache; every request
    # of a key counts against its rate, cached answers too; and the size limits hold before the cache reads
    # a body.
    app.add_middleware(
        ResponseCache,
        path="/graphql",
        http=HttpCaching(
            max_age=settings.http_max_age,
            s_maxage=settings.http_s_maxage,
            stale_while_revalidate=settings.http_stale_while_revalidate,
            surrogate_key_header=settings.surrogate_key_header,
        ),
        changes=changes,
        seconds=settings.response_cache_seconds,
        shared=SharedResponses(redis, settings.redis_prefix) if redis is not None else None,
        local_seconds=settings.response_cache_local_seconds,
    )
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        max_query_bytes=min(MAX_QUERY_STRING_BYTES, settings.max_body_bytes),
    )
    if settings.limits_enabled:  # off: no request sets a budget (budget_of is None), so none is charged
        app.add_middleware(
            RateLimits,
            path="/graphql",
            limits=limits,
            key_rate=settings.key_rate,
            key_cost=settings.key_cost,
            anonymous_rate=settings.anonymous_rate,
            anonymous_cost=settings.anonymous_cost,
        )
    app.add_middleware(
        ApiKeyAuth, path="/graphql", keys=keys, required=settings.require_api_key, graphiql=settings.graphiql
    )
    app.add_middleware(LastResort)
    if settings.cors_origins:
        app.add_middleware(
            OriginCORS,
            allow_origins=settings.cors_origins,
            allow_credentials="*" not in settings.cors_origins,  # never credentials for any origin at all
            allow_methods=("GET", "POST"),
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
        )
    app.add_middleware(RequestId)  # outermost, so every answer carries a request id
    return app

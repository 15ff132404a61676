"""The ASGI app: GraphQL (POST and GET, GraphiQL optional), a health check, and a request id on everything."""

from __future__ import annotations

import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

from broadsheet.settings import Settings, get_settings
from graph.cache import ResponseCache
from graph.context import Context, CursorSecretCache, SectionTreeCache
from graph.graphiql import OfflineGraphiQL, graphiql_asset_routes
from graph.schema import build_schema
from models.changes import ChangeWatcher
from models.db import create_engine
from resolvers.health import ping

log = logging.getLogger("broadsheet.app")
REQUEST_ID_HEADER = "x-request-id"


class GraphQLEndpoint(OfflineGraphiQL, GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, orjson bodies and GraphiQL served offline."""

    def __init__(
        self,
        engines: dict[str, AsyncEngine],
        sections_cache: SectionTreeCache,
        cursor_secret: CursorSecretCache,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._engines = engines
        self._sections_cache = sections_cache
        self._cursor_secret = cursor_secret

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(
            engine=self._engines["engine"],
            lookups=self._engines["lookups"],
            request_id=request.scope.get("request_id", "-"),
            sections_cache=self._sections_cache,
            cursor_secret=self._cursor_secret,
        )

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


class RequestId:
    """Tags each request with an id (the client's X-Request-ID if sane, else a new one) and echoes it, with
    the time the server spent on it until the response started (a W3C ``Server-Timing: app;dur=`` header in
    milliseconds), so clients and benchmarks can tell server time from the network's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = given if 0 < len(given) <= 64 and given.isprintable() else uuid.uuid4().hex
        scope["request_id"] = request_id
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                headers = message.setdefault("headers", [])
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                headers.append((b"server-timing", f"app;dur={elapsed:.2f}".encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> Starlette:
    """The app. Pass an engine to share one for every read (tests); otherwise it opens its own at start-up:
    on PostgreSQL two, one for lookups by key (``create_engine(lookups=True)``) and one for the rest."""
    settings = settings or get_settings()
    state: dict[str, AsyncEngine] = {}
    if engine is not None:
        state["engine"] = state["lookups"] = engine
    changes = ChangeWatcher(engine.url if engine is not None else make_url(settings.database_url))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        owned = "engine" not in state
        if owned:

            def open_engine(lookups: bool, share: int) -> AsyncEngine:
                # The configured pool split ``share`` ways: two pools hold as many connections as one did.
                return create_engine(
                    settings.database_url,
                    pool_size=max(1, -(-settings.pool_size // share)),
                    pool_overflow=-(-settings.pool_overflow // share),
                    echo=settings.sql_echo,
                    statement_timeout=settings.statement_timeout_seconds,
                    lookups=lookups,
                )

            if settings.is_sqlite:
                state["engine"] = state["lookups"] = open_engine(lookups=False, share=1)
            else:
                state["engine"] = open_engine(lookups=False, share=2)
                state["lookups"] = open_engine(lookups=True, share=2)
        await changes.start()
        # Long-lived objects (schema, modules) leave the collector's generations, so per-request
        # collections only scan per-request garbage.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await changes.close()
            if owned:
                for opened in {state.pop("engine"), state.pop("lookups")}:
                    await opened.dispose()

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

    graphql = GraphQLEndpoint(
        state,
        SectionTreeCache(changes),
        CursorSecretCache(),
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
    )
    if settings.response_cache_seconds > 0:
        app.add_middleware(
            ResponseCache, path="/graphql", seconds=settings.response_cache_seconds, changes=changes
        )
    app.add_middleware(RequestId)  # outermost, so cached answers carry a request id too
    return app

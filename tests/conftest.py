"""Fixtures: every data-access test runs on SQLite and on PostgreSQL, migrated as in production.

Each backend gets one fresh database per test session (migrations applied with Alembic); each test starts
from empty tables. PostgreSQL tests skip with a reason when no server answers, and fail instead when the
``CI`` environment variable is set.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette

from broadsheet.settings import Settings
from graph.app import create_app
from models.db import create_engine, ensure_database, upgrade

# Tests make thousands of requests from one address, with and without keys, well past the default limits;
# tests/test_limits.py and tests/test_cost.py set figures of their own. Servers the tests start inherit these.
for _name in ("KEY_RATE", "ANONYMOUS_RATE", "KEY_COST", "ANONYMOUS_COST"):
    os.environ.setdefault(f"BROADSHEET_{_name}", "100000000/second")


def pytest_report_header() -> str:
    executor = "fast (graph/execution.py)" if Settings().fast_execution else "Strawberry's stock"
    return f"executor: {executor}, by BROADSHEET_FAST_EXECUTION"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that talk to the API over HTTP are marked ``api``: CI runs them again on the stock executor."""
    for item in items:
        if {"app", "cached_app"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.api)


PG_SERVER = os.environ.get("BROADSHEET_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432")
TABLES = ("mention", "entity_alias", "entity", "article", "section", "api_key", "persisted_document")


async def _postgres_engine() -> tuple[AsyncEngine, str]:
    name = f"broadsheet_test_{uuid.uuid4().hex[:10]}"
    url = f"{PG_SERVER}/{name}"
    try:
        await ensure_database(url)
    except (OSError, Exception) as error:  # asyncpg raises several kinds when nothing listens
        message = f"PostgreSQL at {PG_SERVER} is not reachable ({error.__class__.__name__}: {error})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(message)
    return create_engine(url, pool_size=5), name


async def _drop_postgres(name: str) -> None:
    server = create_async_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    async with server.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await server.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def migrated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    """A migrated database of each kind, for the whole session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "broadsheet.db"
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        yield engine
        await engine.dispose()
        return
    engine, name = await _postgres_engine()
    await upgrade(engine)
    yield engine
    await engine.dispose()
    await _drop_postgres(name)


@pytest.fixture
async def engine(migrated: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The backend's engine with empty tables; whatever a test writes is gone before the next one."""
    yield migrated
    async with migrated.begin() as connection:
        if migrated.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            await connection.execute(text("PRAGMA defer_foreign_keys = ON"))  # sections point at sections
            # ...with ON DELETE RESTRICT, which the pragma does not defer if the connection came back from the
            # pool in the driver's autocommit mode (seen after the property test: each DELETE then commits
            # alone, and the pragma ends with the first): detach the tree first, so the order never matters.
            await connection.execute(text("UPDATE section SET parent_id = NULL"))
            for table in TABLES:
                await connection.execute(text(f"DELETE FROM {table}"))


REDIS_SERVER = os.environ.get("BROADSHEET_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_settings() -> AsyncIterator[dict[str, Any]]:
    """Settings for the test Redis, with a key prefix of this test's own (test runs may share a Redis);
    its keys are deleted afterwards. Skips with a reason when no Redis answers, and fails under CI."""
    prefix = f"broadsheet-test-{uuid.uuid4().hex[:12]}:"
    client = Redis.from_url(REDIS_SERVER, socket_connect_timeout=1)
    try:
        await client.ping()
    except RedisError as error:
        await client.aclose()
        message = f"Redis at {REDIS_SERVER} is not reachable ({error.__class__.__name__}: {error})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the Redis tests", pytrace=False)
        pytest.skip(message)
    try:
        yield {"redis_url": REDIS_SERVER, "redis_prefix": prefix}
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def database_url(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
async def app(engine: AsyncEngine, database_url: str) -> AsyncIterator[Starlette]:
    """The real ASGI app on the test database, started as a server starts it (its change watcher runs)."""
    application = create_app(Settings(database_url=database_url), engine=engine)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the real ASGI app on the test database."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://broadsheet.test") as http:
        yield http


async def warm_up(app: Starlette, client: httpx.AsyncClient) -> None:
    """What a running server holds before a test counts statements: every write heard of, the section tree
    and the cursor secret read."""
    await caught_up(app)
    await graphql(client, "{ sections { name } entities(first: 1) { edges { cursor } } }")


async def caught_up(app: Starlette) -> None:
    """Wait until the server has heard of every write committed so far. PostgreSQL tells it just after each
    commit, so a test that counts statements or expects something kept waits for that first."""
    async with asyncio.timeout(5):
        await app.state.changes.caught_up()


@pytest.fixture
async def cached_app(engine: AsyncEngine, database_url: str) -> AsyncIterator[Starlette]:
    """Like ``app``, with the response cache on (for longer than any test)."""
    application = create_app(Settings(database_url=database_url, response_cache_seconds=300), engine=engine)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def cached(cached_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cached_app), base_url="http://t") as http:
        yield http


class StatementLog:
    """SQL statements sent by an engine while it is attached (BEGIN/COMMIT are not statements)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    def clear(self) -> None:
        self.statements.clear()

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def sql(engine: AsyncEngine) -> Iterator[StatementLog]:
    log = StatementLog()
    event.listen(engine.sync_engine, "before_cursor_execute", log)
    yield log
    event.remove(engine.sync_engine, "before_cursor_execute", log)


async def graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """POST a GraphQL document; the HTTP status must be 200 and the body JSON."""
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data_of(body: dict[str, Any]) -> dict[str, Any]:
    """The data of a response that must have no errors."""
    assert "errors" not in body, body.get("errors")
    data: dict[str, Any] = body["data"]
    return data


ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "tests" / "pages"
SAMPLES = ROOT / "ingest" / "samples"

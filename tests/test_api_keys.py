"""API keys as operators and partners meet them: made by `broadsheet keys`, sent over HTTP to the real app."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request

import graph.auth
from broadsheet.quota import Limit
from broadsheet.settings import Settings
from graph.app import create_app
from graph.auth import SCOPE_ENTRY
from models.api_keys import KeyScope
from models.db import create_engine
from models.types import utcnow
from resolvers.api_keys import KEY_SHAPE, create_key, list_keys
from tests.conftest import caught_up
from tests.test_cli import broadsheet

QUERY = {"query": "{ sections { name } }"}
WRONG_KEY = "bs_" + "A" * 43  # the shape of a key, and no key


async def ask(client: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await client.post("/graphql", json=QUERY, headers=headers)


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def cli_key(database_url: str, *args: str) -> str:
    """`broadsheet keys create|rotate ...`; the key on the last line of what it printed."""
    done = await broadsheet("keys", *args, database_url=database_url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert KEY_SHAPE.fullmatch(lines[-1]), done.stdout
    assert sum(lines[-1] in line for line in lines) == 1 and lines[-1] not in done.stderr  # shown once
    return lines[-1]


async def made_key(engine: AsyncEngine, name: str = "partner") -> str:
    async with engine.begin() as connection:
        _row, key = await create_key(connection, name, [KeyScope.READ], now=utcnow())
    return key


async def key_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT * FROM api_key ORDER BY name"))
        return [dict(row._mapping) for row in rows]


def assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1, body
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"} and error["message"], body


@pytest.fixture
async def strict_app(engine: AsyncEngine, database_url: str) -> AsyncIterator[Starlette]:
    """The app with BROADSHEET_REQUIRE_API_KEY=true."""
    application = create_app(Settings(database_url=database_url, require_api_key=True), engine=engine)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def strict(strict_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=strict_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://broadsheet.test") as http:
        yield http


async def test_a_created_key_is_printed_once_and_works(
    app: Starlette, client: httpx.AsyncClient, engine: AsyncEngine, database_url: str
) -> None:
    key = await cli_key(database_url, "create", "acme", "--scope", "read", "--scope", "drafts")
    answered = await ask(client, **bearer(key))
    assert answered.status_code == 200 and answered.json()["data"] == {"sections": []}
    # The GraphQL context carries the key the request presented, or None.
    async with engine.connect() as connection:
        (key_row,) = await list_keys(connection)
    endpoint = next(route.app for route in app.routes if getattr(route, "path", "") == "/graphql")  # type: ignore[attr-defined]
    scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": [], SCOPE_ENTRY: key_row}
    context = await endpoint.get_context(Request(scope), None)
    assert context.api_key is key_row and context.api_key.scopes == (KeyScope.READ, KeyScope.DRAFTS)
    anonymous = await endpoint.get_context(Request({**scope, SCOPE_ENTRY: None}), None)
    assert anonymous.api_key is None


async def test_list_shows_names_scopes_and_limits_never_keys_or_hashes(
    app: Starlette, client: httpx.AsyncClient, engine: AsyncEngine, database_url: str
) -> None:
    first = await cli_key(database_url, "create", "acme", "--rate", "600/minute", "--cost", "50000/minute")
    second = await cli_key(database_url, "create", "globex", "--scope", "drafts", "--persisted-only")
    assert (await ask(client, **bearer(first))).status_code == 200
    await app.state.api_keys.close()  # written off the request's path: wait for it
    listed = await broadsheet("keys", "list", database_url=database_url)
    assert listed.returncode == 0, listed.stderr
    printed = listed.stdout.splitlines()
    header = next([cell.strip() for cell in line.split("┃")[1:-1]] for line in printed if "┃" in line)
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in printed if "│" in line]
    table = {cells[0]: dict(zip(header, cells, strict=True)) for cells in rows}
    acme, globex = table["acme"], table["globex"]
    assert (acme["scopes"], acme["rate"], acme["cost"]) == ("read", "600/minute", "50000/minute")
    assert (globex["scopes"], globex["rate"], globex["cost"]) == ("drafts", "default", "default")
    assert (acme["queries"], globex["queries"]) == ("any", "persisted only")
    assert acme["last used (UTC)"] not in ("never", "-") and globex["last used (UTC)"] == "never"
    assert acme["requests today"] == acme["cost today"] == "-"
    for secret in (first, second, *(row["key_hash"] for row in await key_rows(engine))):
        assert secret not in listed.stdout


async def test_a_revoked_key_is_refused_even_from_the_response_cache(
    cached_app: Starlette, cached: httpx.AsyncClient, database_url: str
) -> None:
    key = await cli_key(database_url, "create", "acme")
    for _hit in range(2):  # the second answer comes from the cache, and the key from the server's memory
        assert (await ask(cached, **bearer(key))).status_code == 200
    assert_unauthenticated(await ask(cached, **bearer(WRONG_KEY)))  # the same request, cached, another key
    revoked = await broadsheet("keys", "revoke", "acme", database_url=database_url)
    assert revoked.returncode == 0 and "revoked key acme" in revoked.stdout, revoked.stderr
    await caught_up(cached_app)
    assert_unauthenticated(await ask(cached, **bearer(key)))
    assert (await ask(cached)).status_code == 200  # anonymous use is still allowed


async def test_rotation_keeps_the_old_key_for_its_grace_period_only(
    app: Starlette,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = await cli_key(database_url, "create", "acme")
    new = await cli_key(database_url, "rotate", "acme", "--grace", "1h")
    await caught_up(app)
    for key in (old, new):
        assert (await ask(client, **bearer(key))).status_code == 200
    # An hour and a second later, by the server's clock: the old key, kept in memory, is refused.
    later = utcnow() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(graph.auth, "utcnow", lambda: later)
    assert_unauthenticated(await ask(client, **bearer(old)))
    assert (await ask(client, **bearer(new))).status_code == 200
    monkeypatch.undo()
    # The stored end of the grace period passes: refused when read from the database too.
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE api_key SET previous_until = :past"), {"past": utcnow()})
    await caught_up(app)
    assert_unauthenticated(await ask(client, **bearer(old)))
    # No grace at all: the key before is refused at once.
    newest = await cli_key(database_url, "rotate", "acme", "--grace", "0")
    await caught_up(app)
    assert_unauthenticated(await ask(client, **bearer(new)))
    assert (await ask(client, **bearer(newest))).status_code == 200


async def test_either_header_carries_the_key(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    key = await made_key(engine)
    for headers in (
        {"authorization": f"Bearer {key}"},
        {"authorization": f"bearer  {key} "},
        {"x-api-key": key},
        {"authorization": f"Bearer {key}", "x-api-key": key},
    ):
        assert (await ask(client, **headers)).status_code == 200, headers
    assert_unauthenticated(await ask(client, authorization=f"Bearer {key}", **{"x-api-key": WRONG_KEY}))


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": f"Bearer {WRONG_KEY}"},
        {"x-api-key": WRONG_KEY},
        {"x-api-key": "garbage"},
        {"x-api-key": ""},
        {"authorization": "Bearer"},
        {"authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
        {"authorization": "Bearer bs_" + "é" * 10},
    ],
    ids=["wrong-bearer", "wrong-x-api-key", "garbage", "empty", "no-token", "basic", "not-ascii"],
)
async def test_a_wrong_or_malformed_key_is_401_with_a_graphql_error(
    client: httpx.AsyncClient, engine: AsyncEngine, headers: dict[str, str]
) -> None:
    await made_key(engine)  # a key exists: the wrong one is still wrong
    encoded = [(name.encode(), value.encode()) for name, value in headers.items()]
    assert_unauthenticated(await client.post("/graphql", json=QUERY, headers=encoded))
    typed_headers = [*encoded, (b"accept", b"application/graphql-response+json")]
    typed = await client.post("/graphql", json=QUERY, headers=typed_headers)
    assert typed.status_code == 401
    assert typed.headers["content-type"].startswith("application/graphql-response+json")


async def test_require_api_key_refuses_anonymous_graphql_only(
    strict: httpx.AsyncClient, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    key = await made_key(engine)
    assert_unauthenticated(await ask(strict))
    run_by_get = await strict.get(
        "/graphql", params={"query": "{ sections { name } }"}, headers={"accept": "text/html, */*"}
    )
    assert run_by_get.status_code == 401 and run_by_get.headers["www-authenticate"].startswith("Bearer")
    assert (await ask(strict, **bearer(key))).status_code == 200
    assert (await strict.get("/healthz")).status_code == 200
    page = await strict.get("/graphql", headers={"accept": "text/html"})  # the playground runs nothing
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    asset = await strict.get("/graphql/assets/graphiql@3.8.3/graphiql.min.css")
    assert asset.status_code == 200
    assert (await ask(client)).status_code == 200  # the default: anonymous requests are served


async def test_the_table_holds_a_keyed_hash_not_the_key(engine: AsyncEngine, database_url: str) -> None:
    key = await cli_key(database_url, "create", "acme")
    (row,) = await key_rows(engine)
    assert key not in {str(value) for value in row.values()}
    async with engine.connect() as connection:
        secret = (await connection.execute(text("SELECT secret FROM api_key_secret"))).scalar_one()
    assert row["key_hash"] == hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()
    assert row["key_hash"] != hashlib.sha256(key.encode()).hexdigest()


async def test_use_is_written_at_most_once_a_minute(
    app: Starlette, client: httpx.AsyncClient, engine: AsyncEngine, sql: Any
) -> None:
    keys = [await made_key(engine, name) for name in ("acme", "globex")]
    for _round in range(10):
        for key in keys:
            assert (await ask(client, **bearer(key))).status_code == 200
    await app.state.api_keys.close()  # what a stopping server does: write what is pending at once
    writes = [statement for statement in sql.statements if statement.startswith("UPDATE api_key")]
    assert len(writes) == 2  # the first use at once, then the rest together
    assert all(row["last_used_at"] is not None for row in await key_rows(engine))


async def test_key_commands_refuse_bad_input_with_exit_code_2(database_url: str, engine: AsyncEngine) -> None:
    await cli_key(database_url, "create", "acme")
    for args, says in (
        (("create", "acme"), "exists already"),
        (("revoke", "nobody"), "no key is named 'nobody'"),
        (("rotate", "nobody"), "no key is named 'nobody'"),
        (("create", "x", "--scope", "admin"), "--scope"),
        (("create", "x", "--rate", "600/fortnight"), "--rate"),
        (("create", "x", "--cost", "lots"), "--cost"),
        (("rotate", "acme", "--grace", "soon"), "--grace"),
        (("create", "two words"), "NAME"),
    ):
        done = await broadsheet("keys", *args, database_url=database_url)
        assert done.returncode == 2 and says in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert [row["name"] for row in await key_rows(engine)] == ["acme"]


def test_limits_are_spelled_count_per_period() -> None:
    assert Limit.parse("600/minute") == Limit(600, 60) and str(Limit(600, 60)) == "600/minute"
    assert Limit.parse(" 10 / Seconds ") == Limit(10, 1)
    assert Limit.parse("100000/day") == Limit(100_000, 86_400)
    for bad in ("600", "600/min", "0/minute", "-1/minute", "ten/minute", "600/minute/2"):
        with pytest.raises(ValueError, match="limit"):
            Limit.parse(bad)


async def test_a_key_while_the_database_is_away_is_503_not_a_server_error() -> None:
    """The key cannot be checked, so it is neither let in nor called bad: try again, says the answer. (The
    app is not started: its change watcher would need the database too; this is the database going away
    under a running server.)"""
    away = "postgresql+asyncpg://postgres@127.0.0.1:9/broadsheet"  # the discard port: nothing listens
    engine = create_engine(away)
    app = create_app(Settings(database_url=away), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.post(
            "/graphql",
            json={"query": "{ sections { name } }"},
            headers={"authorization": f"Bearer bs_{'A' * 43}"},
        )
    await engine.dispose()
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
    assert "database is unreachable" in error["message"] and "Traceback" not in response.text

"""Persisted queries over HTTP on the real app: Apollo's automatic persisted queries (kept in the database, or
in Redis when the server has one), trusted documents loaded by `broadsheet documents add`, and keys that may
run only those."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from broadsheet.settings import Settings
from graph.app import create_app
from models.api_keys import KeyScope
from models.types import utcnow
from resolvers.api_keys import create_key
from tests.conftest import PAGES, caught_up
from tests.helpers import ingest_page
from tests.test_cli import broadsheet

pytestmark = pytest.mark.api  # over HTTP: CI runs these on both executors

FRONT = "query Front { sections { name } }"
OTHER = "query Other { sections { path } }"
SECTIONS = {"sections": [{"name": "Home"}, {"name": "News"}, {"name": "Politics"}]}


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(sha256: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


async def by_hash(client: httpx.AsyncClient, document: str, **headers: str) -> httpx.Response:
    """A GET with the hash alone, as a CDN would cache it."""
    params = {"extensions": json.dumps(persisted(sha(document)))}
    return await client.get("/graphql", params=params, headers=headers)


async def register(client: httpx.AsyncClient, document: str, **headers: str) -> httpx.Response:
    payload = {"query": document, "extensions": persisted(sha(document))}
    return await client.post("/graphql", json=payload, headers=headers)


def only_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert len(errors) == 1 and errors[0]["extensions"]["code"] == code, errors
    error: dict[str, Any] = errors[0]
    return error


def answered(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


@pytest.fixture(params=["database", "redis"])
def storage(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Where automatic persisted queries go: the database (no Redis), or Redis."""
    if request.param == "database":
        return {"redis_url": None}
    settings: dict[str, Any] = request.getfixturevalue("redis_settings")
    return settings


@asynccontextmanager
async def running(
    engine: AsyncEngine, database_url: str, **settings: Any
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """An app (a server process) on the test database, and a client of it."""
    app = create_app(Settings(database_url=database_url, **settings), engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://broadsheet.test") as client:
            yield app, client


@pytest.fixture
async def served(
    engine: AsyncEngine, database_url: str, storage: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    await ingest_page(engine, PAGES / "politics-rent-freeze.txt")
    async with running(engine, database_url, **storage) as (app, client):
        await caught_up(app)
        yield client


async def stored(engine: AsyncEngine) -> dict[str, bool]:
    """The documents in the database: hash -> trusted."""
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT sha256, trusted FROM persisted_document"))
        return {row.sha256: bool(row.trusted) for row in rows}


async def test_a_hash_alone_of_an_unknown_document_is_not_found(served: httpx.AsyncClient) -> None:
    # Apollo Server's answer, 200 whatever the media type, so Apollo's clients send the document next.
    for accept in ("application/json", "application/graphql-response+json"):
        error = only_error(await by_hash(served, FRONT, accept=accept), 200, "PERSISTED_QUERY_NOT_FOUND")
        assert error["message"] == "PersistedQueryNotFound"
    posted = await served.post("/graphql", json={"extensions": persisted(sha(FRONT))})
    only_error(posted, 200, "PERSISTED_QUERY_NOT_FOUND")


async def test_a_registered_document_runs_by_hash_over_get_from_every_process(
    served: httpx.AsyncClient, engine: AsyncEngine, database_url: str, storage: dict[str, Any]
) -> None:
    assert answered(await register(served, FRONT)) == SECTIONS
    assert answered(await by_hash(served, FRONT)) == SECTIONS
    # Another server process, which never saw the document, finds it where the first one stored it.
    async with running(engine, database_url, **storage) as (_app, other):
        assert answered(await by_hash(other, FRONT)) == SECTIONS
        only_error(await by_hash(other, OTHER), 200, "PERSISTED_QUERY_NOT_FOUND")
    if storage["redis_url"] is None:
        assert await stored(engine) == {sha(FRONT): False}
        return
    assert await stored(engine) == {}  # with Redis, the database keeps only trusted documents
    key = f"{storage['redis_prefix']}apq:{sha(FRONT)}"
    redis = Redis.from_url(storage["redis_url"])
    try:
        assert 0 < await redis.ttl(key) <= Settings().persisted_query_ttl_seconds
        # Each use from a process that has not kept it renews its time: used documents stay.
        await redis.expire(key, 100)
        async with running(engine, database_url, **storage) as (_app, third):
            assert answered(await by_hash(third, FRONT)) == SECTIONS
        assert await redis.ttl(key) > 100
    finally:
        await redis.aclose()


async def test_without_its_redis_the_api_serves_documents_sent_and_keeps_none(
    engine: AsyncEngine, database_url: str
) -> None:
    nowhere = {"redis_url": "redis://127.0.0.1:1/0"}  # nothing listens on port 1
    async with running(engine, database_url, **nowhere) as (_app, client):
        only_error(await by_hash(client, FRONT), 200, "PERSISTED_QUERY_NOT_FOUND")
        assert answered(await register(client, FRONT)) == {"sections": []}
    assert await stored(engine) == {}


async def test_a_hash_that_is_not_the_documents_is_refused_and_nothing_kept(
    served: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    lying = {"query": FRONT, "extensions": persisted(sha(OTHER))}
    error = only_error(await served.post("/graphql", json=lying), 400, "BAD_REQUEST")
    assert error["message"] == "provided sha does not match query"  # Apollo Server's words
    only_error(await by_hash(served, OTHER), 200, "PERSISTED_QUERY_NOT_FOUND")
    only_error(await by_hash(served, FRONT), 200, "PERSISTED_QUERY_NOT_FOUND")


async def test_only_documents_that_validate_are_registered(served: httpx.AsyncClient) -> None:
    for document, code in (("{ sections { name ", "GRAPHQL_PARSE_FAILED"), ("{ nothing }", None)):
        refused = await register(served, document)
        assert refused.json()["errors"][0]["extensions"]["code"] == (code or "GRAPHQL_VALIDATION_FAILED")
        only_error(await by_hash(served, document), 200, "PERSISTED_QUERY_NOT_FOUND")


async def test_a_malformed_persisted_query_is_a_bad_request(served: httpx.AsyncClient) -> None:
    for extension, message in (
        ({"version": 2, "sha256Hash": sha(FRONT)}, "Unsupported persisted query version"),
        ({"version": 1, "sha256Hash": sha(FRONT)[:40]}, "`sha256Hash` must be the SHA-256"),
        ("a hash", "`extensions.persistedQuery` must be"),
    ):
        response = await served.post("/graphql", json={"extensions": {"persistedQuery": extension}})
        assert only_error(response, 400, "BAD_REQUEST")["message"].startswith(message)


async def test_the_database_keeps_the_newest_automatic_documents_and_every_trusted_one(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({sha(FRONT): FRONT}))
    assert (await broadsheet("documents", "add", str(manifest), database_url=database_url)).returncode == 0
    documents = [f"query Q{number} {{ sections {{ name }} }}" for number in range(12)]
    async with running(engine, database_url, redis_url=None, persisted_query_max_documents=10) as (_, client):
        for document in documents:
            answered(await register(client, document))
    kept = await stored(engine)
    assert kept == {sha(FRONT): True} | {sha(document): False for document in documents[2:]}


async def test_a_manifest_is_trusted_whole_or_not_at_all(
    served: httpx.AsyncClient, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    good = tmp_path / "persisted-documents.json"
    # GraphQL Code Generator's keys are plain hex; the GraphQL over HTTP draft's are sha256:-prefixed.
    good.write_text(json.dumps({sha(FRONT): FRONT, f"sha256:{sha(OTHER)}": OTHER}))
    bad = tmp_path / "bad.json"
    wrong = sha("{ sections { id } }")
    bad.write_text(
        json.dumps({sha("{ sections { name path } }"): "{ sections { name path } }", wrong: FRONT})
    )
    refused = await broadsheet("documents", "add", str(bad), database_url=database_url)
    assert refused.returncode == 2 and wrong in refused.stderr and "nothing was added" in refused.stderr
    assert await stored(engine) == {}
    md5 = tmp_path / "relay-md5.json"
    md5.write_text(json.dumps({hashlib.md5(FRONT.encode()).hexdigest(): FRONT}))  # relay-compiler's default
    refused = await broadsheet("documents", "add", str(md5), database_url=database_url)
    assert refused.returncode == 2 and "SHA256" in refused.stderr, refused.stderr
    added = await broadsheet("documents", "add", str(good), database_url=database_url)
    assert added.returncode == 0 and "2 newly trusted" in added.stdout, added.stderr
    assert await stored(engine) == {sha(FRONT): True, sha(OTHER): True}
    listed = await broadsheet("documents", "list", database_url=database_url)
    assert sha(FRONT) in listed.stdout and "Front" in listed.stdout and "Other" in listed.stdout
    again = await broadsheet("documents", "add", str(good), database_url=database_url)
    assert "0 newly trusted, 2 trusted already" in again.stdout, again.stdout
    assert answered(await by_hash(served, FRONT)) == SECTIONS  # anyone may run a trusted document by hash


async def test_a_persisted_only_key_runs_trusted_documents_by_hash_and_nothing_else(
    served: httpx.AsyncClient, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({sha(FRONT): FRONT}))
    assert (await broadsheet("documents", "add", str(manifest), database_url=database_url)).returncode == 0
    async with engine.begin() as connection:
        _row, key = await create_key(connection, "app", [KeyScope.READ], persisted_only=True, now=utcnow())
    only = {"authorization": f"Bearer {key}"}
    assert answered(await by_hash(served, FRONT, **only)) == SECTIONS
    posted = await served.post("/graphql", json={"extensions": persisted(sha(FRONT))}, headers=only)
    assert answered(posted) == SECTIONS
    # The text of a document, trusted or not, with its hash or without: refused, by id only.
    for payload in (
        {"query": FRONT},
        {"query": OTHER},
        {"query": FRONT, "extensions": persisted(sha(FRONT))},
        {"query": OTHER, "extensions": persisted(sha(OTHER))},
    ):
        for accept in ("application/json", "application/graphql-response+json"):
            response = await served.post("/graphql", json=payload, headers={**only, "accept": accept})
            only_error(response, 403, "PERSISTED_QUERY_ID_REQUIRED")
    only_error(
        await served.get("/graphql", params={"query": FRONT}, headers=only),
        403,
        "PERSISTED_QUERY_ID_REQUIRED",
    )
    # A hash registered by someone else is not trusted; nor is one nobody knows.
    answered(await register(served, OTHER))
    only_error(await by_hash(served, OTHER, **only), 403, "PERSISTED_QUERY_NOT_IN_LIST")
    only_error(await by_hash(served, "{ sections { id } }", **only), 403, "PERSISTED_QUERY_NOT_IN_LIST")
    assert (await stored(engine))[sha(FRONT)] is True


async def test_the_response_cache_serves_a_persisted_only_key_nothing_it_may_not_run(
    engine: AsyncEngine, database_url: str
) -> None:
    async with engine.begin() as connection:
        _row, key = await create_key(connection, "app", [KeyScope.READ], persisted_only=True, now=utcnow())
    async with running(engine, database_url, response_cache_seconds=300) as (_app, client):
        assert answered(await client.post("/graphql", json={"query": FRONT})) == {"sections": []}
        refused = await client.post("/graphql", json={"query": FRONT}, headers={"x-api-key": key})
        only_error(refused, 403, "PERSISTED_QUERY_ID_REQUIRED")

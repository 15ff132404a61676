"""GraphQL over HTTP at the edges: malformed requests, media types and status codes, size limits, CORS and
the last-resort answer. Every refusal is a GraphQL error body with a code and the request id, never a 500
a client caused."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Route

from broadsheet.settings import Settings
from graph.app import GraphQLEndpoint, create_app
from graph.http import GRAPHQL_RESPONSE_JSON, JSON, response_media_type

NEWER = GRAPHQL_RESPONSE_JSON
TWO_OPERATIONS = "query A { sections { name } } query B { __typename }"
JSON_BODY = {"content-type": JSON}


def _refusal(response: httpx.Response, status: int, code: str) -> str:
    """The message of a refused request, after checking its shape: status, code, request id, no data."""
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"]
    body = response.json()
    assert "data" not in body and "Traceback" not in response.text
    [error] = body["errors"]
    assert error["extensions"]["code"] == code
    message: str = error["message"]
    return message


def _deeply_nested(levels: int) -> bytes:
    return b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * levels + b"]" * levels + b"}}"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'"hello"', "must be a JSON object"),
        (b"null", "not null"),
        (b"42", "not a number"),
        (b'[{"query": "{ __typename }"}]', "batches of operations are not supported"),
        (b'{"query": "{ __typename }", "x": "\xff"}', "not valid UTF-8"),
        (_deeply_nested(100_000), "depth limit exceeded"),
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"query": 5}', "`query` must be a string"),
        (b'{"query": "{ __typename }", "variables": "{}"}', "`variables` must be an object"),
        (b'{"query": "{ __typename }", "operationName": ["A"]}', "`operationName` must be a string"),
        (b'{"query": "{ __typename }", "extensions": 1}', "`extensions` must be an object"),
        (b'{"variables": {}}', "no `query`"),
        (b'{"query": ""}', "no `query`"),
    ],
)
async def test_malformed_bodies_are_400_with_a_graphql_error(
    client: httpx.AsyncClient, body: bytes, says: str
) -> None:
    response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert says in _refusal(response, 400, "BAD_REQUEST")
    assert response.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"query": "{ __typename }", "variables": "{oops"}, "`variables` parameter is not valid JSON"),
        ({"query": "{ __typename }", "variables": "[1]"}, "`variables` must be an object"),
        ({"query": "{ __typename }", "extensions": "[" * 5000}, "`extensions` parameter is not valid JSON"),
        ({"variables": "{}"}, "no `query`"),
    ],
)
async def test_malformed_query_strings_are_400(
    client: httpx.AsyncClient, params: dict[str, str], says: str
) -> None:
    response = await client.get("/graphql", params=params, headers={"accept": JSON})
    assert says in _refusal(response, 400, "BAD_REQUEST")


async def test_mutations_by_get_are_405_and_say_to_post(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "mutation { __typename }"})
    assert "mutations are not allowed" in _refusal(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "POST"


async def test_other_methods_and_paths_answer_in_the_same_shape(client: httpx.AsyncClient) -> None:
    _refusal(await client.put("/graphql", json={"query": "{ __typename }"}), 405, "METHOD_NOT_ALLOWED")
    _refusal(await client.get("/nowhere"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("content_type", "says"),
    [
        (None, "needs a Content-Type"),
        ("text/plain", "'text/plain' is not supported"),
        ("application/graphql", "'application/graphql' is not supported"),
        ("application/x-www-form-urlencoded", "is not supported"),
        ("application/json; charset=latin-1", "charset 'latin-1' is not supported"),
    ],
)
async def test_bodies_other_than_utf8_json_are_415(
    client: httpx.AsyncClient, content_type: str | None, says: str
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = await client.post("/graphql", content=b'{"query": "{ __typename }"}', headers=headers)
    assert says in _refusal(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_json_with_an_explicit_utf8_charset_is_fine(client: httpx.AsyncClient) -> None:
    body = '{"query": "{ __type(name: \\"Run🏃\\") { name } }"}'.encode()
    for content_type in ("application/json; charset=utf-8", "Application/JSON; charset=UTF-8"):
        response = await client.post("/graphql", content=body, headers={"content-type": content_type})
        assert response.status_code == 200 and response.json()["data"] == {"__type": None}


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (JSON, JSON),
        (NEWER, NEWER),
        (f"{NEWER}, {JSON};q=0.9", NEWER),
        (f"{JSON}, {NEWER}", NEWER),
        (f"{NEWER};q=0.5, {JSON}", JSON),
        (f"{NEWER};q=0.5, */*", JSON),
        (f"{NEWER}; charset=utf-8", NEWER),
        (f"{JSON};q=0, {NEWER};q=0.1", NEWER),
        (f"{JSON};q=0, */*", NEWER),
        (f"{NEWER};q=nonsense, {JSON}", JSON),
        ("text/html", None),
        (f"{NEWER};q=0, {JSON};q=0", None),
        (f"{JSON};q=0", None),
    ],
)
def test_content_negotiation(accept: str | None, media_type: str | None) -> None:
    assert response_media_type(accept) == media_type


# (document, variables, HTTP status under application/graphql-response+json, part of the first error's
# message: None for no errors; "" where the message is pinned elsewhere, as for variables in test_errors)
CASES: list[tuple[str, dict[str, Any] | None, int, str | None]] = [
    ("{ __typename }", None, 200, None),
    ("{ __typename ", None, 400, "Syntax Error"),
    ("{ nope }", None, 400, "Cannot query field 'nope'"),
    ("query ($n: Int!) { articles(first: $n) { totalCount } }", {"n": None}, 400, ""),
    ("query ($n: Int!) { articles(first: $n) { totalCount } }", {}, 400, ""),
    ("query ($n: Int!) { articles(first: $n) { totalCount } }", {"n": "ten"}, 400, ""),
    (TWO_OPERATIONS, None, 400, "Must provide operation name if query contains multiple operations."),
    ('{ article(slug: " ") { headline } }', None, 200, "slug: must not be empty"),  # a field error
]


@pytest.mark.parametrize(("document", "variables", "status", "message"), CASES)
async def test_status_codes_follow_the_media_type(
    client: httpx.AsyncClient,
    document: str,
    variables: dict[str, Any] | None,
    status: int,
    message: str | None,
) -> None:
    """Request errors are 400 without data under graphql-response+json; application/json stays 200."""
    payload = {"query": document, "variables": variables}
    newer = await client.post("/graphql", json=payload, headers={"accept": NEWER})
    assert newer.status_code == status, newer.text
    assert newer.headers["content-type"] == f"{NEWER}; charset=utf-8"
    assert ("data" in newer.json()) is (status == 200)
    legacy = await client.post("/graphql", json=payload, headers={"accept": JSON})
    assert legacy.status_code == 200 and "data" in legacy.json()
    assert legacy.headers["content-type"] == f"{JSON}; charset=utf-8"
    for response in (newer, legacy):
        errors = response.json().get("errors")
        if message is None:
            assert errors is None
        else:
            assert errors and message in errors[0]["message"]


async def test_a_client_accepting_neither_media_type_gets_406(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept": "text/html"}
    )
    assert NEWER in _refusal(response, 406, "NOT_ACCEPTABLE")
    # A browser asking for the page still gets GraphiQL.
    assert (await client.get("/graphql", headers={"accept": "text/html"})).status_code == 200


async def test_the_named_operation_runs_and_an_unknown_name_is_a_request_error(
    client: httpx.AsyncClient,
) -> None:
    named = await client.post("/graphql", json={"query": TWO_OPERATIONS, "operationName": "B"})
    assert named.json()["data"] == {"__typename": "Query"}
    unknown = await client.post(
        "/graphql", json={"query": TWO_OPERATIONS, "operationName": "C"}, headers={"accept": NEWER}
    )
    assert unknown.status_code == 400
    resolution = {"code": "OPERATION_RESOLUTION_FAILURE"}
    assert unknown.json() == {
        "errors": [{"message": 'Unknown operation named "C".', "extensions": resolution}]
    }
    fragments_only = await client.post(
        "/graphql", json={"query": "fragment F on Query { __typename }"}, headers={"accept": NEWER}
    )
    assert fragments_only.status_code == 400
    assert fragments_only.json()["errors"] == [
        {"message": "Must provide an operation.", "extensions": resolution}
    ]
    unnamed = await client.post("/graphql", json={"query": TWO_OPERATIONS}, headers={"accept": NEWER})
    assert unnamed.status_code == 400
    assert unnamed.json()["errors"][0]["extensions"] == resolution


async def test_a_failure_of_ours_before_any_field_is_a_500_not_a_400(
    engine: AsyncEngine, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Under graphql-response+json a request error is the client's (400) unless its code says it was ours."""
    from tests.test_errors import FailingOutsideFields

    app = create_app(Settings(database_url=database_url), engine=engine)
    (endpoint,) = [
        route.endpoint for route in app.routes if isinstance(route, Route) and route.path == "/graphql"
    ]
    assert isinstance(endpoint, GraphQLEndpoint)
    schema = cast("strawberry.Schema", endpoint.schema)
    schema.execution_context_class = FailingOutsideFields  # a bug outside any field, injected
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        with caplog.at_level(logging.ERROR, logger="broadsheet"):
            newer = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"accept": NEWER})
    assert newer.status_code == 500
    assert newer.json()["errors"] == [
        {"message": "Unexpected error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    ]
    assert "hunter2" not in newer.text


async def _chunks(count: int, size: int, pulled: list[int]) -> AsyncIterator[bytes]:
    for _ in range(count):
        pulled.append(size)
        yield b" " * size


async def test_a_20_mb_body_is_413_before_it_is_read(client: httpx.AsyncClient) -> None:
    pulled: list[int] = []
    declared = await client.post(
        "/graphql",
        content=_chunks(320, 65_536, pulled),
        headers={"content-type": "application/json", "content-length": str(320 * 65_536)},
    )
    assert "larger than the limit of 1048576 bytes" in _refusal(declared, 413, "PAYLOAD_TOO_LARGE")
    assert pulled == []  # refused on Content-Length alone
    chunked = await client.post(
        "/graphql", content=_chunks(320, 65_536, pulled), headers={"content-type": "application/json"}
    )
    _refusal(chunked, 413, "PAYLOAD_TOO_LARGE")
    assert sum(pulled) <= 1_048_576 + 2 * 65_536  # stopped as soon as the stream passed the limit


async def test_the_body_limit_is_exact_and_configurable(engine: AsyncEngine, database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, max_body_bytes=1024), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:

        def body(size: int) -> bytes:
            document = b'{"query": "{ __typename }", "variables": {"pad": "'
            return document + b"x" * (size - len(document) - 3) + b'"}}'

        exact = await http.post("/graphql", content=body(1024), headers={"content-type": JSON})
        assert exact.json()["data"] == {"__typename": "Query"}
        declared = await http.post("/graphql", content=body(1025), headers={"content-type": JSON})
        _refusal(declared, 413, "PAYLOAD_TOO_LARGE")
        pulled: list[int] = []
        streamed = await http.post(
            "/graphql", content=_chunks(1, 1024, pulled), headers={"content-type": JSON}
        )
        assert "not valid JSON" in _refusal(streamed, 400, "BAD_REQUEST")  # 1024 spaces: read whole
        over = await http.post("/graphql", content=_chunks(1, 1025, pulled), headers=JSON_BODY)
        _refusal(over, 413, "PAYLOAD_TOO_LARGE")
        long_get = await http.get("/graphql", params={"query": "{ __typename }" + " " * 1024})
        assert "query string is over 1024 bytes" in _refusal(long_get, 414, "URI_TOO_LONG")


async def test_get_query_strings_are_limited(client: httpx.AsyncClient) -> None:
    near = await client.get("/graphql", params={"query": "{ __typename }" + " " * 30_000})
    assert near.json()["data"] == {"__typename": "Query"}
    too_long = await client.get("/graphql", params={"query": "{ __typename }" + " " * 33_000})
    assert "POST the request instead" in _refusal(too_long, 414, "URI_TOO_LONG")


async def test_limits_hold_in_front_of_the_response_cache(engine: AsyncEngine, database_url: str) -> None:
    """The cache reads whole bodies itself: the limit must apply before it does."""
    settings = Settings(database_url=database_url, response_cache_seconds=60)
    app = create_app(settings, engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        pulled: list[int] = []
        too_large = await http.post(
            "/graphql", content=_chunks(320, 65_536, pulled), headers={"content-type": JSON}
        )
        _refusal(too_large, 413, "PAYLOAD_TOO_LARGE")
        assert sum(pulled) <= 1_048_576 + 2 * 65_536


async def test_an_unexpected_failure_is_a_json_500_with_the_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An app whose start-up never ran has no database engine: a server fault, answered and logged."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///never-opened.db"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        with caplog.at_level(logging.ERROR, logger="broadsheet"):
            response = await http.post(
                "/graphql", json={"query": "{ __typename }"}, headers={"x-request-id": "req-500"}
            )
    assert _refusal(response, 500, "INTERNAL_SERVER_ERROR") == "Internal server error (request id req-500)"
    assert response.headers["x-request-id"] == "req-500"
    [record] = [record for record in caplog.records if "req-500" in record.getMessage()]
    assert record.exc_info is not None


def _cors_client(engine: AsyncEngine, database_url: str, origins: tuple[str, ...]) -> httpx.AsyncClient:
    app = create_app(Settings(database_url=database_url, cors_origins=origins), engine=engine)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


PREFLIGHT = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type, x-api-key",
}


def _cors_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.startswith("access-control-")}


async def test_cors_for_listed_origins_with_credentials(engine: AsyncEngine, database_url: str) -> None:
    origins = ("https://app.example.com", "http://localhost:3000")
    async with _cors_client(engine, database_url, origins) as http:
        preflight = await http.options("/graphql", headers={"origin": "http://localhost:3000", **PREFLIGHT})
        assert preflight.status_code == 200
        allowed = _cors_headers(preflight)
        assert allowed["access-control-allow-origin"] == "http://localhost:3000"
        assert allowed["access-control-allow-credentials"] == "true"
        assert allowed["access-control-allow-methods"] == "GET, POST"
        assert {"authorization", "x-api-key", "x-request-id", "content-type"} <= {
            header.strip().lower() for header in allowed["access-control-allow-headers"].split(",")
        }
        assert "Origin" in preflight.headers["vary"]

        answer = await http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://app.example.com"}
        )
        assert answer.json()["data"] == {"__typename": "Query"}
        assert _cors_headers(answer) == {
            "access-control-allow-origin": "https://app.example.com",
            "access-control-allow-credentials": "true",
            "access-control-expose-headers": (
                "X-Request-ID, Server-Timing, RateLimit, RateLimit-Policy, Retry-After"
            ),
        }
        assert "Origin" in answer.headers["vary"]
        refused = await http.post(
            "/graphql", content=b"null", headers={"origin": "https://app.example.com", "content-type": JSON}
        )
        assert refused.status_code == 400
        assert refused.headers["access-control-allow-origin"] == "https://app.example.com"
        too_large = await http.post(
            "/graphql",
            content=b" " * 2_000_000,
            headers={"origin": "https://app.example.com", "content-type": JSON},
        )
        assert too_large.status_code == 413  # a browser app can read why
        assert too_large.headers["access-control-allow-origin"] == "https://app.example.com"


async def test_an_origin_not_listed_gets_no_cors_headers(engine: AsyncEngine, database_url: str) -> None:
    async with _cors_client(engine, database_url, ("https://app.example.com",)) as http:
        preflight = await http.options("/graphql", headers={"origin": "https://evil.example", **PREFLIGHT})
        assert "may not call this API" in _refusal(preflight, 400, "BAD_REQUEST")
        assert _cors_headers(preflight) == {}
        answer = await http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://evil.example"}
        )
        assert answer.status_code == 200 and _cors_headers(answer) == {}
        assert answer.headers["vary"] == "Origin"  # a shared cache must not hand this to an allowed origin
        lookalike = await http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://app.example.com.evil"}
        )
        assert _cors_headers(lookalike) == {}


async def test_a_wildcard_never_allows_credentials(engine: AsyncEngine, database_url: str) -> None:
    async with _cors_client(engine, database_url, ("*",)) as http:
        preflight = await http.options("/graphql", headers={"origin": "https://anyone.example", **PREFLIGHT})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in preflight.headers
        answer = await http.get(
            "/graphql", params={"query": "{ __typename }"}, headers={"origin": "https://anyone.example"}
        )
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in answer.headers


async def test_without_the_setting_there_is_no_cors(client: httpx.AsyncClient) -> None:
    preflight = await client.options("/graphql", headers={"origin": "https://app.example.com", **PREFLIGHT})
    _refusal(preflight, 405, "METHOD_NOT_ALLOWED")
    answer = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://app.example.com"}
    )
    assert answer.status_code == 200 and _cors_headers(answer) == {}

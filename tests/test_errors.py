"""Every error a client can cause is told as it is, with an `extensions.code`; ours are masked and logged.

Messages are graphql-core's own (the reference implementation's wording, in Python's quotes), pinned here so
a change of wording is seen. Over HTTP on both databases; where the executor could matter, on Strawberry's
own execution context as well as ours.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from broadsheet.settings import Settings
from graph.app import create_app
from graph.articles import ArticleLists
from graph.context import STATEMENT_TIMEOUT_MESSAGE, Context, CursorSecretCache, SectionTreeCache
from graph.errors import UNEXPECTED_ERROR, ErrorCode
from graph.execution import FastExecutionContext
from graph.schema import build_schema
from models.changes import ChangeWatcher
from models.db import create_engine, ensure_database, upgrade
from resolvers.keys import KEY_RANGE
from tests.conftest import PAGES, PG_SERVER, data_of, graphql
from tests.helpers import ingest_page

BAD_INPUT = ErrorCode.BAD_USER_INPUT.value
PAGE = "edges { cursor }"


def gid(type_name: str, key: object) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert len(body.get("errors") or []) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


def code_of(error: dict[str, Any]) -> str:
    code: str = error["extensions"]["code"]
    return code


# Variables: coerced before any field runs, so the error has no path and points at the variable.
VARIABLES = {
    "a string for an Int": (
        f"query($n: Int!) {{ articles(first: $n) {{ {PAGE} }} }}",
        {"n": "ten"},
        "Variable '$n' has invalid value: Int cannot represent non-integer value: 'ten'",
    ),
    "an Int past 32 bits": (
        f"query($n: Int!) {{ articles(first: $n) {{ {PAGE} }} }}",
        {"n": 2**40},
        "Variable '$n' has invalid value: "
        "Int cannot represent non 32-bit signed integer value: 1099511627776",
    ),
    "a required variable left out": (
        f"query($n: Int!) {{ articles(first: $n) {{ {PAGE} }} }}",
        {},
        "Variable '$n' has invalid value: Expected a value of non-null type 'Int!' to be provided.",
    ),
    "null for a non-null variable": (
        f"query($n: Int!) {{ articles(first: $n) {{ {PAGE} }} }}",
        {"n": None},
        "Variable '$n' has invalid value: Expected value of non-null type 'Int!' not to be None.",
    ),
    "a DateTime that is not one": (
        f"query($since: DateTime) {{ articles(since: $since) {{ {PAGE} }} }}",
        {"since": "yesterday"},
        "Variable '$since' has invalid value: Value cannot represent a DateTime: \"yesterday\". "
        "Expected 4 digits, got 'yest'",
    ),
    "a value the enum does not have": (
        f"query($kind: EntityKind) {{ entities(kind: $kind) {{ {PAGE} }} }}",
        {"kind": "ALIEN"},
        "Variable '$kind' has invalid value: Value 'ALIEN' does not exist in 'EntityKind' enum.",
    ),
    "null inside a list of non-null strings": (
        f"query($who: [String!]) {{ articles(mentioning: $who) {{ {PAGE} }} }}",
        {"who": ["putin", None]},
        "Variable '$who' has invalid value at [1]: Expected value of non-null type 'String!' not to be None.",
    ),
    "an object for an ID": (
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": {"id": 1}},
        "Variable '$id' has invalid value: ID cannot represent value: {'id': 1}",
    ),
}


@pytest.mark.parametrize(("query", "variables", "message"), VARIABLES.values(), ids=VARIABLES.keys())
async def test_variable_errors_say_what_and_where(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], message: str
) -> None:
    body = await graphql(client, query, variables)
    assert body["data"] is None
    error = only_error(body)
    assert error == {
        "message": message,
        "locations": [{"line": 1, "column": 7}],  # the variable's definition
        "extensions": {"code": BAD_INPUT},
    }


async def test_null_through_a_nullable_variable_is_the_clients_error_at_the_field(
    client: httpx.AsyncClient,
) -> None:
    """`first` has a default, so a nullable variable may stand for it; an explicit null is refused where
    the argument is, as a field error (with a path), and it is still the client's."""
    body = await graphql(client, f"query($n: Int) {{ articles(first: $n) {{ {PAGE} }} }}", {"n": None})
    error = only_error(body)
    assert error["message"] == (
        "Argument 'first' has invalid value: Expected variable '$n' provided to non-null type 'Int!' "
        "not to be None."
    )
    assert error["path"] == ["articles"] and code_of(error) == BAD_INPUT


# Whole documents refused before anything runs.
DOCUMENTS = {
    "a syntax error": ("{ articles( ", "Syntax Error: Expected Name, found <EOF>.", "GRAPHQL_PARSE_FAILED"),
    "past the token limit": (
        "{ sections { " + "name " * 3000 + "} }",
        "Syntax Error: Document contains more than 2000 tokens. Parsing aborted.",
        "GRAPHQL_PARSE_FAILED",
    ),
    "an unknown field": (
        "{ nope }",
        "Cannot query field 'nope' on type 'Query'. Did you mean 'node'?",
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "a string literal for an Int": (
        f'{{ articles(first: "x") {{ {PAGE} }} }}',
        'Int cannot represent non-integer value: "x"',
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "a DateTime literal that is not one": (
        f'{{ articles(since: "yesterday") {{ {PAGE} }} }}',
        "Value cannot represent a DateTime: \"yesterday\". Expected 4 digits, got 'yest'",
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "an unknown enum literal": (
        f"{{ entities(kind: ALIEN) {{ {PAGE} }} }}",
        "Value 'ALIEN' does not exist in 'EntityKind' enum.",
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "past the depth limit": (
        "{ sections { " + "children { " * 12 + "name" + " }" * 12 + " } }",
        "'anonymous' exceeds maximum operation depth of 10",
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "past the alias limit": (
        "{ " + " ".join(f"a{n}: sections {{ name }}" for n in range(40)) + " }",
        "40 aliases found. Allowed: 30",
        "GRAPHQL_VALIDATION_FAILED",
    ),
}


@pytest.mark.parametrize(("query", "message", "code"), DOCUMENTS.values(), ids=DOCUMENTS.keys())
async def test_refused_documents_carry_their_code(
    client: httpx.AsyncClient, query: str, message: str, code: str
) -> None:
    body = await graphql(client, query)
    assert body["data"] is None
    error = only_error(body)
    assert error["message"] == message and code_of(error) == code
    assert "path" not in error


# Refused by our resolvers (ClientError): a field error, with the field's path.
REFUSED = {
    "a page size out of range": (
        f"{{ articles(first: 0) {{ {PAGE} }} }}",
        "first: must be between 1 and 100, got 0",
    ),
    "a cursor that is none of ours": (
        f'{{ articles(after: "!!!") {{ {PAGE} }} }}',
        "after: '!!!' is not a cursor from this list",
    ),
    "search syntax": (
        f'{{ search(query: "\\"peace talks") {{ {PAGE} }} }}',
        "query: unclosed quote at character 1",
    ),
    "a time past Python's range in UTC": (
        f'{{ search(query: "water", since: "0001-01-01T00:00:00+01:00") {{ {PAGE} }} }}',
        "since: 0001-01-01T00:00:00+01:00 is out of range in UTC",
    ),
    "an id that is not base64": ('{ node(id: "!!") { id } }', "id: '!!' is not a Broadsheet id"),
    "an id of no type of ours": (f'{{ node(id: "{gid("Widget", 1)}") {{ id }} }}', "is not a Broadsheet id"),
    "an id whose key is no number": (
        f'{{ node(id: "{gid("Article", " 7")}") {{ id }} }}',
        "is not a Broadsheet id",
    ),
}


@pytest.mark.parametrize(("query", "message"), REFUSED.values(), ids=REFUSED.keys())
async def test_refused_arguments_are_bad_user_input_at_their_field(
    client: httpx.AsyncClient, query: str, message: str
) -> None:
    error = only_error(await graphql(client, query))
    assert message in error["message"]
    assert len(error["path"]) == 1 and code_of(error) == BAD_INPUT


OUT_OF_RANGE = [
    KEY_RANGE.stop,  # 2147483648: past int4, PostgreSQL's id column
    KEY_RANGE.start - 1,
    2**63,  # past SQLite's too
    10**20,
    "9" * 5000,  # more digits than int() converts
]


async def test_ids_past_the_key_columns_range_are_null_on_both_databases(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await ingest_page(engine, sorted(PAGES.glob("*.txt"))[0])
    found = data_of(
        await graphql(
            client, "{ articles(first: 1) { edges { node { id section { id } people { entity { id } } } } } }"
        )
    )["articles"]["edges"][0]["node"]
    known = [found["id"], found["section"]["id"], found["people"][0]["entity"]["id"]]
    for known_id in known:  # the lookups do find what exists, so null below means out of range, not broken
        assert data_of(
            await graphql(client, "query($id: ID!) { node(id: $id) { id } }", {"id": known_id})
        ) == {"node": {"id": known_id}}
    for type_name in ("Article", "Entity", "Section"):
        for key in [*OUT_OF_RANGE, -1, 0, KEY_RANGE.stop - 1]:
            body = await graphql(
                client, "query($id: ID!) { node(id: $id) { id } }", {"id": gid(type_name, key)}
            )
            assert body["data"] == {"node": None} and "errors" not in body, (type_name, key)


async def test_key_range_is_what_the_id_columns_hold(engine: AsyncEngine) -> None:
    """KEY_RANGE is PostgreSQL's `integer`; the migrations must make every id column one (SQLite's are 64
    bits, wider): a bigint id column would need the range widened."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's INTEGER is 64 bits, wider than KEY_RANGE")
    async with engine.connect() as connection:
        types: dict[str, str] = dict(
            (
                await connection.execute(
                    text(
                        "SELECT table_name, data_type FROM information_schema.columns "
                        "WHERE column_name = 'id' AND table_schema = 'public' "
                        "AND table_name IN ('article', 'entity', 'section')"
                    )
                )
            ).all()
        )
    assert types == {"article": "integer", "entity": "integer", "section": "integer"}
    assert (KEY_RANGE.start, KEY_RANGE.stop) == (-(2**31), 2**31)


@pytest.mark.parametrize(
    ("table", "document"),
    [
        ("article", f"{{ articles(first: 1) {{ {PAGE} }} }}"),
        # The section tree is read apart from the loaders (one read for many requests), and still says why.
        ("section", "{ sections { name } }"),
    ],
    ids=["a page", "the section tree"],
)
async def test_a_statement_past_the_time_limit_is_a_timeout(
    engine: AsyncEngine, database_url: str, table: str, document: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the time limit is PostgreSQL's statement_timeout; SQLite has none")
    limited = create_engine(database_url, pool_size=1, statement_timeout=0.2)
    app = create_app(Settings(database_url=database_url), engine=limited)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        engine.connect() as blocker,
    ):
        await blocker.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))  # the read waits past it
        body = await graphql(client, document)
        await blocker.rollback()
    await limited.dispose()
    error = only_error(body)
    assert error["message"] == STATEMENT_TIMEOUT_MESSAGE and code_of(error) == "TIMEOUT"


@pytest.fixture
async def throwaway(engine: AsyncEngine, tmp_path: Any) -> AsyncIterator[str]:
    """A migrated database of the same kind as ``engine``, for a test that breaks it."""
    if engine.dialect.name == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'broken.db'}"
    else:
        url = f"{PG_SERVER}/broadsheet_broken_{uuid.uuid4().hex[:10]}"
        await ensure_database(url)
    created = create_engine(url)
    await upgrade(created)
    await created.dispose()
    yield url
    if engine.dialect.name == "postgresql":
        server = create_engine(f"{PG_SERVER}/postgres")
        async with server.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        await server.dispose()


async def test_a_failure_of_ours_is_masked_logged_and_coded(
    throwaway: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A real failure (a table gone) beside a field that works: the client reads "Unexpected error." with
    INTERNAL_SERVER_ERROR at that field, never SQL; the log has it with the request id."""
    broken = create_engine(throwaway)
    async with broken.begin() as connection:
        cascade = " CASCADE" if broken.dialect.name == "postgresql" else ""
        await connection.execute(text(f"DROP TABLE entity_alias{cascade}"))
        await connection.execute(text(f"DROP TABLE mention{cascade}"))
        await connection.execute(text(f"DROP TABLE entity{cascade}"))
    app = create_app(Settings(database_url=throwaway), engine=broken)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        with caplog.at_level(logging.ERROR, logger="broadsheet"):
            response = await http.post(
                "/graphql",
                json={"query": '{ sections { name } entity(slug: "anyone") { name } }'},
                headers={"x-request-id": "req-broken"},
            )
    await broken.dispose()
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"sections": [], "entity": None}
    error = only_error(body)
    assert error["message"] == UNEXPECTED_ERROR and error["path"] == ["entity"]
    assert code_of(error) == "INTERNAL_SERVER_ERROR"
    assert "SELECT" not in response.text and "no such table" not in response.text
    assert any("req-broken" in record.getMessage() for record in caplog.records)


class FailingOutsideFields(FastExecutionContext):
    """A bug outside any field (graphql-core does not catch it: Strawberry turns it into an error whose
    message is the exception's, past its MaskErrors extension)."""

    def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("password=hunter2 in a message nobody should read")


def _schema_context(engine: AsyncEngine) -> Context:
    return Context(
        engine=engine,
        lookups=engine,
        request_id="req-direct",
        sections_cache=SectionTreeCache(ChangeWatcher(engine.url)),  # not started: read on every request
        cursor_secret=CursorSecretCache(),
        article_lists=ArticleLists(),
    )


async def test_a_failure_outside_any_field_is_masked_too(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    schema = build_schema(Settings(), execution_context_class=FailingOutsideFields)
    with caplog.at_level(logging.ERROR, logger="broadsheet"):
        result = await schema.execute("{ sections { name } }", context_value=_schema_context(engine))
    assert [error.formatted for error in result.errors or []] == [
        {"message": UNEXPECTED_ERROR, "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    ]
    assert any("req-direct" in record.getMessage() for record in caplog.records)


SAME_ON_BOTH_EXECUTORS = [
    *((query, variables) for query, variables, _ in VARIABLES.values()),
    (f"query($n: Int) {{ articles(first: $n) {{ {PAGE} }} }}", {"n": None}),
    *((query, None) for query, _, _ in DOCUMENTS.values()),
    *((query, None) for query, _ in REFUSED.values()),
    (f"{{ sections {{ name }} entities(first: 500) {{ {PAGE} }} }}", None),
]


@pytest.mark.parametrize(("query", "variables"), SAME_ON_BOTH_EXECUTORS)
async def test_codes_are_the_same_on_strawberrys_executor(
    engine: AsyncEngine, query: str, variables: dict[str, Any] | None
) -> None:
    """The codes come from where an error happened, which the short road does not change."""
    answers = []
    for context_class in (StrawberryGraphQLCoreExecutionContext, FastExecutionContext):
        schema = build_schema(Settings(), execution_context_class=context_class)
        result = await schema.execute(query, variable_values=variables, context_value=_schema_context(engine))
        answers.append((result.data, [error.formatted for error in result.errors or []]))
    assert answers[0] == answers[1]
    errors = answers[1][1]
    assert errors and all(
        error["extensions"]["code"] != "INTERNAL_SERVER_ERROR" and error["message"] != UNEXPECTED_ERROR
        for error in errors
    )


async def test_a_slug_with_a_nul_character_names_nothing_on_both_databases(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    """PostgreSQL's text cannot hold NUL, and refuses it even as a parameter: no slug has one."""
    await ingest_page(engine, sorted(PAGES.glob("*.txt"))[0])
    slug = data_of(await graphql(client, "{ articles(first: 1) { edges { node { slug } } } }"))["articles"][
        "edges"
    ][0]["node"]["slug"]
    lookups = "query($slug: String!) { article(slug: $slug) { slug } entity(slug: $slug) { slug } }"
    assert data_of(await graphql(client, lookups, {"slug": slug}))["article"] == {"slug": slug}
    assert data_of(await graphql(client, lookups, {"slug": slug + "\x00"})) == {
        "article": None,
        "entity": None,
    }
    error = only_error(
        await graphql(
            client, f"query($who: [String!]) {{ articles(mentioning: $who) {{ {PAGE} }} }}", {"who": ["\x00"]}
        )
    )
    assert error["message"] == "mentioning: no entity with slug '\\x00'" and code_of(error) == BAD_INPUT

"""Generated requests: whatever a client sends, the answer is data or a clear error with a code, never ours.

Documents come from the schema itself (hypothesis-graphql: valid ones, and ones with one violation each); some
of their arguments are moved into variables, whose values are sometimes the argument's own and sometimes any
JSON at all. Scalars are drawn from the seeded archive as well as at random (real slugs, section paths, global
ids and cursors, search-language fragments), so resolvers do real work. Every answer: a status below 500, a
JSON body, and either data without errors or errors that each carry a message and a code other than
INTERNAL_SERVER_ERROR.

``BROADSHEET_PROPERTY_EXAMPLES`` sets how many requests each database gets (200 by default). The examples are
derandomized, so a run is the same on every machine; ``BROADSHEET_PROPERTY_RANDOM=1`` explores afresh instead
(``BROADSHEET_PROPERTY_EXAMPLES=3000 BROADSHEET_PROPERTY_RANDOM=1 pytest tests/test_property.py``).
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import graphql as gql
import httpx
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, queries
from sqlalchemy.ext.asyncio import AsyncEngine

from broadsheet.settings import Settings
from graph.errors import UNEXPECTED_ERROR, ErrorCode
from graph.schema import build_schema
from tests.conftest import PAGES, SAMPLES, data_of, graphql
from tests.helpers import ingest_page

EXAMPLES = int(os.environ.get("BROADSHEET_PROPERTY_EXAMPLES", "200"))
RANDOM = os.environ.get("BROADSHEET_PROPERTY_RANDOM") == "1"
SDL = build_schema(Settings()).as_str()
SCHEMA = gql.build_schema(SDL)


@dataclass(frozen=True)
class Archive:
    """Values a client could have read from the seeded archive."""

    strings: list[str]
    ids: list[str]


def _global_id(type_name: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


@pytest.fixture
async def archive(engine: AsyncEngine, client: httpx.AsyncClient) -> AsyncIterator[Archive]:
    for page in [*sorted(PAGES.glob("*.txt")), *sorted(SAMPLES.glob("*.txt"))]:
        await ingest_page(engine, page)
    data = data_of(
        await graphql(
            client,
            """{ articles(first: 3) { edges { cursor node { id slug section { id path } people { entity {
                 id slug articles(first: 1) { edges { cursor } } } } } } }
               entities(first: 2) { edges { cursor } }
               search(query: "minister", first: 2) { edges { cursor } }
               sections { id path } }""",
        )
    )
    articles = [edge["node"] for edge in data["articles"]["edges"]]
    people = [person["entity"] for article in articles for person in article["people"]]
    cursors = [
        edge["cursor"]
        for connection in [
            data["articles"],
            data["entities"],
            data["search"],
            *(person["articles"] for person in people),
        ]
        for edge in connection["edges"]
    ]
    words = ["minister", "water", '"peace talks"', "sanct*", "-football", "the", "*", '"', "-", "a b c"]
    yield Archive(
        strings=[
            *(article["slug"] for article in articles),
            *(person["slug"] for person in people),
            *(section["path"] for section in data["sections"]),
            *cursors,
            *words,
            *["", " ", "\x00", "a\x00b", "%", "_", "'", "\\", "../", "Sørensen", "😀" * 20],  # nasty ones
            "2026-03-01T00:00:00Z",
        ],
        ids=[
            *(article["id"] for article in articles),
            *(person["id"] for person in people),
            *(section["id"] for section in data["sections"]),
            *(
                _global_id(kind, key)
                for kind in ("Article", "Entity", "Section", "Widget")
                for key in (
                    "0",
                    "-1",
                    "2147483647",
                    "2147483648",
                    "-2147483649",
                    "99999999999999999999",
                    "x",
                    "",
                )
            ),
        ],
    )


def _string(value: str) -> gql.StringValueNode:
    return gql.StringValueNode(value=value)


def _scalars(archive: Archive) -> dict[str, st.SearchStrategy[gql.ValueNode]]:
    """Scalar values: mostly the archive's (so lookups find something) and page sizes a client would ask
    for, and anything at all."""
    text = st.text(max_size=30)
    moments = st.datetimes(  # around the archive's dates, with a zone or without
        min_value=datetime(2020, 1, 1),
        max_value=datetime(2030, 1, 1),
        timezones=st.one_of(st.none(), st.timezones()),
    ).map(lambda moment: moment.isoformat())
    extremes = st.datetimes(timezones=st.one_of(st.none(), st.timezones())).map(
        lambda moment: moment.isoformat()
    )
    odd = st.sampled_from(
        ["2026-03-01", "yesterday", "", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-12:00"]
    )
    known = st.sampled_from(archive.strings)
    return {
        "String": st.one_of(known, known, known, known, known, text).map(_string),
        "ID": st.one_of(st.sampled_from(archive.ids), st.sampled_from(archive.ids), known, text).map(_string),
        "Int": st.one_of(*[st.integers(1, 100)] * 5, st.integers(-(2**31), 2**31 - 1)).map(
            lambda number: gql.IntValueNode(value=str(number))
        ),
        "DateTime": st.one_of(*[moments] * 8, extremes, odd, text).map(_string),
    }


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def requests(draw: st.DrawFn, archive: Archive) -> dict[str, Any]:
    """A request body: a generated document, some of its arguments moved into variables."""
    mode = draw(st.sampled_from([Mode.POSITIVE, Mode.POSITIVE, Mode.POSITIVE, Mode.NEGATIVE]))
    document = gql.parse(draw(queries(SCHEMA, custom_scalars=_scalars(archive), mode=mode)))
    variables: dict[str, Any] = {}
    definitions: list[gql.VariableDefinitionNode] = []
    type_info = gql.TypeInfo(SCHEMA)

    class Hoist(gql.Visitor):
        def enter_argument(self, node: gql.ArgumentNode, *_: Any) -> Any:
            argument = type_info.get_argument()
            if argument is None or not draw(st.booleans()):
                return None
            name = f"v{len(definitions)}"
            own = gql.value_from_ast_untyped(node.value)
            given = draw(st.sampled_from(["own", "own", "own", "any", "left out"]))
            if given != "left out":
                variables[name] = own if given == "own" else draw(JSON)
            definitions.append(
                gql.VariableDefinitionNode(
                    variable=gql.VariableNode(name=gql.NameNode(value=name)),
                    type=gql.parse_type(str(argument.type)),
                )
            )
            return gql.ArgumentNode(name=node.name, value=gql.VariableNode(name=gql.NameNode(value=name)))

    hoisted = gql.visit(document, gql.TypeInfoVisitor(type_info, Hoist()))
    operation = hoisted.definitions[0]
    assert isinstance(operation, gql.OperationDefinitionNode)
    operation = gql.OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=tuple(definitions),
        directives=operation.directives,
        selection_set=operation.selection_set,
    )
    query = gql.print_ast(gql.DocumentNode(definitions=(operation,)))
    return {"query": query, "variables": variables}


def _check(body: dict[str, Any], response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    answer = response.json()
    assert isinstance(answer, dict), answer
    errors = answer.get("errors")
    if not errors:
        assert "data" in answer and answer["data"] is not None, answer
        event("data")  # the mix of answers shows with --hypothesis-show-statistics
        return
    for error in errors:
        assert error["message"] and error["message"] != UNEXPECTED_ERROR, (body, error)
        code = error.get("extensions", {}).get("code")
        event(f"error {code}")
        assert code in set(ErrorCode) - {ErrorCode.INTERNAL_SERVER_ERROR}, (body, error)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    phases=[Phase.generate] if RANDOM else list(Phase),  # exploring: the failing body is shown, unshrunk
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_every_answer_is_data_or_a_clear_error(
    archive: Archive, client: httpx.AsyncClient, data: st.DataObject
) -> None:
    body = data.draw(requests(archive))
    response = await client.post("/graphql", json=body)
    _check(body, response)

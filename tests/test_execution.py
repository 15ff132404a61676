"""The fast execution context answers exactly as Strawberry's own, and takes its short road where it may.

Every document runs twice on one small schema built for the purpose: once with Strawberry's stock
execution context, once with ours. Data (key order included), errors, messages and paths must be equal,
so a short cut that changed an answer, dropped an error or reordered a response fails here.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any, ClassVar, cast

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import FieldExtension, ParserCache
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema_directive import Location

from graph.execution import (
    ATTRIBUTE_RESOLVER,
    BUILT_ENUM,
    BUILT_SCHEMA,
    PRIVATE_NAMES,
    PURE,
    FastExecutionContext,
)


@strawberry.enum
class Mood(Enum):
    CALM = "calm"
    TENSE = "tense"


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Person(Named):  # an interface gives the type an is_type_of check
    nickname: str | None
    mood: Mood
    born: datetime
    id: strawberry.ID


@strawberry.type
class Mention:
    role: str | None
    count: int
    score: float
    person: Person
    also: list[Person]
    maybe_person: Person | None

    @strawberry.field(metadata=PURE)
    def others(self, first: int, mood: Mood | None = None) -> list[Person]:
        if first < 1:
            raise ValueError(f"first: must be at least 1, got {first}")
        return [person for person in self.also if mood is None or person.mood is mood][:first]

    @strawberry.field
    def impure(self) -> str:  # not declared pure: graphql-core calls it
        return self.person.name.upper()


@strawberry.interface
class Block:
    index: int


@strawberry.type
class Text(Block):
    text: str


@strawberry.type
class Advert(Block):
    pass


class LoudText(Text):  # a subclass Strawberry does not know: graphql-core asks Strawberry what it is
    pass


def person(name: str, **changes: Any) -> Person:
    values: dict[str, Any] = {
        "name": name,
        "nickname": None,
        "mood": Mood.CALM,
        "born": datetime(1970, 1, 1, tzinfo=UTC),
        "id": strawberry.ID(f"P{name}"),
    }
    values.update(changes)
    return Person(**values)


def mention(role: str | None, who: Person, **changes: Any) -> Mention:
    values: dict[str, Any] = {
        "role": role,
        "count": 2,
        "score": 0.5,
        "person": who,
        "also": [person("Ann"), person("Bo", mood=Mood.TENSE)],
        "maybe_person": None,
    }
    values.update(changes)
    return Mention(**values)


class NotAPerson:
    name = "impostor"
    nickname = None
    mood = Mood.CALM
    born = datetime(1970, 1, 1, tzinfo=UTC)
    id = "x"


class Deny(BasePermission):
    message = "not for you"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


class Shout(FieldExtension):
    def resolve(self, next_: Callable[..., Any], source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION])
class Embargoed:
    until: str


@strawberry.type
class Guarded:
    """Fields that read an attribute, or are pure, but with something Strawberry runs around them."""

    open: str
    secret: str = strawberry.field(permission_classes=[Deny])
    maybe_secret: str | None = strawberry.field(permission_classes=[Deny])
    shouted: str = strawberry.field(extensions=[Shout()])
    tagged: str = strawberry.field(directives=[Embargoed(until="noon")])

    @strawberry.field(metadata=PURE, permission_classes=[Deny])
    def pure_secret(self) -> str | None:
        return "pure"

    @strawberry.field(metadata=PURE, extensions=[Shout()])
    def pure_shouted(self) -> str:
        return "quiet"


def guarded() -> Guarded:
    return Guarded(open="open", secret="s", maybe_secret="m", shouted="loud", tagged="t")


@strawberry.type
class Query:
    guarded: list[Guarded] = strawberry.field(default_factory=lambda: [guarded(), guarded()])
    mentions: list[Mention] = strawberry.field(
        default_factory=lambda: [mention("Minister", person("Fomin")), mention(None, person("Rutte"))]
    )
    broken_name: list[Mention] = strawberry.field(
        default_factory=lambda: [mention("ok", person("Ann")), mention("bad", person(None))]  # type: ignore[arg-type]
    )
    broken_count: Mention = strawberry.field(
        default_factory=lambda: mention("bad", person("Ann"), count="many")
    )
    wrong_type: Mention = strawberry.field(default_factory=lambda: mention("odd", NotAPerson()))  # type: ignore[arg-type]
    tuple_of_people: Mention = strawberry.field(
        default_factory=lambda: mention("t", person("Ann"), also=(person("Cy"),))
    )
    generator_of_people: Mention = strawberry.field(
        default_factory=lambda: mention("g", person("Ann"), also=(p for p in [person("Di")]))
    )
    bad_enum: Person = strawberry.field(default_factory=lambda: person("Ed", mood="sleepy"))

    @strawberry.field
    def top(self, first: int = 10) -> list[Mention]:
        return self.mentions[:first]

    @strawberry.field
    async def later(self) -> list[Mention]:
        return self.mentions

    @strawberry.field
    def blocks(self) -> list[Block]:
        return [Text(index=0, text="Hello"), Advert(index=1)]

    @strawberry.field
    def mixed(self) -> list[Text | Advert]:
        return [Advert(index=0), Text(index=1, text="Hi"), LoudText(index=2, text="HI")]

    @strawberry.field
    def loud_blocks(self) -> list[Block]:
        return [LoudText(index=0, text="HEY"), Text(index=1, text="hey")]

    @strawberry.field
    def null_person(self) -> Person:
        return None  # type: ignore[return-value]

    @strawberry.field
    def failing(self) -> str:
        raise ValueError("resolver failed")


def answers(document: str, variables: dict[str, Any] | None = None) -> tuple[str, str]:
    """The stock context's and ours, each as order-preserving JSON of data and errors."""
    results = []
    for context_class in (StrawberryGraphQLCoreExecutionContext, FastExecutionContext):
        schema = strawberry.Schema(query=Query, types=[Text, Advert], execution_context_class=context_class)
        result = asyncio.run(schema.execute(document, variable_values=variables, root_value=Query()))
        errors = [
            {"message": error.message, "path": error.path, "locations": error.locations}
            for error in result.errors or []
        ]
        results.append(json.dumps({"data": result.data, "errors": errors}, default=str))
    return results[0], results[1]


DOCUMENTS = {
    "plain leaves and nested plain objects": """
        { mentions { role count score person { name nickname mood born id } also { name mood } } }""",
    "aliases, repeats and __typename in the middle": """
        { mentions { c: count __typename person { n: name __typename name mood } role count } }""",
    "fragments and inline fragments": """
        fragment P on Person { name mood }
        { mentions { ...on Mention { role } person { ...P nickname } also { ...P } } }""",
    "resolver with arguments, plain items": "{ top(first: 1) { role person { name } } }",
    "async resolver, plain items": "{ later { role maybePerson { name } person { born } } }",
    "interface items": "{ blocks { index __typename ... on Text { text } } }",
    "interface items, one of an unknown subclass": "{ loudBlocks { index ... on Text { text } } }",
    "union items": "{ mixed { __typename ... on Text { text index } ... on Advert { index } } }",
    "null in a non-null leaf": "{ brokenName { role person { name } } }",
    "a value the scalar refuses": "{ brokenCount { role count } }",
    "an object of the wrong type": "{ wrongType { role person { name } } }",
    "a tuple where a list is declared": "{ tupleOfPeople { also { name } } }",
    "a generator where a list is declared": "{ generatorOfPeople { also { name } } }",
    "a member the enum does not have": "{ badEnum { name mood } }",
    "null from a resolver for a non-null object": "{ nullPerson { name } }",
    "a failing resolver beside plain fields": "{ failing mentions { role } }",
    "pure resolvers with arguments, an enum among them": """
        { mentions { role others(first: 1) { name } calm: others(first: 5, mood: CALM) { name } impure } }""",
    "a pure resolver that refuses its argument": "{ mentions { role others(first: 0) { name } } }",
    "a permission class denies a nullable attribute": "{ guarded { open maybeSecret } }",
    "a permission class denies a non-null attribute": "{ guarded { open secret } }",
    "a permission class denies a pure resolver": "{ guarded { open pureSecret } }",
    "field extensions on an attribute and a pure resolver": "{ guarded { open shouted pureShouted } }",
    "a schema directive on an attribute": "{ guarded { open tagged } }",
}


GOING_WRONG = {
    DOCUMENTS[name]
    for name in DOCUMENTS
    if name.startswith(("null", "a value", "an object", "a member", "a failing", "a pure", "a permission"))
}


@pytest.mark.parametrize("document", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_same_answer_as_strawberry(document: str) -> None:
    stock, fast = answers(document)
    assert fast == stock
    errors = json.loads(stock)["errors"]
    assert bool(errors) == (document in GOING_WRONG), errors


def test_same_answer_with_skip_and_include() -> None:
    document = """query ($skip: Boolean!, $show: Boolean!) {
        mentions { role @skip(if: $skip) count @include(if: $show) person { name @include(if: $show) mood } }
    }"""
    for variables in ({"skip": True, "show": False}, {"skip": False, "show": True}):
        stock, fast = answers(document, variables)
        assert fast == stock


def test_same_answer_with_variables_in_pure_arguments() -> None:
    document = "query ($n: Int!, $mood: Mood) { mentions { others(first: $n, mood: $mood) { name mood } } }"
    for variables in ({"n": 1, "mood": None}, {"n": 2, "mood": "TENSE"}, {"n": 0, "mood": None}):
        stock, fast = answers(document, variables)
        assert fast == stock


class CompileCounting(FastExecutionContext):
    """Counts the selections compiled, to show later operations reuse what earlier ones compiled."""

    compiled: ClassVar[int] = 0

    def _compile(self, return_type: Any, field_details_list: Any) -> Any:
        CompileCounting.compiled += 1
        return super()._compile(return_type, field_details_list)


def test_later_operations_reuse_compilations_where_their_variables_agree() -> None:
    """With a parser cache every request runs the same parsed document. Each answer is still the stock
    one whatever the variables inside a selection (directives, pure arguments, in fragments too), and a
    variable used only above a selection (``top(first:)``) does not make it compile again."""
    document = """query ($first: Int!, $n: Int!, $show: Boolean!, $mood: Mood) {
        top(first: $first) { role count @include(if: $show) person { name } others(first: $n) { name } }
        mentions { ...M impure few: others(first: $n) { name } } }
    fragment M on Mention { others(first: 5, mood: $mood) { name mood } person { name @skip(if: $show) } }"""
    schemas = [
        strawberry.Schema(
            query=Query,
            types=[Text, Advert],
            extensions=[lambda: ParserCache(maxsize=8)],
            execution_context_class=context_class,
        )
        for context_class in (StrawberryGraphQLCoreExecutionContext, CompileCounting)
    ]
    runs: list[dict[str, Any]] = [
        {"first": 1, "n": 1, "show": True, "mood": None},
        {"first": 2, "n": 1, "show": True, "mood": None},  # only the variable above the selection changes
        {"first": 2, "n": 2, "show": True, "mood": None},
        {"first": 2, "n": 2, "show": False, "mood": "CALM"},
        {"first": 2, "n": 2, "show": True},  # $mood left out, not null
        {"first": 1, "n": 1, "show": True, "mood": None},
    ]
    compiled = []
    for variables in runs:
        before = CompileCounting.compiled
        stock, fast = (
            json.dumps(
                asyncio.run(schema.execute(document, variable_values=variables, root_value=Query())).data
            )
            for schema in schemas
        )
        assert fast == stock, variables
        compiled.append(CompileCounting.compiled - before)
    assert compiled[0] > 0
    assert compiled[1] == 0 and compiled[-1] == 0
    assert compiled[2] > 0 and compiled[3] > 0


def test_what_strawberry_runs_around_a_field_runs_on_the_short_road_too() -> None:
    """Permission classes deny, field extensions transform, whichever road the field would take."""
    for name in (
        "a permission class denies a nullable attribute",
        "a permission class denies a pure resolver",
    ):
        fast = json.loads(answers(DOCUMENTS[name])[1])
        field = "maybeSecret" if "nullable" in name else "pureSecret"
        assert [row[field] for row in fast["data"]["guarded"]] == [None, None]
        assert {error["message"] for error in fast["errors"]} == {"not for you"}
    shouted = json.loads(answers(DOCUMENTS["field extensions on an attribute and a pure resolver"])[1])
    assert shouted["data"]["guarded"][0] == {"open": "open", "shouted": "LOUD", "pureShouted": "QUIET"}


def test_the_private_names_the_short_road_relies_on_exist() -> None:
    """An upgrade of Strawberry that moves one fails here, by name, not somewhere deep in a request."""
    built = strawberry.Schema(query=Query, types=[Text, Advert])._schema
    missing = []
    for where, name in PRIVATE_NAMES:
        if where == BUILT_SCHEMA:
            found = hasattr(built, name)
        elif where == BUILT_ENUM:
            found = hasattr(built.type_map["Mood"], name)
        elif where == ATTRIBUTE_RESOLVER:
            guarded_type = cast("GraphQLObjectType", built.type_map["Guarded"])
            found = getattr(guarded_type.fields["open"].resolve, name, None) is True
        else:
            owner: Any = importlib.import_module(where)
            *path, last = name.split(".")
            for part in path:
                owner = getattr(owner, part, None)
            fields = getattr(owner, "__dataclass_fields__", {})  # Info's are instance attributes
            found = owner is not None and (hasattr(owner, last) or last in fields)
        if not found:
            missing.append(f"{where}: {name}")
    assert not missing, f"Strawberry moved what graph/execution.py relies on: {missing}"


def test_errors_are_reported_not_hidden() -> None:
    """The documents that go wrong do go wrong on our side too, where graphql-core says."""
    null_leaf = json.loads(answers(DOCUMENTS["null in a non-null leaf"])[1])
    assert null_leaf["errors"][0]["path"] == ["brokenName", 1, "person", "name"]
    assert "Cannot return null for non-nullable field Person.name" in null_leaf["errors"][0]["message"]
    bad_enum = json.loads(answers(DOCUMENTS["a member the enum does not have"])[1])
    assert bad_enum["errors"][0]["path"] == ["badEnum", "mood"]


class CountingContext(FastExecutionContext):
    """Counts the fields graphql-core still executes itself."""

    executed: ClassVar[list[str]] = []

    def execute_field(
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any, *args: Any
    ) -> Any:
        CountingContext.executed.append(f"{parent_type.name}.{field_details_list[0].node.name.value}")
        return super().execute_field(parent_type, source, field_details_list, *args)


def test_plain_fields_take_the_short_road() -> None:
    CountingContext.executed = []
    schema = strawberry.Schema(query=Query, types=[Text, Advert], execution_context_class=CountingContext)
    result = schema.execute_sync(
        root_value=Query(),
        query="""{
            top { role count person { name mood } also { name } others(first: 1) { name } impure }
            mentions { person { name } }
            blocks { index }
        }""",
    )
    assert result.errors is None and result.data is not None
    assert result.data["top"][0]["person"] == {"name": "Fomin", "mood": "CALM"}
    # Only resolvers not declared pure reach graphql-core: not the plain `mentions` with everything below it,
    # not the plain fields of the resolvers' results, not the pure `others`, nor the blocks' fields
    # (graphql-core still picks each block's type).
    assert CountingContext.executed == ["Query.top", "Mention.impure", "Mention.impure", "Query.blocks"]

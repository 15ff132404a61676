"""Query cost: a static figure computed from the parsed document before it runs, refused above the maximum
(``BROADSHEET_MAX_QUERY_COST``, QUERY_TOO_COSTLY) and charged to the caller's cost budget (graph/limits.py;
over it, 429 QUERY_BUDGET_EXCEEDED with Retry-After). Every answered query says what it cost in
``extensions.cost``: ``{"requested": N, "remaining": units left in the budget, "resetAt": when it is whole}``.

The rule (the README's "Limits and cost" works an example): a field that selects nothing (a scalar, an
enum, ``__typename``) is free; a field that selects fields costs 1 for each object it may return, and its
selection is counted that many times over. A field with a ``first`` argument may return ``first`` objects
(as given, else its default); a list without one is counted as ``LIST_SIZE`` objects, except ``edges`` and
``nodes`` of a connection, which hold the connection's ``first`` items, already counted. So nested lists
multiply. ``@skip``/``@include`` are not looked at and every fragment counts: the figure is an upper bound.
Introspection (``__schema``, ``__type``) is free: it reads no data.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

from graph.errors import ErrorCode
from graph.limits import seconds
from models.rate_limits import Decision

#: Objects a list without a `first` argument is counted as (breadcrumbs, body blocks, sections, children):
#: a typical article's, an estimate rather than a bound.
LIST_SIZE = 10


class _Counter:
    """Walks one operation's selections (see the module for the rule)."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            node.name.value: node for node in document.definitions if isinstance(node, FragmentDefinitionNode)
        }

    def selections(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode, times: int, seen: frozenset[str]
    ) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection, times, seen)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition, selected = selection.type_condition, selection.selection_set
            else:  # a fragment spread; validation refused unknown and cyclic ones, checked again here
                assert isinstance(selection, FragmentSpreadNode)
                fragment = self.fragments.get(selection.name.value)
                if fragment is None or fragment.name.value in seen:
                    continue
                condition, selected = fragment.type_condition, fragment.selection_set
                seen = seen | {fragment.name.value}
            inner = self.schema.get_type(condition.name.value) if condition else parent
            total += self.selections(inner or parent, selected, times, seen)
        return total

    def field(self, parent: GraphQLNamedType, node: FieldNode, times: int, seen: frozenset[str]) -> int:
        definition = getattr(parent, "fields", {}).get(node.name.value)
        if node.selection_set is None or definition is None:  # a leaf, or introspection
            return 0
        objects = times * self.size(parent, definition, node)
        return objects + self.selections(get_named_type(definition.type), node.selection_set, objects, seen)

    def size(self, parent: GraphQLNamedType, definition: GraphQLField, node: FieldNode) -> int:
        """How many objects one occurrence of the field may return."""
        if "first" in definition.args:
            given = next(
                (argument.value for argument in node.arguments or () if argument.name.value == "first"), None
            )
            if isinstance(given, VariableNode):
                value = self.variables.get(given.name.value)
            elif isinstance(given, IntValueNode):
                value = int(given.value)
            else:
                value = definition.args["first"].default_value
            return max(value, 0) if isinstance(value, int) and not isinstance(value, bool) else LIST_SIZE
        if is_list_type(get_nullable_type(definition.type)):
            return 1 if parent.name.endswith("Connection") else LIST_SIZE
        return 1


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int | None:
    """The static cost of the operation the request runs; None when there is no such operation or its
    variables are refused (graphql-core then says why)."""
    operation = get_operation_ast(document, operation_name)
    root = schema.get_root_type(operation.operation) if operation else None
    if operation is None or root is None:
        return None
    # The variables as graphql-core will coerce them (defaults included); when they are refused, it says so.
    coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables or {}))
    if isinstance(coerced, list):
        return None
    counter = _Counter(schema, document, coerced.coerced)
    return counter.selections(root, operation.selection_set, 1, frozenset())


def _refusal(message: str, code: ErrorCode, cost: int) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": code, "cost": cost})])


class QueryCost(SchemaExtension):
    """Computes, refuses or charges the cost of each operation before it runs (see the module)."""

    def __init__(self, *, max_cost: int) -> None:
        super().__init__()
        self.max_cost = max_cost
        self.figures: dict[str, Any] | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        # Strawberry keeps the graphql-core schema it built as `_schema` (tests/test_execution.py pins it).
        schema: GraphQLSchema = execution.schema._schema
        cost = (
            None
            if document is None
            else operation_cost(schema, document, execution.operation_name, execution.variables)
        )
        if cost is not None:
            execution.result = await self._judge(cost)
        yield

    async def _judge(self, cost: int) -> ExecutionResult | None:
        """A refusal, or None to run; sets ``figures`` for ``extensions.cost``."""
        self.figures = {"requested": cost}
        if cost > self.max_cost:
            message = f"The query's cost is {cost}, over the maximum of {self.max_cost}: ask for fewer items"
            return _refusal(message, ErrorCode.QUERY_TOO_COSTLY, cost)
        context = self.execution_context.context
        budget = getattr(context, "budget", None)
        if budget is None:  # limits off (BROADSHEET_LIMITS_ENABLED), or not over HTTP: nothing to charge
            return None
        if cost > budget.limit.amount:
            message = f"The query's cost is {cost}, over this client's whole budget of {budget.limit}"
            return _refusal(message, ErrorCode.QUERY_TOO_COSTLY, cost)
        verdict = await budget.charge(cost)
        if verdict is None:  # the store is away and the server fails closed
            context.refuse(503, 1)
            return _refusal(
                "The cost budget cannot be checked right now; retry shortly",
                ErrorCode.QUERY_BUDGET_EXCEEDED,
                cost,
            )
        self.figures.update(cost_figures(verdict))
        if verdict.allowed:
            return None
        wait = seconds(verdict.retry_after)
        context.refuse(429, wait)
        left = verdict.remaining
        message = f"The query costs {cost}; the budget of {budget.limit} has {left} left: retry in {wait} s"
        return _refusal(message, ErrorCode.QUERY_BUDGET_EXCEEDED, cost)

    def get_results(self) -> dict[str, Any]:
        return {} if self.figures is None else {"cost": self.figures}


def cost_figures(verdict: Decision) -> dict[str, Any]:
    return {"remaining": verdict.remaining, "resetAt": _utc(int(time.time() + verdict.reset_after))}


@lru_cache(maxsize=256)
def _utc(epoch_seconds: int) -> str:
    """ISO 8601 in UTC to the second, as ``2026-12-07T22:15:03Z`` (made once per second: on every answer)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))

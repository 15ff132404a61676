"""What a client may read of an error: every error carries an `extensions.code`, and only ours are told.

An error is classified by where it happened, never by its message: the parser's (a syntax error), the
validator's, the request's before any field ran (its variables, its operation), or a field's. A field's error
is the client's only when it is a `ClientError` or lies in a value the client wrote (an argument); anything
else a field raised is a bug or a failure of ours, and is masked (`BroadsheetSchema.process_errors` logs it).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from graphql import GraphQLError, GraphQLSyntaxError, ValueNode
from strawberry.extensions import SchemaExtension

#: What a client reads instead of an error of ours.
UNEXPECTED_ERROR = "Unexpected error."


class ErrorCode(StrEnum):
    """The `extensions.code` of an error: Apollo Server's codes, the convention clients know."""

    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"  # not GraphQL (syntax), or longer than the token limit
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"  # against the schema, or past depth/alias limits
    BAD_USER_INPUT = "BAD_USER_INPUT"  # a variable or an argument refused
    OPERATION_RESOLUTION_FAILURE = "OPERATION_RESOLUTION_FAILURE"  # no operation of that name, or no name
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"  # a hash alone, of no document known: send it
    RATE_LIMITED = "RATE_LIMITED"  # over the key's (or address's) request rate: 429 with Retry-After
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"  # the document's static cost is over the maximum (or the budget)
    QUERY_BUDGET_EXCEEDED = "QUERY_BUDGET_EXCEEDED"  # the cost budget is spent for now: 429 with Retry-After
    TIMEOUT = "TIMEOUT"  # the database stopped the request's statement (statement timeout)
    FORBIDDEN = "FORBIDDEN"  # the request's key lacks the scope a field needs (graph/scopes.py)
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"  # ours: masked as "Unexpected error." and logged


_CODES = frozenset(code.value for code in ErrorCode)


class ClientError(Exception):
    """A request we refuse, with a message that says what was wrong and where (an argument name)."""

    def __init__(self, message: str, *, code: ErrorCode = ErrorCode.BAD_USER_INPUT) -> None:
        super().__init__(message)
        self.code = code


def _mark(error: GraphQLError, code: ErrorCode) -> None:
    # A new dict: a GraphQLError may share its extensions with the error it wraps.
    error.extensions = {**(error.extensions or {}), "code": code.value}


def given_code(error: GraphQLError) -> ErrorCode | None:
    """The code already on an error (set at validation, or by whoever raised it), if it is one of ours."""
    code = (error.extensions or {}).get("code")
    return ErrorCode(code) if code in _CODES else None


class ValidationErrorCodes(SchemaExtension):
    """Marks every error the validator reported: each is about the client's document.

    Only this hook knows an error came from validation: its errors may wrap an exception (a scalar refusing a
    literal) just as a failure of ours does."""

    def on_validate(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            if given_code(error) is None:
                _mark(error, ErrorCode.GRAPHQL_VALIDATION_FAILED)


def error_code(error: GraphQLError) -> ErrorCode:
    """The code of an error, by where it happened."""
    given = given_code(error)
    if given is not None:
        return given
    if isinstance(error, GraphQLSyntaxError):
        return ErrorCode.GRAPHQL_PARSE_FAILED
    original = error.original_error
    if isinstance(original, ClientError):
        return original.code
    if error.path is None:
        if original is None and not error.nodes:
            # graphql-core could not pick the operation (none of the name given, several and no name): the
            # one error before execution that points at nothing in the document.
            return ErrorCode.OPERATION_RESOLUTION_FAILURE
        # Before any field ran: graphql-core refusing the request (a variable's value) says so with a
        # GraphQLError of its own; any other exception escaped from our code outside the fields.
        ours = original is not None and not isinstance(original, GraphQLError)
    else:
        # In a field: the client's only if graphql-core refused a value written in the document (an argument
        # given null through a nullable variable); a resolver's exception or a value it returned is ours.
        ours = not (
            isinstance(original, GraphQLError)
            and original.nodes
            and all(isinstance(node, ValueNode) for node in original.nodes)
        )
    return ErrorCode.INTERNAL_SERVER_ERROR if ours else ErrorCode.BAD_USER_INPUT


def present(error: GraphQLError, code: ErrorCode) -> None:
    """Put its code on an error, and mask it in place if it is ours (log it first).

    In place, as Strawberry drops field suggestions from messages: `process_errors` sees every error of every
    path, among them exceptions escaping Strawberry's extensions, which its MaskErrors never sees."""
    if code is ErrorCode.INTERNAL_SERVER_ERROR:
        error.message = UNEXPECTED_ERROR
    _mark(error, code)

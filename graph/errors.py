"""Errors a client caused and may read. Everything else is masked before it leaves the server."""

from __future__ import annotations

from graphql import GraphQLError


class ClientError(Exception):
    """A request we refuse, with a message that says what was wrong and where (an argument name)."""


def is_internal(error: GraphQLError) -> bool:
    """Mask resolver failures that are not ClientErrors; syntax and validation errors stay readable."""
    original = error.original_error
    return original is not None and not isinstance(original, ClientError)

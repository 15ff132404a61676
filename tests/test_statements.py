"""Statements built once per shape: a shape in use stays built however many rare shapes pass through."""

from __future__ import annotations

from functools import partial

from resolvers import statements


def test_a_shape_in_use_stays_built_while_rare_ones_come_and_go() -> None:
    built: list[object] = []

    def build(key: object) -> object:
        built.append(key)
        return ("statement", key)

    hot = ("test", "front page")
    for number in range(statements.MAX_SHAPES * 2):
        assert statements.cached_statement(hot, lambda: build(hot)) == ("statement", hot)
        rare = ("test", "rare", number)
        statements.cached_statement(rare, partial(build, rare))
    assert built.count(hot) == 1
    first_rare = ("test", "rare", 0)
    statements.cached_statement(first_rare, lambda: build(first_rare))  # long evicted: built again
    assert built.count(first_rare) == 2

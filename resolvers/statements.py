"""Statements built once per shape of query, and kept while they are in use.

Building a page's or a search's statement with SQLAlchemy's expression language was a large share of a request
(docs/benchmarks.md); built once with its values as named bound parameters, it serves every query of the same
shape. SQLAlchemy's ``lambda_stmt`` caches by a lambda's code and closure, which statements assembled from a
varying number of filters do not fit, so the shapes are keyed here. Least recently used first out: the hot
shapes (the front page, an article's entity page) stay however many rare shapes pass through.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

T = TypeVar("T")

#: Shapes kept; a shape used less recently than this many others is built again when next needed.
MAX_SHAPES = 512

_built: OrderedDict[Hashable, Any] = OrderedDict()


def cached_statement(key: Hashable, build: Callable[[], T]) -> T:
    """The statement built for ``key`` (what it is for, and the shapes of its queries), built now if new."""
    statement = _built.get(key)
    if statement is None:
        statement = _built[key] = build()
        if len(_built) > MAX_SHAPES:
            _built.popitem(last=False)
    else:
        _built.move_to_end(key)
    return cast(T, statement)

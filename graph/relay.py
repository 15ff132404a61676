"""Relay protocol pieces: global ids, opaque keyset cursors, PageInfo and page-size checks."""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Collection
from datetime import datetime

import strawberry

from graph.errors import ClientError
from resolvers.keys import KEY_RANGE

MAX_PAGE_SIZE = 100


@strawberry.interface(description="An object with a globally unique id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="Globally unique, opaque id.")


@strawberry.type(description="Where a page of a connection stands, per the Relay cursor spec.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items come before this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item of this page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item; pass it as `after`.")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(value: str) -> str:
    padded = value + "=" * (-len(value) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii")).decode()


@functools.lru_cache(maxsize=65536)  # a front page alone names hundreds of entities, most of them again
def global_id(type_name: str, key: int) -> str:
    return _b64(f"{type_name}:{key}")


_DECIMAL = re.compile(r"-?[0-9]+")


def parse_global_id(value: str) -> tuple[str, int | None]:
    """(type name, database id) of a global id, the id None when no row can have it (outside ``KEY_RANGE``);
    a ClientError naming the argument when the value is not a global id at all."""
    refused = ClientError(f"id: {value!r} is not a Broadsheet id")
    try:
        type_name, _, key = _unb64(value).partition(":")
    except (ValueError, UnicodeError, binascii.Error):
        raise refused from None
    if not type_name or _DECIMAL.fullmatch(key) is None:  # int() would take " 7", "+7", "7_0" and "٧"
        raise refused
    try:
        number = int(key)
    except ValueError:  # more digits than Python converts (4,300): far past any key
        return type_name, None
    return type_name, number if number in KEY_RANGE else None


def page_size(first: int, *, argument: str = "first", maximum: int = MAX_PAGE_SIZE) -> int:
    if not 1 <= first <= maximum:
        raise ClientError(f"{argument}: must be between 1 and {maximum}, got {first}")
    return first


def page_info(cursors: list[str], *, has_next: bool, after: str | None) -> PageInfo:
    """PageInfo for a page whose edges carry ``cursors``, in order."""
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=after is not None,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


def _cursor(kind: str, *parts: object) -> str:
    return _b64("|".join([kind, *map(str, parts)]))


def _parse(kind: str, cursor: str, count: int) -> list[str]:
    """The ``count`` parts of a cursor made by ``_cursor(kind, ...)``; the last part may hold "|"."""
    found_kind, *parts = _unb64(cursor).split("|", count)
    if found_kind != kind or len(parts) != count:
        raise ValueError(found_kind)
    return parts


def _aware(moment: str) -> datetime:
    parsed = datetime.fromisoformat(moment)
    if parsed.tzinfo is None:
        raise ValueError(moment)
    return parsed


def _refused(cursor: str) -> ClientError:
    return ClientError(f"after: {cursor!r} is not a cursor from this list")


_BAD_CURSOR = (ValueError, UnicodeError, binascii.Error)


def time_cursor(kind: str, moment: datetime, key: int) -> str:
    """A cursor for lists by time: the sort key and the id, so pages never skip or repeat."""
    return _cursor(kind, moment.isoformat(), key)


def parse_time_cursor(kind: str, cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    try:
        moment, key = _parse(kind, cursor, 2)
        return _aware(moment), int(key)
    except _BAD_CURSOR:
        raise _refused(cursor) from None


def name_cursor(kind: str, name: str, key: int) -> str:
    """A cursor for lists in name order (the name last, as it may hold anything)."""
    return _cursor(kind, key, name)


def parse_name_cursor(kind: str, cursor: str | None) -> tuple[str, int] | None:
    if cursor is None:
        return None
    try:
        key, name = _parse(kind, cursor, 2)
        return name, int(key)
    except _BAD_CURSOR:
        raise _refused(cursor) from None


def prominence_cursor(kind: str, salience: float, moment: datetime, key: int) -> str:
    """A cursor for lists by prominence: salience, then newest first, then id."""
    return _cursor(kind, repr(salience), moment.isoformat(), key)


def parse_prominence_cursor(kind: str, cursor: str | None) -> tuple[float, datetime, int] | None:
    if cursor is None:
        return None
    try:
        salience, moment, key = _parse(kind, cursor, 3)
        return float(salience), _aware(moment), int(key)
    except _BAD_CURSOR:
        raise _refused(cursor) from None


def score_cursor(kind: str, score: float, key: int) -> str:
    """A cursor for lists by relevance: the score (repr round-trips exactly) and the id."""
    return _cursor(kind, repr(score), key)


def parse_score_cursor(kind: str, cursor: str | None, scores: Collection[float]) -> tuple[float, int] | None:
    """The (score, id) of a relevance cursor; a score that is none of ``scores`` is refused as forged."""
    if cursor is None:
        return None
    try:
        text, key = _parse(kind, cursor, 2)
        score = float(text)
        if score not in scores:
            raise ValueError(text)
        return score, int(key)
    except _BAD_CURSOR:
        raise _refused(cursor) from None

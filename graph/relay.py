"""Relay protocol pieces: global ids, opaque keyset cursors, PageInfo and page-size checks."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import strawberry

from graph.errors import ClientError

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


def global_id(type_name: str, key: int) -> str:
    return _b64(f"{type_name}:{key}")


def parse_global_id(value: str) -> tuple[str, int]:
    """(type name, database id) of a global id, or a ClientError naming the argument."""
    try:
        type_name, _, key = _unb64(value).partition(":")
        return type_name, int(key)
    except (ValueError, UnicodeError, binascii.Error):
        raise ClientError(f"id: {value!r} is not a Broadsheet id") from None


def page_size(first: int, *, argument: str = "first", maximum: int = MAX_PAGE_SIZE) -> int:
    if not 1 <= first <= maximum:
        raise ClientError(f"{argument}: must be between 1 and {maximum}, got {first}")
    return first


def time_cursor(kind: str, moment: datetime, key: int) -> str:
    """A cursor for newest-first lists: the sort key and the id, so pages never skip or repeat."""
    return _b64(f"{kind}|{moment.isoformat()}|{key}")


def parse_time_cursor(kind: str, cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    try:
        found_kind, moment, key = _unb64(cursor).split("|")
        if found_kind != kind:
            raise ValueError(found_kind)
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError(moment)
        return parsed, int(key)
    except (ValueError, UnicodeError, binascii.Error):
        raise ClientError(f"after: {cursor!r} is not a cursor from this list") from None


def name_cursor(kind: str, name: str, key: int) -> str:
    """A cursor for lists in name order."""
    return _b64(f"{kind}|{key}|{name}")


def parse_name_cursor(kind: str, cursor: str | None) -> tuple[str, int] | None:
    if cursor is None:
        return None
    try:
        found_kind, key, name = _unb64(cursor).split("|", 2)
        if found_kind != kind:
            raise ValueError(found_kind)
        return name, int(key)
    except (ValueError, UnicodeError, binascii.Error):
        raise ClientError(f"after: {cursor!r} is not a cursor from this list") from None


def prominence_cursor(kind: str, salience: float, moment: datetime, key: int) -> str:
    """A cursor for lists by prominence: salience, then newest first, then id."""
    return _b64(f"{kind}|{salience!r}|{moment.isoformat()}|{key}")


def parse_prominence_cursor(kind: str, cursor: str | None) -> tuple[float, datetime, int] | None:
    if cursor is None:
        return None
    try:
        found_kind, salience, moment, key = _unb64(cursor).split("|")
        if found_kind != kind:
            raise ValueError(found_kind)
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError(moment)
        return float(salience), parsed, int(key)
    except (ValueError, UnicodeError, binascii.Error):
        raise ClientError(f"after: {cursor!r} is not a cursor from this list") from None

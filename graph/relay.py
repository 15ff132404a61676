"""Relay protocol pieces: global ids, keyset cursors bound to their list, PageInfo and page-size checks.

A cursor is the urlsafe base64 (no padding) of its row's keyset values (time and id, name and id,
salience, time and id, or tier score and id, joined by "|") followed by a 12-byte MAC. The MAC's key is
made from the server's secret and the list's description: its kind, its filters and its order, in
canonical form (``CursorSecret.for_list``). So a cursor is accepted only by the list it came from, with
any spelling of the same arguments; one from another list, one edited, one made by hand or one that is
not base64 is refused with a ClientError naming ``after``. ``first`` is not bound: a client may change the
page size between pages.

The secret lives in the database (table ``cursor_secret``, one random row written by migration 0010) and
is read once per server process. Every process on every host behind a load balancer reads the same row,
cursors outlive restarts, and nothing needs configuring. A setting would have to be set identically on
every host, and its default, derived from something the server knows, would be derivable by anyone who
knows the same (a database URL, a host name), which would let them forge cursors.

The MAC is keyed BLAKE2s, a MAC by design (RFC 7693) that needs no HMAC construction and costs a cursor
less than ``hmac.digest`` with SHA-256 does (docs/benchmarks.md), and a page
makes up to 100. Each list's key is derived once per connection, so an edge costs one short keyed hash.
96 bits of tag leave a forger one chance in 2^96 a try.

Why not ``strawberry.relay``: its ``Node`` resolves ``id`` per object (``resolve_id``) into padded standard
base64, where ours are unpadded urlsafe base64 that clients already hold, read by the fast executor as a plain
attribute; its connections slice by offset (``arrayconnection:<n>`` cursors, no MAC) and add
``last``/``before`` arguments through a field extension, where ours are keyset pages with list-bound cursors
and ``first``/``after`` only; its ``PageInfo`` and ``Node`` carry its own descriptions. Using it would change
the SDL and every id and cursor clients hold, and put every id and connection on the executor's long road
(fields with extensions take it), to replace some 60 lines here (Node, PageInfo, global ids); for the signed
keyset cursors it has nothing.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import orjson
import strawberry

from graph.errors import ClientError
from resolvers.keys import KEY_RANGE

MAX_PAGE_SIZE = 100

#: Part of every list's description: changing the cursor format or a description bumps it, so that no
#: older cursor is misread.
CURSOR_FORMAT = 1
#: Bytes of MAC in a cursor.
TAG_BYTES = 12
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_Key = TypeVar("_Key")


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


class CursorSecret:
    """The server's secret (models/cursor_secret.py), from which each list's cursor key is made."""

    __slots__ = ("_key",)

    def __init__(self, secret: str) -> None:
        self._key = hashlib.blake2s(secret.encode()).digest()  # whatever text the row holds, as a 32-byte key

    def for_list(self, *description: object) -> ListCursors:
        """The cursors of the list that ``description`` names: its kind, then everything that decides its
        members and their order, in canonical form (equivalent arguments, equal descriptions). JSON values."""
        named = orjson.dumps([CURSOR_FORMAT, *description])
        return ListCursors(hashlib.blake2s(named, key=self._key).digest())


class ListCursors:
    """Makes and checks one list's cursors. Made once per connection, so each edge costs one short MAC."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _tag(self, payload: bytes) -> bytes:
        return hashlib.blake2s(payload, key=self._key, digest_size=TAG_BYTES).digest()

    def _seal(self, *parts: object) -> str:
        payload = "|".join(map(str, parts)).encode()
        return base64.urlsafe_b64encode(payload + self._tag(payload)).rstrip(b"=").decode()

    def _open(self, cursor: str, count: int) -> list[str]:
        """The ``count`` parts of a cursor this list made (the last may hold "|"); ValueError for others."""
        sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
        if not payload or not hmac.compare_digest(tag, self._tag(payload)):
            raise ValueError("not made for this list")
        parts = payload.decode().split("|", count - 1)
        if len(parts) != count:
            raise ValueError("not made for this list")
        return parts

    def _read(self, after: str | None, count: int, convert: Callable[[list[str]], _Key]) -> _Key | None:
        if after is None:
            return None
        try:
            return convert(self._open(after, count))
        except (ValueError, OverflowError):  # base64, UTF-8, a part that is no number or time, a bad MAC
            raise ClientError(f"after: {after!r} is not a cursor from this list") from None

    def time(self, moment: datetime, key: int) -> str:
        """For lists by time: the sort key and the id, so pages never skip or repeat."""
        return self._seal((moment - _EPOCH) // _MICROSECOND, key)

    def parse_time(self, after: str | None) -> tuple[datetime, int] | None:
        return self._read(after, 2, lambda parts: (_moment(parts[0]), int(parts[1])))

    def name(self, name: str, key: int) -> str:
        """For lists in name order (the name last, as it may hold anything)."""
        return self._seal(key, name)

    def parse_name(self, after: str | None) -> tuple[str, int] | None:
        return self._read(after, 2, lambda parts: (parts[1], int(parts[0])))

    def prominence(self, salience: float, moment: datetime, key: int) -> str:
        """For lists by prominence: salience (repr round-trips exactly), then newest first, then id."""
        return self._seal(repr(salience), (moment - _EPOCH) // _MICROSECOND, key)

    def parse_prominence(self, after: str | None) -> tuple[float, datetime, int] | None:
        return self._read(after, 3, lambda parts: (float(parts[0]), _moment(parts[1]), int(parts[2])))

    def score(self, score: float, key: int) -> str:
        """For lists by relevance: the score and the id."""
        return self._seal(repr(score), key)

    def parse_score(self, after: str | None, scores: Collection[float]) -> tuple[float, int] | None:
        """The (score, id) of a relevance cursor; a score that is none of ``scores`` is refused too (a
        cursor of a ranking since changed)."""

        def convert(parts: list[str]) -> tuple[float, int]:
            score = float(parts[0])
            if score not in scores:
                raise ValueError(parts[0])
            return score, int(parts[1])

        return self._read(after, 2, convert)


def _moment(micros: str) -> datetime:
    return _EPOCH + int(micros) * _MICROSECOND

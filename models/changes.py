"""Knowing, at once, that another connection changed the data: what lets a server keep things in memory
(the section tree, whole responses) without serving them stale, in every process on the database.

PostgreSQL: statement-level triggers on every content table (migration 0009) call ``pg_notify`` on
``CHANNEL`` with the table's name; PostgreSQL delivers it when the writing transaction commits, to every
session that listens, so each server process keeps one connection listening. SQLite: ``PRAGMA data_version``
changes whenever another connection (this process's or another's) has committed to the file since the last
time this connection asked; it reads the WAL index in shared memory, takes no lock and waits for none (a
few microseconds: docs/benchmarks.md), so it is asked on the event loop, on every check.

A *generation* is a number that changes whenever the data may have changed. What a process keeps is kept
with the generation it was read under (read before the data), and used only while the generation is the
same. ``None`` means "unknown": not started, or the PostgreSQL listener lost its connection and has not
listened again yet; then nothing may be served from memory.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from enum import StrEnum
from typing import Any

import asyncpg
from sqlalchemy.engine import URL

log = logging.getLogger("broadsheet.changes")

CHANNEL = "broadsheet_changes"
#: The listening session's name in ``pg_stat_activity``.
LISTENER_NAME = "broadsheet-changes"
#: Payloads of the notifications ``caught_up`` sends itself, which say nothing changed.
FENCE = "fence:"
#: Seconds between attempts to listen again after the listening connection was lost.
RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


class Scope(StrEnum):
    """What a cache depends on: the section tree only, or any content at all."""

    SECTIONS = "sections"
    CONTENT = "content"


class ChangeWatcher:
    """One per server process; ``start`` before serving, ``close`` at shutdown."""

    def __init__(self, url: URL) -> None:
        self._url = url
        self._counts = {scope: 0 for scope in Scope}
        self._sqlite: sqlite3.Connection | None = None
        self._sqlite_version: int | None = None
        self._listener: Any = None  # asyncpg.Connection
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False
        self._fences: dict[str, asyncio.Future[None]] = {}

    @property
    def is_sqlite(self) -> bool:
        return self._url.get_backend_name() == "sqlite"

    async def start(self) -> None:
        if self.is_sqlite:
            database = self._url.database or ""
            if database not in ("", ":memory:"):  # an in-memory database has no other connections
                self._sqlite = await asyncio.to_thread(sqlite3.connect, database, check_same_thread=False)
            return
        await self._listen()

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.close()

    def generation(self, scope: Scope) -> int | None:
        """The current generation of ``scope``, or None when changes cannot be seen right now."""
        if self._sqlite is not None:
            (version,) = self._sqlite.execute("PRAGMA data_version").fetchone()
            if version != self._sqlite_version:
                self._sqlite_version = version
                self._changed(Scope.SECTIONS)  # the pragma cannot tell which table changed
            return self._counts[scope]
        if self._listener is None or self._listener.is_closed():
            return None
        return self._counts[scope]

    async def caught_up(self) -> None:
        """Return once every change committed before the call has been heard. PostgreSQL delivers
        notifications in commit order, so one sent now arrives after theirs; SQLite's check is immediate."""
        listener = self._listener
        if listener is None:
            return
        token = f"{FENCE}{uuid.uuid4().hex}"  # every server hears it: unique across processes
        arrived = self._fences[token] = asyncio.get_running_loop().create_future()
        try:
            await listener.execute(f"SELECT pg_notify('{CHANNEL}', $1)", token)
            await arrived  # callers bound the wait (asyncio.timeout) as they see fit
        finally:
            self._fences.pop(token, None)

    def _changed(self, scope: Scope) -> None:
        self._counts[Scope.CONTENT] += 1
        if scope is Scope.SECTIONS:
            self._counts[Scope.SECTIONS] += 1

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith(FENCE):
            arrived = self._fences.get(payload)
            if arrived is not None and not arrived.done():
                arrived.set_result(None)
            return
        self._changed(Scope.SECTIONS if payload == "section" else Scope.CONTENT)

    def _lost(self, _connection: Any) -> None:
        self._listener = None
        self._changed(Scope.SECTIONS)  # whatever was kept may have changed meanwhile
        if not self._closed and self._reconnecting is None:
            log.warning("lost the connection listening for changes; serving without caches until it is back")
            self._reconnecting = asyncio.get_running_loop().create_task(self._listen_again())

    async def _listen(self) -> None:
        dsn = self._url.set(drivername="postgresql").render_as_string(hide_password=False)
        listener = await asyncpg.connect(dsn, server_settings={"application_name": LISTENER_NAME})
        await listener.add_listener(CHANNEL, self._notified)
        listener.add_termination_listener(self._lost)
        self._listener = listener
        self._changed(Scope.SECTIONS)  # changes made before listening are unknown

    async def _listen_again(self) -> None:
        attempt = 0
        try:
            while not self._closed:
                await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
                try:
                    await self._listen()
                    log.warning("listening for changes again")
                    return
                except (OSError, asyncpg.PostgresError) as error:
                    attempt += 1
                    if attempt == 1 or attempt % 60 == 0:
                        log.warning("cannot listen for changes yet: %s", error)
        finally:
            self._reconnecting = None

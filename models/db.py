"""The async engine, and the one place that knows how to open connections and apply migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import ColumnElement, Connection, Table, any_, bindparam, event, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    pool_overflow: int = 10,
    echo: bool = False,
    statement_timeout: float | None = None,
    lookups: bool = False,
) -> AsyncEngine:
    """An engine tuned for each backend.

    SQLite: foreign keys on, WAL so readers never wait for the ingest writer, and a busy timeout instead of
    "database is locked" errors. PostgreSQL: a pool sized for the load, so bursts do not open new sessions,
    and every statement planned for its own values (``plan_cache_mode``): asyncpg prepares statements, and
    after five runs PostgreSQL may switch one to a generic plan made for no value in particular. One search
    statement serves a word in 20 articles and a word in 20,000; with a generic plan chosen after the
    common word, the rare word's search took much longer. Planning costs a fraction of a millisecond,
    which matters only where the statement costs less: ``lookups`` is an engine for reads by unique key,
    whose plan is the same for every value, left to PostgreSQL's default (a statement's plan kept after a
    few runs): planning an article page's statement took longer than running it (docs/benchmarks.md).
    ``statement_timeout`` (seconds, PostgreSQL) stops any statement that runs longer (``STATEMENT_TIMED_OUT``
    is its SQLSTATE); the server's engines set it, ingest and migrations do not.
    """
    json = {"json_serializer": _json_text, "json_deserializer": orjson.loads}  # bodies are the big JSON
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, **json)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_overflow,
        pool_recycle=3600,
        connect_args={"server_settings": _server_settings(statement_timeout, lookups)},
        **json,
    )


#: PostgreSQL's SQLSTATE for a statement cancelled by ``statement_timeout`` (query_canceled).
STATEMENT_TIMED_OUT = "57014"


class StatementTimeout(Exception):
    """PostgreSQL stopped a statement for running past ``statement_timeout``."""


class DatabaseUnavailable(Exception):
    """No connection to the database could be made (refused, or timed out)."""


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for reads, each statement in its own transaction (autocommit: no BEGIN and
    COMMIT around a request's few reads). A statement stopped at the time limit raises ``StatementTimeout``,
    a server that cannot be reached ``DatabaseUnavailable``, so callers above need not know the drivers'
    errors."""
    try:
        async with engine.connect() as connection:
            # SQLite's driver begins no transaction for reads anyway; switching its mode is a call into its
            # thread on every checkout and checkin, and a pooled connection was once seen left in autocommit
            # after the property test (cause not pinned down): not worth it there.
            if connection.dialect.name != "sqlite":
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) == STATEMENT_TIMED_OUT:
            raise StatementTimeout from error
        raise
    except OSError as error:  # the driver could not reach the server (asyncpg raises these as they are)
        raise DatabaseUnavailable(str(error)) from error


def _server_settings(statement_timeout: float | None, lookups: bool) -> dict[str, str]:
    if lookups:  # named apart, so that pg_stat_activity tells the two pools' sessions apart
        settings = {"application_name": "broadsheet-lookups", "plan_cache_mode": "auto"}
    else:
        settings = {"application_name": "broadsheet", "plan_cache_mode": "force_custom_plan"}
    if statement_timeout is not None:
        settings["statement_timeout"] = f"{max(1, round(statement_timeout * 1000))}ms"
    return settings


def one_of(dialect: str, column: ColumnElement[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN values``, on PostgreSQL as ``column = ANY(array)``: one parameter however many values,
    so neither SQLAlchemy nor PostgreSQL handles a placeholder per value. Bulk ingest looks up 500
    articles' keys three times a batch, and its main process spends less CPU with arrays than with IN lists
    (docs/benchmarks.md)."""
    if dialect != "postgresql":
        return column.in_(list(values))
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type, dimensions=1)))


async def insert_rows(connection: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows (mappings with the same columns) in one statement.

    PostgreSQL: ``INSERT ... SELECT FROM unnest(...)``, one array per column, planned once for any number of
    rows. asyncpg runs an ``executemany`` as one execution per row, which cost PostgreSQL and this process
    more CPU than arrays (docs/benchmarks.md). SQLite's ``executemany`` is already a loop in C over one
    prepared statement.
    """
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        await connection.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    arrays = [
        bindparam(
            f"{name}_values", [row[name] for row in rows], type_=ARRAY(table.c[name].type, dimensions=1)
        )
        for name in names
    ]
    new_rows = func.unnest(*arrays).table_valued(*names).render_derived(name="new_rows")
    columns = [table.c[name] for name in names]
    await connection.execute(insert(table).from_select(columns, select(*new_rows.c)))


async def copy_rows(connection: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write rows (mappings with the same columns) with PostgreSQL's ``COPY``, in the connection's
    transaction: nothing to parse or plan, however many rows. Values go through the columns' types as
    they would in an INSERT (JSON serialised, say); triggers fire as for an INSERT. A refusal (a unique
    value taken) is raised as SQLAlchemy raises a failed statement's, so callers handle both alike."""
    if not rows:
        return
    names = list(rows[0])
    dialect = connection.dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    records = [
        [value if process is None else process(value)
         for value, process in zip(row.values(), processors, strict=True)]
        for row in rows
    ]  # fmt: skip
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None, "an open connection"
    try:
        await driver.copy_records_to_table(table.name, records=records, columns=names)
    except asyncpg.IntegrityConstraintViolationError as error:
        raise IntegrityError(f"COPY {table.name}", None, error) from error
    except asyncpg.PostgresError as error:
        raise DBAPIError.instance(f"COPY {table.name}", None, error, asyncpg.PostgresError) from error


@dataclass(frozen=True, slots=True)
class ServerEngines:
    """What a server process reads with: ``lookups`` for reads by unique key (PostgreSQL may keep their
    plans; see ``create_engine``), ``engine`` for the rest. On SQLite they are one engine."""

    engine: AsyncEngine
    lookups: AsyncEngine

    async def dispose(self) -> None:
        for opened in {self.engine, self.lookups}:
            await opened.dispose()


def create_server_engines(
    url: str, *, pool_size: int, pool_overflow: int, echo: bool, statement_timeout: float
) -> ServerEngines:
    """A server's engines, sharing the configured pool: on PostgreSQL two pools of half as many connections
    each (rounded up), so the two hold what one did."""

    def half(count: int) -> int:
        return -(-count // 2)

    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, echo=echo, statement_timeout=statement_timeout)
        return ServerEngines(engine=engine, lookups=engine)
    engines = [
        create_engine(
            url,
            pool_size=max(1, half(pool_size)),
            pool_overflow=half(pool_overflow),
            echo=echo,
            statement_timeout=statement_timeout,
            lookups=lookups,
        )
        for lookups in (False, True)
    ]
    return ServerEngines(engine=engines[0], lookups=engines[1])


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> list[str]:
    """Apply migrations up to ``revision`` in one transaction, as production does; what was applied, in
    order, as "revision (its message)" (nothing when the schema was there already)."""

    def run(sync: Connection) -> list[str]:
        before = MigrationContext.configure(sync).get_current_revision()
        config = alembic_config(sync)
        command.upgrade(config, revision)
        after = MigrationContext.configure(sync).get_current_revision()
        if after == before or after is None:
            return []
        steps = ScriptDirectory.from_config(config).iterate_revisions(after, before)
        return [f"{step.revision} ({step.doc})" for step in reversed(list(steps))]

    async with engine.begin() as connection:
        return await connection.run_sync(run)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` when it does not exist yet; whether it did not. SQLite creates
    its file itself when first connected: this only says whether the file was missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        name = parsed.database or ""
        return name in ("", ":memory:") or not await asyncio.to_thread(Path(name).exists)
    if not parsed.database:
        return False
    server = create_async_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    try:
        async with server.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if not exists:
                quoted = connection.dialect.identifier_preparer.quote(parsed.database)
                await connection.execute(text(f"CREATE DATABASE {quoted}"))
            return not exists
    finally:
        await server.dispose()

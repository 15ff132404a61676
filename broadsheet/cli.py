"""The `broadsheet` command: migrate, ingest, serve, export the schema, API keys, trusted documents.

Each command imports the layers it uses inside itself, so that `broadsheet --help` or a mistyped setting
answers at once rather than after loading the server, the database drivers and the extractor (a second).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from broadsheet.settings import Settings, SettingsError, get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from broadsheet.quota import Limit
    from models.api_keys import KeyScope
    from resolvers.api_keys import ApiKeyRow

T = TypeVar("T")

app = typer.Typer(help="Broadsheet: a GraphQL news backend.", no_args_is_help=True, add_completion=False)
out = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        settings = get_settings()
    except SettingsError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step is noise here
    return settings


async def _migrate(settings: Settings) -> tuple[bool, list[str]]:
    from models.db import create_engine, ensure_database, upgrade

    created = await ensure_database(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        return created, await upgrade(engine)
    finally:
        await engine.dispose()


def _run_migrations(settings: Settings) -> tuple[bool, list[str]]:
    """Whether the database was created, and the migrations applied."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return asyncio.run(_migrate(settings))
    except (SQLAlchemyError, OSError) as error:
        err.print(f"[red]database {_safe_url(settings)}: cannot migrate: {_first_line(error)}[/red]")
        raise typer.Exit(1) from None


@app.command()
def migrate() -> None:
    """Create the database if needed and bring its schema to the latest migration."""
    settings = _settings()
    created, applied = _run_migrations(settings)
    database = _safe_url(settings)
    if created:
        out.print(f"created database {database}", soft_wrap=True)
    if applied:
        out.print(f"applied {len(applied)} migration(s) to {database}:", soft_wrap=True)
        for step in applied:
            out.print(f"  {step}", soft_wrap=True, highlight=False)
    else:
        out.print(
            f"database {database} is up to date (at {_current_head()}): nothing to apply", soft_wrap=True
        )


def _current_head() -> str:
    from alembic.script import ScriptDirectory

    from models.db import alembic_config

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Captured pages (.txt), JSON(L) files, or folders.")],
    batch_size: Annotated[
        int, typer.Option(min=1, max=5_000, help="Articles written per transaction.")
    ] = 500,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes that parse records and find entities (default: one per CPU)."),
    ] = None,
    extract: Annotated[
        bool,
        typer.Option(
            "--extract/--no-extract",
            help="Find and link entities. --no-extract stores articles only (new ones without mentions, "
            "changed ones keeping theirs): run `broadsheet reextract` afterwards.",
        ),
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Ingest articles in batches, one transaction each; articles stored unchanged are skipped, and a bad
    record is reported and skipped."""
    from concurrent.futures.process import BrokenProcessPool

    from rich.markup import escape
    from sqlalchemy.exc import SQLAlchemyError

    from ingest.pipeline import ingest_paths

    settings = _settings()
    _run_migrations(settings)
    try:
        with _progress("ingesting", TextColumn("{task.completed} articles"), quiet=quiet) as progress:
            task = progress.add_task("ingest", total=None)
            summary = asyncio.run(
                ingest_paths(
                    settings,
                    paths,
                    batch_size=batch_size,
                    workers=workers,
                    extract=extract,
                    on_progress=lambda count: progress.advance(task, count),
                    on_error=lambda message: err.print(
                        f"[red]error[/red] {escape(message)}", highlight=False
                    ),
                )
            )
    except (BrokenProcessPool, SQLAlchemyError, OSError) as error:
        stopped = escape(_first_line(error))
        err.print(
            f"[red]ingest stopped: {stopped}[/red]\n"
            "Every batch written so far is kept; run the same command again to finish.",
            highlight=False,
        )
        raise typer.Exit(1) from None
    table = Table(title="ingest summary", show_header=False)
    table.add_row("articles new", str(summary.created))
    table.add_row("articles updated", str(summary.updated))
    table.add_row("articles unchanged", str(summary.unchanged))
    table.add_row("articles failed", str(summary.failed))
    table.add_row("entities new", str(summary.entities_created))
    out.print(table)
    if summary.failed:
        raise typer.Exit(1)


@app.command()
def reextract(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Articles read per batch.")] = 200,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run the current entity extractor over every stored article again; entity ids stay stable."""
    from ingest.reextract import ReextractSummary
    from ingest.reextract import reextract as run
    from models.db import create_engine
    from models.response_cache import Purger

    settings = _settings()
    _run_migrations(settings)

    async def main() -> ReextractSummary:
        engine = create_engine(settings.database_url, pool_size=1, pool_overflow=0)
        purge = Purger(settings.redis_url, settings.redis_prefix)
        try:
            return await run(
                engine,
                batch_size=batch_size,
                on_total=lambda total: progress.update(task, total=total),
                on_progress=lambda done: progress.advance(task, done),
                purge=purge,
            )
        finally:
            await engine.dispose()
            await purge.close()

    with _progress("re-extracting", MofNCompleteColumn(), quiet=quiet) as progress:
        task = progress.add_task("reextract", total=None)
        summary = asyncio.run(main())
    out.print(f"re-extracted {summary.articles} articles; {summary.entities_created} new entities")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Serve GraphQL at /graphql (GraphiQL in a browser) and a health check at /healthz."""
    import uvicorn

    settings = _settings()
    _run_migrations(settings)
    where = f"http://{host}:{port}/graphql"
    out.print(f"Broadsheet on {where} ({'GraphiQL on' if settings.graphiql else 'GraphiQL off'})")
    uvicorn.run(
        "graph.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


@app.command("export-schema")
def export_schema(
    path: Annotated[Path, typer.Argument(help="Where to write the SDL.")] = Path("schema.graphql"),
) -> None:
    """Write the GraphQL schema (SDL) to a file; schema.graphql in the repository is kept this way."""
    from graph.schema import sdl

    path.write_text(sdl(), encoding="utf-8")
    out.print(f"wrote {path}")


keys_app = typer.Typer(
    help="Partner API keys: create, list, rotate, revoke. Only a hash of each key is stored.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

#: `keys rotate`'s default: a day for a partner to deploy the new key everywhere, and a leaked old key is
#: dead by tomorrow.
DEFAULT_GRACE = "24h"
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="A name for the partner or app: letters, digits, . _ -")],
    scope: Annotated[
        list[str] | None,
        typer.Option(help="read (published content), drafts (unpublished articles), write; repeat for more."),
    ] = None,
    rate: Annotated[str | None, typer.Option(help="Requests allowed, e.g. 600/minute.")] = None,
    cost: Annotated[str | None, typer.Option(help="Query cost allowed, e.g. 50000/minute.")] = None,
    persisted_only: Annotated[
        bool, typer.Option("--persisted-only", help="Allow only the trusted documents (persisted queries).")
    ] = False,
) -> None:
    """Create a key and print it, once, alone on the last line: only its hash is kept. Without --scope the
    key reads published content; without --rate or --cost it gets the server's limits for keys."""
    from resolvers.api_keys import NAME_SHAPE, create_key

    if not NAME_SHAPE.fullmatch(name):
        raise typer.BadParameter(
            "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", param_hint="NAME"
        )
    scopes = _scopes(scope or ["read"])
    limits = _limit(rate, "--rate"), _limit(cost, "--cost")
    created, key = _keys_run(
        lambda connection, now: create_key(
            connection, name, scopes, rate=limits[0], cost=limits[1], persisted_only=persisted_only, now=now
        )
    )
    out.print(f"created key {created.name} ({_describe(created)}); store it now, it is not shown again:")
    typer.echo(key)


@keys_app.command("list")
def keys_list() -> None:
    """Every key (never the keys themselves, nor their hashes). Requests and cost used today (UTC) are the
    servers' counts in Redis ("-" without BROADSHEET_REDIS_URL, or while it is unreachable); last use is
    recorded to within a minute."""
    from resolvers.api_keys import list_keys

    table = Table(title="API keys")
    for column in (
        "name",
        "scopes",
        "rate",
        "cost",
        "queries",
        "created (UTC)",
        "last used (UTC)",
        "status",
        "requests today",
        "cost today",
    ):
        table.add_column(column)
    keys = _keys_run(lambda connection, _now: list_keys(connection))
    usage = _usage_today([key.id for key in keys])
    for key in keys:
        requests, cost = (str(figure) for figure in usage[key.id]) if key.id in usage else ("-", "-")
        table.add_row(
            key.name,
            ", ".join(key.scopes) or "-",
            str(key.rate) if key.rate else "default",
            str(key.cost) if key.cost else "default",
            "persisted only" if key.persisted_only else "any",
            _when(key.created_at, zone=False),
            _when(key.last_used_at, zone=False) if key.last_used_at else "never",
            _status(key),
            requests,
            cost,
        )
    out.print(table)


def _usage_today(key_ids: list[int]) -> dict[int, tuple[int, int]]:
    """What the servers counted for each key today, from Redis; nothing without it or while it is away."""
    from redis.exceptions import RedisError

    from models.rate_limits import key_usage_today
    from models.shared_state import create_redis

    settings = _settings()
    if settings.redis_url is None:
        return {}
    redis_url, prefix = settings.redis_url, settings.redis_prefix

    async def main() -> dict[int, tuple[int, int]]:
        redis = create_redis(redis_url)
        try:
            return await key_usage_today(redis, prefix, key_ids)
        finally:
            await redis.aclose()

    try:
        return asyncio.run(main())
    except (RedisError, OSError) as error:
        err.print(f"[yellow]Redis is unreachable ({error}): usage today not shown[/yellow]", highlight=False)
        return {}


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Refuse the key from now on (and the key before it, if it is being rotated); the name stays taken."""
    from resolvers.api_keys import revoke_key

    key, revoked = _keys_run(lambda connection, now: revoke_key(connection, name, now=now))
    out.print(f"revoked key {key.name}" if revoked else f"key {key.name} was revoked already")


@keys_app.command("rotate")
def keys_rotate(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    grace: Annotated[
        str,
        typer.Option(help="How long the current key keeps working, e.g. 24h, 30m, 7d; 0 ends it now."),
    ] = DEFAULT_GRACE,
) -> None:
    """Give the key a new value, printed once on the last line; the old one works for the grace period."""
    from resolvers.api_keys import rotate_key

    period = _duration(grace)
    key, fresh = _keys_run(lambda connection, now: rotate_key(connection, name, grace=period, now=now))
    until = f"until {_when(key.previous_until)}" if key.previous_until else "no longer"
    out.print(f"rotated key {key.name}: the old key works {until}; store the new one, it is not shown again:")
    typer.echo(fresh)


documents_app = typer.Typer(
    help="Trusted documents (persisted queries): the only ones keys made with --persisted-only may run.",
    no_args_is_help=True,
)
app.add_typer(documents_app, name="documents")


@documents_app.command("add")
def documents_add(
    manifest: Annotated[
        Path,
        typer.Argument(
            help='A JSON manifest {"<sha256>": "<document>"}, as relay-compiler and GraphQL Code Generator '
            "write them; keys plain hex or sha256:-prefixed.",
            exists=True,
            dir_okay=False,
        ),
    ],
) -> None:
    """Trust every document of a manifest, each hash checked against its document first: one wrong, and
    nothing is added."""
    import orjson

    from resolvers.persisted_documents import ManifestRefused, add_trusted, manifest_documents

    try:
        documents = manifest_documents(orjson.loads(manifest.read_bytes()))
    except orjson.JSONDecodeError as error:
        err.print(f"[red]{manifest} is not JSON: {error}[/red]", highlight=False)
        raise typer.Exit(2) from None
    except ManifestRefused as refused:
        err.print(f"[red]{manifest}: {refused}; nothing was added[/red]", highlight=False)
        raise typer.Exit(2) from None
    added = _keys_run(lambda connection, now: add_trusted(connection, documents, now=now))
    already = len(documents) - added
    out.print(f"{len(documents)} documents in {manifest}: {added} newly trusted, {already} trusted already")


@documents_app.command("list")
def documents_list() -> None:
    """Every trusted document: its hash, its operations, when it was added."""
    from resolvers.persisted_documents import list_trusted

    table = Table(title="Trusted documents")
    for column in ("sha256", "operations", "added (UTC)"):
        table.add_column(column, overflow="fold")
    for document in _keys_run(lambda connection, _now: list_trusted(connection)):
        operations = ", ".join(_OPERATION.findall(document.document)) or "(anonymous)"
        table.add_row(document.sha256, operations, _when(document.created_at, zone=False))
    out.print(table)


#: An operation's name, as `documents list` shows it.
_OPERATION = re.compile(r"\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


def _keys_run(operation: Callable[[AsyncConnection, datetime], Awaitable[T]]) -> T:
    """Run one key or document operation in a transaction of its own, on a migrated database; a refusal (an
    unknown or taken name) is a usage error: its message and exit code 2."""
    from models.db import create_engine
    from models.types import utcnow
    from resolvers.api_keys import KeyRefused

    settings = _settings()
    _run_migrations(settings)

    async def main() -> T:
        engine = create_engine(settings.database_url, pool_size=1, pool_overflow=0)
        try:
            async with engine.begin() as connection:
                return await operation(connection, utcnow())
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except KeyRefused as refused:
        err.print(f"[red]{refused}[/red]", highlight=False)
        raise typer.Exit(2) from None


def _scopes(given: list[str]) -> set[KeyScope]:
    from models.api_keys import KeyScope

    known = [scope.value for scope in KeyScope]
    unknown = [scope for scope in given if scope not in known]
    if unknown:
        raise typer.BadParameter(f"{unknown[0]!r} is not one of {', '.join(known)}", param_hint="--scope")
    return {KeyScope(scope) for scope in given}


def _limit(text: str | None, option: str) -> Limit | None:
    from broadsheet.quota import Limit

    if text is None:
        return None
    try:
        return Limit.parse(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=option) from None


def _duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``7d``, or ``0``."""
    text = text.strip()
    if text == "0":
        return timedelta(0)
    value, unit = text[:-1], text[-1:].lower()
    if not value.isdigit() or unit not in _DURATION_UNITS:
        raise typer.BadParameter(f"{text!r} is not a duration like 24h, 30m, 90s or 7d", param_hint="--grace")
    return timedelta(seconds=int(value) * _DURATION_UNITS[unit])


def _describe(key: ApiKeyRow) -> str:
    scopes = ", ".join(key.scopes) or "no scopes"
    rate = f"{key.rate} requests" if key.rate else "default rate"
    cost = f"{key.cost} cost" if key.cost else "default cost"
    only = "; persisted queries only" if key.persisted_only else ""
    return f"{scopes}; {rate}, {cost}{only}"


def _status(key: ApiKeyRow) -> str:
    if key.revoked_at is not None:
        return f"revoked {_when(key.revoked_at)}"
    if key.previous_until is not None and key.previous_until > datetime.now(UTC):
        return f"old key works until {_when(key.previous_until)}"
    return "active"


def _when(moment: datetime | None, *, zone: bool = True) -> str:
    """To the minute, in UTC; ``zone`` False where the column's heading says so."""
    return moment.strftime("%Y-%m-%d %H:%M" + (" UTC" if zone else "")) if moment else "-"


def _progress(label: str, count: ProgressColumn, *, quiet: bool) -> Progress:
    """A progress bar on stderr that goes away when done, leaving the summary."""
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        count,
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
        transient=True,
    )


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else error.__class__.__name__

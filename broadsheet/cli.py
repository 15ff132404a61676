"""The `broadsheet` command: migrate, ingest, serve, export the schema.

Each command imports the layers it uses inside itself, so that `broadsheet --help` or a mistyped setting
answers at once rather than after loading the server, the database drivers and the extractor (a second).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

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

    settings = _settings()
    _run_migrations(settings)

    async def main() -> ReextractSummary:
        engine = create_engine(settings.database_url, pool_size=1, pool_overflow=0)
        try:
            return await run(
                engine,
                batch_size=batch_size,
                on_total=lambda total: progress.update(task, total=total),
                on_progress=lambda done: progress.advance(task, done),
            )
        finally:
            await engine.dispose()

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

"""The committed SDL matches the code, and the migrations match the models on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

import models
from graph.schema import sdl
from models.db import downgrade, upgrade
from models.search import is_search_table
from tests.conftest import ROOT


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == sdl(), "schema.graphql is stale: run `broadsheet export-schema`"


def test_every_type_and_field_is_described() -> None:
    from broadsheet.settings import Settings
    from graph.schema import build_schema

    schema = build_schema(Settings())._schema
    missing = []
    for name, graphql_type in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID", "DateTime"}:
            continue
        if not graphql_type.description:
            missing.append(name)
        for field_name, field in getattr(graphql_type, "fields", {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
            for argument_name, argument in getattr(field, "args", {}).items():
                if not argument.description:
                    missing.append(f"{name}.{field_name}({argument_name})")
    assert missing == []


async def test_migrations_match_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(
                    sync,
                    opts={
                        "include_name": lambda name, type_, _parents: (
                            type_ != "table" or not is_search_table(name)
                        )
                    },
                ),
                models.metadata,
            )
        )
    assert differences == []


async def test_migrations_go_down_and_up_again(engine: AsyncEngine) -> None:
    await downgrade(engine, "base")
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert tables <= {"alembic_version"}
    await upgrade(engine)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert set(models.metadata.tables) <= tables


async def test_bodies_and_search_documents_are_compressed_with_lz4_and_back(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("column compression is PostgreSQL's; SQLite stores text as given")
    compression = text(
        "SELECT attrelid::regclass::text || '.' || attname, attcompression::text FROM pg_attribute WHERE"
        " (attrelid, attname) IN (('article'::regclass, 'body'), ('article_search'::regclass, 'document'))"
    )

    async def methods() -> dict[str, str]:
        async with engine.connect() as connection:
            return {column: method for column, method in await connection.execute(compression)}

    assert await methods() == {"article.body": "l", "article_search.document": "l"}
    await downgrade(engine, "9d4e2b7c1f38")
    assert await methods() == {"article.body": "", "article_search.document": ""}  # the server's default
    await upgrade(engine)
    assert await methods() == {"article.body": "l", "article_search.document": "l"}


async def test_a_server_shares_its_configured_pool_between_its_two_engines() -> None:
    """PostgreSQL: two pools of half the connections each, rounded up; SQLite: one engine for both."""
    from models.db import create_server_engines

    engines = create_server_engines(
        "postgresql+asyncpg://nobody@127.0.0.1:1/none",
        pool_size=5,
        pool_overflow=3,
        echo=False,
        statement_timeout=2,
    )
    try:
        assert engines.engine is not engines.lookups
        for engine in (engines.engine, engines.lookups):
            assert (engine.pool.size(), engine.pool._max_overflow) == (3, 2)  # type: ignore[attr-defined]
    finally:
        await engines.dispose()
    sqlite = create_server_engines(
        "sqlite+aiosqlite://", pool_size=5, pool_overflow=3, echo=False, statement_timeout=2
    )
    assert sqlite.engine is sqlite.lookups
    await sqlite.dispose()

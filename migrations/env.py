"""Alembic environment. ``broadsheet migrate`` hands in a connection; plain ``alembic`` builds one."""

import asyncio

from alembic import context
from sqlalchemy import Connection

import models
from broadsheet.settings import get_settings
from models.db import create_engine
from models.search import is_search_table

target_metadata = models.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        include_name=lambda name, type_, _parents: type_ != "table" or not is_search_table(name),
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    engine = create_engine(get_settings().database_url)
    async with engine.begin() as connection:
        await connection.run_sync(run_with)
    await engine.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    run_with(given)
else:
    asyncio.run(run_from_settings())

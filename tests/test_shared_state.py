"""Redis, when set: the app talks to it with the configured prefix; without it there is no client."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from broadsheet.settings import Settings
from graph.app import create_app


async def test_the_app_talks_to_the_configured_redis(
    engine: AsyncEngine, database_url: str, redis_settings: dict[str, Any]
) -> None:
    app = create_app(Settings(database_url=database_url, **redis_settings), engine=engine)
    async with app.router.lifespan_context(app):
        redis = app.state.redis
        key = f"{redis_settings['redis_prefix']}probe"
        await redis.set(key, b"1")
        assert await redis.get(key) == b"1"


async def test_without_redis_there_is_no_client(engine: AsyncEngine, database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, redis_url=None), engine=engine)
    async with app.router.lifespan_context(app):
        assert app.state.redis is None

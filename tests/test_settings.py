"""Settings: read from BROADSHEET_* variables, validated at start, with clear messages."""

from __future__ import annotations

import pytest

from broadsheet.settings import Settings, SettingsError, get_settings


def test_defaults_are_sqlite_with_graphiql(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BROADSHEET_DATABASE_URL", "BROADSHEET_GRAPHIQL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite+aiosqlite:///broadsheet.db" and settings.is_sqlite
    assert settings.graphiql is True


def test_plain_urls_get_async_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADSHEET_DATABASE_URL", "postgresql://postgres@127.0.0.1/news")
    assert Settings().database_url == "postgresql+asyncpg://postgres@127.0.0.1/news"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BROADSHEET_DATABASE_URL", "mysql://root@localhost/news", "BROADSHEET_DATABASE_URL"),
        ("BROADSHEET_DATABASE_URL", "not a url", "BROADSHEET_DATABASE_URL"),
        ("BROADSHEET_POOL_SIZE", "0", "BROADSHEET_POOL_SIZE"),
        ("BROADSHEET_GRAPHIQL", "perhaps", "BROADSHEET_GRAPHIQL"),
        ("BROADSHEET_STATEMENT_TIMEOUT_SECONDS", "0", "BROADSHEET_STATEMENT_TIMEOUT_SECONDS"),
        ("BROADSHEET_LOG_LEVEL", "LOUD", "BROADSHEET_LOG_LEVEL"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match=message):
            get_settings()
    finally:
        get_settings.cache_clear()

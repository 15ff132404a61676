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


def test_http_limits_and_cors_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BROADSHEET_MAX_BODY_BYTES", "BROADSHEET_CORS_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.max_body_bytes == 1_048_576 and settings.cors_origins == ()


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("", ()),
        ("*", ("*",)),
        (
            " https://App.Example.com , http://localhost:3000,",
            ("https://app.example.com", "http://localhost:3000"),
        ),
        ("http://[::1]:8080", ("http://[::1]:8080",)),
    ],
)
def test_cors_origins_are_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch, value: str, origins: tuple[str, ...]
) -> None:
    """As browsers send them in Origin (lower case), blanks and a trailing comma ignored."""
    monkeypatch.setenv("BROADSHEET_CORS_ORIGINS", value)
    assert Settings().cors_origins == origins


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
        ("BROADSHEET_REDIS_URL", "127.0.0.1:6379", "BROADSHEET_REDIS_URL: .*redis://host:6379/0"),
        ("BROADSHEET_REDIS_PREFIX", "", "BROADSHEET_REDIS_PREFIX"),
        ("BROADSHEET_MAX_BODY_BYTES", "1023", "BROADSHEET_MAX_BODY_BYTES: .*greater than or equal to 1024"),
        ("BROADSHEET_MAX_BODY_BYTES", "104857601", "BROADSHEET_MAX_BODY_BYTES: .*less than or equal"),
        ("BROADSHEET_MAX_BODY_BYTES", "1MB", "BROADSHEET_MAX_BODY_BYTES"),
        (
            "BROADSHEET_CORS_ORIGINS",
            "*,https://app.example.com",
            "BROADSHEET_CORS_ORIGINS: .*combined",
        ),
        ("BROADSHEET_CORS_ORIGINS", "https://app.example.com/", "BROADSHEET_CORS_ORIGINS: .*no path"),
        ("BROADSHEET_CORS_ORIGINS", "https://app.example.com/graphql", "BROADSHEET_CORS_ORIGINS: .*no path"),
        ("BROADSHEET_CORS_ORIGINS", "app.example.com", "BROADSHEET_CORS_ORIGINS: .*'app.example.com' is not"),
        ("BROADSHEET_CORS_ORIGINS", "https://app.example.com:99999", "BROADSHEET_CORS_ORIGINS"),
        ("BROADSHEET_CORS_ORIGINS", "https://user@app.example.com", "BROADSHEET_CORS_ORIGINS"),
        ("BROADSHEET_CORS_ORIGINS", "https://app example.com", "BROADSHEET_CORS_ORIGINS"),
        ("BROADSHEET_CORS_ORIGINS", "null", "BROADSHEET_CORS_ORIGINS: .*'null' is not"),
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


def test_redis_is_optional_and_its_url_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROADSHEET_REDIS_URL", raising=False)
    assert Settings().redis_url is None and Settings().redis_prefix == "broadsheet:"
    monkeypatch.setenv("BROADSHEET_REDIS_URL", "redis://127.0.0.1:6379/2")
    assert Settings().redis_url == "redis://127.0.0.1:6379/2"

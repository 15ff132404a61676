"""One typed settings object, read from ``BROADSHEET_*`` environment variables and validated at start."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from broadsheet.quota import Limit

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
# What browsers put in an Origin header: a DNS name (IDNs in punycode), an IPv4 or a bracketed IPv6 address.
_HOST = re.compile(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]")


class Settings(BaseSettings):
    """Everything an operator may set. Each field is ``BROADSHEET_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="BROADSHEET_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite+aiosqlite:///broadsheet.db",
        description="SQLAlchemy URL. SQLite (default, a file beside you) or PostgreSQL.",
    )
    pool_size: int = Field(
        default=20, ge=1, le=200, description="PostgreSQL connections kept open, half in each of two pools."
    )
    pool_overflow: int = Field(
        default=10, ge=0, le=200, description="Extra connections under bursts, half in each pool."
    )
    graphiql: bool = Field(default=True, description="Serve the GraphiQL playground on GET /graphql.")
    statement_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="PostgreSQL stops a request's SQL statement that runs longer than this, and the client "
        "gets an error saying so, so one pathological query cannot hold a connection and a core.",
    )
    max_query_depth: int = Field(default=10, ge=2, le=50)
    max_aliases: int = Field(default=30, ge=1, le=1000)
    max_tokens: int = Field(default=2000, ge=50, le=100_000)
    response_cache_seconds: float = Field(
        default=0.0,
        ge=0,
        le=86_400,
        description="Keep successful GraphQL answers this long (0: off) and serve them to the same query "
        "with the same variables and scopes. With Redis they are shared by every server process and purged "
        "by what a write changed; without it each process keeps its own until anything changes.",
    )
    response_cache_local_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="With Redis: how long a process also keeps, in its own memory, an answer it got from "
        "Redis (0: never). Any write to the database clears these at once.",
    )
    http_max_age: int = Field(
        default=30,
        ge=0,
        le=31_536_000,
        description="`max-age` of public GET answers' Cache-Control: seconds a browser may reuse one.",
    )
    http_s_maxage: int = Field(
        default=60,
        ge=0,
        le=31_536_000,
        description="`s-maxage`: seconds a shared cache (a CDN) may reuse one; purge it sooner by the "
        "surrogate-key header's tags.",
    )
    http_stale_while_revalidate: int = Field(
        default=30,
        ge=0,
        le=31_536_000,
        description="`stale-while-revalidate`: seconds a cache may serve an expired answer while it fetches "
        "a fresh one.",
    )
    surrogate_key_header: str = Field(
        default="Surrogate-Key",
        pattern=r"^[A-Za-z0-9-]{1,64}$",
        description="The header naming what an answer contains (its cache tags, space-separated), e.g. "
        "`Cache-Tag` for Cloudflare, `xkey` for Varnish.",
    )
    fast_execution: bool = Field(
        default=True,
        description="Complete plain fields on the fast executor's short road (graph/execution.py); false "
        "runs Strawberry's stock executor, with the same answers (CI runs the API tests both ways).",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=104_857_600,
        description="Largest request body accepted, in bytes (1 KiB to 100 MiB); larger ones get 413.",
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Browser origins allowed to call the API (CORS), comma-separated, e.g. "
        "`https://app.example.com,http://localhost:3000`, or `*` for any origin (then without "
        "credentials). Empty: no CORS headers at all.",
    )
    require_api_key: bool = Field(
        default=False,
        description="Refuse GraphQL requests without an API key (401); false serves them anonymously. A bad "
        "or revoked key is refused either way. Keys: `broadsheet keys`.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for the state server processes and hosts share (rate limits, persisted queries, "
        "the response cache), e.g. `redis://127.0.0.1:6379/0`. Unset: that state stays in each process, "
        "which is right for one server process.",
    )
    redis_prefix: str = Field(
        default="broadsheet:",
        min_length=1,
        max_length=100,
        description="Prefix of every Redis key Broadsheet writes, so several sites can share one Redis.",
    )
    persisted_query_ttl_seconds: int = Field(
        default=86_400,
        ge=60,
        le=30 * 86_400,
        description="With Redis: how long an automatic persisted query is kept after its last use, in "
        "seconds (a minute to 30 days). A client that finds its hash gone sends the document again.",
    )
    persisted_query_max_documents: int = Field(
        default=10_000,
        ge=10,
        le=1_000_000,
        description="Without Redis: how many automatic persisted queries the database keeps; past that the "
        "oldest go. Trusted documents (`broadsheet documents add`) do not count and never go.",
    )
    key_rate: Annotated[Limit, NoDecode] = Field(
        default=Limit(600, 60),
        description="Requests a key may make, like `600/minute` (per second, minute, hour or day), unless "
        "the key has a rate of its own (`broadsheet keys create --rate`).",
    )
    key_cost: Annotated[Limit, NoDecode] = Field(
        default=Limit(50_000, 60),
        description="Query cost a key may spend (a leaky bucket refilled at this rate), unless the key has a "
        "budget of its own (`--cost`). The README's \"Limits and cost\" says how a query's cost is counted.",
    )
    anonymous_rate: Annotated[Limit, NoDecode] = Field(
        default=Limit(60, 60), description="Requests without a key may make, per client address."
    )
    anonymous_cost: Annotated[Limit, NoDecode] = Field(
        default=Limit(10_000, 60),
        description="Query cost requests without a key may spend, per client address.",
    )
    max_query_cost: int = Field(
        default=10_000,
        ge=1,
        le=10_000_000,
        description="A query whose static cost is higher is refused before it runs (QUERY_TOO_COSTLY).",
    )
    limits_enabled: bool = Field(
        default=True,
        description="Count requests against rate limits and charge query cost to budgets. False (a "
        "private deployment behind its own gateway, or a benchmark) sends no RateLimit header fields and "
        "charges nothing; `BROADSHEET_MAX_QUERY_COST` still refuses a costly document.",
    )
    limits_fail_open: bool = Field(
        default=True,
        description="While Redis is unreachable, keep serving with each process limiting on its own (true), "
        "or refuse requests with 503 (false).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    sql_echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept plain ``postgresql://`` and ``sqlite://`` URLs and pick the async driver for them."""
        scheme, sep, rest = value.partition("://")
        if not sep:
            raise ValueError(
                "must look like sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db"
            )
        driver = _DRIVERS.get(scheme.lower())
        if driver is None:
            raise ValueError(f"unsupported database {scheme!r}: use SQLite or PostgreSQL")
        return f"{driver}://{rest}"

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must look like redis://host:6379/0 (or rediss://, unix://)")
        return value

    @field_validator("key_rate", "key_cost", "anonymous_rate", "anonymous_cost", mode="before")
    @classmethod
    def _limit(cls, value: object) -> object:
        return Limit.parse(value) if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> tuple[str, ...]:
        """A comma-separated list of ``scheme://host[:port]`` origins, or ``*`` alone."""
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ValueError("must be a comma-separated list of origins")
        origins = tuple(origin for origin in (str(item).strip() for item in items) if origin)
        if "*" in origins and len(origins) > 1:
            raise ValueError("'*' allows every origin and cannot be combined with others")
        return tuple(origin if origin == "*" else _origin(origin) for origin in origins)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _origin(text: str) -> str:
    """``text`` as browsers send it in ``Origin`` (lower case), if it is one: scheme, host, optional port."""
    problem = f"{text!r} is not an origin like https://app.example.com or http://localhost:3000"
    try:
        parts = urlsplit(text)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError:
        raise ValueError(problem) from None
    if not parts.scheme or not parts.hostname or parts.username is not None or parts.password is not None:
        raise ValueError(problem)
    if parts.path or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValueError(f"{problem} (no path, not even a trailing '/')")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if not _HOST.fullmatch(host):
        raise ValueError(problem)
    return f"{parts.scheme.lower()}://{host.lower()}" + ("" if port is None else f":{port}")


class SettingsError(Exception):
    """Settings that cannot be used, with each bad variable named."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, validated once."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"BROADSHEET_{'_'.join(str(part) for part in issue['loc']).upper()}: {issue['msg']}"
            for issue in error.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None

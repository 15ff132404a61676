"""What key checking, rate limits and query cost add to an uncached front page, measured in one process by
alternating requests between two apps on the same database: one with them on (a key, limits, Redis), one with
them off (no key, ``BROADSHEET_LIMITS_ENABLED=false``). Alternating cancels the machine's drift, which over
wrk runs of a few seconds each is larger than the few per cent looked for (bench/README.md).

    python bench/overhead.py DATABASE_URL REDIS_URL PREFIX KEY [--requests 300]

Prints one JSON object: the median and mean milliseconds per request of each app, and the overhead in per
cent of the median. Each app's requests are whole ASGI calls (every middleware, the endpoint, the response),
without a network between.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from broadsheet.settings import Settings  # noqa: E402
from graph.app import create_app  # noqa: E402

FRONT_PAGE = """query FrontPage($first: Int!) { articles(first: $first) { edges { node {
  id slug headline standfirst publishedAt section { name } breadcrumbs { name path }
  mentions(first: 10) { role count entity { name kind } } } } } }"""


def request_scope(app: Any, body: bytes, key: str | None) -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(body)).encode()))
    if key is not None:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "app": app,
    }


async def timed(app: Any, body: bytes, key: str | None) -> float:
    """Milliseconds for one request; raises unless it was answered 200 without errors."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    started = time.perf_counter()
    await app(request_scope(app, body, key), receive, send)
    elapsed = (time.perf_counter() - started) * 1000
    answer = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    if sent[0]["status"] != 200 or b'"errors"' in answer:
        raise SystemExit(f"an answer was not a clean 200: {sent[0]['status']} {answer[:300]!r}")
    return elapsed


async def measure(database_url: str, redis_url: str, prefix: str, key: str, requests: int) -> dict[str, Any]:
    on = create_app(Settings(database_url=database_url, redis_url=redis_url, redis_prefix=prefix))
    off = create_app(Settings(database_url=database_url, limits_enabled=False))
    body = json.dumps({"query": FRONT_PAGE, "variables": {"first": 50}}).encode()
    times: dict[str, list[float]] = {"on": [], "off": []}
    async with on.router.lifespan_context(on), off.router.lifespan_context(off):
        for _ in range(20):  # warm: connections, caches, Redis scripts, leases
            await timed(on, body, key)
            await timed(off, body, None)
        for index in range(requests):
            pair = [("on", on, key), ("off", off, None)]
            for name, app, presented in pair if index % 2 else reversed(pair):
                times[name].append(await timed(app, body, presented))
    median = {name: statistics.median(values) for name, values in times.items()}
    return {
        "requests": requests,
        "on_median_ms": median["on"],
        "off_median_ms": median["off"],
        "on_mean_ms": statistics.mean(times["on"]),
        "off_mean_ms": statistics.mean(times["off"]),
        "overhead_percent": 100 * (median["on"] / median["off"] - 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("database_url")
    parser.add_argument("redis_url")
    parser.add_argument("prefix")
    parser.add_argument("key")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.database_url, args.redis_url, args.prefix, args.key, args.requests))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

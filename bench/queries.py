"""Hot-query benchmark on a generated archive: latency in-process and over HTTP, and SQL statements.

    python bench/generate.py --database-url URL --articles 1000000      # once, to build the archive
    python bench/queries.py --database-url URL [--label 1M] [--requests 200] [--rounds 3] [--json out.json]

For each hot query (article by slug; front page; a section's page 1 and page 10,000; the most-mentioned
entity's articles, page 1 and page 10,000 or its last page; search for a common and for a rare term) it
sends the requests to a real `uvicorn graph.app:create_app` subprocess on 127.0.0.1 (one connection, one
request at a time) and reports p50 and p99 latency measured two ways, and the SQL statements one request
sends:

- server-side: the server's own time for the request, from its `Server-Timing: app;dur=` header (from the
  request reaching the app to the response starting: GraphQL parsing, validation, execution, SQL, JSON);
- over HTTP: what the client saw, the same plus the loopback network and HTTP parsing on both ends;
- statements: counted on the engine of the same app run in this process, once per query.

With ``--rounds N`` the whole sequence runs N times (one server) and each p50 is the median of the rounds'
p50s, each p99 the median of their p99s: the speed of a shared machine drifts over minutes, and a slow
phase then moves one round, not the figure. The note gives the rounds' server p50s.

Deep-page cursors are made the way the API makes them, for the row at that depth (found once with OFFSET,
outside the measurement). Requests run sequentially after a warm-up; every response is checked for errors
and for the expected number of items, and any failure exits 1. Nothing is written to the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from bench.frontpage import start_server  # noqa: E402
from bench.generate import COMMON_TERM, RARE_TERM  # noqa: E402
from broadsheet.settings import Settings  # noqa: E402
from graph.app import create_app  # noqa: E402
from graph.articles import ArticleOrder, article_list  # noqa: E402
from graph.entities import entity_articles_list  # noqa: E402
from graph.relay import CursorSecret  # noqa: E402
from models.cursor_secret import read_cursor_secret  # noqa: E402
from models.db import create_engine  # noqa: E402
from resolvers.articles import ArticleFilters  # noqa: E402
from resolvers.mentions import EntityArticleOrder  # noqa: E402

PAGE = 20
#: A word the generator's text uses in about 60% of articles: the search that ranking every match made slow.
MOST_ARTICLES_TERM = "minister"
DEEP_PAGE = 10_000

ARTICLE = """query($slug: String!) { article(slug: $slug) {
  id headline standfirst publishedAt wordCount breadcrumbs { name path }
  body { ... on Paragraph { text } ... on Subheading { text } }
  people { role entity { name slug } } } }"""
FRONT_PAGE = """query { articles(first: 50) { edges { node {
  id slug headline standfirst publishedAt breadcrumbs { name path }
  people { role count entity { name slug } } } } } }"""
SECTION = """query($path: String!, $after: String) { section(path: $path) {
  articles(first: 20, after: $after) {
    edges { node { slug headline standfirst publishedAt breadcrumbs { name path } } }
    pageInfo { hasNextPage endCursor } } } }"""
ENTITY = """query($slug: String!, $after: String) { entity(slug: $slug) {
  articles(first: 20, after: $after) {
    edges { role node { slug headline publishedAt breadcrumbs { name path } } }
    pageInfo { hasNextPage endCursor } } } }"""
SEARCH = """query($q: String!) { search(query: $q, first: 20) {
  edges { score snippet { html } node { slug headline publishedAt breadcrumbs { name path } } }
  pageInfo { hasNextPage endCursor } } }"""


@dataclass
class Case:
    name: str
    query: str
    variables: Callable[[int], dict[str, Any]]
    items: Callable[[dict[str, Any]], list[Any]]
    expected: int  # items each answer must hold
    note: str = ""


@dataclass
class Result:
    case: Case
    rounds: list[Round] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)


@dataclass
class Round:
    server_ms: list[float] = field(default_factory=list)
    http_ms: list[float] = field(default_factory=list)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _scalar_rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as connection:
        return list(await connection.execute(text(sql), params))


async def build_cases(engine: AsyncEngine) -> list[Case]:
    """The hot queries, with parameters read from the archive: slugs, the biggest section and entity."""
    slugs = [
        row[0]
        for row in await _scalar_rows(
            engine, "SELECT slug FROM article WHERE id % 997 = 1 ORDER BY id LIMIT 200"
        )
    ]
    sections = await _scalar_rows(
        engine,
        "SELECT s.path, count(*) FROM article a JOIN section s ON s.id = a.section_id "
        "GROUP BY s.path ORDER BY count(*) DESC",
    )
    # The top-level section whose subtree is biggest: the deepest pages a reader of a section can reach.
    subtree: dict[str, int] = {}
    for path, count in sections:
        if path:
            top = path.split("/")[0]
            subtree[top] = subtree.get(top, 0) + count
    section_path = max(subtree, key=lambda top: subtree[top])
    section_ids = {
        path: key
        for key, path in await _scalar_rows(
            engine,
            "SELECT id, path FROM section WHERE path = :top OR path LIKE :below",
            top=section_path,
            below=f"{section_path}/%",
        )
    }
    section_filters = ArticleFilters(section=(section_ids[section_path], True))  # as cursors bind it
    section_page, section_after = await _deep_cursor(
        engine,
        "SELECT published_at, id FROM article WHERE status = 'published' AND section_id IN "
        f"({', '.join(map(str, section_ids.values()))}) ORDER BY published_at DESC, id DESC",
        subtree[section_path],
        article_list(section_filters, ArticleOrder.NEWEST),
    )
    entity_id, entity_slug, entity_articles = (
        await _scalar_rows(
            engine,
            "SELECT e.id, e.slug, count(*) FROM mention m JOIN entity e ON e.id = m.entity_id "
            "GROUP BY e.id, e.slug ORDER BY count(*) DESC LIMIT 1",
        )
    )[0]
    entity_page, entity_after = await _deep_cursor(
        engine,
        "SELECT m.published_at, m.article_id FROM mention m "
        f"WHERE m.entity_id = {entity_id} ORDER BY m.published_at DESC, m.article_id DESC",
        entity_articles,
        entity_articles_list(entity_id, EntityArticleOrder.NEWEST),
    )

    def section_items(data: dict[str, Any]) -> list[Any]:
        return list(data["section"]["articles"]["edges"])

    def entity_items(data: dict[str, Any]) -> list[Any]:
        return list(data["entity"]["articles"]["edges"])

    def search_items(data: dict[str, Any]) -> list[Any]:
        return list(data["search"]["edges"])

    return [
        Case(
            "article by slug",
            ARTICLE,
            lambda n: {"slug": slugs[n % len(slugs)]},
            lambda data: [data["article"]] if data["article"] else [],
            1,
            f"{len(slugs)} slugs in turn",
        ),
        Case("front page (50)", FRONT_PAGE, lambda n: {}, lambda data: list(data["articles"]["edges"]), 50),
        Case(
            "section page 1",
            SECTION,
            lambda n: {"path": section_path},
            section_items,
            PAGE,
            f"{section_path}/ ({subtree[section_path]:,} articles)",
        ),
        Case(
            f"section page {section_page:,}",
            SECTION,
            lambda n: {"path": section_path, "after": section_after},
            section_items,
            PAGE,
            f"{section_path}/",
        ),
        Case(
            "entity articles page 1",
            ENTITY,
            lambda n: {"slug": entity_slug},
            entity_items,
            PAGE,
            f"{entity_slug} ({entity_articles:,} articles)",
        ),
        Case(
            f"entity articles page {entity_page:,}",
            ENTITY,
            lambda n: {"slug": entity_slug, "after": entity_after},
            entity_items,
            PAGE,
            entity_slug,
        ),
        Case("search, common term", SEARCH, lambda n: {"q": COMMON_TERM}, search_items, PAGE, COMMON_TERM),
        Case("search, rare term", SEARCH, lambda n: {"q": RARE_TERM}, search_items, -1, RARE_TERM),
        Case(
            "search, word in most articles",
            SEARCH,
            lambda n: {"q": MOST_ARTICLES_TERM},
            search_items,
            PAGE,
            f"{MOST_ARTICLES_TERM} (60% of the generated articles)",
        ),
    ]


async def _deep_cursor(
    engine: AsyncEngine, ordered_sql: str, total: int, described: tuple[object, ...]
) -> tuple[int, str]:
    """(page number, the `after` cursor that opens it): page 10,000, or the last full page when fewer.
    Signed with the database's cursor secret for the list ``described``, as the server signs it."""
    page = min(DEEP_PAGE, max(2, total // PAGE))
    rows = await _scalar_rows(engine, f"{ordered_sql} LIMIT 1 OFFSET {(page - 1) * PAGE - 1}")
    published_at, key = rows[0]
    if isinstance(published_at, str):  # SQLite hands back text through text()
        from datetime import UTC, datetime

        published_at = datetime.fromisoformat(published_at).replace(tzinfo=UTC)
    async with engine.connect() as connection:
        secret = CursorSecret(await read_cursor_secret(connection))
    return page, secret.for_list(*described).time(published_at, key)


def _check(case: Case, body: dict[str, Any]) -> None:
    if body.get("errors"):
        raise SystemExit(f"{case.name}: {body['errors']}")
    found = case.items(body["data"])
    if case.expected >= 0 and len(found) != case.expected:
        raise SystemExit(f"{case.name}: expected {case.expected} items, got {len(found)}")
    if case.expected < 0 and not found:
        raise SystemExit(f"{case.name}: no results")


async def count_statements(url: str, cases: list[Case]) -> dict[str, Result]:
    """One request per query through the app in this process, counting the SQL statements it sends."""
    engine = create_engine(url, pool_size=2)
    statements = [0]

    def count(*_args: Any) -> None:
        statements[0] += 1

    app = create_app(Settings(database_url=url, graphiql=False), engine=engine)
    results = {case.name: Result(case) for case in cases}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),  # the change watcher runs, so the section tree is kept
        httpx.AsyncClient(transport=transport, base_url="http://bench.local", timeout=60) as client,
    ):
        # the section tree and the cursor secret, which the app reads once and keeps
        await client.post(
            "/graphql", json={"query": "{ sections { path } entities(first: 1) { edges { cursor } } }"}
        )
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        for case in cases:
            statements[0] = 0
            response = await client.post(
                "/graphql", json={"query": case.query, "variables": case.variables(0)}
            )
            _check(case, response.json())
            results[case.name].statements.append(statements[0])
    await engine.dispose()
    return results


def measure_http(
    url: str, cases: list[Case], results: dict[str, Result], requests: int, warmup: int, rounds: int
) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        server = start_server(url, Path(workdir), pin=False)
        try:
            with httpx.Client(base_url=server.base_url, timeout=60) as client:
                for _ in range(rounds):
                    for case in cases:
                        measured = Round()
                        results[case.name].rounds.append(measured)
                        for number in range(warmup + requests):
                            payload = {"query": case.query, "variables": case.variables(number)}
                            started = time.perf_counter()
                            response = client.post("/graphql", json=payload)
                            elapsed = (time.perf_counter() - started) * 1000
                            _check(case, response.json())
                            if number >= warmup:
                                measured.http_ms.append(elapsed)
                                server_ms = float(response.headers["server-timing"].split(";dur=")[1])
                                measured.server_ms.append(server_ms)
        finally:
            server.stop()


def python_speed() -> float:
    """Seconds a 10-million-step loop takes here, best of three: a yardstick printed with the table."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(10_000_000):
            pass
        best = min(best, time.perf_counter() - started)
    return best


def print_table(label: str, backend: str, results: dict[str, Result]) -> list[dict[str, Any]]:
    rows = []
    print(f"\n{label} on {backend}\n")
    print(
        "| query | p50 ms (server) | p99 ms (server) | p50 ms (HTTP) | p99 ms (HTTP) | SQL statements "
        "| note |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for result in results.values():
        server_p50s = [statistics.median(measured.server_ms) for measured in result.rounds]
        note = result.case.note
        if len(result.rounds) > 1:
            note = "; ".join(filter(None, [note, "rounds " + ", ".join(f"{p50:.1f}" for p50 in server_p50s)]))
        row = {
            "scale": label,
            "backend": backend,
            "query": result.case.name,
            "server_p50": statistics.median(server_p50s),
            "server_p99": statistics.median(_percentile(m.server_ms, 0.99) for m in result.rounds),
            "http_p50": statistics.median(statistics.median(m.http_ms) for m in result.rounds),
            "http_p99": statistics.median(_percentile(m.http_ms, 0.99) for m in result.rounds),
            "statements": max(result.statements),
            "note": note,
        }
        rows.append(row)
        print(
            f"| {row['query']} | {row['server_p50']:.1f} | {row['server_p99']:.1f} | {row['http_p50']:.1f} "
            f"| {row['http_p99']:.1f} | {row['statements']} | {row['note']} |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="a generated archive (bench/generate.py)")
    parser.add_argument("--label", default="", help="what to call this archive in the table, e.g. 1M")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per query and way")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests first")
    parser.add_argument("--rounds", type=int, default=1, help="times to run the whole sequence (median)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)

    async def prepare() -> list[Case]:
        engine = create_engine(args.database_url)
        try:
            return await build_cases(engine)
        finally:
            await engine.dispose()

    cases = asyncio.run(prepare())
    results = asyncio.run(count_statements(args.database_url, cases))
    speed_before = python_speed()
    measure_http(args.database_url, cases, results, args.requests, args.warmup, args.rounds)
    speed_after = python_speed()
    backend = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
    rows = print_table(args.label or args.database_url, backend, results)
    print(
        f"\nmachine speed: a 10-million-step Python loop took {speed_before:.2f} s before the runs and "
        f"{speed_after:.2f} s after (shared machines drift; compare tables measured at similar speeds)"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The query plan of every SQL statement each hot query sends, as the database runs it.

    python bench/explain.py --database-url URL [--query "search, common term"]

Runs each hot query of bench/queries.py once through the real app in this process, captures the statements
it sends (with their parameters), and prints `EXPLAIN (ANALYZE, BUFFERS)` for each on PostgreSQL, or
`EXPLAIN QUERY PLAN` on SQLite. This is how the indexes in migrations/ were chosen; docs/benchmarks.md quotes
the plans. Read-only: ANALYZE runs the SELECTs, nothing is written.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.queries import build_cases  # noqa: E402
from broadsheet.settings import Settings  # noqa: E402
from graph.app import create_app  # noqa: E402
from models.db import create_engine  # noqa: E402


async def explain(url: str, only: str | None) -> None:
    engine = create_engine(url, pool_size=2)
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        captured.append((statement, parameters))

    cases = await build_cases(engine)
    app = create_app(Settings(database_url=url, graphiql=False), engine=engine)
    async with (
        app.router.lifespan_context(app),  # the change watcher runs, so the section tree is kept
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client,
    ):
        await client.post("/graphql", json={"query": "{ sections { path } }"})  # the tree, cached from here
        for case in cases:
            if only and case.name != only:
                continue
            captured.clear()
            event.listen(engine.sync_engine, "before_cursor_execute", capture)
            response = await client.post(
                "/graphql", json={"query": case.query, "variables": case.variables(0)}
            )
            event.remove(engine.sync_engine, "before_cursor_execute", capture)
            assert "errors" not in response.json(), response.json()
            print(f"\n## {case.name} ({len(captured)} statements)\n")
            for statement, parameters in captured:
                print("```")
                print(await _plan(engine, statement, parameters))
                print("```")
    await engine.dispose()


async def _plan(engine: Any, statement: str, parameters: Any) -> str:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        if engine.dialect.name == "postgresql":
            rows = await driver.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *parameters)
            return "\n".join(row[0] for row in rows)
        cursor = await driver.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return "\n".join(f"{'  ' * depth(row)}{row[3]}" for row in await cursor.fetchall())


def depth(row: Any) -> int:
    """Indent SQLite plan rows a little by their parent id (good enough to read nesting)."""
    return 1 if row[1] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--query", help="only this hot query (its name in bench/queries.py's table)")
    args = parser.parse_args(argv)
    asyncio.run(explain(args.database_url, args.query))
    return 0


if __name__ == "__main__":
    sys.exit(main())

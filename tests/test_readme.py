"""The README stays true: its two set-up commands (CI runs the test command exactly as shown), and every
GraphQL example it shows answers on the data its set-up loads."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ROOT, data_of


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_readme_has_exactly_two_setup_commands() -> None:
    run, test = _commands()
    assert "broadsheet migrate" in run and "broadsheet ingest ingest/samples" in run and run.endswith("serve")
    assert "../shared/seed" in run  # the seed article is served too, where ../shared is beside the clone
    assert test.endswith("pytest")


def test_ci_runs_the_readme_test_command() -> None:
    _, test = _commands()
    assert f"({test})" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@dataclass
class Example:
    """A GraphQL request the README shows, and how it sends it."""

    line: int
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    method: str = "POST"
    extensions: dict[str, Any] | None = None  # a persisted query's hash (then ``query`` may be empty)


def readme_examples() -> list[Example]:
    """Every ```graphql block (with the ```json block after it as its variables) and every curl request, in
    that order: a curl registering a persisted query comes before the curl that runs it by hash alone."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    examples: list[Example] = []
    blocks = re.finditer(r"```graphql\n(.+?)\n```(?:\s*```json\n(.+?)\n```)?", readme, re.DOTALL)
    for block in blocks:
        variables = json.loads(block[2]) if block[2] else {}
        examples.append(Example(readme.count("\n", 0, block.start()) + 1, block[1], variables))
    for curl in re.finditer(r"-d '(\{\"query\".+?\})'", readme):
        body = json.loads(curl[1])
        line = readme.count("\n", 0, curl.start()) + 1
        examples.append(Example(line, body["query"], extensions=body.get("extensions")))
    for curl in re.finditer(r"curl -sG \S+ --data-urlencode 'query=(.+?)'", readme):
        examples.append(Example(readme.count("\n", 0, curl.start()) + 1, curl[1], method="GET"))
    for curl in re.finditer(r"curl -sG \S+ --data-urlencode 'extensions=(.+?)'", readme):
        line = readme.count("\n", 0, curl.start()) + 1
        examples.append(Example(line, "", method="GET", extensions=json.loads(curl[1])))
    return examples


def _empty_connections(value: Any, path: str = "") -> list[str]:
    """Where ``value`` holds a connection with no edges."""
    if isinstance(value, dict):
        found = [path] if value.get("edges") == [] else []
        for key, item in value.items():
            found += _empty_connections(item, f"{path}.{key}")
        return found
    if isinstance(value, list):
        return [
            hit for index, item in enumerate(value) for hit in _empty_connections(item, f"{path}[{index}]")
        ]
    return []


def test_the_readme_shows_its_examples() -> None:
    examples = readme_examples()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.count("```graphql") + len(re.findall(r"^curl .*graphql", readme, re.MULTILINE))
    assert len(examples) == shown >= 7, examples  # the parser finds every one
    assert any(example.variables for example in examples) and any(e.method == "GET" for e in examples)
    assert any(e.extensions and not e.query for e in examples)  # a persisted query run by its hash alone


async def test_every_readme_example_answers_on_the_readme_set_up(
    engine: AsyncEngine, database_url: str, client: httpx.AsyncClient
) -> None:
    """The run command's ingest, as written (../shared/seed included where it is beside the clone), then each
    example: no error, every top-level field and every connection in the answer non-empty."""
    run, _ = _commands()
    ingest = re.search(r"\.venv/bin/broadsheet ingest .+?(?= && \.venv/bin/broadsheet serve)", run)
    assert ingest, run
    command = ingest[0].replace(".venv/bin/broadsheet", f"{sys.executable} -m broadsheet")
    environment = {**os.environ, "BROADSHEET_DATABASE_URL": database_url}
    done = await asyncio.to_thread(
        subprocess.run, ["bash", "-c", command], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    for example in readme_examples():
        payload = {"query": example.query, "variables": example.variables, "extensions": example.extensions}
        if example.method == "GET":
            params = {"query": example.query} if example.query else {}
            if example.extensions:
                params["extensions"] = json.dumps(example.extensions)
            response = await client.get("/graphql", params=params)
        else:
            response = await client.post("/graphql", json=payload)
        assert response.status_code == 200, (example.line, response.text)
        data = data_of(response.json())
        where = f"README.md:{example.line}"
        assert all(value not in (None, [], {}) for value in data.values()), (where, data)
        assert not _empty_connections(data), (where, _empty_connections(data))

"""The GraphQL over HTTP spec, in full: graphql-http's server audits (npm, pinned in tests/http_audit) against
`broadsheet serve` on a real socket, on each database. Every audit must be ok: not an error, not a warning.

The audit package is installed the way a user would (`npm ci --prefix tests/http_audit`) when it is missing.
Without Node the test skips with the reason, and fails instead when the ``CI`` environment variable is set.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ROOT
from tests.helpers import serving

AUDIT = ROOT / "tests" / "http_audit"
#: graphql-http 1.23.1's server audits; fewer results would mean some did not run.
AUDIT_COUNT = 61


def _node() -> str:
    """Node's path, with the audit package installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        message = "Node.js and npm are needed for the GraphQL over HTTP audit (apt-get install nodejs npm)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run it", pytrace=False)
        pytest.skip(message)
    if not (AUDIT / "node_modules" / "graphql-http").is_dir():
        installed = subprocess.run(
            [npm, "ci", "--prefix", str(AUDIT), "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert installed.returncode == 0, f"npm ci failed:\n{installed.stdout}\n{installed.stderr}"
    return node


async def test_every_graphql_over_http_audit_passes(engine: AsyncEngine, database_url: str) -> None:
    node = _node()
    async with serving(database_url) as base:
        url = f"{base}/graphql"
        audit = await asyncio.create_subprocess_exec(
            node,
            str(AUDIT / "audit.mjs"),
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(audit.communicate(), timeout=120)
    assert audit.returncode == 0, stderr.decode(errors="replace")
    results = json.loads(stdout)
    failing = [
        f"{result['id']} {result['status']}: {result['name']} ({result['reason']})"
        for result in results
        if result["status"] != "ok"
    ]
    assert not failing, "GraphQL over HTTP audits not ok:\n" + "\n".join(failing)
    assert len(results) == AUDIT_COUNT

"""GraphiQL with no internet: the playground page, and its assets served by Broadsheet itself.

Strawberry's own page loads React, GraphiQL and the explorer plugin from a CDN, so on a closed network it
stays at "Loading...". The same files, pinned, with their licences, are vendored in ``static/graphiql/`` by
``scripts/update_graphiql.py`` (``manifest.json`` there: versions, sha256, which file fills which placeholder
of ``graphiql.html``). The page loads them from ``/graphql/assets/`` and nothing from anywhere else: its
Content-Security-Policy tells the browser so. The paths carry the versions, so the assets are cached for a
year as immutable, and gzipped on the way out. With ``BROADSHEET_GRAPHIQL=false`` neither the page nor the
assets are served: a closed playground exposes nothing of it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
from pathlib import Path
from string import Template
from typing import Any

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

HERE = Path(__file__).parent
ASSETS_DIR = HERE / "static" / "graphiql"
ASSETS_PATH = "/graphql/assets"
PAGE_TEMPLATE = HERE / "graphiql.html"
IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
}
PLAIN_TEXT = "text/plain; charset=utf-8"  # the licence files


def sha256_source(digest: bytes) -> str:
    """A sha256 digest as CSP and Subresource Integrity write it."""
    return f"sha256-{base64.b64encode(digest).decode()}"


def load_manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((ASSETS_DIR / "manifest.json").read_text(encoding="utf-8"))
    return manifest


@functools.cache
def page_html() -> str:
    """The page, its placeholders filled: each asset's URL and Subresource Integrity from the manifest.

    The URLs are relative to the page (``graphql/assets/...`` from ``/graphql``), so they still resolve when
    a proxy serves Broadsheet under a path prefix."""
    manifest = load_manifest()
    values: dict[str, str] = {}
    for placeholder, file in manifest["page"].items():
        values[f"{placeholder}_url"] = f"{ASSETS_PATH.lstrip('/')}/{file}"
        values[f"{placeholder}_integrity"] = sha256_source(bytes.fromhex(manifest["files"][file]["sha256"]))
    return Template(PAGE_TEMPLATE.read_text(encoding="utf-8")).substitute(values)


@functools.cache
def page_security_policy() -> str:
    """Same origin only: scripts from us (the page's own inline script by its hash), styles from us (and
    inline, which GraphiQL sets), fonts and icons inline as data: URLs, requests to this server alone."""
    inline = re.findall(r"<script>(.*?)</script>", page_html(), flags=re.DOTALL)
    hashes = " ".join(f"'{sha256_source(hashlib.sha256(script.encode()).digest())}'" for script in inline)
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    )


class OfflineGraphiQL:
    """For Strawberry's view (a base before it): its GraphiQL page, with every asset from Broadsheet."""

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(page_html(), headers={"content-security-policy": page_security_policy()})


class VendoredAssets(StaticFiles):
    """The vendored folder: Starlette's static files (404 for what is not there, no way out of the folder,
    ETag and 304), with our content types and a year of immutable caching."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["cache-control"] = IMMUTABLE
        if response.status_code != 304:
            response.headers["content-type"] = CONTENT_TYPES.get(Path(full_path).suffix, PLAIN_TEXT)
            response.headers["x-content-type-options"] = "nosniff"
        return response


def graphiql_asset_routes(enabled: bool) -> list[BaseRoute]:
    """The assets' route when the playground is on. Level-6 gzip, in pieces as it streams: GraphiQL's script
    goes out at a fraction of its size for CPU spent once per browser (docs/benchmarks.md)."""
    if not enabled:
        return []
    assets = VendoredAssets(directory=ASSETS_DIR)
    return [Mount(ASSETS_PATH, app=GZipMiddleware(assets, compresslevel=6), name="graphiql-assets")]

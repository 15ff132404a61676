"""GraphiQL offline, over HTTP: the page names no other origin, every asset it loads is ours and served well,
the vendored files are the ones the manifest pins, and BROADSHEET_GRAPHIQL=false closes page and assets.

tests/test_graphiql_browser.py proves the same page works in a real browser with no network.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from broadsheet.settings import Settings
from graph.app import create_app
from graph.graphiql import ASSETS_DIR, load_manifest

HTML = {"accept": "text/html"}
# The one absolute URL the page may hold: the SVG namespace of its inline (data:) icon, which loads nothing.
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
CONTENT_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}


async def graphiql_page(client: httpx.AsyncClient) -> httpx.Response:
    page = await client.get("/graphql", headers=HTML)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    return page


def referenced_assets(page: httpx.Response) -> dict[str, str]:
    """Each script and stylesheet the page loads (its URL resolved against the page's) -> its SRI."""
    tags = re.findall(r'<(?:script|link)[^>]*?(?:src|href)="([^"]+)"[^>]*?integrity="([^"]+)"', page.text)
    return {urljoin(str(page.url), url): integrity for url, integrity in tags}


async def test_the_page_names_no_other_origin(client: httpx.AsyncClient) -> None:
    page = await graphiql_page(client)
    absolute = set(re.findall(r"https?://[^\s\"'<>)%]+", page.text))
    assert absolute <= {SVG_NAMESPACE}, f"the page names another origin: {absolute - {SVG_NAMESPACE}}"
    assert not re.search(r"""(?:src|href)=["']//""", page.text), (
        "a protocol-relative URL loads from elsewhere"
    )
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith(("graphql/assets/", "data:")) for s in sources), sources
    # The browser is told the same: scripts, styles and requests from this origin only.
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "http" not in policy and "*" not in policy, policy


async def test_every_asset_the_page_loads_is_served_as_its_integrity_says(client: httpx.AsyncClient) -> None:
    page = await graphiql_page(client)
    assets = referenced_assets(page)
    assert len(assets) == len(load_manifest()["page"]) == 6, assets
    for url, integrity in assets.items():
        assert url.startswith("http://broadsheet.test/graphql/assets/"), url
        response = await client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"] == CONTENT_TYPES[url.rsplit(".", 1)[1]], url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        # A wrong integrity attribute would make the browser refuse the file: it must be this body's.
        digest = base64.b64encode(hashlib.sha256(response.content).digest()).decode()
        assert integrity == f"sha256-{digest}", url


async def test_assets_are_gzipped_and_revalidate_with_their_etag(client: httpx.AsyncClient) -> None:
    url = "/graphql/assets/graphiql@3.8.3/graphiql.min.js"
    plain = await client.get(url, headers={"accept-encoding": "identity"})
    zipped = await client.get(url, headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert (
        zipped.headers["content-encoding"] == "gzip" and "accept-encoding" in zipped.headers["vary"].lower()
    )
    assert zipped.content == plain.content
    assert zipped.num_bytes_downloaded < len(plain.content) / 4, (
        zipped.num_bytes_downloaded,
        len(plain.content),
    )
    again = await client.get(url, headers={"if-none-match": plain.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["cache-control"] == "public, max-age=31536000, immutable"
    head = await client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert (await client.post(url)).status_code == 405


async def test_each_package_has_its_licence_beside_it(client: httpx.AsyncClient) -> None:
    manifest = load_manifest()
    for package in manifest["packages"]:
        licence = f"{package['folder']}/LICENSE"
        assert licence in manifest["files"], f"{package['name']} has no licence beside it"
        response = await client.get(f"/graphql/assets/{licence}")
        assert response.status_code == 200 and response.headers["content-type"] == "text/plain; charset=utf-8"
        assert "MIT License" in response.text and "Permission is hereby granted" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/graphql/assets/nothing-here.js",
        "/graphql/assets/react@18.2.0/react.development.js",
        "/graphql/assets/",
        "/graphql/assets/react@18.2.0/",
        # Each of these would reach graph/graphiql.py, graph/app.py or a system file if a path got out.
        "/graphql/assets/%2e%2e/%2e%2e/graphiql.py",
        "/graphql/assets/react@18.2.0/..%2f..%2f..%2fapp.py",
        "/graphql/assets/..%5c..%5cgraphiql.py",
        "/graphql/assets/%2fetc%2fpasswd",
        "/graphql/assets//etc/passwd",
        "/graphql/assets/react@18.2.0/LICENSE%00.js",
        "/graphql/assets/" + "a" * 5000,
    ],
)
async def test_unknown_files_and_ways_out_of_the_folder_are_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(httpx.URL(path))
    assert response.status_code == 404, (path, response.status_code, response.text[:200])


async def test_graphiql_off_serves_neither_page_nor_assets(engine: AsyncEngine, database_url: str) -> None:
    """Off means off: a server that hides the playground does not hand out its files either."""
    closed = create_app(Settings(database_url=database_url, graphiql=False), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=closed), base_url="http://t") as http:
        assert (await http.get("/graphql", headers=HTML)).status_code == 404
        for file in load_manifest()["files"]:
            assert (await http.get(f"/graphql/assets/{file}")).status_code == 404, file
        answer = await http.post("/graphql", json={"query": "{ __typename }"})
        assert answer.json()["data"] == {"__typename": "Query"}


def test_the_vendored_files_are_the_ones_the_manifest_pins() -> None:
    """An edited, truncated, missing or stray file in graph/static/graphiql/ is caught here."""
    manifest: dict[str, Any] = load_manifest()
    on_disk = {str(path.relative_to(ASSETS_DIR)) for path in ASSETS_DIR.rglob("*") if path.is_file()} - {
        "manifest.json"
    }
    assert on_disk == set(manifest["files"]), on_disk ^ set(manifest["files"])
    for name, entry in manifest["files"].items():
        content = (ASSETS_DIR / name).read_bytes()
        assert len(content) == entry["size"], name
        assert hashlib.sha256(content).hexdigest() == entry["sha256"], f"{name} differs from the manifest"
    assert set(manifest["page"].values()) <= set(manifest["files"])
    folders = {package["folder"] for package in manifest["packages"]}
    assert {name.split("/")[0] for name in manifest["files"]} == folders
    for package in manifest["packages"]:
        assert package["folder"].endswith(f"@{package['version']}"), "asset paths must carry the version"

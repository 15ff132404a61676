"""GraphiQL in a real browser with no network: Debian's headless Chromium opens /graphql on a real server.

The server is ``broadsheet serve`` (uvicorn) on a free 127.0.0.1 port, over a SQLite database migrated and
filled with ingest/samples by the CLI. Chromium's network is closed but for loopback: every host name
resolves to nothing and every other address goes to a proxy on a closed local port, so a page that needed
a CDN would stay at "Loading...". The test types a query into the editor as a person would, runs it with
Ctrl-Enter, reads the result pane, opens the explorer plugin, saves a screenshot (under pytest's tmp dir, and
in ``BROADSHEET_SCREENSHOT_DIR`` when that is set), and checks that every URL the page asked for was
``http://127.0.0.1:<port>/...``.

The browser is driven with Playwright: its PyPI wheel carries its own driver, so nothing downloads (its
browser builds are not used: ``executable_path`` points at the system Chromium); it is actively maintained
and gives, in one API, the page's requests as events, keyboard input, waits on the DOM, console errors and
screenshots. Selenium would need Debian's chromedriver as well and logs for the requests; pychrome has had
no release since 2023.

Without Chromium the test skips and says so, except under CI (``CI`` set), where it fails:
``apt-get install chromium`` installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Error, Request, expect, sync_playwright

from graph.graphiql import load_manifest
from tests.conftest import ROOT, SAMPLES
from tests.helpers import free_port

QUERY = "{ articles(first: 1) { edges { node { headline } } } }"
# Only loopback: host names resolve to nothing, any other address goes to a proxy nobody answers on.
OFFLINE_FLAGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
]


@pytest.fixture
def chromium() -> str:
    """The system Chromium's path; asked for before the server, so a skip costs nothing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the browser test", pytrace=False)
        pytest.skip(message)
    return found


def run_cli(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "broadsheet", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"broadsheet {' '.join(args)}: {done.stdout}\n{done.stderr}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A real server on the samples; its base URL."""
    env = {**os.environ, "BROADSHEET_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'broadsheet.db'}"}
    run_cli("migrate", env=env)
    run_cli("ingest", "--quiet", str(SAMPLES), env=env)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "broadsheet", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _attempt in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the server did not answer within 30 s: {log.read_text()}")
        assert process.poll() is None, f"the server stopped: {log.read_text()}"
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def first_headline(base: str) -> str:
    """What the editor's query must show: the API's own answer, asked over plain HTTP."""
    answer = httpx.post(f"{base}/graphql", json={"query": QUERY}, timeout=10).json()
    headline: str = answer["data"]["articles"]["edges"][0]["node"]["headline"]
    return headline


def test_graphiql_runs_a_typed_query_with_no_network(chromium: str, server: str, tmp_path: Path) -> None:
    headline = first_headline(server)
    requested: list[str] = []
    problems: list[str] = []
    screenshot = tmp_path / "graphiql.png"

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    def on_failed(request: Request) -> None:
        problems.append(f"failed: {request.url} ({request.failure})")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=OFFLINE_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1000})
            page.set_default_timeout(30_000)
            page.on("request", lambda request: requested.append(request.url))
            page.on("requestfailed", on_failed)
            page.on("console", on_console)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

            page.goto(f"{server}/graphql")
            editor = page.locator(".graphiql-query-editor .CodeMirror")
            editor.click()
            page.keyboard.press("Control+A")
            page.keyboard.press("Delete")
            page.keyboard.type(QUERY)
            typed = page.evaluate(
                "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()"
            )
            assert typed == QUERY  # no brackets doubled by the editor's auto-closing
            page.keyboard.press("Control+Enter")
            expect(page.locator(".graphiql-response")).to_contain_text(headline)

            page.get_by_label("Show GraphiQL Explorer").click()
            explorer = page.locator(".graphiql-plugin")
            expect(explorer).to_contain_text("Explorer")
            expect(explorer).to_contain_text("articles")
            page.keyboard.press("Escape")  # no completion list over the query in the picture
            page.screenshot(path=screenshot)

            # The network really is closed: the CDN Strawberry's own page loads from cannot be reached.
            with pytest.raises(Error, match=r"net::ERR_"):
                browser.new_page().goto("https://unpkg.com/react@18.2.0/umd/react.production.min.js")
        finally:
            browser.close()

    if target := os.environ.get("BROADSHEET_SCREENSHOT_DIR"):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(target) / screenshot.name)
    assert screenshot.stat().st_size > 10_000, "an empty screenshot"
    assert not problems, problems
    elsewhere = [url for url in requested if not url.startswith(f"{server}/")]
    assert not elsewhere, f"the page asked beyond loopback: {elsewhere}"
    assets = {f"{server}/graphql/assets/{file}" for file in load_manifest()["page"].values()}
    assert assets <= set(requested), assets - set(requested)
    assert requested.count(f"{server}/graphql") >= 2  # the page, then the schema and the query posted to it

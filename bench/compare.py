"""Compare two or more builds of Broadsheet side by side, in one sitting, with wrk driving the load.

    python bench/compare.py --build before=/work/wt/before --build after=. [--articles 10000] [--rounds 3]
        [--duration 8] [--connections 16] [--what frontpage,article,search,ingest] [--backend sqlite]

The machine's speed drifts, so only ratios between builds measured in the same run are trusted. Each build
is a checkout with its own ``.venv`` and runs with its own interpreter and code; this script needs only the
standard library and wrk:

1. per build, a database ``broadsheet_compare_<label>`` made by the build's own ``bench/generate.py
   --replace`` (``--articles``, a tenth as many entities; same seed, so the same rows where the generators
   agree); with ``--backend sqlite`` a file in a temporary folder instead;
2. per build, ``broadsheet serve`` (one worker) on a free port with that database and GraphiQL off; wait for
   ``/healthz``, then check each query's answer once (the front page: 50 articles, each with mentions);
3. ``--rounds`` rounds; in each, for each query, every build in turn, the order rotating from round to round
   so that no build always runs first: ``wrk -t1 -c<connections> -d<duration>s --latency`` POSTing the query
   from a Lua script (after one unmeasured warm-up run per build and query). A run with a non-2xx response,
   a socket error or a GraphQL ``errors`` entry stops the script (exit 1). ``ingest`` runs the build's
   ``bench/ingest.py --mode extract`` instead and takes the first pass's articles/s.
4. prints a markdown table: each round's requests/s, their mean, the median of the rounds' p50 and p99
   latency, and each build's mean over the first build's.

Servers are stopped on exit, errors and Ctrl-C included; the databases are left for inspection.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
SERVER_START_SECONDS = 60.0
WARMUP_SECONDS = 2

# The front page of bench/frontpage.py; the article and the search of bench/queries.py, copied because that
# module imports the project's code, and this script must not run one build's code against another.
FRONT_PAGE = """query FrontPage($first: Int!) { articles(first: $first) { edges { node {
  id slug headline standfirst publishedAt section { name } breadcrumbs { name path }
  mentions(first: 10) { role count entity { name kind } } } } } }"""
ARTICLE = """query($slug: String!) { article(slug: $slug) {
  id headline standfirst publishedAt wordCount breadcrumbs { name path }
  body { ... on Paragraph { text } ... on Subheading { text } }
  people { role entity { name slug } } } }"""
SEARCH = """query($q: String!) { search(query: $q, first: 20) {
  edges { score snippet { html } node { slug headline publishedAt breadcrumbs { name path } } }
  pageInfo { hasNextPage endCursor } } }"""
COMMON_TERM = "referendum"  # bench/generate.py's COMMON_TERM: in 2% of the generated articles

# Counting GraphQL errors in wrk needs the per-thread counters gathered in done(), which runs in a Lua state
# of its own. bench/cached.py uses it too.
LUA_COUNT_ERRORS = """local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) graphql_errors = 0 end
function response(status, headers, body)
  if string.find(body, '"errors":[', 1, true) then graphql_errors = graphql_errors + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("graphql_errors") end
  io.write(string.format("GraphQL errors: %d\\n", total))
end
"""
# wrk runs this with the request body spliced in.
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
"""


class Failure(Exception):
    """Something the comparison cannot go on after: printed, exit 1."""


@dataclass
class Build:
    label: str
    path: Path
    commit: str = ""
    url: str = ""
    port: int = 0
    slug: str = ""  # the newest article's, for the article query
    extractor: str = ""  # as bench/ingest.py reports it: compiled by mypyc or from source
    server: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def python(self) -> str:
        return str(self.path / ".venv" / "bin" / "python")


@dataclass
class Measure:
    """One round of one item on one build: throughput, and latency in ms (wrk runs only)."""

    rate: float
    p50: float = 0.0
    p99: float = 0.0


@dataclass
class Item:
    name: str
    unit: str
    runs: dict[str, list[Measure]] = field(default_factory=dict)  # build label -> one per round


def payload(item: str, build: Build) -> dict[str, Any]:
    if item == "frontpage":
        return {"query": FRONT_PAGE, "variables": {"first": 50}}
    if item == "article":
        return {"query": ARTICLE, "variables": {"slug": build.slug}}
    return {"query": SEARCH, "variables": {"q": COMMON_TERM}}


def post(build: Build, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{build.port}/graphql",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as error:
        raise Failure(f"{build.label}: HTTP {error.code}: {error.read()[:1000]!r}") from None
    if answer.get("errors") or not answer.get("data"):
        raise Failure(f"{build.label}: errors in the answer: {json.dumps(answer)[:1000]}")
    data: dict[str, Any] = answer["data"]
    return data


def check_answers(build: Build, items: list[str]) -> None:
    """Each query once, its answer checked; the front page also gives the slug the article query asks for."""
    edges = post(build, payload("frontpage", build))["articles"]["edges"]
    if len(edges) != 50 or not all(edge["node"]["mentions"] for edge in edges):
        raise Failure(f"{build.label}: the front page has {len(edges)} articles, or some without mentions")
    build.slug = edges[0]["node"]["slug"]
    if "article" in items and not post(build, payload("article", build))["article"]:
        raise Failure(f"{build.label}: no article {build.slug!r}")
    if "search" in items and not post(build, payload("search", build))["search"]["edges"]:
        raise Failure(f"{build.label}: searching for {COMMON_TERM!r} found nothing")


def run(command: list[str], build: Build, **env: str) -> str:
    """A command in the build's checkout; its output, or a Failure that shows it."""
    done = subprocess.run(
        command, cwd=build.path, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise Failure(
            f"{build.label}: {' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def generate(build: Build, args: argparse.Namespace, folder: Path) -> None:
    name = f"broadsheet_compare_{build.label}"
    sqlite = folder / f"{name}.db"
    build.url = f"sqlite+aiosqlite:///{sqlite}" if args.backend == "sqlite" else f"{args.postgres}/{name}"
    entities = str(max(100, args.articles // 10))
    command = [build.python, "bench/generate.py", "--database-url", build.url, "--replace"]
    started = time.perf_counter()
    run([*command, "--articles", str(args.articles), "--entities", entities], build)
    print(f"{build.label}: {args.articles:,} articles generated in {time.perf_counter() - started:.0f} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(build: Build, folder: Path) -> None:
    build.port = free_port()
    build.log = folder / f"server-{build.label}.log"
    environment = {**os.environ, "BROADSHEET_DATABASE_URL": build.url, "BROADSHEET_GRAPHIQL": "false"}
    command = [str(build.path / ".venv" / "bin" / "broadsheet"), "serve", "--port", str(build.port)]
    with build.log.open("wb") as log:
        # A session of its own, so that stopping it reaches whatever it starts and nothing else.
        build.server = subprocess.Popen(
            command,
            cwd=build.path,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if build.server.poll() is not None:
            raise Failure(
                f"{build.label}: the server exited {build.server.returncode}:\n{build.log.read_text()}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{build.port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise Failure(f"{build.label}: no answer on /healthz in {SERVER_START_SECONDS:.0f} s")


def stop_process(process: subprocess.Popen[Any] | None) -> None:
    """Stop a server and its workers (its process group): politely, then after 10 s not."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def stop_servers(builds: list[Build]) -> None:
    for build in builds:
        stop_process(build.server)


def milliseconds(value: str) -> float:
    parsed = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if parsed is None:
        raise Failure(f"wrk: a latency of {value!r}")
    return float(parsed[1]) * {"us": 0.001, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}[parsed[2]]


def parse_wrk(output: str) -> Measure:
    """Requests/s and p50/p99 from `wrk --latency`; a Failure on any failed or erroneous request."""
    problems = [
        line.strip()
        for line in output.splitlines()
        if line.strip().startswith(("Non-2xx", "Socket errors")) or re.match(r"GraphQL errors: [1-9]", line)
    ]
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if problems or not (rate and p50 and p99) or "GraphQL errors: 0" not in output:
        raise Failure(f"wrk: {'; '.join(problems) or 'unexpected output'}:\n{output}")
    return Measure(float(rate[1]), milliseconds(p50[1]), milliseconds(p99[1]))


def wrk(build: Build, item: str, args: argparse.Namespace, folder: Path, seconds: int) -> Measure:
    script = folder / f"{item}-{build.label}.lua"
    script.write_text(LUA % json.dumps(payload(item, build)) + LUA_COUNT_ERRORS)
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    done = subprocess.run(
        [*command, f"http://127.0.0.1:{build.port}/graphql"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise Failure(f"{build.label}: wrk exited {done.returncode}:\n{done.stdout}{done.stderr}")
    try:
        return parse_wrk(done.stdout)
    except Failure as failure:
        raise Failure(f"{build.label}, {item}: {failure}") from None


def ingest(build: Build, args: argparse.Namespace) -> Measure:
    """The build's own bulk-ingest benchmark, extraction on; articles/s of the first pass."""
    database = f"{args.postgres}/broadsheet_compare_ingest_{build.label}"
    command = [build.python, "bench/ingest.py", "--backend", args.backend, "--mode", "extract"]
    output = run([*command, "--articles", str(args.ingest_articles), "--postgres-url", database], build)
    extractor = re.search(r"^extractor: (.+)$", output, re.M)
    build.extractor = extractor[1] if extractor else "not reported"
    row = re.search(r"^\| \w+ \| extract \| first \| [\d,]+ \| [\d.]+ \| ([\d,]+) \|", output, re.M)
    if row is None:
        raise Failure(f"{build.label}: no first pass in bench/ingest.py's table:\n{output}")
    return Measure(float(row[1].replace(",", "")))


def measure(item: str, build: Build, args: argparse.Namespace, folder: Path) -> Measure:
    return ingest(build, args) if item == "ingest" else wrk(build, item, args, folder, args.duration)


def rounds(builds: list[Build], items: list[Item], args: argparse.Namespace, folder: Path) -> None:
    for item in items:
        if item.name != "ingest":
            for build in builds:
                wrk(build, item.name, args, folder, WARMUP_SECONDS)
    for number in range(args.rounds):
        order = builds[number % len(builds) :] + builds[: number % len(builds)]
        for item in items:
            for build in order:
                result = measure(item.name, build, args, folder)
                item.runs.setdefault(build.label, []).append(result)
                print(
                    f"round {number + 1}, {item.name}, {build.label}: {result.rate:,.1f} {item.unit}",
                    flush=True,
                )


def table(builds: list[Build], items: list[Item], args: argparse.Namespace) -> str:
    header = ["query", "build", *(f"round {n + 1}" for n in range(args.rounds)), "mean", "p50 ms", "p99 ms"]
    lines = [
        f"| {' | '.join([*header, f'/ {builds[0].label}'])} |",
        "| --- | --- |" + " ---: |" * (len(header) - 1),
    ]
    for item in items:
        first = statistics.mean(m.rate for m in item.runs[builds[0].label])
        for build in builds:
            measures = item.runs[build.label]
            mean = statistics.mean(m.rate for m in measures)
            p50, p99 = (
                statistics.median(m.p50 for m in measures),
                statistics.median(m.p99 for m in measures),
            )
            latency = ["-", "-"] if item.name == "ingest" else [f"{p50:.1f}", f"{p99:.1f}"]
            cells = [f"{item.name} ({item.unit})", f"{build.label} ({build.commit})"]
            cells += [f"{m.rate:,.1f}" for m in measures] + [f"{mean:,.1f}", *latency, f"{mean / first:.2f}"]
            lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def parse_build(text: str) -> Build:
    label, _, path = text.partition("=")
    if not re.fullmatch(r"[a-z0-9_]+", label) or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: LABEL=PATH, LABEL of a-z, 0-9 and _")
    return Build(label, Path(path).resolve())


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build", type=parse_build, action="append", required=True, help="LABEL=CHECKOUT")
    parser.add_argument(
        "--articles", type=int, default=10_000, help="generated articles per database (10000)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds, builds in rotating order (3)")
    parser.add_argument("--duration", type=int, default=8, help="seconds of each wrk run (8)")
    parser.add_argument("--connections", type=int, default=16, help="wrk's connections (16)")
    parser.add_argument(
        "--what", default="frontpage,article,search", help="of frontpage,article,search,ingest"
    )
    parser.add_argument("--ingest-articles", type=int, default=2_000, help="for the ingest item (2000)")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--postgres", default=POSTGRES, help=f"the server for the databases ({POSTGRES})")
    args = parser.parse_args()
    labels = [build.label for build in args.build]
    unknown = set(args.what.split(",")) - {"frontpage", "article", "search", "ingest"}
    if len(labels) < 2 or len(set(labels)) != len(labels) or unknown:
        parser.error("two or more builds with different labels; --what of frontpage,article,search,ingest")
    return args


@contextmanager
def stopped_on_exit(builds: list[Build]) -> Iterator[None]:
    """Servers stopped however the script ends: SIGTERM becomes an exit, so the cleanup runs for it too."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield
    finally:
        stop_servers(builds)


def main() -> int:
    args = arguments()
    builds: list[Build] = args.build
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    for build in builds:
        if not Path(build.python).exists():
            print(f"{build.label}: no {build.python} (make the build's venv first)", file=sys.stderr)
            return 2
        commit = ["git", "-C", str(build.path), "describe", "--always", "--dirty"]
        build.commit = subprocess.run(commit, capture_output=True, text=True, check=False).stdout.strip()
    load = os.getloadavg()[0]
    items = [
        Item(name, "articles/s" if name == "ingest" else "req/s")
        for name in ("frontpage", "article", "search", "ingest")
        if name in args.what.split(",")
    ]
    with tempfile.TemporaryDirectory(prefix="broadsheet-compare-") as temporary, stopped_on_exit(builds):
        folder = Path(temporary)
        try:
            for build in builds:
                generate(build, args, folder)
            for build in builds:
                start_server(build, folder)
                check_answers(build, [item.name for item in items])
            rounds(builds, items, args, folder)
        except Failure as failure:
            for build in builds:
                if build.log and build.log.exists() and build.log.stat().st_size:
                    tail = build.log.read_text(errors="replace").splitlines()[-20:]
                    print(f"{build.label}'s server said (last lines):", *tail, sep="\n", file=sys.stderr)
            print(f"FAILED: {failure}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    ingested = f"{args.ingest_articles:,} articles ingested (bench/ingest.py --mode extract, first pass); "
    print(
        f"\n{args.articles:,} generated articles on {args.backend}; `broadsheet serve`, one worker; "
        f"wrk -t1 -c{args.connections} -d{args.duration}s, rounds: {args.rounds}, builds in rotating order; "
        f"{ingested if 'ingest' in args.what else ''}latency: median of the rounds'; "
        f"{os.cpu_count()} CPUs, load average {load:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    print(table(builds, items, args))
    if len({build.extractor for build in builds}) > 1:
        extractors = ", ".join(f"{build.label} {build.extractor}" for build in builds)
        print(f"\nThe builds' extractors differ ({extractors}): install them alike to compare ingest.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

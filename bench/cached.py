"""The cached front page against a static-bytes ceiling, side by side, with wrk driving the load.

    python bench/cached.py [--duration 8] [--rounds 3] [--connections 16] [--articles 2000]
        [--backend sqlite|postgresql] [--redis-url redis://127.0.0.1:6379/0] [--no-pin]

Run it with the project's interpreter (``.venv/bin/python``): it builds the archive with the project's code
and starts ``python -m broadsheet serve`` and the ceiling with that interpreter, so both run on the same
uvicorn. The machine's speed drifts, so only figures measured in the same run are compared, as ratios.

1. wrk from Debian (``apt-get install -y wrk`` when it is missing).
2. An archive of ``--articles`` (2,000) articles where every article has a section and exactly 10 mentions
   (bench/frontpage.py's builder; bench/generate.py gives articles 5 to 15), in a SQLite file in a
   temporary folder, or in the PostgreSQL database ``broadsheet_bench_cached`` (dropped and made again, left
   afterwards). Two keys: ``bench`` (read, limits far above what a run can spend) and ``bench-burst``
   (read, 100/minute).
3. One server per scenario (``broadsheet serve``, one worker, GraphiQL off, the scenario's settings), the
   front page registered on each as an automatic persisted query (POST with the document and its hash) and
   its answer checked (50 articles, each with breadcrumbs and 10 mentions); and the ceiling (bench/ceiling.py)
   serving the cached answer's exact bytes, headers included (its surrogate keys are about 6 KB), and for
   reference a second one serving the body and its content type alone.
4. ``--rounds`` rounds of ``wrk -t1 -c<connections> -d<duration>s --latency``, one per scenario, in an order
   that rotates from round to round, after one unmeasured 2 s run each (which also warms the caches). With
   taskset and two CPUs or more, servers run on CPU 0 and wrk on CPU 1.
5. Two workers: 200 requests of the 100/minute key as fast as 16 threads send them; how many pass.
6. The uncached overhead of key checking, limits and cost: bench/overhead.py alternates uncached front pages
   between two apps in one process, with them and without (wrk's d and d' runs drift more than 5%).

It prints a markdown table (req/s per round and their mean, the median of the rounds' p50 and p99, the ratio
to the ceiling, the CPU other processes used during the runs) and the targets of issue 18, met or not. Exit
1 on a wrong answer, a non-2xx response or a socket error where none is expected; 2 when wrk or Redis is
missing; a missed target is reported, not an error. Servers are stopped however it ends (Ctrl-C too), the
temporary folder removed, and the Redis keys written under this run's prefix deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compare import LUA_COUNT_ERRORS, Failure, Measure, free_port, milliseconds, stop_process
from frontpage import (
    FRONT_PAGE,
    MENTIONS_PER_ARTICLE,
    PAGE_SIZE,
    ROOT,
    cpu_seconds,
    generate,
    load_archive,
    machine_busy_seconds,
)

BENCH = Path(__file__).resolve().parent
POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/broadsheet_bench_cached"
REDIS = "redis://127.0.0.1:6379/0"
SERVER_START_SECONDS = 60.0
WARMUP_SECONDS = 2
# wrk's own default (2 s) is within reach of an uncached front page at 16 connections on a busy machine; a
# request slower than this still fails the run.
WRK_TIMEOUT_SECONDS = 10
VARIABLES = {"first": PAGE_SIZE}
HASH = hashlib.sha256(FRONT_PAGE.encode()).hexdigest()
PERSISTED = {"persistedQuery": {"version": 1, "sha256Hash": HASH}}
# Far above what a run spends (a limit's amount has at most 9 digits: models/api_keys.py). Cached answers are
# charged too, 1,700 units per front page: the bucket of a billion refills ~9,800 pages a second and holds
# the rest of a run at twice that.
UNLIMITED = "999999999/minute"
BURST = 200
BURST_RATE = 100  # per minute: GCRA lets 100 through at once and one more each 0.6 s

# Targets of issue 18 ("Speed, measured side by side").
CACHED_RATIO, KEYED_RATIO, KEYED_P99_MS, OVERHEAD_PERCENT = 0.8, 0.6, 10.0, 5.0

# wrk's request. GraphQL errors are counted only where ``checked`` (the uncached runs): handing every 74 KB
# body to Lua would slow wrk at the cached rates, so there the answer is checked before and after each run.
LUA = """wrk.method = "{method}"
wrk.path = [==[{path}]==]
{headers}
{body}
{check}"""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Server:
    label: str
    env: dict[str, str]
    workers: int = 1
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None


@dataclass
class Scenario:
    id: str  # as the targets name it
    label: str
    server: Server
    request: Request
    checked: bool = False  # GraphQL errors counted by wrk (see LUA)
    runs: list[Measure] = field(default_factory=list)
    others: list[float] = field(default_factory=list)  # CPU of other processes during each run, % of a core
    server_cpu: list[float] = field(default_factory=list)  # the server's CPU per request in each run, µs


# HTTP
# --------------------------------------------------------------------------------------------------------


def fetch(port: int, request: Request) -> tuple[int, dict[str, str], bytes]:
    sent = urllib.request.Request(
        f"http://127.0.0.1:{port}{request.path}",
        data=request.body or None,
        headers=request.headers,
        method=request.method,
    )
    try:
        with urllib.request.urlopen(sent, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def persisted_get(headers: dict[str, str]) -> Request:
    """The front page by hash alone, as a CDN-cacheable GET (the same URL for wrk and for the checks)."""
    query = urllib.parse.urlencode(
        {
            "extensions": json.dumps(PERSISTED, separators=(",", ":")),
            "variables": json.dumps(VARIABLES, separators=(",", ":")),
        }
    )
    return Request("GET", f"/graphql?{query}", {"accept": "application/json", **headers})


def post(headers: dict[str, str], extensions: dict[str, Any] | None = None) -> Request:
    document: dict[str, Any] = {"query": FRONT_PAGE, "variables": VARIABLES}
    if extensions:
        document["extensions"] = extensions
    headers = {"accept": "application/json", "content-type": "application/json", **headers}
    return Request("POST", "/graphql", headers, json.dumps(document).encode())


def check_page(label: str, answer: tuple[int, dict[str, str], bytes]) -> None:
    """The front page as the issue has it, or a Failure saying what is wrong."""
    status, _headers, body = answer
    try:
        document: dict[str, Any] = json.loads(body)
        answered = status == 200 and not document.get("errors")
        edges = document["data"]["articles"]["edges"] if answered else None
    except (ValueError, KeyError, TypeError):
        edges = None
    if edges is None:
        raise Failure(f"{label}: HTTP {status}: {body[:1000]!r}")
    if len(edges) != PAGE_SIZE:
        raise Failure(f"{label}: the front page has {len(edges)} articles, not {PAGE_SIZE}")
    for edge in edges:
        node = edge["node"]
        if not node["breadcrumbs"] or len(node["mentions"]) != MENTIONS_PER_ARTICLE:
            raise Failure(
                f"{label}: article {node['slug']} has {len(node['breadcrumbs'])} breadcrumbs and "
                f"{len(node['mentions'])} mentions (expected some, and {MENTIONS_PER_ARTICLE})"
            )


# Servers
# --------------------------------------------------------------------------------------------------------


def pinned(cpu: int, command: list[str], pin: bool) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if pin else command


def start(server: Server, command: list[str], folder: Path, pin: bool) -> None:
    server.port = free_port()
    server.log = folder / f"server-{server.label}.log"
    # Only the scenario's settings: none inherited from the shell that runs the bench.
    environment = {name: value for name, value in os.environ.items() if not name.startswith("BROADSHEET_")}
    with server.log.open("wb") as log:
        # A session of its own, so that stopping it reaches its workers and nothing else.
        server.process = subprocess.Popen(
            pinned(0, [*command, str(server.port)], pin and server.workers == 1),
            cwd=ROOT,
            env={**environment, **server.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise Failure(f"{server.label}: exited {server.process.returncode}:\n{server.log.read_text()}")
        try:
            if fetch(server.port, Request("GET", "/healthz", {}))[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise Failure(f"{server.label}: no answer on /healthz in {SERVER_START_SECONDS:.0f} s")


def serve(server: Server, database_url: str, folder: Path, pin: bool) -> None:
    server.env = {"BROADSHEET_DATABASE_URL": database_url, "BROADSHEET_GRAPHIQL": "false", **server.env}
    command = [sys.executable, "-m", "broadsheet", "serve", "--workers", str(server.workers), "--port"]
    start(server, command, folder, pin)


def stop(servers: list[Server]) -> None:
    for server in servers:
        stop_process(server.process)


@contextmanager
def cleaned_up(servers: list[Server], redis_url: str, prefix: str) -> Iterator[None]:
    """Servers stopped and this run's Redis keys deleted however the script ends (SIGTERM too)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield
    finally:
        stop(servers)
        from redis import Redis

        client = Redis.from_url(redis_url)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            for first in range(0, len(keys), 1000):
                client.delete(*keys[first : first + 1000])
        finally:
            client.close()


# The archive and the keys
# --------------------------------------------------------------------------------------------------------


def broadsheet(database_url: str, *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "broadsheet", *arguments],
        cwd=ROOT,
        env={**os.environ, "BROADSHEET_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise Failure(
            f"broadsheet {' '.join(arguments)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def build_archive(args: argparse.Namespace, folder: Path) -> tuple[str, str, str]:
    """The database's URL, and the two keys (printed alone on the last line by `keys create`)."""
    url = args.postgres if args.backend == "postgresql" else f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    started = time.perf_counter()
    archive = generate(args.articles, max(100, args.articles // 2))
    asyncio.run(load_archive(url, archive))
    print(
        f"{args.articles:,} articles on {args.backend} in {time.perf_counter() - started:.1f} s", flush=True
    )
    key = broadsheet(url, "keys", "create", "bench", "--rate", UNLIMITED, "--cost", UNLIMITED)
    # A cost budget it cannot spend in the burst, so that its rate is what refuses (1,700 units a page).
    burst_limits = ["--rate", f"{BURST_RATE}/minute", "--cost", UNLIMITED]
    burst = broadsheet(url, "keys", "create", "bench-burst", *burst_limits)
    return url, key.strip().splitlines()[-1], burst.strip().splitlines()[-1]


def static_cost_microseconds() -> float:
    """What computing the front page's static cost takes, in-process (it runs with limits off too)."""
    from graphql import parse

    from broadsheet.settings import Settings
    from graph.cost import operation_cost
    from graph.schema import build_schema

    schema = build_schema(Settings())._schema
    document = parse(FRONT_PAGE)
    calls = 2000
    best = min(
        timeit.repeat(lambda: operation_cost(schema, document, None, VARIABLES), number=calls, repeat=3)
    )
    return best / calls * 1e6


# wrk
# --------------------------------------------------------------------------------------------------------


def ensure_wrk() -> bool:
    if shutil.which("wrk"):
        return True
    print("wrk is missing: apt-get install -y wrk", flush=True)
    done = subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, text=True, check=False)
    if done.returncode != 0 or not shutil.which("wrk"):
        print(f"could not install wrk (apt-get exited {done.returncode}):\n{done.stderr[-2000:]}")
        return False
    return True


def lua(request: Request, checked: bool) -> str:
    headers = "\n".join(f'wrk.headers["{name}"] = [==[{value}]==]' for name, value in request.headers.items())
    body = f"wrk.body = [==[{request.body.decode()}]==]" if request.body else ""
    return LUA.format(
        method=request.method,
        path=request.path,
        headers=headers,
        body=body,
        check=LUA_COUNT_ERRORS if checked else "",
    )


def parse_wrk(output: str, checked: bool) -> Measure:
    """Requests/s and p50/p99 from `wrk --latency`; a Failure on any failed or erroneous request."""
    problems = [
        line.strip()
        for line in output.splitlines()
        if line.strip().startswith(("Non-2xx", "Socket errors")) or re.match(r"GraphQL errors: [1-9]", line)
    ]
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if problems or not (rate and p50 and p99) or (checked and "GraphQL errors: 0" not in output):
        raise Failure(f"wrk: {'; '.join(problems) or 'unexpected output'}:\n{output}")
    return Measure(float(rate[1]), milliseconds(p50[1]), milliseconds(p99[1]))


def children_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def wrk(scenario: Scenario, args: argparse.Namespace, folder: Path, seconds: int) -> Measure:
    """One run; the server's CPU per request goes to ``server_cpu``, and the CPU other processes than the
    server and wrk used meanwhile to ``others``."""
    script = folder / f"{scenario.label}.lua"
    script.write_text(lua(scenario.request, scenario.checked))
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    command += ["--timeout", f"{WRK_TIMEOUT_SECONDS}s"]
    assert scenario.server.process is not None
    pid = scenario.server.process.pid  # taskset execs the server: the same process
    before = machine_busy_seconds(), cpu_seconds(pid), children_seconds(), time.monotonic()
    done = subprocess.run(
        [*pinned(1, command, args.pin), f"http://127.0.0.1:{scenario.server.port}/graphql"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise Failure(f"{scenario.label}: wrk exited {done.returncode}:\n{done.stdout}{done.stderr}")
    busy, server, wrk_used = (
        machine_busy_seconds() - before[0],
        cpu_seconds(pid) - before[1],
        children_seconds() - before[2],
    )
    scenario.others.append(100 * max(0.0, busy - server - wrk_used) / (time.monotonic() - before[3]))
    requests = re.search(r"^\s+(\d+) requests in", done.stdout, re.M)
    scenario.server_cpu.append(server / int(requests[1]) * 1e6 if requests and int(requests[1]) else 0.0)
    try:
        return parse_wrk(done.stdout, scenario.checked)
    except Failure as failure:
        raise Failure(f"{scenario.label}: {failure}") from None


def check(scenario: Scenario) -> None:
    if not scenario.server.label.startswith("ceiling"):
        check_page(scenario.label, fetch(scenario.server.port, scenario.request))


def rounds(scenarios: list[Scenario], args: argparse.Namespace, folder: Path) -> None:
    for scenario in scenarios:
        wrk(scenario, args, folder, WARMUP_SECONDS)
        scenario.others.clear()
        scenario.server_cpu.clear()
    for number in range(args.rounds):
        shift = number % len(scenarios)
        for scenario in scenarios[shift:] + scenarios[:shift]:
            check(scenario)
            result = wrk(scenario, args, folder, args.duration)
            check(scenario)
            scenario.runs.append(result)
            print(
                f"round {number + 1}, {scenario.label}: {result.rate:,.1f} req/s, "
                f"p50 {result.p50:.2f} ms, p99 {result.p99:.2f} ms",
                flush=True,
            )


# The scenarios
# --------------------------------------------------------------------------------------------------------


def register(server: Server, headers: dict[str, str]) -> tuple[dict[str, str], bytes]:
    """The front page registered as an automatic persisted query, then fetched by hash twice (the second
    from the response cache); the headers and body of the last answer."""
    check_page(f"{server.label}: registering", fetch(server.port, post(headers, PERSISTED)))
    for _ in range(2):
        answer = fetch(server.port, persisted_get(headers))
        check_page(f"{server.label}: GET by hash", answer)
    return answer[1], answer[2]


def burst(server: Server, key: str) -> tuple[Counter[int], float]:
    """``BURST`` requests of the limited key, 16 at a time: how many got each status, and how long it took."""
    request = persisted_get({"authorization": f"Bearer {key}"})
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: fetch(server.port, request), range(BURST)))
    elapsed = time.monotonic() - started
    statuses = Counter(status for status, _headers, _body in answers)
    if set(statuses) - {200, 429}:
        raise Failure(f"two workers: statuses {dict(statuses)}; only 200 and 429 expected")
    refused = [(headers, body) for status, headers, body in answers if status == 429]
    if any("retry-after" not in {name.lower() for name in headers} for headers, _body in refused):
        raise Failure("two workers: a 429 without Retry-After")
    codes = Counter(json.loads(body)["errors"][0]["extensions"]["code"] for _headers, body in refused)
    if set(codes) - {"RATE_LIMITED"}:
        raise Failure(f"two workers: refused with {dict(codes)}, where only the rate should refuse")
    return statuses, elapsed


@dataclass
class Plan:
    """Every scenario of the run, and the servers behind them."""

    scenarios: list[Scenario]
    servers: list[Server]
    ceiling: Server
    bare: Server  # the body and its content type only: what the answer's own headers cost, for reference
    burst: Server


def plan(redis: dict[str, str], key: str) -> Plan:
    cached = {"BROADSHEET_RESPONSE_CACHE_SECONDS": "60"}
    off = {"BROADSHEET_LIMITS_ENABLED": "false"}
    keyed = {"authorization": f"Bearer {key}"}
    anonymous_off = Server("cached-anonymous-limits-off", {**cached, **off})
    keyed_redis = Server("cached-key-limits-redis", {**cached, **redis})
    keyed_local = Server("cached-key-limits-no-redis", dict(cached))
    uncached_keyed = Server("uncached-key-limits-cost", dict(redis))
    uncached_off = Server("uncached-anonymous-off", {**redis, **off})
    ceiling = Server("ceiling", {})
    bare = Server("ceiling-body-only", {})
    scenarios = [
        Scenario("a", "a. ceiling: the same bytes, static", ceiling, persisted_get({})),
        Scenario("a2", "a'. the body alone, static (for reference)", bare, persisted_get({})),
        Scenario("b", "b. cached GET, anonymous, limits off", anonymous_off, persisted_get({})),
        Scenario("c", "c. cached GET, key, limits, Redis", keyed_redis, persisted_get(keyed)),
        Scenario("c2", "c'. cached GET, key, limits, no Redis", keyed_local, persisted_get(keyed)),
        Scenario("d", "d. uncached POST, key, limits, cost", uncached_keyed, post(keyed), checked=True),
        Scenario("d2", "d'. uncached POST, anonymous, limits off", uncached_off, post({}), checked=True),
    ]
    two = Server("two-workers", {**cached, **redis}, workers=2)
    servers = [scenario.server for scenario in scenarios[2:]]
    return Plan(scenarios, [*servers, ceiling, bare, two], ceiling, bare, two)


def prepare(plan: Plan, url: str, folder: Path, pin: bool) -> None:
    """Every server started and its answer checked; the ceiling serves the cached anonymous answer."""
    for scenario in plan.scenarios[2:]:
        serve(scenario.server, url, folder, pin)
        headers = {name: value for name, value in scenario.request.headers.items() if name == "authorization"}
        if scenario.request.method == "GET":
            answer_headers, body = register(scenario.server, headers)
            if plan.ceiling.process is None:  # the first cached server's answer is the ceiling's
                (folder / "page.json").write_bytes(body)
                # All it sent but what uvicorn adds itself (urllib asked to close the connection, so the
                # answer says `connection: close`); the request id and timing as sent once.
                sent = [[name.lower(), value] for name, value in answer_headers.items()]
                kept = [pair for pair in sent if pair[0] not in ("date", "server", "connection")]
                (folder / "headers.json").write_text(json.dumps(kept), encoding="utf-8")
                page = {"BENCH_CEILING_BODY": str(folder / "page.json")}
                plan.ceiling.env = {**page, "BENCH_CEILING_HEADERS": str(folder / "headers.json")}
                plan.bare.env = {**page, "BENCH_CEILING_TYPE": answer_headers["content-type"]}
                for ceiling in (plan.ceiling, plan.bare):
                    start(ceiling, [sys.executable, str(BENCH / "ceiling.py")], folder, pin)
                    if fetch(ceiling.port, plan.scenarios[0].request)[2] != body:
                        raise Failure(f"{ceiling.label} does not serve the cached answer's bytes")
        else:
            check(scenario)


# The report
# --------------------------------------------------------------------------------------------------------


def table(scenarios: list[Scenario], rounds: int) -> str:
    header = ["scenario", *(f"round {n + 1}" for n in range(rounds)), "mean req/s", "p50 ms", "p99 ms"]
    header += ["/ ceiling", "server CPU µs/req", "others' CPU %"]
    lines = [f"| {' | '.join(header)} |", "| --- |" + " ---: |" * (len(header) - 1)]
    ceiling = statistics.mean(run.rate for run in scenarios[0].runs)
    for scenario in scenarios:
        mean = statistics.mean(run.rate for run in scenario.runs)
        cells = [scenario.label, *(f"{run.rate:,.1f}" for run in scenario.runs), f"{mean:,.1f}"]
        cells += [f"{statistics.median(run.p50 for run in scenario.runs):.2f}"]
        cells += [f"{statistics.median(run.p99 for run in scenario.runs):.2f}", f"{mean / ceiling:.3f}"]
        cells += [f"{statistics.median(scenario.server_cpu):,.0f}", f"{max(scenario.others):.0f}"]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def interleaved_overhead(url: str, redis_url: str, prefix: str, key: str, requests: int) -> dict[str, float]:
    """bench/overhead.py's figures: the uncached front page with key checking, limits and cost on and off,
    requests alternating between two apps in one process (wrk runs drift more than the figure looked for)."""
    command = [sys.executable, str(BENCH / "overhead.py"), url, redis_url, prefix, key]
    done = subprocess.run(
        [*command, "--requests", str(requests)], capture_output=True, text=True, check=False, timeout=1800
    )
    if done.returncode != 0:
        raise Failure(f"bench/overhead.py failed: {done.stderr.strip()[-2000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def verdicts(
    scenarios: list[Scenario],
    statuses: Counter[int],
    elapsed: float,
    cost_us: float,
    overhead: dict[str, float],
) -> list[str]:
    mean = {s.id: statistics.mean(run.rate for run in s.runs) for s in scenarios}
    p99 = {s.id: statistics.median(run.p99 for run in s.runs) for s in scenarios}
    cached, keyed = mean["b"] / mean["a"], mean["c"] / mean["a"]
    by_wrk = 100 * (1 - mean["d"] / mean["d2"])
    added = overhead["overhead_percent"]
    cost_share = cost_us * mean["d2"] / 1e4  # percent of a second of server time per request
    refill = int(elapsed / (60 / BURST_RATE))
    passed = statuses[200]

    def met(condition: bool) -> str:
        return "**met**" if condition else "**not met**"

    return [
        f"- cached front page, anonymous, limits off: {cached:.2f}x the ceiling "
        f"(target >= {CACHED_RATIO}x): {met(cached >= CACHED_RATIO)}; against the body alone, "
        f"{mean['b'] / mean['a2']:.2f}x",
        f"- cached, key checking and rate limiting on (Redis): {keyed:.2f}x the ceiling "
        f"(target >= {KEYED_RATIO}x): {met(keyed >= KEYED_RATIO)}; p99 {p99['c']:.2f} ms "
        f"(target < {KEYED_P99_MS:.0f} ms): {met(p99['c'] < KEYED_P99_MS)}",
        f"- uncached, key + limits + cost against the same build with them off, requests alternating in one "
        f"process ({overhead['requests']:.0f} each): {overhead['on_median_ms']:.2f} against "
        f"{overhead['off_median_ms']:.2f} ms (median), {added:+.1f}% (target < {OVERHEAD_PERCENT:.0f}%): "
        f"{met(added < OVERHEAD_PERCENT)}; by wrk (d against d', drifting between runs): {by_wrk:+.1f}%. "
        f"The static cost is computed in both ({cost_us:.0f} µs per front page in-process, {cost_share:.1f}% "
        "of the server's time per uncached request at d's rate), so it is in neither figure",
        f"- two workers, Redis, a key limited to {BURST_RATE}/minute: {passed} of {BURST} requests passed, "
        f"{statuses[429]} got 429, in {elapsed:.1f} s (expected {BURST_RATE} + up to {refill + 1} refilled): "
        f"{met(BURST_RATE <= passed <= BURST_RATE + refill + 1)}",
    ]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=8, help="seconds of each wrk run (8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, scenarios in rotating order (3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk's connections (16)")
    parser.add_argument("--articles", type=int, default=2_000, help="articles in the archive (2000)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres", default=POSTGRES, help=f"the database for postgresql ({POSTGRES})")
    parser.add_argument("--redis-url", default=REDIS, help=f"Redis ({REDIS})")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="no taskset")
    parser.add_argument(
        "--overhead-requests", type=int, default=300, help="uncached requests per app, alternating (300)"
    )
    args = parser.parse_args()
    if args.articles < PAGE_SIZE or args.rounds < 1 or args.duration < 1:
        parser.error(f"at least {PAGE_SIZE} articles, one round, one second")
    args.pin = args.pin and bool(shutil.which("taskset")) and (os.cpu_count() or 1) > 1
    return args


def redis_reachable(url: str) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    except RedisError:
        return False
    finally:
        client.close()


def run(args: argparse.Namespace, folder: Path, prefix: str) -> int:
    url, key, burst_key = build_archive(args, folder)
    cost_us = static_cost_microseconds()
    redis = {"BROADSHEET_REDIS_URL": args.redis_url, "BROADSHEET_REDIS_PREFIX": prefix}
    scenarios = plan(redis, key)
    load = os.getloadavg()[0]
    with cleaned_up(scenarios.servers, args.redis_url, prefix):
        try:
            prepare(scenarios, url, folder, args.pin)
            rounds(scenarios.scenarios, args, folder)
            serve(scenarios.burst, url, folder, pin=False)
            register(scenarios.burst, {"authorization": f"Bearer {key}"})
            statuses, elapsed = burst(scenarios.burst, burst_key)
            overhead = interleaved_overhead(url, args.redis_url, prefix, key, args.overhead_requests)
        except Failure as failure:
            for server in scenarios.servers:
                if server.log and server.log.exists() and server.log.stat().st_size:
                    tail = server.log.read_text(errors="replace").splitlines()[-20:]
                    print(f"{server.label}'s server said (last lines):", *tail, sep="\n", file=sys.stderr)
            print(f"FAILED: {failure}", file=sys.stderr)
            return 1
    import uvicorn

    implementations = [name for name in ("uvloop", "httptools") if _importable(name)] or ["asyncio", "h11"]
    print(
        f"\n{args.articles:,} articles on {args.backend}; front page of {PAGE_SIZE} articles, "
        f"{MENTIONS_PER_ARTICLE} mentions each; one worker per server (uvicorn {uvicorn.__version__}, "
        f"{' + '.join(implementations)}){', servers on CPU 0, wrk on CPU 1' if args.pin else ''}; "
        f"wrk -t1 -c{args.connections} -d{args.duration}s, {args.rounds} rounds in rotating order; "
        f"{os.cpu_count()} CPUs, load average {load:.1f} before, {os.getloadavg()[0]:.1f} after; server CPU: "
        "the median of the rounds' (utime + stime of the server process over the run, per request); others' "
        "CPU: the most, over the rounds, that processes other than the server and wrk used during a run, "
        "in % of one core (Redis and PostgreSQL included)\n"
    )
    print(table(scenarios.scenarios, args.rounds))
    print("\nTargets (issue 18):\n")
    print("\n".join(verdicts(scenarios.scenarios, statuses, elapsed, cost_us, overhead)))
    return 0


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def main() -> int:
    args = arguments()
    if str(ROOT) not in sys.path:  # the project's code, for the archive and the cost figure
        sys.path.insert(0, str(ROOT))
    if not ensure_wrk():
        return 2
    if not redis_reachable(args.redis_url):
        print(f"no Redis at {args.redis_url} (--redis-url)", file=sys.stderr)
        return 2
    prefix = f"broadsheet-bench-cached-{secrets.token_hex(6)}:"
    with tempfile.TemporaryDirectory(prefix="broadsheet-cached-") as temporary:
        try:
            return run(args, Path(temporary), prefix)
        except Failure as failure:
            print(f"FAILED: {failure}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())

"""Front-page benchmark: a synthetic archive, the real server, load from a separate process.

    python bench/frontpage.py [--backend sqlite|postgresql|both] [--articles 10000] [--duration 10]
                              [--connections 16] [--runs 3]

For each backend it builds a fresh database with the real migrations and a deterministic archive (53 sections,
10,000 articles of ~600 words, 5,000 entities, 100,000 mentions), starts `uvicorn graph.app:create_app` as a
subprocess, checks the front page once, then drives POSTs of the front-page query from another process
(httpx, N keep-alive connections) and prints requests/s, latency percentiles and the server's CPU time per
request. Exits non-zero when any request failed. All traffic goes to 127.0.0.1; every loop is bounded.

See bench/README.md for what the numbers mean and the reference figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261126
POSTGRES_DEFAULT = os.environ.get(
    "BROADSHEET_BENCH_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/broadsheet_bench"
)
WARMUP_SECONDS = 2.0
REQUEST_TIMEOUT = 30.0
BUSY_PERCENT = 10  # other processes using more than this share of a core make the figures suspect
MAX_REQUESTS_PER_RUN = 2_000_000  # a bound on any one run, far above what a run can reach
PAGE_SIZE = 50
MENTIONS_PER_ARTICLE = 10

FRONT_PAGE = """
query FrontPage($first: Int!) {
  articles(first: $first) {
    edges {
      node {
        id slug headline standfirst publishedAt
        section { name }
        breadcrumbs { name path }
        mentions(first: 10) { role count entity { name kind } }
      }
    }
  }
}
"""
PAYLOAD = json.dumps({"query": FRONT_PAGE, "variables": {"first": PAGE_SIZE}}).encode()
HEADERS = {"content-type": "application/json"}

# --------------------------------------------------------------------------------------------------------
# The synthetic archive
# --------------------------------------------------------------------------------------------------------

# Home > 6 sections > 24 subsections > 22 below those: 53 sections, three levels under Home.
SECTION_TREE: dict[str, dict[str, list[str]]] = {
    "News": {
        "UK": ["England", "Scotland", "Wales", "Northern Ireland"],
        "Politics": [],
        "Education": [],
        "Health": [],
    },
    "World": {
        "Europe": ["Baltics", "Balkans", "Nordics"],
        "Africa": ["East Africa", "West Africa"],
        "Asia": ["China", "India"],
        "Americas": ["Latin America"],
    },
    "Business": {
        "Markets": ["Currencies", "Commodities"],
        "Companies": [],
        "Economy": ["Energy"],
        "Technology": ["AI"],
    },
    "Science": {
        "Space": ["Astronomy"],
        "Climate": ["Weather"],
        "Environment": [],
        "Medicine": [],
    },
    "Sport": {
        "Football": ["Cups", "Premier League"],
        "Cricket": [],
        "Tennis": [],
        "Athletics": [],
    },
    "Culture": {
        "Books": [],
        "Film": ["Reviews"],
        "Music": ["Festivals"],
        "Arts": [],
    },
}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


WORDS = _words(
    "the a of to and in that for on with as by at from it its this was were is are has have had will would "
    "could should may might said says told according government minister officials council city country "
    "report plan deal talks week year month today yesterday morning evening new first last next former "
    "public private national local regional international economic political social energy water market "
    "prices costs budget tax spending growth inflation rates bank banks company companies workers jobs "
    "union strike court judge law rules ministry agency police army border security defence trade exports "
    "imports farmers harvest weather storm flood drought heat climate emissions wind solar power grid "
    "cable network data study scientists researchers university hospital patients doctors health care "
    "school pupils teachers students housing homes rent mortgage families children people residents voters "
    "election campaign party leader leaders opposition parliament vote votes bill reform proposal "
    "agreement treaty summit meeting delegation envoy president premier mayor chief executive board "
    "shareholders investors profit losses quarter sales demand supply shortage chain port shipping "
    "airline flights rail station road bridge project contract tender billion million percent figures "
    "survey poll critics supporters analysts experts warned argued insisted added noted expected "
    "announced confirmed denied rejected approved delayed cancelled launched opened closed "
    "after before during while because although despite since until over under between against "
    "about around across into through more less most least many few several some all other such "
    "long short high low large small major minor key main early late recent previous further final "
    "team match season club players coach goal win defeat title cup league final fans stadium "
    "film album book festival exhibition gallery museum artist writer director audience critics "
    "planet star telescope orbit mission launch satellite rocket moon probe signal discovery"
)

FIRST_NAMES = _words(
    "Amara Tomas Lena Jonas Sofia Marek Ines Pavel Ayla Kofi Nadia Oskar Maren Emil Zara Idris Freya Lars "
    "Noor Mateo Elif Rafael Hana Viktor Leila Bruno Maya Anton Sana Felix Ida Karim Rosa Henrik Asha Luca "
    "Yara Omar Clara Milan Priya Hugo Selin Dario Nina Arjun Eva Tariq Greta Kenji Alma Sami Vera Dmitri "
    "Lina Ivo Mira Chidi Alba"
)
LAST_NAMES = _words(
    "Okafor Berg Novak Lindqvist Haddad Moreau Kowalski Rossi Petrov Mensah Sato Fischer Duarte Nilsen "
    "Kaya Varga Andersen Costa Ibrahim Weber Horvat Silva Jensen Popescu Ndiaye Ortega Larsen Dubois "
    "Ferreira Yilmaz Kovac Schmidt Ahmed Nowak Ricci Eriksen Banda Mendes Holm Laurent Wagner Santos "
    "Tanaka Dahl Mwangi Rahman Vidal Keller Osei Lund Marino Bakker Cruz Sorensen Abara Hoffmann Suzuki "
    "Brandt Moretti Owusu Ramos Lehmann Aydin Kruger Nakamura Strand Adeyemi Pereira Wolff Romano Kim "
    "Jovanovic Torres Engel Mbeki Castro Falk Acheampong Navarro"
)
ROLES = (
    "Finance Minister",
    "Deputy Mayor",
    "Prime Minister",
    "President",
    "chief executive",
    "spokesperson",
    "Foreign Minister",
    "Defence Secretary",
    "professor",
    "head coach",
    "envoy",
    "central bank governor",
    "union leader",
    "opposition leader",
    "director",
)
ORG_FIRST = _words(
    "Northern Southern Eastern Western Central United Royal National Atlantic Baltic Nordic Pacific "
    "Continental Federal Metropolitan Coastal Alpine Global Civic Standard"
)
ORG_SECOND = _words(
    "Energy Shipping Rail Steel Water Grain Mining Media Health Insurance Telecom Aviation Power Cable "
    "Textile Chemical Timber Fisheries Freight Software Bank Credit Harbour Transit Research"
)
ORG_THIRD = ("Group", "Authority", "Company", "Holdings", "Council", "Institute", "Partners", "Union")
PLACE_HEAD = _words("Bel Dor Kar Lin Mar Nor Os Ros Sal Tor Val Vel Ash Bran Cal Fen Gal Hal Kel Mor")
PLACE_MID = ("a", "e", "i", "o", "u", "an", "en", "ar", "or", "el")
PLACE_TAIL = _words("burg mouth ford vik stad polis grad port field haven dale holm ria via bridge")


@dataclass
class Archive:
    sections: list[dict[str, Any]]
    articles: list[dict[str, Any]]
    entities: list[dict[str, Any]]
    aliases: list[dict[str, Any]]
    mentions: list[dict[str, Any]]


def _section_rows() -> list[dict[str, Any]]:
    from slugify import slugify

    created = datetime(2023, 12, 1, tzinfo=UTC)
    rows = [dict(id=1, parent_id=None, slug="home", name="Home", path="", created_at=created)]

    def add(parent: dict[str, Any], name: str) -> dict[str, Any]:
        slug = slugify(name)
        path = f"{parent['path']}/{slug}" if parent["path"] else slug
        row = dict(
            id=len(rows) + 1, parent_id=parent["id"], slug=slug, name=name, path=path, created_at=created
        )
        rows.append(row)
        return row

    for top, subsections in SECTION_TREE.items():
        top_row = add(rows[0], top)
        for sub, leaves in subsections.items():
            sub_row = add(top_row, sub)
            for leaf in leaves:
                add(sub_row, leaf)
    return rows


def _entity_rows(rng: random.Random, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from slugify import slugify

    from resolvers.entities import normalize_name

    people = count // 2
    organizations = count * 3 // 10
    places = count - people - organizations
    names: list[tuple[str, str]] = []
    person_names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    org_names = [f"{a} {b} {c}" for a in ORG_FIRST for b in ORG_SECOND for c in ORG_THIRD]
    place_names = sorted(
        {f"{h}{m}{t}".capitalize() for h in PLACE_HEAD for m in PLACE_MID for t in PLACE_TAIL}
    )
    for kind, pool, wanted in (
        ("person", person_names, people),
        ("organization", org_names, organizations),
        ("place", place_names, places),
    ):
        if wanted > len(pool):  # more than the pools hold: numbered names, still unique
            pool = [f"{name} {number}" for number in range(wanted // len(pool) + 1) for name in pool]
        names.extend((kind, name) for name in rng.sample(pool, wanted))
    rng.shuffle(names)
    created = datetime(2023, 12, 1, tzinfo=UTC)
    entities: list[dict[str, Any]] = []
    aliases: list[dict[str, Any]] = []
    slugs: set[str] = set()
    for number, (kind, name) in enumerate(names, start=1):
        slug = slugify(name)
        while slug in slugs:
            slug = f"{slug}-{number}"
        slugs.add(slug)
        entities.append(
            dict(
                id=number,
                kind=kind,
                name=name,
                slug=slug,
                description=None,
                wikidata_id=None,
                created_at=created,
            )
        )
        forms = [name]
        if kind == "person":
            forms.append(name.split()[-1])  # the surname alone, as articles use it
        seen = set()
        for form in forms:
            key = normalize_name(form)
            if key not in seen:
                seen.add(key)
                aliases.append(dict(id=len(aliases) + 1, entity_id=number, alias=form, normalized=key))
    return entities, aliases


def _sentence(rng: random.Random) -> tuple[str, int]:
    length = rng.randint(9, 22)
    words = rng.choices(WORDS, k=length)
    return " ".join(words).capitalize() + ".", length


def generate(articles: int, entities: int, *, seed: int = SEED) -> Archive:
    """The same archive for the same arguments, on every machine."""
    from slugify import slugify

    rng = random.Random(seed)
    sections = _section_rows()
    filed_in = [row["id"] for row in sections if row["parent_id"] is not None]
    entity_rows, alias_rows = _entity_rows(rng, entities)
    sentences = [_sentence(rng) for _ in range(4000)]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    spacing = timedelta(days=365) / max(articles, 1)
    article_rows: list[dict[str, Any]] = []
    mention_rows: list[dict[str, Any]] = []
    entity_ids = range(1, len(entity_rows) + 1)
    per_article = min(MENTIONS_PER_ARTICLE, len(entity_rows))
    for number in range(1, articles + 1):
        headline_words = rng.choices(WORDS, k=rng.randint(6, 11))
        headline = " ".join(word.capitalize() for word in headline_words)
        standfirst = _sentence(rng)[0]
        body: list[dict[str, str]] = []
        words = 0
        while words < 600:
            if body and len(body) % 5 == 4:
                subheading = " ".join(rng.choices(WORDS, k=rng.randint(3, 6))).capitalize()
                body.append({"type": "subheading", "text": subheading})
                words += len(subheading.split())
            picked = rng.choices(sentences, k=rng.randint(3, 6))
            body.append({"type": "paragraph", "text": " ".join(text for text, _ in picked)})
            words += sum(length for _, length in picked)
        published = start + spacing * number + timedelta(seconds=rng.randint(0, 600))
        article_rows.append(
            dict(
                id=number,
                slug=f"{slugify(' '.join(headline_words[:8]))}-{number}",
                headline=headline,
                standfirst=standfirst,
                body=body,
                section_id=rng.choice(filed_in),
                status="published",
                published_at=published,
                updated_at=published,
                created_at=published,
                source_format="json",
                source_id=f"bench-{number}",
                canonical_url=None,
                authors=[f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"],
                word_count=words,
            )
        )
        saliences = sorted((rng.random() for _ in range(per_article)), reverse=True)
        for rank, entity_id in enumerate(rng.sample(entity_ids, per_article)):
            kind = entity_rows[entity_id - 1]["kind"]
            locations = (
                []
                if rng.random() < 0.3
                else [["body", block, 10 * block + 10, 10 * block + 20] for block in range(rng.randint(1, 2))]
            )
            mention_rows.append(
                dict(
                    id=len(mention_rows) + 1,
                    article_id=number,
                    entity_id=entity_id,
                    published_at=published,
                    role=rng.choice(ROLES) if kind == "person" and rng.random() < 0.85 else None,
                    count=rng.randint(1, 12),
                    first_position=rank * 40 + rng.randint(0, 39),
                    salience=round(saliences[rank], 4),
                    locations=locations,
                )
            )
    return Archive(sections, article_rows, entity_rows, alias_rows, mention_rows)


async def _drop_postgres_database(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = make_url(url)
    server = create_async_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    try:
        async with server.connect() as connection:
            quoted = connection.dialect.identifier_preparer.quote(parsed.database or "")
            await connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    finally:
        await server.dispose()


async def load_archive(url: str, archive: Archive) -> None:
    """A fresh, migrated database at ``url`` holding ``archive`` (bulk Core inserts, chunked)."""
    from sqlalchemy import insert, text

    import models
    from models.db import create_engine, ensure_database, upgrade

    postgres = url.startswith("postgresql")
    if postgres:
        await _drop_postgres_database(url)
        await ensure_database(url)
    engine = create_engine(url)
    try:
        await upgrade(engine)
        tables = models.metadata.tables
        async with engine.begin() as connection:
            for name, rows, chunk in (
                ("section", archive.sections, 1000),
                ("entity", archive.entities, 5000),
                ("entity_alias", archive.aliases, 5000),
                ("article", archive.articles, 1000),
                ("mention", archive.mentions, 10000),
            ):
                for first in range(0, len(rows), chunk):
                    await connection.execute(insert(tables[name]), rows[first : first + chunk])
            if postgres:  # ids were given explicitly: move the sequences past them
                for name in ("section", "entity", "entity_alias", "article", "mention"):
                    await connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
                        )
                    )
        if postgres:
            autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
            async with autocommit.connect() as connection:
                await connection.execute(text("VACUUM ANALYZE"))
        else:
            async with engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pinned(cpu: int, command: list[str]) -> list[str]:
    """``command`` pinned to one CPU with taskset, when there is taskset and more than one CPU."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(cpu), *command]
    return command


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """utime + stime of a process from /proc/<pid>/stat; with ``children``, plus its reaped children's."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def parent_pid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return int(stat.read().rsplit(b")", 1)[1].split()[1])


def postgres_backends(database: str) -> list[int]:
    """Pids of the PostgreSQL backends serving ``database`` (their process titles name it)."""
    marker = f" {database} ".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                title = handle.read()
        except OSError:
            continue  # gone already
        if title.startswith(b"postgres: ") and marker in title:
            found.append(int(entry.name))
    return found


def pin_postgres_backends(database: str, cpu: int = 0) -> int:
    """Pin the backends serving ``database`` to ``cpu`` (as the reference runs did); how many were pinned.

    Best effort: backends that PostgreSQL starts later (the pool opening overflow connections) run
    unpinned, so the bench re-pins before every run.
    """
    pinned = 0
    for pid in postgres_backends(database):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, {cpu})
            pinned += 1
    return pinned


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs spent busy since boot, from /proc/stat (idle and iowait excluded)."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(server_pid: int, database: str | None) -> dict[str, Any]:
    """CPU seconds so far: the server, this process, PostgreSQL (see ``cpu_used``), the whole machine."""
    backends = {}
    postmaster = None
    for pid in postgres_backends(database) if database else []:
        with contextlib.suppress(OSError):
            backends[pid] = cpu_seconds(pid)
            if postmaster is None:
                parent = parent_pid(pid)
                postmaster = (parent, cpu_seconds(parent, children=True))
    return {
        "server": cpu_seconds(server_pid),
        "self": cpu_seconds(os.getpid()),
        "postgres": backends,
        "postmaster": postmaster,
        "machine": machine_busy_seconds(),
    }


def cpu_used(start: dict[str, Any], end: dict[str, Any]) -> dict[str, float]:
    """CPU seconds between two snapshots.

    PostgreSQL's share is the bench database's backends, plus the postmaster with the children it reaped in
    between: the pool opens and closes overflow connections under load, and a backend that exits takes its
    CPU time to the postmaster's account (less what it had used before the window).
    """
    server = end["server"] - start["server"]
    before, after = start["postgres"], end["postgres"]
    postgres = sum(used - before.get(pid, 0.0) for pid, used in after.items())
    if start["postmaster"] and end["postmaster"] and start["postmaster"][0] == end["postmaster"][0]:
        postgres += end["postmaster"][1] - start["postmaster"][1]
        postgres -= sum(used for pid, used in before.items() if pid not in after)
    load = end["self"] - start["self"]
    machine = end["machine"] - start["machine"]
    return {
        "server": server,
        "postgres": max(0.0, postgres),
        "load": load,
        "other": max(0.0, machine - server - postgres - load),
    }


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def start_server(database_url: str, workdir: Path, *, pin: bool) -> Server:
    import httpx

    port = _free_port()
    env = dict(os.environ)
    env.update(
        BROADSHEET_DATABASE_URL=database_url,
        BROADSHEET_GRAPHIQL="false",
        BROADSHEET_LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "graph.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    log_path = workdir / f"server-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            _pinned(0, command) if pin else command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/healthz").status_code == 200:
                    return server
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the server did not answer /healthz within 60 s:\n{server.log_tail()}")


def check_front_page(base_url: str) -> str | None:
    """None when the front page is 50 articles, each with breadcrumbs and 10 mentions; else what is wrong."""
    import httpx

    response = httpx.post(f"{base_url}/graphql", content=PAYLOAD, headers=HEADERS, timeout=REQUEST_TIMEOUT)
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:2000]}"
    body = response.json()
    if body.get("errors"):
        return f"GraphQL errors: {json.dumps(body['errors'])[:2000]}"
    edges = body["data"]["articles"]["edges"]
    if len(edges) != PAGE_SIZE:
        return f"{len(edges)} edges, expected {PAGE_SIZE}"
    for edge in edges:
        node = edge["node"]
        if not node["breadcrumbs"]:
            return f"article {node['slug']} has no breadcrumbs"
        if len(node["mentions"]) != MENTIONS_PER_ARTICLE:
            return f"article {node['slug']} has {len(node['mentions'])} mentions, expected 10"
    return None


# --------------------------------------------------------------------------------------------------------
# The load generator (runs in its own process: `frontpage.py --load ...`)
# --------------------------------------------------------------------------------------------------------


async def drive(
    base_url: str, connections: int, warmup: float, duration: float, server_pid: int, database: str | None
) -> dict[str, Any]:
    """N workers POSTing the front page back to back; what completed inside the measured window counts."""
    import httpx

    latencies: list[float] = []
    errors = 0
    error_samples: list[str] = []
    sent = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    start = time.perf_counter()
    window_start = start + warmup
    window_end = window_start + duration
    cpu: dict[str, dict[str, Any]] = {}

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors, sent
        while sent < MAX_REQUESTS_PER_RUN:
            began = time.perf_counter()
            if began >= window_end:
                return
            sent += 1
            problem = None
            try:
                response = await client.post("/graphql", content=PAYLOAD, headers=HEADERS)
                if response.status_code != 200:
                    problem = f"HTTP {response.status_code}: {response.text[:500]}"
                elif b'"errors"' in response.content:
                    problem = f"GraphQL errors: {response.text[:1000]}"
            except httpx.HTTPError as error:
                problem = f"{error.__class__.__name__}: {error}"
            ended = time.perf_counter()
            if problem is not None:
                errors += 1
                if len(error_samples) < 5:
                    error_samples.append(problem)
                await asyncio.sleep(0.05)  # a failing server is not hammered
            elif window_start <= ended <= window_end:
                latencies.append(ended - began)

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
        cpu["start"] = cpu_snapshot(server_pid, database)
        await asyncio.sleep(max(0.0, window_end - time.perf_counter()))
        cpu["end"] = cpu_snapshot(server_pid, database)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT) as client:
        await asyncio.gather(sample_cpu(), *(worker(client) for _ in range(connections)))
    latencies.sort()
    done = len(latencies)
    used = cpu_used(cpu["start"], cpu["end"])

    def percentile(fraction: float) -> float | None:
        return latencies[min(done - 1, int(fraction * done))] * 1000 if done else None

    return {
        "connections": connections,
        "duration": duration,
        "requests": done,
        "rps": done / duration,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "max_ms": latencies[-1] * 1000 if done else None,
        "server_cpu_ms_per_request": used["server"] * 1000 / done if done else None,
        "postgres_cpu_ms_per_request": used["postgres"] * 1000 / done if done and database else None,
        "load_cpu_percent": 100 * used["load"] / duration,
        "other_cpu_percent": 100 * used["other"] / duration,
        "errors": errors,
        "error_samples": error_samples,
    }


def run_load(
    base_url: str, connections: int, duration: float, server_pid: int, database: str | None, *, pin: bool
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--load",
        base_url,
        "--connections",
        str(connections),
        "--duration",
        str(duration),
        "--server-pid",
        str(server_pid),
        *(["--database", database] if database else []),
    ]
    finished = subprocess.run(
        _pinned(1, command) if pin else command,
        capture_output=True,
        timeout=WARMUP_SECONDS + duration + REQUEST_TIMEOUT + 60,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"the load generator failed ({finished.returncode}):\n{finished.stderr.decode()}")
    result: dict[str, Any] = json.loads(finished.stdout)
    return result


# --------------------------------------------------------------------------------------------------------
# One backend, and the table
# --------------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    backend: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    single: dict[str, Any] | None = None
    failure: str | None = None
    build_seconds: float = 0.0

    @property
    def errors(self) -> int:
        return sum(run["errors"] for run in [*self.runs, *([self.single] if self.single else [])])

    def median(self, key: str) -> float | None:
        values = [run[key] for run in self.runs if run[key] is not None]
        return statistics.median(values) if values else None


def bench_backend(backend: str, args: argparse.Namespace, archive: Archive, workdir: Path) -> Outcome:
    from sqlalchemy.engine import make_url

    outcome = Outcome(backend)
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'broadsheet-bench.db'}"
    else:
        from broadsheet.settings import Settings

        url = Settings(database_url=args.postgres_url).database_url  # postgresql:// -> +asyncpg, as served
    began = time.perf_counter()
    asyncio.run(load_archive(url, archive))
    outcome.build_seconds = time.perf_counter() - began
    print(f"[{backend}] archive loaded in {outcome.build_seconds:.1f} s", flush=True)
    pin = not args.no_pin
    database = make_url(url).database if backend == "postgresql" else None
    server = start_server(url, workdir, pin=pin)
    try:
        problem = check_front_page(server.base_url)
        if problem is not None:
            outcome.failure = f"front page check failed: {problem}"
            return outcome
        plan = [(args.connections, run) for run in range(1, args.runs + 1)] + [(1, 0)]
        for connections, number in plan:
            if database and pin:
                pin_postgres_backends(database)
            result = run_load(server.base_url, connections, args.duration, server.pid, database, pin=pin)
            label = f"run {number}/{args.runs}, {connections} connections" if number else "one connection"
            postgres = result["postgres_cpu_ms_per_request"]
            print(
                f"[{backend}] {label}: {result['rps']:.1f} req/s, "
                f"p50 {_ms(result['p50_ms'])} ms, p99 {_ms(result['p99_ms'])} ms, "
                f"server CPU {_ms(result['server_cpu_ms_per_request'])} ms/request"
                + (f", PostgreSQL CPU {_ms(postgres)} ms/request" if postgres is not None else "")
                + f", load generator {result['load_cpu_percent']:.0f}% of a core"
                f", others {result['other_cpu_percent']:.0f}% of a core, errors {result['errors']}",
                flush=True,
            )
            for sample in result["error_samples"]:
                print(f"[{backend}]   error: {sample}", flush=True)
            if number:
                outcome.runs.append(result)
            else:
                outcome.single = result
        if server.process.poll() is not None:
            outcome.failure = f"the server exited with {server.process.returncode}"
    finally:
        server.stop()
        log = server.log_tail(60).strip()
        if log:
            print(f"[{backend}] server log (last lines):\n{log}", flush=True)
    return outcome


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_table(outcomes: list[Outcome], connections: int) -> None:
    head = (
        "backend",
        "req/s",
        f"p50 ms @{connections}",
        f"p99 ms @{connections}",
        "1-conn p50 ms",
        "server CPU ms/req",
        "errors",
    )
    rows = []
    for outcome in outcomes:
        if outcome.failure and not outcome.runs:
            rows.append((outcome.backend, "failed", "-", "-", "-", "-", str(outcome.errors)))
            continue
        single = outcome.single or {}
        rows.append(
            (
                outcome.backend,
                _ms(outcome.median("rps")),
                _ms(outcome.median("p50_ms")),
                _ms(outcome.median("p99_ms")),
                _ms(single.get("p50_ms")),
                _ms(outcome.median("server_cpu_ms_per_request")),
                str(outcome.errors),
            )
        )
    widths = [max(len(row[column]) for row in [head, *rows]) for column in range(len(head))]
    print("| " + " | ".join(cell.ljust(width) for cell, width in zip(head, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * width for width in widths) + " |")
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        print("| " + " | ".join(cells) + " |")
    for outcome in outcomes:
        if outcome.runs:
            postgres = outcome.median("postgres_cpu_ms_per_request")
            other = max(
                run["other_cpu_percent"] for run in [*outcome.runs, outcome.single or outcome.runs[0]]
            )
            print(
                f"{outcome.backend}: "
                + (f"PostgreSQL {_ms(postgres)} ms CPU/request; " if postgres is not None else "")
                + f"other processes used up to {other:.0f}% of a core during the runs"
                + (" (a busy machine: rerun when it is quiet)" if other > BUSY_PERCENT else "")
            )
        if outcome.failure:
            print(f"{outcome.backend}: {outcome.failure}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--entities", type=int, default=5_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres-url", default=POSTGRES_DEFAULT, help="the bench database (dropped!)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and load to CPUs 0 and 1")
    parser.add_argument("--load", metavar="BASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.articles < PAGE_SIZE + 1 or args.entities < MENTIONS_PER_ARTICLE:
        parser.error(f"need at least {PAGE_SIZE + 1} articles and {MENTIONS_PER_ARTICLE} entities")
    if not 1 <= args.connections <= 512 or not 0 < args.duration <= 600 or not 1 <= args.runs <= 20:
        parser.error("connections 1-512, duration up to 600 s, runs 1-20")
    if args.load and not args.load.startswith(("http://127.", "http://localhost")):
        parser.error("the load generator only targets this machine")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.load:  # the load-generator process
        result = asyncio.run(
            drive(args.load, args.connections, WARMUP_SECONDS, args.duration, args.server_pid, args.database)
        )
        print(json.dumps(result))
        return 0
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    began = time.perf_counter()
    archive = generate(args.articles, args.entities)
    print(
        f"archive: {len(archive.sections)} sections, {len(archive.articles)} articles "
        f"(~{statistics.mean(row['word_count'] for row in archive.articles):.0f} words), "
        f"{len(archive.entities)} entities, {len(archive.aliases)} aliases, "
        f"{len(archive.mentions)} mentions, "
        f"generated in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    before = machine_busy_seconds()
    time.sleep(1.0)
    busy = 100 * (machine_busy_seconds() - before)
    print(f"machine: {os.cpu_count()} CPUs, {busy:.0f}% of a core busy before starting", flush=True)
    if busy > BUSY_PERCENT:
        print("warning: other processes are using the CPU; the figures will be low and noisy", flush=True)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="broadsheet-bench-") as workdir:
        for backend in backends:
            try:
                outcomes.append(bench_backend(backend, args, archive, Path(workdir)))
            except Exception as error:  # report and go on with the next backend
                outcomes.append(Outcome(backend, failure=f"{error.__class__.__name__}: {error}"))
    print()
    print_table(outcomes, args.connections)
    failed = any(outcome.failure or outcome.errors for outcome in outcomes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Bulk ingest benchmark: articles per second into each backend, with and without entity extraction.

What it does:

1. Writes a deterministic JSON Lines archive of ``--articles`` records (20,000 by default) into a temporary
   folder: ~300-word news articles written from templates for this benchmark, each naming three to five
   people with their roles ("Finance Minister Clara Okafor", later "Okafor"), organisations and places
   drawn from fixed pools, so the same entities recur across thousands of articles and linking matters;
   a few surnames are shared by two people. Sections, authors, URLs, source ids and publication times
   (spread over two years) are filled in as a wire feed would.
2. For each backend (``--backend sqlite|postgresql|both``) and each mode (``--mode extract|no-extract|both``)
   it migrates a fresh database (SQLite: a file in the temporary folder; PostgreSQL: the database
   ``broadsheet_bench_ingest``, dropped and recreated; ``--postgres-url`` to choose another), runs
   ``broadsheet ingest`` on the archive as a subprocess, as a user would (``--batch-size``, ``--workers``),
   then runs it again over the same file: the resume pass, where every article is unchanged. The extractor
   runs as installed: compiled by mypyc, or from source (printed first).
3. Prints a table: backend, mode, pass, articles, seconds (wall clock of the command, including its start
   and the migration check), articles per second, and CPU seconds meanwhile: of the command and its worker
   processes; of the PostgreSQL backends serving the bench database (sampled every 0.2 s); and of the rest
   of the machine (busy time from ``/proc/stat`` less those two), since the machine may be shared. A run
   that fails, or stores a different number of articles than the archive holds, exits 1.

Usage, from the repository root: ``python bench/ingest.py [--articles N] [--backend ...] [--mode ...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/broadsheet_bench_ingest"

# --------------------------------------------------------------------------------------------------
# The archive: invented people, real places, invented and real organisations.
# --------------------------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Clara Tomas Amina Jonas Priya Mateo Ingrid Kwame Sofia Lukas Nadia Omar Elena Rafael Hana Daniel Leila "
    "Viktor Maria Samuel Aisha Henrik Julia Pedro Mei Ahmed Laura Ivan Grace Marco Fatima Stefan Rosa "
    "Tariq Anna Felix Zainab Oskar Lucia Kofi Nina Emil Yara Paolo Helena Ravi Camille Jakob Olga Diego"
)
SURNAMES = _words(
    "Okafor Brandt Mansour Eriksen Raman Alvarez Solheim Mensah Rossi Becker Haddad Farouk Petrova Costa "
    "Tanaka Novak Karimi Lindqvist Moreau Adeyemi Hoffmann Santos Kowalski Nakamura Osei Dubois Varga "
    "Jensen Mwangi Romero Fischer Sato Nilsen Aziz Horvat Keller Bianchi Okonkwo Larsen Silva Weber "
    "Yilmaz Fontaine Achebe Lund Moretti Demir Strand Kariuki Lopes"
)
MINISTRIES = (
    "Finance", "Foreign", "Health", "Energy", "Transport", "Defence", "Interior", "Trade", "Education",
    "Environment", "Agriculture", "Labour",
)  # fmt: skip
COUNTRIES = (
    "Germany", "France", "Kenya", "Nigeria", "Brazil", "Norway", "Poland", "Italy", "Spain", "Japan",
    "Canada", "Egypt", "Turkey", "India", "Mexico", "Sweden", "Ghana", "Portugal", "Greece", "Chile",
)  # fmt: skip
CITIES = (
    "Berlin", "Paris", "Nairobi", "Lagos", "Rio de Janeiro", "Oslo", "Warsaw", "Milan", "Madrid", "Osaka",
    "Toronto", "Cairo", "Istanbul", "Mumbai", "Monterrey", "Stockholm", "Accra", "Lisbon", "Athens",
    "Santiago", "Hamburg", "Lyon", "Mombasa", "Bergen", "Gdansk", "Naples", "Valencia", "Porto",
)  # fmt: skip
COMPANIES = (
    "Nordlys Energy", "Calder Securities", "Harbourline Shipping", "Meridian Foods", "Arcadia Telecom",
    "Bluewater Holdings", "Kestrel Airways", "Solano Mining", "Vantage Motors", "Halden Steel",
    "Orion Pharmaceuticals", "Tidewater Bank", "Greystone Capital", "Lumen Robotics", "Corvid Logistics",
)  # fmt: skip
BODIES = (
    "World Bank", "European Commission", "United Nations", "International Monetary Fund", "Red Cross",
    "African Union", "World Health Organization", "European Central Bank", "NATO", "Amnesty International",
)  # fmt: skip
SECTIONS = ("News/Business", "News/Politics", "World/Europe", "World/Africa", "World/Americas", "Science")
TOPICS = (
    ("wind farm", "turbines", "the energy transition"),
    ("rail link", "trains", "the transport plan"),
    ("hospital reform", "clinics", "the health budget"),
    ("port expansion", "container ships", "the trade deal"),
    ("housing plan", "new homes", "the city budget"),
    ("water treaty", "reservoirs", "the drought"),
    ("steel tariff", "exports", "the trade talks"),
    ("school funding", "teachers", "the education bill"),
    ("data law", "mobile networks", "the digital strategy"),
    ("pension reform", "retirees", "the spending review"),
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class Person:
    first: str
    last: str
    role: str  # as written before the name: "Finance Minister"; or after it, with a comma

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def people(rng: random.Random, count: int = 400) -> list[Person]:
    """A fixed cast; surnames repeat now and then, as in real news (two Okafors, never in one article)."""
    cast: list[Person] = []
    seen: set[tuple[str, str]] = set()
    while len(cast) < count:
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        if (first, last) in seen:
            continue
        seen.add((first, last))
        kind = rng.random()
        if kind < 0.4:
            role = f"{rng.choice(MINISTRIES)} Minister"
        elif kind < 0.55:
            role = rng.choice(("Prime Minister", "President", "Deputy Prime Minister", "Opposition leader"))
        elif kind < 0.8:
            role = f"the chief executive of {rng.choice(COMPANIES)}"
        else:
            role = f"an economist at {rng.choice(COMPANIES + BODIES)}"
        cast.append(Person(first, last, role))
    return cast


def _introduce(person: Person) -> str:
    """First mention: a title before the name, or a description after it."""
    if person.role.startswith(("the ", "an ")):
        return f"{person.name}, {person.role},"
    return f"{person.role} {person.name}"


def article(number: int, rng: random.Random, cast: list[Person]) -> dict[str, object]:
    """One record of the feed, about 300 words."""
    topic, things, programme = rng.choice(TOPICS)
    country = rng.choice(COUNTRIES)
    city, other_city = rng.sample(CITIES, 2)
    company, partner = rng.sample(COMPANIES, 2)
    body_org = rng.choice(BODIES)
    chosen: list[Person] = []
    for person in rng.sample(cast, 12):
        if all(person.last != other.last for other in chosen):
            chosen.append(person)
        if len(chosen) == rng.choice((3, 4, 5)):
            break
    lead, second, third, *rest = chosen
    day, later = rng.sample(DAYS, 2)
    amount = rng.randrange(2, 90)
    share = rng.randrange(5, 60)
    headline = f"{company} {rng.choice(('Backs', 'Delays', 'Wins', 'Questions', 'Expands'))} {topic.title()} "
    headline += f"in {city} as {lead.last} {rng.choice(('Seeks', 'Rejects', 'Defends', 'Demands'))} "
    headline += rng.choice(("Guarantees", "Savings", "Answers", "Support", "Delays"))
    paragraphs = [
        f"{_introduce(lead)} said on {day} that {country} would put {amount} billion euros into the {topic} "
        f"near {city}, a project that {company} has pressed for since the last election.",
        f"{lead.last} told reporters in {other_city} that the money would pay for {things} and for training, "
        f"and that the {body_org} had agreed to review the plans before the end of the year.",
        f"{_introduce(second)} was more cautious. “We have heard promises about {programme} before,” "
        f"{second.last} said. “People in {city} want to see the {things} before they believe it.”",
        f"Analysts at {partner} said the plan could lift output in {country} by {share} per cent over a "
        f"decade, though much depends on how quickly {company} can hire engineers.",
        "What Comes Next",
        f"{_introduce(third)} said talks with {partner} and officials in {other_city} would resume on "
        f"{later}. {third.last} added that the {body_org} wanted firmer numbers on costs and on jobs.",
    ]
    for person in rest:
        paragraphs.append(
            f"{_introduce(person)} welcomed the decision but warned that {country} still relied on "
            f"imports for most of its {things}. {person.last} said the {topic} in {city} should be "
            f"finished within five years if {company} kept to its timetable."
        )
    paragraphs.append(
        f"{lead.last} is due to present the details to parliament on {later}, and {second.last} has asked "
        f"for a vote on {programme} before the summer, when the {body_org} meets in {other_city}."
    )
    published = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=number * 53 % (2 * 365 * 24 * 60))
    return {
        "source_id": f"bench-{number:07d}",
        "headline": headline,
        "section": rng.choice(SECTIONS),
        "standfirst": f"The {topic} in {city} is the largest of its kind in {country} this decade.",
        "published_at": published.isoformat(),
        "url": f"https://wire.example.com/{number:07d}",
        "authors": [f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"],
        "body": "\n\n".join(paragraphs),
    }


def write_archive(path: Path, count: int, seed: int = 20260501) -> None:
    """``count`` records as JSON Lines; the same file for the same count and seed."""
    rng = random.Random(seed)
    cast = people(rng)
    with path.open("w", encoding="utf-8") as out:
        for number in range(1, count + 1):
            out.write(json.dumps(article(number, rng, cast), ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------------------------------
# Running and measuring
# --------------------------------------------------------------------------------------------------


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy so far (every core), from /proc/stat."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def _backend_seconds(database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving ``database`` (its process title names it)."""
    seconds = {}
    for folder in Path("/proc").glob("[0-9]*"):
        try:
            title = (folder / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if not title.startswith("postgres: ") or f" {database} " not in title:
                continue
            stat = (folder / "stat").read_text()
        except OSError:
            continue
        ticks = stat[stat.rindex(")") + 2 :].split()[11:13]  # utime, stime
        seconds[int(folder.name)] = sum(int(value) for value in ticks) / os.sysconf("SC_CLK_TCK")
    return seconds


@dataclass(slots=True)
class Result:
    backend: str
    mode: str
    run: str
    seconds: float
    ingest_cpu: float  # the command and its worker processes
    postgres_cpu: float
    other_cpu: float  # the rest of the machine meanwhile


def ingest(url: str, archive: Path, args: argparse.Namespace, mode: str) -> tuple[dict[str, int], Result]:
    """One `broadsheet ingest` run: its summary, wall seconds, and the CPU seconds of it, of PostgreSQL
    serving it (its backends, sampled while it runs) and of everything else."""
    command = [sys.executable, "-m", "broadsheet", "ingest", "--quiet", "--batch-size", str(args.batch_size)]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if mode == "no-extract":
        command.append("--no-extract")
    environment = {**os.environ, "BROADSHEET_DATABASE_URL": url, "COLUMNS": "200"}
    database = make_url(url).database if url.startswith("postgresql") else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy, started = _busy_seconds(), time.perf_counter()
    backends: dict[int, float] = {}
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [*command, str(archive)], env=environment, cwd=ROOT, stdout=stdout, stderr=stderr
        )
        while process.poll() is None:
            if database:
                backends.update(_backend_seconds(database))
            time.sleep(0.2)
        stdout.seek(0)
        stderr.seek(0)
        out, errors = stdout.read().decode(), stderr.read().decode()
    seconds = time.perf_counter() - started
    busy = _busy_seconds() - busy
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if process.returncode != 0:
        sys.exit(f"ingest failed ({process.returncode}):\n{out}\n{errors}")
    summary = {label: int(value) for label, value in re.findall(r"│ ([a-z ]+?)\s+│ (\d+)\s+│", out)}
    postgres = sum(backends.values())
    return summary, Result("", "", "", seconds, own, postgres, max(0.0, busy - own - postgres))


# Runs one statement outside a transaction, as DROP DATABASE needs.
_EXECUTE = """
import asyncio, sys
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

async def main(url, statement):
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(statement))
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def fresh_database(backend: str, folder: Path, postgres_url: str) -> str:
    """An empty database, migrated: a new SQLite file, or the PostgreSQL database dropped and created."""
    if backend == "sqlite":
        path = folder / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = postgres_url
        parsed = make_url(url)
        server = parsed.set(database="postgres").render_as_string(hide_password=False)
        drop = f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'
        subprocess.run(
            [sys.executable, "-c", _EXECUTE, server, drop], cwd=ROOT, check=True, capture_output=True
        )
    environment = {**os.environ, "BROADSHEET_DATABASE_URL": url}
    migrate = [sys.executable, "-m", "broadsheet", "migrate"]
    subprocess.run(migrate, env=environment, cwd=ROOT, check=True, capture_output=True)
    return url


def extractor_build() -> str:
    """How the command's extractor runs: compiled by mypyc at install (``setup.py``), or from source."""
    check = [sys.executable, "-c", "import ingest.extract; print(ingest.extract.NATIVE)"]
    native = subprocess.run(check, cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    return "compiled by mypyc" if native == "True" else "from source"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=20_000, help="records in the archive (20000)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--mode", choices=("extract", "no-extract", "both"), default="both")
    parser.add_argument("--batch-size", type=int, default=500, help="passed to broadsheet ingest (500)")
    parser.add_argument("--workers", type=int, help="passed to broadsheet ingest (default: one per CPU)")
    parser.add_argument(
        "--postgres-url", default=POSTGRES_URL, help=f"dropped and recreated ({POSTGRES_URL})"
    )
    args = parser.parse_args()

    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    modes = ("no-extract", "extract") if args.mode == "both" else (args.mode,)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="broadsheet-bench-ingest-") as temporary:
        folder = Path(temporary)
        archive = folder / "archive.jsonl"
        started = time.perf_counter()
        write_archive(archive, args.articles)
        took, size = time.perf_counter() - started, archive.stat().st_size / 2**20
        print(f"archive: {args.articles:,} articles, {size:.0f} MiB, written in {took:.1f} s", flush=True)
        print(f"extractor: {extractor_build()}", flush=True)
        for backend in backends:
            for mode in modes:
                url = fresh_database(backend, folder, args.postgres_url)
                for run, expected in (("first", "articles new"), ("resume", "articles unchanged")):
                    summary, result = ingest(url, archive, args, mode)
                    if summary.get(expected) != args.articles:
                        print(f"{backend} {mode} {run}: expected {args.articles:,} {expected}, got {summary}")
                        return 1
                    result.backend, result.mode, result.run = backend, mode, run
                    results.append(result)
                    print(f"  {backend}, {mode}, {run} pass: {result.seconds:.1f} s", flush=True)

    print(
        "\n| backend | mode | pass | articles | seconds | articles/s | CPU s: ingest | PostgreSQL | other |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r.backend} | {r.mode} | {r.run} | {args.articles:,} | {r.seconds:.1f} "
            f"| {args.articles / r.seconds:,.0f} | {r.ingest_cpu:.1f} | {r.postgres_cpu:.1f} "
            f"| {r.other_cpu:.1f} |"
        )
    print(
        "\nseconds: wall clock of `broadsheet ingest` (start, migration check, the run, shutdown). "
        "CPU seconds: the command and its workers; the PostgreSQL backends serving it; the rest of the "
        f"machine (other work on its {os.cpu_count()} cores)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

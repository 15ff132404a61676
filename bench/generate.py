"""A deterministic synthetic news archive, written straight into a database for scale benchmarks.

    python bench/generate.py --database-url postgresql+asyncpg://postgres@127.0.0.1/broadsheet_scale_1m \\
        [--articles 1000000] [--entities 100000] [--seed 20261126] [--replace] [--workers N]

The database is created when missing and migrated with the real migrations; a database that already holds
rows is refused (exit 2) unless ``--replace`` drops it first (PostgreSQL: the database; SQLite: the file).
As a library: ``await generate(engine, ArchiveSpec(articles=..., entities=...))`` on a migrated, empty
database returns a ``GenerateReport`` (phase timings, row counts, the most-mentioned entity).

Same seed and sizes, same rows, on every machine: every random choice comes from ``random.Random`` seeded
from the spec (one stream each for entities, text pools, term placement and mentions per article, one per
chunk of ``CHUNK`` articles, so worker processes change nothing), and times count from fixed dates.

What is in it (``articles`` = A, ``entities`` = E; figures in brackets measured at A = 1M, E = 100k):

- **Sections** (81): Home (path ``""``, slug ``home``, name ``Home``, as ``ensure_section_path`` creates
  it), 8 top sections (news, world, business, politics, sport, culture, opinion, science), 47 below them
  (``world/europe``, ``sport/football``...) and 25 at the third level (``world/europe/baltics``,
  ``sport/football/premier-league``...). Articles are filed in any section but Home with fixed, uneven
  weights (``SECTION_TREE``): ``sport/football`` gets 9.4%, ``politics`` 3.7%, ``news/uk`` 3.2%, the
  smallest (``opinion/cartoons``) 0.19%; by top-level subtree sport 25.6%, world 21.2%, news 14.1%,
  business 11.1%, culture 9.1%, politics 6.9%, opinion 6.8%, science 5.3%.
- **Articles** (A): all ``published``; ``published_at`` spread evenly over the ``YEARS`` (10) years before
  ``END`` (2026-01-01 00:00 UTC), each at a random second of its own slot, so time grows with id;
  ``updated_at`` = ``created_at`` = ``published_at``. ``source_format`` ``json``, ``source_id``
  ``gen-0000001``..., slug = the headline's words + ``-<id>`` (unique), one author (85%) or two from a
  staff of 400. Body: paragraphs until a word target drawn uniformly from 150-200 (so 150-265 words,
  mean 194), every fourth block a subheading, as JSON ``[{"type": "paragraph"|"subheading",
  "text": ...}]``; ``word_count`` counts them as ``ingest.store.word_count`` does. Paragraphs of 2-4
  sentences are put together once per run from a small grammar (80% from the section's topic, 20% mixed)
  and the article's entities are written into their slots. The headline names the lead entity (a person
  by surname); the standfirst names the first two.
- **Search terms**: ``COMMON_TERM`` ("referendum") is in exactly ``expected_matches(COMMON_TERM, A)`` =
  round(2% of A) articles (one in each 50 in id order, at a seeded offset), ``RARE_TERM`` ("quokka") in
  ``max(1, round(A * 20 / 1,000,000))`` (20 at 1M, 2 at 100k, 1 at 10k), spread evenly in time. Each is
  written in one or two body sentences and nowhere else; both stem to themselves in PostgreSQL's
  ``english`` configuration and in SQLite's porter tokenizer.
- **Entities** (E): 50% people, 30% organisations, 20% places, in a seeded order; unique slugs. People
  are first + last name from fixed lists (with a middle initial once the plain pairs run out), 80% of
  them with a fixed role ("Prime Minister", "Foreign Minister"...); organisations are "Northern Energy
  Group", "Belmouth Rovers", "University of Ostadale"...; places are invented town names and variants
  ("North Belmouth"). ``entity_alias``: every name's normalized form (``resolvers.entities.normalize_name``)
  and, for people, the surname's (1.5 x E rows).
- **Mentions**: each article mentions 5-15 distinct entities (uniform, mean 10: ~10 x A rows), drawn by
  popularity: the entity with id r is drawn with weight (r + 100) ** -1.5, so a few are in tens of
  thousands of articles and most in a handful [the first in 50,016 articles, the 10th in 44,146, the 100th
  in 18,272, the 1,000th in 1,435; median 5; 68% of entities in fewer than 10, 4% in none]. ``salience``
  falls with the entity's rank in the article (lead 0.55-1.0, then each 55-95% of the one before);
  ``role`` is the person's role in 90% of their mentions [73% of people's mentions have one]; the body's
  sentence slots take the entities in rank order, then the first ones again (a person in full, with the
  role, the first time, then by surname), so ``locations`` holds where each name stands
  (``["headline", null, start, end]``, ``["standfirst", ...]``, ``["body", block, start, end]``),
  ``count`` how often it is written and ``first_position`` its first reading offset (headline,
  standfirst, then the body blocks, as ingest computes it); an entity left without a slot has
  ``locations`` ``[]``, ``count`` 1 and ``first_position`` at the end of the text. ``published_at`` is the
  article's. ``most_mentioned_entity()`` finds the most-mentioned entity (for deep entity pages).

PostgreSQL load (superuser, for ``session_replication_role``): the big tables' secondary indexes and the
unique and primary-key constraints no foreign key depends on are dropped (their definitions read back
from the catalog); then, in one transaction with ``session_replication_role = replica`` (no triggers and
no foreign-key checks in that session), the tables are truncated and filled by ``COPY ... FREEZE`` from
text rows that worker processes build, ``article_search`` included (each article's terms analysed by
``models.search.analyse`` in the worker, as the writers do); the indexes and constraints are rebuilt from
the saved definitions on two sessions and the result is compared with the schema before; sequences are
moved past the ids; ``VACUUM ANALYZE``. SQLite: one transaction of ``executemany`` with foreign keys off
and the secondary indexes dropped and recreated from ``sqlite_master``; the FTS5 index rows, analysed in
the workers, inserted beside the articles; then ``ANALYZE``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import importlib
import itertools
import os
import random
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the project's packages come from the repository root
    sys.path.insert(0, str(ROOT))

from slugify import slugify  # noqa: E402
from sqlalchemy import inspect, text  # noqa: E402
from sqlalchemy.engine import URL, make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine  # noqa: E402

from models.db import create_engine, ensure_database, upgrade  # noqa: E402
from models.search import analyse, tsvector_literal  # noqa: E402
from resolvers.entities import normalize_name  # noqa: E402
from resolvers.sections import ROOT_NAME  # noqa: E402

DEFAULT_SEED = 20261126
DEFAULT_ARTICLES = 1_000_000
DEFAULT_ENTITIES = 100_000
#: Articles per generated chunk: the unit of work of a worker process and of one COPY.
CHUNK = 2000
YEARS = 10
END = datetime(2026, 1, 1, tzinfo=UTC)
START = END - timedelta(days=round(365.25 * YEARS))

#: In ~2% of articles (exactly ``expected_matches(COMMON_TERM, articles)``).
COMMON_TERM = "referendum"
COMMON_SHARE = 0.02
#: In ~20 articles per million (exactly ``expected_matches(RARE_TERM, articles)``, at least one).
RARE_TERM = "quokka"
RARE_PER_MILLION = 20

MENTIONS_MIN, MENTIONS_MAX = 5, 15  # distinct entities per article, uniform: mean 10
POPULARITY_EXPONENT = 1.5
POPULARITY_OFFSET = 100
BODY_MIN_WORDS, BODY_MAX_WORDS = 150, 200  # the target; the last paragraph goes past it
TOPIC_SHARE = 0.8  # sentences from the section's own topic pool; the rest from the mixed pool

TABLES = ("section", "entity", "entity_alias", "article", "mention")
ARTICLE_COLUMNS = (
    "id",
    "slug",
    "headline",
    "standfirst",
    "body",
    "section_id",
    "status",
    "published_at",
    "updated_at",
    "created_at",
    "source_format",
    "source_id",
    "authors",
    "word_count",
)
MENTION_COLUMNS = (
    "id",
    "article_id",
    "entity_id",
    "published_at",
    "role",
    "count",
    "first_position",
    "salience",
    "locations",
)

# --------------------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------------------


# The front-page benchmark's name lists (bench/frontpage.py), loaded by name: importing it statically would
# have mypy check that script too.
_frontpage = importlib.import_module("bench.frontpage")
FIRST_NAMES: tuple[str, ...] = _frontpage.FIRST_NAMES
LAST_NAMES: tuple[str, ...] = _frontpage.LAST_NAMES
ORG_FIRST: tuple[str, ...] = _frontpage.ORG_FIRST
ORG_SECOND: tuple[str, ...] = _frontpage.ORG_SECOND
ORG_THIRD: tuple[str, ...] = _frontpage.ORG_THIRD
PLACE_HEAD: tuple[str, ...] = _frontpage.PLACE_HEAD
PLACE_MID: tuple[str, ...] = _frontpage.PLACE_MID
PLACE_TAIL: tuple[str, ...] = _frontpage.PLACE_TAIL


def _split(text: str, separator: str | None = None) -> tuple[str, ...]:
    """Words (or, with a separator, phrases) of a block of text, as a tuple."""
    return tuple(" ".join(item.split()) for item in text.split(separator) if item.strip())


#: The section tree below Home, two spaces per level: "name: weight". An article is filed in a section
#: (never Home) with probability weight / sum of all weights.
SECTION_TREE = """
News: 6
  UK: 10
    England: 6
    Scotland: 4
    Wales: 2
    Northern Ireland: 1.5
  Education: 3
  Health: 5
  Crime: 4
  Transport: 2
  Media: 1.5
World: 5
  Europe: 9
    Baltics: 1
    Balkans: 1
    Nordics: 1.2
    France: 2.5
    Germany: 2.5
  Americas: 8
    US: 9
    Canada: 1.5
    Latin America: 2
  Asia: 5
    China: 3
    India: 2.5
    Japan: 1.5
  Africa: 3
    East Africa: 1
    West Africa: 1
  Middle East: 6
  Australia: 2
Business: 5
  Economy: 7
  Markets: 4
    Currencies: 1
    Commodities: 1
  Companies: 4
  Technology: 5
    AI: 2
  Energy: 3
  Retail: 1.5
  Banking: 2
Politics: 12
  Parliament: 3
  Elections: 3
  Local Government: 1
  Policy: 2
  Polls: 1
Sport: 6
  Football: 30
    Premier League: 10
    Champions League: 4
    Transfers: 6
  Cricket: 6
  Tennis: 5
  Rugby: 5
  Athletics: 2
  Formula One: 4
  Golf: 2
  Cycling: 1.5
Culture: 3
  Books: 4
  Film: 5
    Reviews: 3
  Music: 5
    Festivals: 1
  Television: 5
  Art & Design: 1.5
  Stage: 1.5
Opinion: 10
  Editorials: 3
  Columnists: 6
  Letters: 2
  Cartoons: 0.6
Science: 3
  Space: 3
  Climate: 4
  Environment: 3
  Medicine: 3
  Physics: 1
"""

MORE_FIRST_NAMES = _split(
    """Abel Ada Adrian Agnes Aiko Alan Alice Amir Ana Andrea Anika Arthur Aurora Ben Bianca Boris Camila Carl
    Celia Chen Chloe Cyrus Daniel Dara Diego Dina Edith Elena Eli Emma Enzo Erin Esther Ezra Fatima Flora
    Frank Gabriel Grace Hassan Helen Imran Iris Isaac Ivan Jade Jakob James Jana Joel Julia Kai Kamal Kara
    Laila Leon Lucia Magnus Malik Marta Max Mei Mina Nadine Nathan Nils Olga Otto Paula Peter Petra Quinn
    Rania Rhys Ruth Sara Simon Sonia Stella Tanvir Teresa Theo Uma Vivian Walter Wanda Yusuf Zoe"""
)
MORE_LAST_NAMES = _split(
    """Abbott Achterberg Adler Albrecht Alvarez Arnesen Bailey Barros Becker Bello Bishop Blackwood Bogdan
    Bowen Byrne Caldwell Campbell Carvalho Chandra Chen Clarke Cohen Conti Dalton Das Delgado Diaz Doyle
    Ekstrom Ellis Evans Fadel Farouk Fleming Fontaine Fraser Garcia Gill Graham Gupta Hansen Hartley Hayes
    Hughes Iqbal Ivanova Jansen Jones Kaplan Karimi Kelly Khan Kohler Kumar Lambert Lang Lopez Lowe Maalouf
    Macleod Malik Mason Meyer Molina Morgan Murphy Nair Nash Nielsen Nolan Obi Okoro Olsen Park Patel Pearce
    Perez Price Quinn Reid Reyes Richter Rojas Russo Saleh Sanchez Schultz Sharma Singh Sokolov Stewart
    Sullivan Taylor Thomsen Turner Vargas Vogel Walsh Ward Watts Weiss Wilson Wright Young Zimmermann"""
)
ROLES = _split(
    """Prime Minister | Foreign Minister | Finance Minister | Health Secretary | Home Secretary |
    President | Chief Executive | Chair | Professor | Mayor | Senator | Governor | Ambassador | Manager |
    Captain | Director | Opposition Leader | Central Bank Governor | Union Leader | Spokesperson""",
    "|",
)
ORG_CLUBS = _split("United | Rovers | Athletic | Wanderers | City FC | Albion | Town FC | Rangers", "|")
PLACE_VARIANTS = _split(
    "North {} | South {} | East {} | West {} | New {} | Port {} | Upper {} | Lower {} | {} Bay | {} Hills | "
    "Lake {} | Mount {}",
    "|",
)

SUBJECTS = _split(
    """the government | officials | ministers | the council | the committee | regulators | analysts | the
    opposition | residents | campaigners | the agency | negotiators | union leaders | investors | the
    board | critics | local leaders | the authorities | senior figures | independent experts""",
    "|",
)
PLURAL_SUBJECTS = _split(
    """officials | ministers | regulators | analysts | residents | campaigners | negotiators | investors |
    critics | independent experts""",
    "|",
)
VERBS_PAST = _split(
    """announced approved rejected delayed criticised defended unveiled confirmed questioned welcomed
    postponed backed blocked reviewed scrapped outlined revised published challenged endorsed"""
)
VERBS_INF = _split(
    """approve reject delay review challenge support block revise publish extend fund replace expand cut
    reconsider"""
)
VERBS_PARTICIPLE = _split(
    """approved rejected delayed reviewed challenged backed blocked revised published extended funded replaced
    expanded cut reconsidered"""
)
HEADLINE_VERBS = _split(
    "backs rejects unveils delays defends questions scraps welcomes revives attacks promises halts"
)
ADJECTIVES = _split(
    """new revised controversial long-awaited ambitious proposed delayed costly modest sweeping temporary
    national regional annual emergency joint"""
)
TIMES = _split(
    """on Monday | on Tuesday | on Wednesday | on Thursday | on Friday | at the weekend | last week | this
    month | next year | in the coming weeks | earlier this year | by the end of the year | later this
    month | within days""",
    "|",
)
PAST_TIMES = _split("last year | in the spring | two years ago | last autumn | earlier this year", "|")
OPENINGS = _split(
    """Last week | On Monday | On Thursday | Earlier this year | Within hours | For now | In a statement |
    Until recently""",
    "|",
)
REASONS = _split(
    """after months of negotiations | amid rising costs | despite strong opposition | following a review | to
    cut costs | in response to the report | after a public consultation | under pressure from members | as
    demand grew | after a series of delays""",
    "|",
)
VERDICTS = _split(
    """long overdue | not enough | a step in the right direction | deeply flawed | unlikely to pass | on
    track | a matter for the courts | too little, too late""",
    "|",
)
QUOTES = _split(
    """a turning point | a difficult moment | only the beginning | not the end of the story | good news for
    everyone | a mistake we cannot afford""",
    "|",
)
BACKGROUNDS = _split(
    """a year of rising costs | months of uncertainty | a long public consultation | a series of delays | a
    record year | a sharp fall in support""",
    "|",
)
HEADLINE_TIMES = _split("next year | by spring | this week | after review | within a year", "|")
SUBHEADINGS = _split(
    """What happens next | The background | Reaction | A long road | The numbers | Why it matters | What
    critics say | The view from the ground | Questions remain | A changing picture | Looking ahead | How
    we got here""",
    "|",
)

#: Per topic (top-level section, in SECTION_TREE's order): the nouns its sentences are about.
TOPIC_NOUNS: dict[str, tuple[str, ...]] = {
    "news": _split(
        """housing plan | school budget | police review | hospital waiting list | rail timetable | flood
        defence scheme | bus network | public inquiry | council tax rise | planning application | speed
        limit | library closure | maternity service | prison reform | recycling contract""",
        "|",
    ),
    "world": _split(
        """peace process | trade agreement | border crossing | sanctions package | aid convoy | election
        result | military exercise | embassy | refugee camp | security pact | summit | ceasefire | naval
        patrol | visa scheme | grain corridor""",
        "|",
    ),
    "business": _split(
        """quarterly result | merger | takeover bid | interest rate | bond sale | share buyback | profit
        warning | pay deal | supply chain | factory expansion | price cap | export forecast | pension
        scheme | investment fund | retail sales forecast""",
        "|",
    ),
    "politics": _split(
        """spending review | housing bill | coalition deal | manifesto | leadership contest | voting reform |
        party conference | cabinet reshuffle | tax plan | welfare reform | by-election | devolution deal |
        lobbying code | ethics inquiry | budget statement""",
        "|",
    ),
    "sport": _split(
        """transfer window | title race | league table | cup final | training camp | contract extension |
        penalty shootout | injury list | squad selection | stadium plan | qualifying round | relegation
        battle | home record | season opener | world ranking""",
        "|",
    ),
    "culture": _split(
        """exhibition | box office | album release | film festival | book prize | touring production |
        streaming series | gallery reopening | orchestra season | poetry collection | debut novel | stage
        adaptation | music award | documentary | retrospective""",
        "|",
    ),
    "opinion": _split(
        """housing debate | tax system | culture war | welfare state | energy transition | free speech debate
        | spending plan | cost of living | health service | local democracy | press | economy | civil
        liberties debate | youth vote | party system""",
        "|",
    ),
    "science": _split(
        """clinical trial | space mission | climate model | vaccine study | fossil discovery | research grant
        | satellite launch | gene therapy | carbon budget | telescope survey | species count | drought
        forecast | particle experiment | ocean survey | lab result""",
        "|",
    ),
}
TOPICS = tuple(TOPIC_NOUNS)

# Sentence patterns. {E} is an entity's slot; the other fields are filled from the lists above when the
# pools are built (see _expand). Curly quotes only: the text never needs escaping in JSON or COPY.
SENTENCE_PATTERNS = (
    "{S} {V} the {A} {N} {T}.",
    "{E} said {S} had {P} the {N} {R}.",
    "According to {E}, the {A} {N} could be {P} {T}.",
    "{S} {V} the {N} after {E} {V} the {A} {N2}.",
    "{E} {V} the {A} {N} {T}, {R}.",
    "It was not clear whether {S} would {I} the {N} {T}.",
    "{O}, {S} {V} the {A} {N}.",
    "{E} told reporters that the {N} was {D}.",
    "{E} has repeatedly called for a {A} {N}.",
    "“We will {I} the {N},” {E} said.",
    "“This is {Q},” said {E}.",
    "Critics said the {A} {N} would {I} the {N2}.",
    "{PS} are expected to {I} the {N} {T}.",
    "The figures, published by {E}, showed a {NUM} percent rise in the cost of the {N}.",
    "{E} and {E} {V} the {A} {N} {T}.",
    "{S} {V} the {N}, {E} said.",
    "Some {BIG} people took part, according to {E}.",
    "The decision follows {B}.",
    "{E} declined to comment on the {N}.",
    "A spokesperson for {E} said {S} would {I} the {A} {N} {T}.",
    "The {N} has divided opinion since it was first proposed {T2}.",
    "{E} said the {N} and the {N2} were {D}.",
)
HEADLINE_PATTERNS = (
    "{E} {H} {A} {N}",
    "{E} warns over {N}",
    "{E} under pressure over {N}",
    "{NC} delayed as {E} {H} {N2}",
    "{E} to {I} {N} {HT}",
    "What {E} wants from the {N}",
    "Explainer: {E} and the {N}",
    "{E} {H} {N} after {B}",
)
STANDFIRST_PATTERNS = (
    "{E} says the {A} {N} will {I} the {N2}, as {E} {V} the {N3}.",
    "{E} {V} the {N} {T}, while {E} said {S} would {I} the {A} {N2}.",
    "The move by {E} comes as {S} {V} the {N}, with {E} expected to {I} the {N2} {T}.",
    "{E} and {E} clash over the {A} {N} {R}.",
)
COMMON_PATTERNS = (
    "{S} {V} plans for a referendum on the {N} {T}.",
    "Calls for a referendum on the {A} {N} grew {T}.",
    "A referendum on the {N} is expected {T}, {R}.",
    "Supporters of a referendum said the {N} was {D}.",
)
RARE_PATTERNS = (
    "A quokka brought in for the opening drew more attention than the {N} itself.",
    "Visitors were greeted by a quokka, the unofficial mascot of the {A} {N}.",
    "Even the quokka on the poster could not rescue the {N} from {B}.",
)

_SLOT = "\x00"  # a slot inside a pattern once expanded; never in the text itself
_WORD = re.compile(r"\w+(?:['’.-]\w+)*")  # as ingest.store.word_count counts words
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_ARTICLE_AN = re.compile(r"\b([Aa]) (?=[aeiou])")


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def _slug(text: str) -> str:
    """A slug of ASCII text, as python-slugify makes it for these names (it is 100x slower)."""
    return _NOT_SLUG.sub("-", text.lower()).strip("-")


def expected_matches(term: str, articles: int) -> int:
    """How many of ``articles`` articles contain ``term`` (COMMON_TERM or RARE_TERM): exact, not an
    estimate."""
    if term == COMMON_TERM:
        return round(articles * COMMON_SHARE)
    if term == RARE_TERM:
        return min(articles, max(1, round(articles * RARE_PER_MILLION / 1_000_000)))
    raise ValueError(f"not a benchmark term: {term!r}")


def _term_articles(term: str, articles: int, rng: random.Random) -> set[int]:
    """Article ids (1-based) that carry ``term``: one in each of ``count`` equal slices, at a seeded
    offset."""
    count = expected_matches(term, articles)
    if count == 0:
        return set()
    offset = rng.random()
    return {min(articles, int((slot + offset) * articles / count) + 1) for slot in range(count)}


# --------------------------------------------------------------------------------------------------------
# The world: sections, entities and text pools, built the same in every process from the spec
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArchiveSpec:
    articles: int = DEFAULT_ARTICLES
    entities: int = DEFAULT_ENTITIES
    seed: int = DEFAULT_SEED

    def check(self) -> None:
        if self.articles < 1:
            raise ValueError("articles: at least 1")
        if self.entities < MENTIONS_MAX + 5:
            raise ValueError(f"entities: at least {MENTIONS_MAX + 5}")

    @property
    def chunks(self) -> int:
        return (self.articles + CHUNK - 1) // CHUNK


@dataclass(frozen=True, slots=True)
class SectionSpec:
    id: int
    parent_id: int | None
    slug: str
    name: str
    path: str
    weight: float
    topic: int  # index into TOPICS; -1 for Home


@dataclass(frozen=True, slots=True)
class EntitySpec:
    id: int
    kind: str
    name: str
    slug: str
    role: str | None
    intro: str  # first body mention: role and name ("Foreign Minister Amara Okafor")
    intro_offset: int  # where the name starts inside ``intro``
    short: str  # later mentions and headlines: a person's surname, else the name
    intro_words: int
    short_words: int


# A sentence: the text between slots (len(parts) - 1 slots) and its words without the slots' names.
Sentence = tuple[tuple[str, ...], int]


def build_sections() -> list[SectionSpec]:
    """Home, then SECTION_TREE in its order; slugs and paths as ``resolvers.sections.ensure_section_path``
    makes them (slugify of the name, joined with ``/``)."""
    rows = [SectionSpec(1, None, slugify(ROOT_NAME), ROOT_NAME, "", 0.0, -1)]
    parents = [rows[0]]  # the chain of ancestors of the next line, by depth
    topics = 0
    for line in SECTION_TREE.strip("\n").splitlines():
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name, weight = line.strip().rsplit(": ", 1)
        parent = parents[depth]
        slug = slugify(name)
        path = f"{parent.path}/{slug}" if parent.path else slug
        if depth == 0:
            topics += 1
        row = SectionSpec(len(rows) + 1, parent.id, slug, name, path, float(weight), topics - 1)
        rows.append(row)
        del parents[depth + 1 :]
        parents.append(row)
    return rows


def _person_names(rng: random.Random, wanted: int) -> list[str]:
    firsts = sorted(set(FIRST_NAMES) | set(MORE_FIRST_NAMES))
    lasts = sorted(set(LAST_NAMES) | set(MORE_LAST_NAMES))
    plain = [f"{first} {last}" for first in firsts for last in lasts]
    rng.shuffle(plain)
    names = plain[:wanted]
    seen = set(names)
    initials = "ABCDEFGHJKLMNPRSTW"
    while len(names) < wanted:
        name = f"{rng.choice(firsts)} {rng.choice(initials)}. {rng.choice(lasts)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _place_stems() -> list[str]:
    return sorted(
        {
            f"{head}{middle}{tail}".capitalize()
            for head in PLACE_HEAD
            for middle in PLACE_MID
            for tail in PLACE_TAIL
        }
    )


def _place_names(rng: random.Random, wanted: int) -> list[str]:
    stems = _place_stems()
    shuffled = stems[:]
    rng.shuffle(shuffled)
    names = shuffled[:wanted]
    seen = set(names)
    while len(names) < wanted:
        name = rng.choice(PLACE_VARIANTS).format(rng.choice(stems))
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _organization_names(rng: random.Random, wanted: int) -> list[str]:
    plain = [f"{a} {b} {c}" for a in ORG_FIRST for b in ORG_SECOND for c in ORG_THIRD]
    rng.shuffle(plain)
    names = plain[:wanted]
    seen = set(names)
    stems = _place_stems()
    patterns: tuple[Callable[[], str], ...] = (
        lambda: f"{rng.choice(stems)} {rng.choice(ORG_SECOND)} {rng.choice(ORG_THIRD)}",
        lambda: f"{rng.choice(stems)} {rng.choice(ORG_CLUBS)}",
        lambda: f"University of {rng.choice(stems)}",
        lambda: f"{rng.choice(stems)} City Council",
        lambda: f"{rng.choice(stems)} Hospital Trust",
        lambda: f"Bank of {rng.choice(stems)}",
    )
    while len(names) < wanted:
        name = rng.choice(patterns)()
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def build_entities(spec: ArchiveSpec) -> list[EntitySpec]:
    """Entity ``id`` r is the r-th most popular (see the module docstring)."""
    rng = random.Random(f"{spec.seed}:entities")
    people = spec.entities // 2
    organizations = spec.entities * 3 // 10
    places = spec.entities - people - organizations
    kinds = ["person"] * people + ["organization"] * organizations + ["place"] * places
    rng.shuffle(kinds)
    pools = {
        "person": iter(_person_names(rng, people)),
        "organization": iter(_organization_names(rng, organizations)),
        "place": iter(_place_names(rng, places)),
    }
    entities: list[EntitySpec] = []
    slugs: set[str] = set()
    for number, kind in enumerate(kinds, start=1):
        name = next(pools[kind])
        slug = _slug(name)
        if slug in slugs:
            slug = f"{slug}-{number}"
        slugs.add(slug)
        role = None
        intro, intro_offset, short = name, 0, name
        if kind == "person":
            short = name.rsplit(" ", 1)[1]
            if rng.random() < 0.8:
                role = rng.choice(ROLES)
                intro, intro_offset = f"{role} {name}", len(role) + 1
        entities.append(
            EntitySpec(
                number, kind, name, slug, role, intro, intro_offset, short, _words(intro), _words(short)
            )
        )
    return entities


def alias_rows(entity: EntitySpec) -> list[tuple[str, str]]:
    """(alias, normalized) for an entity: its name, and a person's surname."""
    forms = [entity.name]
    if entity.kind == "person":
        forms.append(entity.short)
    rows: list[tuple[str, str]] = []
    for form in forms:
        key = normalize_name(form)
        if all(key != seen for _, seen in rows):
            rows.append((form, key))
    return rows


def _expand(pattern: str, rng: random.Random, nouns: Sequence[str]) -> str:
    """One pattern with its fields filled; entity slots become ``_SLOT``."""

    def noun() -> str:
        return rng.choice(nouns)

    fields: dict[str, Callable[[], str]] = {
        "E": lambda: _SLOT,
        "S": lambda: rng.choice(SUBJECTS),
        "PS": lambda: rng.choice(PLURAL_SUBJECTS),
        "V": lambda: rng.choice(VERBS_PAST),
        "I": lambda: rng.choice(VERBS_INF),
        "P": lambda: rng.choice(VERBS_PARTICIPLE),
        "H": lambda: rng.choice(HEADLINE_VERBS),
        "A": lambda: rng.choice(ADJECTIVES),
        "N": noun,
        "N2": noun,
        "N3": noun,
        "NC": lambda: noun().capitalize(),
        "T": lambda: rng.choice(TIMES),
        "T2": lambda: rng.choice(PAST_TIMES),
        "O": lambda: rng.choice(OPENINGS),
        "R": lambda: rng.choice(REASONS),
        "D": lambda: rng.choice(VERDICTS),
        "Q": lambda: rng.choice(QUOTES),
        "B": lambda: rng.choice(BACKGROUNDS),
        "HT": lambda: rng.choice(HEADLINE_TIMES),
        "NUM": lambda: str(rng.randint(2, 40)),
        "BIG": lambda: f"{rng.randint(2, 90) * 100:,}",
    }
    filled = re.sub(r"\{(\w+)\}", lambda match: fields[match.group(1)](), pattern)
    filled = _ARTICLE_AN.sub(r"\1n ", filled)
    return filled[0].upper() + filled[1:] if filled[0] != _SLOT else filled


def _sentence(filled: str) -> Sentence:
    parts = tuple(filled.split(_SLOT))
    return parts, _words(" ".join(parts))


def _check_text(value: str) -> None:
    bad = set(value) & set('"\\\t\n\r')
    if bad:
        raise AssertionError(f"text that would need escaping: {value!r}")


@dataclass(slots=True)
class World:
    """Everything a chunk of articles is built from; the same for the same spec in any process."""

    spec: ArchiveSpec
    sections: list[SectionSpec]
    entities: list[EntitySpec]
    filed: list[SectionSpec] = field(default_factory=list)
    section_cumulative: list[float] = field(default_factory=list)
    entity_cumulative: list[float] = field(default_factory=list)
    topic_paragraphs: list[list[Sentence]] = field(default_factory=list)
    mixed_paragraphs: list[Sentence] = field(default_factory=list)
    headlines: list[list[Sentence]] = field(default_factory=list)
    standfirsts: list[list[Sentence]] = field(default_factory=list)
    common_sentences: list[str] = field(default_factory=list)
    rare_sentences: list[str] = field(default_factory=list)
    subheadings: list[tuple[str, int]] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    common_ids: set[int] = field(default_factory=set)
    rare_ids: set[int] = field(default_factory=set)
    slot_orders: list[list[int]] = field(default_factory=list)
    mentions_per_article: bytes = b""  # index: article id - 1
    first_mention_ids: list[int] = field(default_factory=list)  # by chunk


def build_world(spec: ArchiveSpec) -> World:
    spec.check()
    world = World(spec, build_sections(), build_entities(spec))
    world.filed = [row for row in world.sections if row.parent_id is not None]
    world.section_cumulative = list(itertools.accumulate(row.weight for row in world.filed))
    world.entity_cumulative = list(
        itertools.accumulate(
            (rank + POPULARITY_OFFSET) ** -POPULARITY_EXPONENT for rank in range(1, spec.entities + 1)
        )
    )
    rng = random.Random(f"{spec.seed}:text")
    all_nouns = [noun for nouns in TOPIC_NOUNS.values() for noun in nouns]

    def pool(patterns: Sequence[str], nouns: Sequence[str], size: int) -> list[Sentence]:
        return [_sentence(_expand(rng.choice(patterns), rng, nouns)) for _ in range(size)]

    def paragraphs(sentences: list[Sentence], size: int) -> list[Sentence]:
        """Paragraphs of 2-4 sentences, put together once: an article is then a handful of picks."""
        made: list[Sentence] = []
        for _ in range(size):
            parts: list[str] = []
            words = 0
            for sentence_parts, sentence_words in rng.sample(sentences, rng.randint(2, 4)):
                if parts:
                    parts[-1] += " " + sentence_parts[0]
                    parts.extend(sentence_parts[1:])
                else:
                    parts.extend(sentence_parts)
                words += sentence_words
            made.append((tuple(parts), words))
        return made

    for topic in TOPICS:
        nouns = TOPIC_NOUNS[topic]
        world.topic_paragraphs.append(paragraphs(pool(SENTENCE_PATTERNS, nouns, 1500), 2500))
        world.headlines.append(pool(HEADLINE_PATTERNS, nouns, 400))
        world.standfirsts.append(pool(STANDFIRST_PATTERNS, nouns, 400))
    world.mixed_paragraphs = paragraphs(pool(SENTENCE_PATTERNS, all_nouns, 3000), 5000)
    world.common_sentences = [_expand(rng.choice(COMMON_PATTERNS), rng, all_nouns) for _ in range(200)]
    world.rare_sentences = [_expand(rng.choice(RARE_PATTERNS), rng, all_nouns) for _ in range(50)]
    world.subheadings = [(heading, _words(heading)) for heading in SUBHEADINGS]
    staff = sorted({f"{first} {last}" for first in FIRST_NAMES + MORE_FIRST_NAMES for last in LAST_NAMES})
    world.authors = rng.sample(staff, 400)
    # The body's slots take the entities in rank order, then the first ones again, most of all the lead.
    repeat = [0, 1, 0, 2, 1, 0, 3, 2, 0, 1, 4, 0, 2, 1, 3, 0, 5, 1, 0, 2] * 6
    world.slot_orders = [[]] + [
        list(range(k)) + [index for index in repeat if index < k] for k in range(1, MENTIONS_MAX + 1)
    ]
    # Entities per article from a stream of their own, so a chunk knows its first mention id without the
    # chunks before it.
    sizes = random.Random(f"{spec.seed}:mentions").random
    k_span = MENTIONS_MAX - MENTIONS_MIN + 1
    k_cap = min(MENTIONS_MAX, spec.entities)
    world.mentions_per_article = bytes(
        min(MENTIONS_MIN + int(sizes() * k_span), k_cap) for _ in range(spec.articles)
    )
    next_id = 1
    for index in range(spec.chunks):
        world.first_mention_ids.append(next_id)
        next_id += sum(world.mentions_per_article[index * CHUNK : (index + 1) * CHUNK])
    terms = random.Random(f"{spec.seed}:terms")
    world.common_ids = _term_articles(COMMON_TERM, spec.articles, terms)
    world.rare_ids = _term_articles(RARE_TERM, spec.articles, terms)
    _check_world(world)
    return world


def _check_world(world: World) -> None:
    """The text never needs escaping, and the benchmark terms appear only where they are put on purpose."""
    plain = [
        *world.mixed_paragraphs,
        *itertools.chain.from_iterable(world.topic_paragraphs),
        *itertools.chain.from_iterable(world.headlines),
        *itertools.chain.from_iterable(world.standfirsts),
    ]
    for parts, _ in plain:
        for part in parts:
            _check_text(part)
            lowered = part.lower()
            if COMMON_TERM in lowered or RARE_TERM in lowered:
                raise AssertionError(f"benchmark term in ordinary text: {part!r}")
    for value in (*world.common_sentences, *world.rare_sentences, *SUBHEADINGS, *world.authors):
        _check_text(value)
    for entity in world.entities[:1000]:
        _check_text(entity.intro)


# --------------------------------------------------------------------------------------------------------
# Chunks of articles and their mentions
# --------------------------------------------------------------------------------------------------------


def _timestamp_pg(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(seconds))


def _timestamp_sqlite(seconds: int) -> str:
    """As SQLAlchemy stores an aware UTC datetime on SQLite (naive, with microseconds)."""
    return time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime(seconds))


def build_chunk(world: World, index: int, *, sqlite: bool = False) -> tuple[list[Any], list[Any], list[Any]]:
    """Articles ``index * CHUNK + 1`` .. of the archive, their mentions and their search index rows.

    PostgreSQL: lines of COPY text (``ARTICLE_COLUMNS``, ``MENTION_COLUMNS``, ``SEARCH_COLUMNS``). SQLite:
    row tuples, with ``status`` and ``source_format`` left out of the articles and ``published_at`` once;
    the FTS5 rows (rowid, headline, standfirst, body terms).
    """
    spec = world.spec
    first = index * CHUNK + 1
    last = min(first + CHUNK - 1, spec.articles)
    rng = random.Random(f"{spec.seed}:articles:{index}")
    r = rng.random
    stamp = _timestamp_sqlite if sqlite else _timestamp_pg
    step = (END - START).total_seconds() / spec.articles
    epoch = START.timestamp()
    filed, section_cum = world.filed, world.section_cumulative
    section_total = section_cum[-1]
    entities, entity_cum = world.entities, world.entity_cumulative
    entity_total = entity_cum[-1]
    topic_pools, mixed = world.topic_paragraphs, world.mixed_paragraphs
    mixed_size = len(mixed)
    headline_pools, standfirst_pools = world.headlines, world.standfirsts
    common, rare = world.common_sentences, world.rare_sentences
    special_words = {sentence: _words(sentence) for sentence in (*common, *rare)}
    subheadings, authors = world.subheadings, world.authors
    subheading_count, author_count = len(subheadings), len(authors)
    common_ids, rare_ids = world.common_ids, world.rare_ids
    slot_orders = world.slot_orders
    per_article = world.mentions_per_article
    mention_id = world.first_mention_ids[index]
    width = max(7, len(str(spec.articles)))
    target_span = BODY_MAX_WORDS - BODY_MIN_WORDS + 1
    null = "\\N"
    articles: list[Any] = []
    mentions: list[Any] = []
    searches: list[Any] = []
    bisect_right = bisect.bisect_right

    for number in range(first, last + 1):
        section = filed[bisect_right(section_cum, r() * section_total)]
        topic = section.topic
        k = per_article[number - 1]
        picked: list[int] = []
        while len(picked) < k:
            drawn = bisect_right(entity_cum, r() * entity_total)
            if drawn not in picked:
                picked.append(drawn)
        chosen = [entities[drawn] for drawn in picked]
        locations: list[list[str]] = [[] for _ in picked]
        first_at = [-1] * k
        introduced = [False] * k

        # Headline: the lead entity's short name.
        pool = headline_pools[topic]
        head_before, head_after = pool[int(r() * len(pool))][0]
        lead = chosen[0].short
        headline = head_before + lead + head_after
        locations[0].append(f'["headline", null, {len(head_before)}, {len(head_before) + len(lead)}]')
        first_at[0] = len(head_before)
        # Standfirst: the full names of the first entities, in rank order.
        pool = standfirst_pools[topic]
        stand_parts = pool[int(r() * len(pool))][0]
        base = len(headline) + 1
        pieces = [stand_parts[0]]
        position = len(stand_parts[0])
        for which, part in enumerate(stand_parts[1:]):
            name = chosen[which].name
            locations[which].append(f'["standfirst", null, {position}, {position + len(name)}]')
            if first_at[which] < 0:
                first_at[which] = base + position
            pieces.append(name)
            pieces.append(part)
            position += len(name) + len(part)
        standfirst = "".join(pieces)
        base += position + 1

        # Body: paragraphs until the word target, a subheading before every third one after the first.
        pool = topic_pools[topic]
        pool_size = len(pool)
        order = slot_orders[k]
        order_size = len(order)
        next_slot = 0
        target = BODY_MIN_WORDS + int(r() * target_span)
        words = 0
        blocks: list[str] = []
        texts: list[str] = []  # the blocks' text, for the search index
        specials: list[str] = []
        if number in common_ids:
            specials.append(common[int(r() * len(common))])
            if number % 4 == 0:
                specials.append(common[int(r() * len(common))])
        if number in rare_ids:
            specials.append(rare[int(r() * len(rare))])
        while words < target or specials:
            if len(blocks) % 4 == 3:
                heading, heading_words = subheadings[int(r() * subheading_count)]
                blocks.append(f'{{"type": "subheading", "text": "{heading}"}}')
                texts.append(heading)
                words += heading_words
                base += len(heading) + 1
            block = len(blocks)
            parts, paragraph_words = (
                pool[int(r() * pool_size)] if r() < TOPIC_SHARE else mixed[int(r() * mixed_size)]
            )
            words += paragraph_words
            if specials and blocks:  # a benchmark term's sentence opens a paragraph after the first
                special = specials.pop()
                words += special_words[special]
                pieces = [special, " ", parts[0]]
                position = len(special) + 1 + len(parts[0])
            else:
                pieces = [parts[0]]
                position = len(parts[0])
            for part in parts[1:]:
                which = order[next_slot] if next_slot < order_size else 0
                next_slot += 1
                entity = chosen[which]
                if introduced[which]:
                    name = entity.short
                    start = position
                    words += entity.short_words
                else:
                    introduced[which] = True
                    name = entity.intro
                    start = position + entity.intro_offset
                    words += entity.intro_words
                position += len(name)
                locations[which].append(f'["body", {block}, {start}, {position}]')
                if first_at[which] < 0:
                    first_at[which] = base + start
                pieces.append(name)
                pieces.append(part)
                position += len(part)
            paragraph = "".join(pieces)
            blocks.append(f'{{"type": "paragraph", "text": "{paragraph}"}}')
            texts.append(paragraph)
            base += position + 1
        published = stamp(int(epoch + (number - 1 + r()) * step))
        byline = authors[int(r() * author_count)]
        if r() < 0.15:
            byline = f'{byline}", "{authors[int(r() * author_count)]}'
        slug = f"{_NOT_SLUG.sub('-', headline.lower()).strip('-')}-{number}"
        body = "[" + ", ".join(blocks) + "]"
        source_id = f"gen-{number:0{width}d}"
        terms = analyse(headline), analyse(standfirst), analyse("\n".join(texts))
        if sqlite:
            searches.append((number, *(" ".join(field) for field in terms)))
        else:
            searches.append(f"{number}\t{section.id}\t{published}\tt\t{tsvector_literal(*terms)}\n")
        if sqlite:
            articles.append(
                (
                    number,
                    slug,
                    headline,
                    standfirst,
                    body,
                    section.id,
                    published,
                    source_id,
                    f'["{byline}"]',
                    words,
                )
            )
        else:
            articles.append(
                f"{number}\t{slug}\t{headline}\t{standfirst}\t{body}\t{section.id}\tpublished\t{published}\t"
                f'{published}\t{published}\tjson\t{source_id}\t["{byline}"]\t{words}\n'
            )
        salience = 0.55 + 0.45 * r()
        for rank in range(k):
            entity = chosen[rank]
            found = locations[rank]
            role = entity.role if entity.role is not None and r() < 0.9 else None
            at = first_at[rank] if first_at[rank] >= 0 else base
            if sqlite:
                mentions.append(
                    (
                        mention_id,
                        number,
                        entity.id,
                        published,
                        role,
                        len(found) or 1,
                        at,
                        round(salience, 4),
                        f"[{', '.join(found)}]",
                    )
                )
            else:
                mentions.append(
                    f"{mention_id}\t{number}\t{entity.id}\t{published}\t{role or null}\t"
                    f"{len(found) or 1}\t{at}\t{salience:.4f}\t[{', '.join(found)}]\n"
                )
            salience *= 0.55 + 0.4 * r()
            mention_id += 1
    return articles, mentions, searches


def copy_text(rows: tuple[list[str], list[str], list[str]]) -> tuple[bytes, bytes, bytes]:
    """A chunk's COPY lines as byte strings: nothing in them needs escaping (see ``_check_text``; index
    terms are letters and digits)."""
    return tuple("".join(lines).encode() for lines in rows)  # type: ignore[return-value]


# Worker processes build their own world once, then turn chunk numbers into rows.
_worker_world: World | None = None


def _worker_start(spec: ArchiveSpec) -> None:
    global _worker_world
    _worker_world = build_world(spec)


def _worker_chunk(index: int, sqlite: bool) -> Any:
    assert _worker_world is not None
    rows = build_chunk(_worker_world, index, sqlite=sqlite)
    return rows if sqlite else copy_text(rows)


async def _chunks(world: World, *, sqlite: bool, workers: int) -> AsyncIterator[Any]:
    """Every chunk in order: PostgreSQL COPY bytes, or SQLite row lists; from worker processes if any."""
    count = world.spec.chunks
    if workers <= 0:
        for index in range(count):
            rows = build_chunk(world, index, sqlite=sqlite)
            yield rows if sqlite else copy_text(rows)
            await asyncio.sleep(0)
        return
    import multiprocessing

    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_worker_start, initargs=(world.spec,)
    ) as pool:
        pending: list[asyncio.Future[Any]] = []
        submitted = 0
        try:
            for index in range(count):
                while submitted < count and submitted < index + 2 * workers + 1:
                    pending.append(loop.run_in_executor(pool, _worker_chunk, submitted, sqlite))
                    submitted += 1
                yield await pending.pop(0)
        finally:
            for future in pending:
                future.cancel()


# --------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Phase:
    name: str
    seconds: float
    rows: int


@dataclass(slots=True)
class GenerateReport:
    spec: ArchiveSpec
    backend: str
    phases: list[Phase] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    top_entity: tuple[str, str, int] | None = None  # slug, name, articles
    workers: int = 0

    def table(self) -> str:
        lines = [f"{'phase':<34} {'seconds':>9} {'rows':>12} {'rows/s':>11}"]
        for phase in self.phases:
            rate = f"{phase.rows / phase.seconds:,.0f}" if phase.rows and phase.seconds > 0 else "-"
            rows = f"{phase.rows:,}" if phase.rows else "-"
            lines.append(f"{phase.name:<34} {phase.seconds:>9.1f} {rows:>12} {rate:>11}")
        total = sum(phase.seconds for phase in self.phases)
        lines.append(f"{'total':<34} {total:>9.1f}")
        return "\n".join(lines)


Progress = Callable[[str, int, int], None]


def _no_progress(_phase: str, _done: int, _total: int) -> None:
    return None


class ArchiveNotEmpty(Exception):
    """The target database already holds rows; the generator writes only into an empty one."""


class _Timer:
    def __init__(self, report: GenerateReport, progress: Progress) -> None:
        self.report = report
        self.progress = progress

    def phase(self, name: str, rows: int = 0) -> _PhaseClock:
        return _PhaseClock(self, name, rows)


class _PhaseClock:
    def __init__(self, timer: _Timer, name: str, rows: int) -> None:
        self.timer, self.name, self.rows = timer, name, rows
        self.began = 0.0

    def __enter__(self) -> _PhaseClock:
        self.began = time.perf_counter()
        self.timer.progress(self.name, 0, 1)
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.timer.report.phases.append(Phase(self.name, time.perf_counter() - self.began, self.rows))
            self.timer.progress(self.name, 1, 1)


async def row_counts(connection: AsyncConnection) -> dict[str, int]:
    return {
        table: int(await connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0) for table in TABLES
    }


async def generate(
    engine: AsyncEngine,
    spec: ArchiveSpec,
    *,
    progress: Progress = _no_progress,
    workers: int | None = None,
) -> GenerateReport:
    """Write the archive ``spec`` describes into the migrated, empty database behind ``engine``.

    ``workers``: processes that build the rows (None: one per CPU for archives of 20,000 articles or more,
    none below; 0: build them in this process). They are spawned, so they import the calling script: it
    needs the usual ``if __name__ == "__main__":`` guard. Raises ArchiveNotEmpty when any of the archive's
    tables has rows (the ids are written explicitly, from 1).
    """
    spec.check()
    async with engine.connect() as connection:
        counts = await row_counts(connection)
    if any(counts.values()):
        held = ", ".join(f"{count:,} {table}" for table, count in counts.items() if count)
        raise ArchiveNotEmpty(f"the database already holds rows ({held}); generate writes into an empty one")
    if workers is None:
        workers = (os.cpu_count() or 1) if spec.articles >= 20_000 else 0
    report = GenerateReport(spec, engine.dialect.name, workers=workers)
    timer = _Timer(report, progress)
    with timer.phase("build sections, entities, text"):
        world = build_world(spec)
    if engine.dialect.name == "postgresql":
        await _load_postgresql(engine, world, timer, workers)
    elif engine.dialect.name == "sqlite":
        await _load_sqlite(engine, world, timer, workers)
    else:
        raise ValueError(f"unsupported database: {engine.dialect.name}")
    async with engine.connect() as connection:
        report.counts = await row_counts(connection)
        report.top_entity = await most_mentioned_entity(connection)
    return report


async def most_mentioned_entity(connection: AsyncConnection) -> tuple[str, str, int] | None:
    """(slug, name, articles) of the entity in the most articles: the deep-page benchmark's subject."""
    row = (
        await connection.execute(
            text(
                "SELECT entity.slug, entity.name, top.mentions FROM "
                "(SELECT entity_id, count(*) AS mentions FROM mention GROUP BY entity_id "
                "ORDER BY count(*) DESC, entity_id LIMIT 1) AS top JOIN entity ON entity.id = top.entity_id"
            )
        )
    ).first()
    return None if row is None else (str(row[0]), str(row[1]), int(row[2]))


def _section_values(world: World) -> list[tuple[Any, ...]]:
    return [(row.id, row.parent_id, row.slug, row.name, row.path) for row in world.sections]


def _entity_values(world: World) -> list[tuple[Any, ...]]:
    return [(entity.id, entity.kind, entity.name, entity.slug) for entity in world.entities]


def _alias_values(world: World) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for entity in world.entities:
        for alias, normalized in alias_rows(entity):
            rows.append((len(rows) + 1, entity.id, alias, normalized))
    return rows


# PostgreSQL -------------------------------------------------------------------------------------------

SEARCH_TABLE = "article_search"
SEARCH_COLUMNS = ("article_id", "section_id", "published_at", "published", "document")
PG_TABLES = (*TABLES, SEARCH_TABLE)
#: For the GIN index build: fewer flushes of its accumulator (at 1M articles ~15% less CPU than with 1GB).
GIN_MEMORY = "4GB"
#: The big tables: their unique and primary-key indexes are rebuilt after the load too, except those a
#: foreign key depends on (article_pkey).
BULK_TABLES = ("article", "mention", SEARCH_TABLE)


@dataclass(frozen=True, slots=True)
class PgSchema:
    """What the load takes away and puts back: definitions as PostgreSQL prints them."""

    indexes: dict[str, tuple[str, str]]  # name -> (table, CREATE INDEX ...), indexes backing no constraint
    constraints: dict[str, tuple[str, str]]  # name -> (table, PRIMARY KEY (...) / UNIQUE (...))

    def statements(self) -> dict[str, list[str]]:
        """The DDL that rebuilds everything, by table."""
        by_table: dict[str, list[str]] = {}
        for name, (table, definition) in self.constraints.items():
            by_table.setdefault(table, []).append(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'
            )
        for table, definition in self.indexes.values():
            by_table.setdefault(table, []).append(definition)
        return by_table


async def pg_schema(connection: Any) -> PgSchema:
    """The secondary indexes of the archive's tables, and the big tables' droppable constraints."""
    indexes = await connection.fetch(
        "SELECT i.indexname, i.tablename, i.indexdef FROM pg_indexes AS i "
        "WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[]) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = "
        "(quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass) ORDER BY i.indexname",
        list(PG_TABLES),
    )
    constraints = await connection.fetch(
        "SELECT c.conname, t.relname, pg_get_constraintdef(c.oid) AS definition "
        "FROM pg_constraint AS c JOIN pg_class AS t ON t.oid = c.conrelid "
        "WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY($1::text[]) "
        "AND c.contype IN ('p', 'u') "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS f WHERE f.contype = 'f' AND f.conindid = c.conindid) "
        "ORDER BY c.conname",
        list(BULK_TABLES),
    )
    return PgSchema(
        {row["indexname"]: (row["tablename"], row["indexdef"]) for row in indexes},
        {row["conname"]: (row["relname"], row["definition"]) for row in constraints},
    )


async def pg_definitions(connection: Any) -> list[tuple[str, str, str]]:
    """Every index and constraint of the archive's tables, as PostgreSQL prints them: to compare."""
    rows = await connection.fetch(
        "SELECT tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = current_schema() AND tablename = ANY($1::text[]) "
        "UNION ALL SELECT t.relname, c.conname, c.contype::text || ' ' || pg_get_constraintdef(c.oid) "
        "FROM pg_constraint AS c JOIN pg_class AS t ON t.oid = c.conrelid "
        "WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY($1::text[]) "
        "ORDER BY 1, 2, 3",
        list(PG_TABLES),
    )
    return [(row[0], row[1], row[2]) for row in rows]


def _asyncpg_params(url: URL) -> dict[str, Any]:
    return {
        "user": url.username,
        "password": url.password,
        "host": url.host,
        "port": url.port,
        "database": url.database,
    }


async def _pg_connect(url: URL) -> Any:
    import asyncpg

    connection = await asyncpg.connect(**_asyncpg_params(url))
    # No triggers and no foreign-key checks in these sessions: the search index is filled in bulk, and the
    # rows are consistent by construction. The foreign keys stay declared; nothing else changes.
    await connection.execute("SET session_replication_role = replica")
    await connection.execute("SET synchronous_commit = off")
    await connection.execute("SET maintenance_work_mem = '1GB'")
    await connection.execute("SET max_parallel_maintenance_workers = 0")  # two sessions share two cores
    return connection


async def _copy(connection: Any, table: str, columns: Sequence[str], data: bytes) -> None:
    async def source() -> AsyncIterator[bytes]:
        yield data

    await connection.copy_to_table(table, source=source(), columns=list(columns), format="text", freeze=True)


def _rows_text(rows: Iterable[tuple[Any, ...]]) -> bytes:
    def cell(value: Any) -> str:
        return "\\N" if value is None else str(value)

    return "".join("\t".join(cell(value) for value in row) + "\n" for row in rows).encode()


async def _load_postgresql(engine: AsyncEngine, world: World, timer: _Timer, workers: int) -> None:
    spec = world.spec
    url = engine.url
    created = START.strftime("%Y-%m-%d %H:%M:%S+00")
    main = await _pg_connect(url)
    other = await _pg_connect(url)
    try:
        before = await pg_definitions(main)
        schema = await pg_schema(main)
        async with main.transaction():
            dropped = len(schema.indexes) + len(schema.constraints)
            with timer.phase(f"drop {dropped} indexes, truncate"):
                for name in schema.indexes:
                    await main.execute(f'DROP INDEX "{name}"')
                for name, (table, _) in schema.constraints.items():
                    await main.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                # Truncated in this transaction, so COPY FREEZE writes the rows frozen and the pages
                # all-visible: no later VACUUM pass or hint-bit writes over the whole archive.
                await main.execute(f"TRUNCATE {', '.join(PG_TABLES)}")
            sections = _section_values(world)
            entities = _entity_values(world)
            aliases = _alias_values(world)
            with timer.phase("sections, entities, aliases", len(sections) + len(entities) + len(aliases)):
                await _copy(
                    main,
                    "section",
                    ("id", "parent_id", "slug", "name", "path", "created_at"),
                    _rows_text((*row, created) for row in sections),
                )
                await _copy(
                    main,
                    "entity",
                    ("id", "kind", "name", "slug", "created_at"),
                    _rows_text((*row, created) for row in entities),
                )
                await _copy(
                    main, "entity_alias", ("id", "entity_id", "alias", "normalized"), _rows_text(aliases)
                )
            phase = "articles + mentions + search index (COPY)"
            with timer.phase(phase) as clock:
                done = 0
                chunks = _chunks(world, sqlite=False, workers=workers)
                async for article_bytes, mention_bytes, search_bytes in chunks:
                    await _copy(main, "article", ARTICLE_COLUMNS, article_bytes)
                    await _copy(main, "mention", MENTION_COLUMNS, mention_bytes)
                    await _copy(main, SEARCH_TABLE, SEARCH_COLUMNS, search_bytes)
                    clock.rows += article_bytes.count(b"\n") + mention_bytes.count(b"\n")
                    done += 1
                    timer.progress(phase, done, spec.chunks)
        with timer.phase(f"rebuild {dropped} indexes"):
            statements = schema.statements()
            # The GIN index is the long one: its session also takes the article's; the other the mention's.
            first = statements.pop(SEARCH_TABLE, []) + statements.pop("article", [])
            second = statements.pop("mention", []) + [ddl for ddls in statements.values() for ddl in ddls]
            await main.execute(f"SET maintenance_work_mem = '{GIN_MEMORY}'")
            await asyncio.gather(_run_all(main, first), _run_all(other, second))
            after = await pg_definitions(main)
            if after != before:
                raise AssertionError(f"the schema differs after the load:\n{before}\n!=\n{after}")
        with timer.phase("sequences, VACUUM ANALYZE"):
            for table in TABLES:
                await main.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            tables = ["mention", "article", SEARCH_TABLE, "entity_alias", "entity", "section"]
            await asyncio.gather(_vacuum(main, tables), _vacuum(other, tables))
    finally:
        await other.close()
        await main.close()


async def _run_all(connection: Any, statements: Sequence[str]) -> None:
    for statement in statements:
        await connection.execute(statement)


async def _vacuum(connection: Any, tables: list[str]) -> None:
    while tables:  # two sessions take tables from one list
        await connection.execute(f"VACUUM ANALYZE {tables.pop(0)}")


# SQLite -----------------------------------------------------------------------------------------------


async def _load_sqlite(engine: AsyncEngine, world: World, timer: _Timer, workers: int) -> None:
    """One transaction: foreign keys off, secondary indexes dropped and recreated from ``sqlite_master``
    (the same SQL), rows by ``executemany``; the FTS5 triggers index each article as it is inserted."""
    spec = world.spec
    created = _timestamp_sqlite(int(START.timestamp()))
    async with engine.connect() as connection:
        for pragma in (
            "foreign_keys = OFF",
            "synchronous = OFF",
            "cache_size = -1000000",
            "temp_store = MEMORY",
        ):
            await connection.exec_driver_sql(f"PRAGMA {pragma}")
        await connection.commit()
        try:
            await connection.exec_driver_sql("BEGIN")  # DDL included: the driver would run it outside
            listed = await connection.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                    f"AND tbl_name IN ({', '.join(repr(table) for table in TABLES)}) ORDER BY name"
                )
            )
            indexes = [(str(name), str(sql)) for name, sql in listed.all()]
            with timer.phase(f"drop {len(indexes)} indexes"):
                for name, _ in indexes:
                    await connection.exec_driver_sql(f'DROP INDEX "{name}"')
            sections = _section_values(world)
            entities = _entity_values(world)
            aliases = _alias_values(world)
            with timer.phase("sections, entities, aliases", len(sections) + len(entities) + len(aliases)):
                await connection.exec_driver_sql(
                    "INSERT INTO section (id, parent_id, slug, name, path, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(*row, created) for row in sections],
                )
                await connection.exec_driver_sql(
                    "INSERT INTO entity (id, kind, name, slug, created_at) VALUES (?, ?, ?, ?, ?)",
                    [(*row, created) for row in entities],
                )
                await connection.exec_driver_sql(
                    "INSERT INTO entity_alias (id, entity_id, alias, normalized) VALUES (?, ?, ?, ?)", aliases
                )
            article_sql = (
                f"INSERT INTO article ({', '.join(ARTICLE_COLUMNS)}) "
                "VALUES (?, ?, ?, ?, ?, ?, 'published', ?, ?, ?, 'json', ?, ?, ?)"
            )
            mention_sql = (
                f"INSERT INTO mention ({', '.join(MENTION_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )
            search_sql = f"INSERT INTO {SEARCH_TABLE} (rowid, headline, standfirst, body) VALUES (?, ?, ?, ?)"
            phase = "articles + mentions + FTS (insert)"
            with timer.phase(phase) as clock:
                done = 0
                async for articles, mentions, searches in _chunks(world, sqlite=True, workers=workers):
                    await connection.exec_driver_sql(
                        article_sql, [(*row[:7], row[6], row[6], *row[7:]) for row in articles]
                    )
                    await connection.exec_driver_sql(mention_sql, mentions)
                    await connection.exec_driver_sql(search_sql, searches)
                    clock.rows += len(articles) + len(mentions)
                    done += 1
                    timer.progress(phase, done, spec.chunks)
            with timer.phase(f"rebuild {len(indexes)} indexes"):
                for _, sql in indexes:
                    await connection.exec_driver_sql(sql)
            await connection.commit()
        except BaseException:
            await connection.rollback()
            raise
        finally:
            for pragma in (
                "foreign_keys = ON",
                "synchronous = NORMAL",
                "cache_size = -2000",
                "temp_store = DEFAULT",
            ):
                await connection.exec_driver_sql(f"PRAGMA {pragma}")
            await connection.commit()
        with timer.phase("ANALYZE, checkpoint"):
            await connection.exec_driver_sql("ANALYZE")
            await connection.commit()
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            await connection.commit()


# --------------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------------


async def existing_rows(url: str) -> dict[str, int]:
    """Rows in the archive's tables of the database at ``url`` (empty when it or its tables do not exist)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or not await asyncio.to_thread(Path(parsed.database).exists):
            return {}
    else:
        server = create_async_engine(
            parsed.set(database="postgres").render_as_string(hide_password=False),
            isolation_level="AUTOCOMMIT",
        )
        try:
            async with server.connect() as connection:
                found = await connection.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
                )
        finally:
            await server.dispose()
        if not found:
            return {}
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            present = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            if not set(TABLES) <= present:
                return {}
            return await row_counts(connection)
    finally:
        await engine.dispose()


async def drop_database(url: str) -> None:
    """PostgreSQL: drop the database (open sessions are ended); SQLite: delete the file and its WAL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal") if parsed.database else ():
            await asyncio.to_thread(Path(f"{parsed.database}{suffix}").unlink, missing_ok=True)
        return
    server = create_async_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    try:
        async with server.connect() as connection:
            quoted = connection.dialect.identifier_preparer.quote(str(parsed.database))
            await connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    finally:
        await server.dispose()


def _print_progress() -> Progress:
    state = {"phase": "", "shown": -1}

    def show(phase: str, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if phase != state["phase"]:
            state["phase"], state["shown"] = phase, -1
        if total > 1 and (percent // 10) != state["shown"]:
            state["shown"] = percent // 10
            print(f"  {phase}: {percent}%", file=sys.stderr, flush=True)
        elif total == 1 and done == 0:
            print(f"  {phase} ...", file=sys.stderr, flush=True)

    return show


async def run(args: argparse.Namespace) -> int:
    url = args.database_url
    began = time.perf_counter()
    if args.replace:
        await drop_database(url)
    else:
        held = await existing_rows(url)
        if any(held.values()):
            rows = ", ".join(f"{count:,} {table}" for table, count in held.items() if count)
            print(
                f"error: {make_url(url).render_as_string(hide_password=True)} already holds rows ({rows}); "
                "pass --replace to drop it and start again",
                file=sys.stderr,
            )
            return 2
    await ensure_database(url)
    if make_url(url).get_backend_name() == "sqlite" and make_url(url).database:
        Path(str(make_url(url).database)).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_size=2)
    try:
        await upgrade(engine)
        setup = time.perf_counter() - began
        spec = ArchiveSpec(articles=args.articles, entities=args.entities, seed=args.seed)
        report = await generate(engine, spec, progress=_print_progress(), workers=args.workers)
    finally:
        await engine.dispose()
    report.phases.insert(0, Phase("create database, migrate", setup, 0))
    print()
    print(
        f"{report.backend}: {spec.articles:,} articles, {spec.entities:,} entities, seed {spec.seed}, "
        f"{report.workers} worker processes"
    )
    print(report.table())
    print()
    print("rows: " + ", ".join(f"{table} {count:,}" for table, count in report.counts.items()))
    if report.top_entity:
        slug, name, count = report.top_entity
        print(f"most mentioned entity: {slug} ({name}), in {count:,} articles")
    for term in (COMMON_TERM, RARE_TERM):
        print(f"search term {term!r}: in {expected_matches(term, spec.articles):,} articles")
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument(
        "--database-url", required=True, help="SQLAlchemy URL (sqlite+aiosqlite or postgresql+asyncpg)"
    )
    parser.add_argument("--articles", type=int, default=DEFAULT_ARTICLES)
    parser.add_argument("--entities", type=int, default=DEFAULT_ENTITIES)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--replace", action="store_true", help="drop the database (delete the file) first")
    parser.add_argument(
        "--workers", type=int, default=None, help="row-building processes (default: one per CPU)"
    )
    args = parser.parse_args(argv)
    try:
        ArchiveSpec(args.articles, args.entities, args.seed).check()
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

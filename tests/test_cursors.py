"""Cursors are bound to their list, on both databases: a list walks to its end on its own cursors; a cursor
of another list (kind, filters, order, section, entity, search text) is refused, and so is one made by hand,
edited, cut short or not a cursor at all; equivalent spellings of the same arguments share cursors. The
secret that signs them lives in the database: a new server process accepts the old one's cursors, a
rotated secret refuses them."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from broadsheet.settings import Settings
from graph.app import create_app
from graph.relay import TAG_BYTES, CursorSecret, ListCursors
from graph.search import search_list
from ingest.document import ArticleDraft, Block, BlockKind
from ingest.store import store_article
from models.cursor_secret import read_cursor_secret
from models.db import downgrade, upgrade
from resolvers.articles import ArticleFilters
from resolvers.search import TIERS, SearchOrder
from tests.conftest import StatementLog, data_of, graphql

START = datetime(2026, 1, 1, tzinfo=UTC)
SECTIONS = [("World", "Europe"), ("World", "Asia"), ("Science",), ("World",)]
BODIES = [
    "Finance Minister Amara Okafor met officials in Warsaw about the ceasefire.",
    "Deputy Mayor Tomas Berg said in Lisbon that the ceasefire held.",
    "Amara Okafor and Tomas Berg spoke in Warsaw on Monday.",
]
ARTICLE_COUNT = 12


def _draft(number: int) -> ArticleDraft:
    """Sections cycle Europe, Asia, Science, World; bodies cycle three; every fourth headline names the
    ceasefire, so a search for it has hits in two tiers."""
    headline = f"Ceasefire dispatch {number}" if number % 4 == 0 else f"Dispatch {number}"
    return ArticleDraft(
        headline=headline,
        blocks=[Block(BlockKind.PARAGRAPH, BODIES[number % len(BODIES)])],
        section_path=SECTIONS[number % len(SECTIONS)],
        published_at=START + timedelta(hours=number),
        source_id=f"dispatch-{number}",
        source_format="json",
    )


@pytest.fixture
async def archive(engine: AsyncEngine) -> None:
    for number in range(ARTICLE_COUNT):
        await store_article(engine, _draft(number))


PAGE = "edges { cursor node { slug } } pageInfo { hasNextPage endCursor }"
FILTER_VARIABLES = "$section: String, $sub: Boolean = true, $mentioning: [String!], $kind: EntityKind, "
FILTER_VARIABLES += "$since: DateTime, $until: DateTime"
FILTERS = "section: $section, includeSubsections: $sub, mentioning: $mentioning, mentioningKind: $kind, "
FILTERS += "since: $since, until: $until"
ARTICLES = f"""query($after: String, $first: Int = 2, $order: ArticleOrder = NEWEST, {FILTER_VARIABLES}) {{
  list: articles(first: $first, after: $after, orderBy: $order, {FILTERS}) {{ {PAGE} }} }}"""
SEARCH = f"""query($q: String!, $after: String, $first: Int = 2, $order: SearchOrder = RELEVANCE,
  {FILTER_VARIABLES}) {{
  list: search(query: $q, first: $first, after: $after, orderBy: $order, {FILTERS}) {{ {PAGE} }} }}"""
SECTION = f"""query($path: String!, $after: String, $first: Int = 2, $sub: Boolean = true) {{
  section(path: $path) {{ list: articles(first: $first, after: $after, includeSubsections: $sub)
  {{ {PAGE} }} }} }}"""
ENTITY = f"""query($slug: String!, $after: String, $first: Int = 2, $order: EntityArticleOrder = NEWEST) {{
  entity(slug: $slug) {{ list: articles(first: $first, after: $after, orderBy: $order) {{ {PAGE} }} }} }}"""
ENTITIES = f"""query($after: String, $first: Int = 2, $kind: EntityKind) {{
  list: entities(first: $first, after: $after, kind: $kind) {{ {PAGE} }} }}"""

List = tuple[str, dict[str, Any]]

#: Lists that differ in kind, filters or order, so none may take another's cursor. Lists equal to one of
#: these under another spelling are in EQUIVALENT.
LISTS: dict[str, List] = {
    "front page": (ARTICLES, {}),
    "front page, oldest first": (ARTICLES, {"order": "OLDEST"}),
    "europe": (ARTICLES, {"section": "world/europe"}),
    "science": (ARTICLES, {"section": "science"}),
    "world and below": (ARTICLES, {"section": "world"}),
    "world alone": (ARTICLES, {"section": "world", "sub": False}),
    "world and below, oldest first": (ARTICLES, {"section": "world", "order": "OLDEST"}),
    "mentioning okafor": (ARTICLES, {"mentioning": ["amara-okafor"]}),
    "mentioning okafor and warsaw": (ARTICLES, {"mentioning": ["amara-okafor", "warsaw"]}),
    "mentioning a place": (ARTICLES, {"kind": "PLACE"}),
    "mentioning a person": (ARTICLES, {"kind": "PERSON"}),
    "since 03:00": (ARTICLES, {"since": "2026-01-01T03:00:00Z"}),
    "since 04:00": (ARTICLES, {"since": "2026-01-01T04:00:00Z"}),
    "until 09:00": (ARTICLES, {"until": "2026-01-01T09:00:00Z"}),
    "asia's section page": (SECTION, {"path": "world/asia"}),
    "search ceasefire": (SEARCH, {"q": "ceasefire"}),
    "search ceasefire, newest first": (SEARCH, {"q": "ceasefire", "order": "NEWEST"}),
    "search ceasefire, oldest first": (SEARCH, {"q": "ceasefire", "order": "OLDEST"}),
    "search warsaw": (SEARCH, {"q": "warsaw"}),
    "search ceasefire in europe": (SEARCH, {"q": "ceasefire", "section": "world/europe"}),
    "search ceasefire mentioning berg": (SEARCH, {"q": "ceasefire", "mentioning": ["tomas-berg"]}),
    "search ceasefire since 03:00": (SEARCH, {"q": "ceasefire", "since": "2026-01-01T03:00:00Z"}),
    "okafor's articles": (ENTITY, {"slug": "amara-okafor"}),
    "berg's articles": (ENTITY, {"slug": "tomas-berg"}),
    "okafor's articles by prominence": (ENTITY, {"slug": "amara-okafor", "order": "PROMINENCE"}),
    "entities": (ENTITIES, {}),
    "people": (ENTITIES, {"kind": "PERSON"}),
    "places": (ENTITIES, {"kind": "PLACE"}),
}

#: The same list spelt two ways: each takes the other's cursors.
EQUIVALENT: dict[str, tuple[List, List]] = {
    "mentioning, in another order and repeated": (
        (ARTICLES, {"mentioning": ["amara-okafor", "warsaw"]}),
        (ARTICLES, {"mentioning": ["warsaw", "amara-okafor", "warsaw"]}),
    ),
    "a section path spelt otherwise": (
        (ARTICLES, {"section": "world/europe"}),
        (ARTICLES, {"section": " /World/Europe/ "}),
    ),
    "a time in another zone": (
        (ARTICLES, {"since": "2026-01-01T03:00:00Z"}),
        (ARTICLES, {"since": "2026-01-01T05:00:00+02:00"}),
    ),
    "a time without a zone (UTC)": (
        (ARTICLES, {"until": "2026-01-01T09:00:00Z"}),
        (ARTICLES, {"until": "2026-01-01T09:00:00"}),
    ),
    "a section's page and articles(section:)": (
        (ARTICLES, {"section": "world"}),
        (SECTION, {"path": "world"}),
    ),
    "a section's own page and articles(section:, includeSubsections: false)": (
        (ARTICLES, {"section": "world", "sub": False}),
        (SECTION, {"path": "world", "sub": False}),
    ),
    "Home and everything below it, and no section": (
        (ARTICLES, {}),
        (SECTION, {"path": "/"}),
    ),
    "the defaults spelt out": (
        (ARTICLES, {}),
        (ARTICLES, {"order": "NEWEST", "sub": True, "mentioning": []}),
    ),
    "a search's spaces": (
        (SEARCH, {"q": "ceasefire warsaw"}),
        (SEARCH, {"q": "  ceasefire \t warsaw "}),
    ),
    "a search's entities in another order": (
        (SEARCH, {"q": "ceasefire", "mentioning": ["amara-okafor", "warsaw"]}),
        (SEARCH, {"q": "ceasefire", "mentioning": ["warsaw", "amara-okafor"]}),
    ),
}


def _connection(data: dict[str, Any]) -> dict[str, Any]:
    """The connection aliased `list`, at the root or one level down (section, entity)."""
    found: dict[str, Any] = data["list"] if "list" in data else next(iter(data.values()))["list"]
    return found


async def _page(client: httpx.AsyncClient, listed: List, **variables: Any) -> dict[str, Any]:
    query, given = listed
    return _connection(data_of(await graphql(client, query, {**given, **variables})))


def _slugs(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["slug"] for edge in page["edges"]]


async def _refusal(client: httpx.AsyncClient, listed: List, after: str) -> str:
    """The error of a request for ``listed`` after ``after``, which must be refused."""
    query, given = listed
    body = await graphql(client, query, {**given, "after": after})
    assert body["data"] is None or body["data"] == {"section": None} or body["data"] == {"entity": None}, body
    assert len(body["errors"]) == 1 and body["errors"][0]["path"][-1] == "list", body
    message: str = body["errors"][0]["message"]
    return message


def _refused(after: str) -> str:
    return f"after: {after!r} is not a cursor from this list"


def _unsealed(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def _sealed(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def _walk(client: httpx.AsyncClient, listed: List, first: int) -> list[str]:
    seen, after = [], None
    while True:
        page = await _page(client, listed, first=first, after=after)
        seen += _slugs(page)
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
        assert page["edges"][-1]["cursor"] == after


@pytest.mark.usefixtures("archive")
async def test_each_list_walks_to_its_end_on_its_own_cursors(client: httpx.AsyncClient) -> None:
    astray = []
    for name, listed in LISTS.items():
        everything = _slugs(await _page(client, listed, first=100))
        assert len(everything) >= 2, f"{name}: a list to walk needs two pages at least"
        if await _walk(client, listed, first=max(1, len(everything) // 3)) != everything:
            astray.append(name)
    assert astray == []


@pytest.mark.usefixtures("archive")
async def test_a_cursor_is_refused_by_every_other_list(client: httpx.AsyncClient) -> None:
    cursors = {name: (await _page(client, listed))["pageInfo"]["endCursor"] for name, listed in LISTS.items()}
    assert all(cursors.values())
    accepted = []
    for source, cursor in cursors.items():
        for target, listed in LISTS.items():
            if target != source and await _refusal(client, listed, cursor) != _refused(cursor):
                accepted.append((source, target))
    assert accepted == []


@pytest.mark.usefixtures("archive")
async def test_equivalent_arguments_share_cursors(client: httpx.AsyncClient) -> None:
    refused = []
    for name, (one, other) in EQUIVALENT.items():
        everything = _slugs(await _page(client, one, first=100))
        assert len(everything) > 2 and everything == _slugs(await _page(client, other, first=100)), name
        for first, then in ((one, other), (other, one)):
            start = await _page(client, first, first=2)
            body = await graphql(
                client, then[0], {**then[1], "first": 100, "after": start["pageInfo"]["endCursor"]}
            )
            if "errors" in body or _slugs(start) + _slugs(_connection(body["data"])) != everything:
                refused.append(name)
    assert refused == []


@pytest.mark.usefixtures("archive")
async def test_a_section_cursor_outlives_a_new_subsection(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    """The cursor binds the section asked for, not the sections below it that there are today."""
    world = LISTS["world and below"]
    start = await _page(client, world, first=2)
    newcomer = replace(_draft(21), section_path=("World", "Africa"), published_at=START - timedelta(days=1))
    await store_article(engine, newcomer)
    for _ in range(500):  # until the server has heard of the new section (PostgreSQL notifies at commit)
        sections = (await client.post("/graphql", json={"query": "{ sections { path } }"})).json()
        if {"path": "world/africa"} in sections["data"]["sections"]:
            break
        await asyncio.sleep(0.01)
    rest = _slugs(await _page(client, world, first=100, after=start["pageInfo"]["endCursor"]))
    assert rest[-1] == "dispatch-21" and _slugs(start) + rest == _slugs(await _page(client, world, first=100))


@pytest.mark.usefixtures("archive")
async def test_page_size_may_change_between_pages(client: httpx.AsyncClient) -> None:
    everything = _slugs(await _page(client, LISTS["search ceasefire"], first=100))
    start = await _page(client, LISTS["search ceasefire"], first=2)
    rest = await _page(client, LISTS["search ceasefire"], first=5, after=start["pageInfo"]["endCursor"])
    assert _slugs(start) + _slugs(rest) == everything[:7]


#: One list of each connection and each kind of cursor: time, name, prominence, relevance.
OF_EACH_KIND = [
    "front page",
    "asia's section page",
    "search ceasefire",
    "search ceasefire, newest first",
    "okafor's articles",
    "okafor's articles by prominence",
    "entities",
]


def _old_format(name: str) -> str:
    """A cursor as the server made them before they were signed, hand-made for a row of this list."""
    values = {
        "front page": "articles|2026-01-01T10:00:00+00:00|11",
        "asia's section page": "articles|2026-01-01T09:00:00+00:00|10",
        "search ceasefire": "search-relevance-0a1b2c3d4e5f|3.0|9",
        "search ceasefire, newest first": "search-newest-0a1b2c3d4e5f|2026-01-01T10:00:00+00:00|11",
        "okafor's articles": "entity-articles|2026-01-01T10:00:00+00:00|11",
        "okafor's articles by prominence": "entity-articles-by-prominence|0.5|2026-01-01T10:00:00+00:00|11",
        "entities": "entities|1|Amara Okafor",
    }
    return _sealed(values[name].encode())


@pytest.mark.usefixtures("archive")
async def test_forged_edited_and_broken_cursors_are_refused(client: httpx.AsyncClient) -> None:
    for name in OF_EACH_KIND:
        await _refuses_forged_cursors(client, name)


async def _refuses_forged_cursors(client: httpx.AsyncClient, name: str) -> None:
    cursor = (await _page(client, LISTS[name]))["pageInfo"]["endCursor"]
    raw = _unsealed(cursor)
    payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    forged = [
        _old_format(name),
        _sealed(payload + bytes(TAG_BYTES)),  # this list's own values, a made-up MAC
        _sealed(payload.replace(b"|", b"|1", 1) + tag),  # another row's values, this cursor's MAC
        _sealed(payload),  # no MAC at all
    ]
    flipped = [_sealed(raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1 :]) for at in range(len(raw))]
    broken = [
        cursor[:-1],
        cursor[:-4],
        cursor[: len(cursor) // 2],
        cursor + "AAAA",
        "",
        "AAAA",
        "%%%",
        "!!!",
        "not a cursor",
        "é",
        "\x00",
        _sealed(b"\xff\xfe" * 12),  # not UTF-8
        _sealed(b"|" * 20),
        "=" * 8,
    ]
    for after in forged + flipped + broken:
        assert await _refusal(client, LISTS[name], after) == _refused(after), name
    assert _slugs(await _page(client, LISTS[name], after=cursor))  # the cursor itself still works


async def _list_cursors(engine: AsyncEngine, *description: object) -> ListCursors:
    """The cursors the server makes for ``description``, with the database's secret."""
    async with engine.connect() as connection:
        return CursorSecret(await read_cursor_secret(connection)).for_list(*description)


@pytest.mark.usefixtures("archive")
async def test_signed_cursors_with_values_no_list_makes_are_refused(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    """A cursor with a valid MAC whose values are not of its kind: a score no tier has (a cursor of a
    ranking since changed), parts that are no numbers, too few parts, a time past any calendar."""
    relevance = LISTS["search ceasefire"]
    cursors = await _list_cursors(engine, *search_list("ceasefire", ArticleFilters(), SearchOrder.RELEVANCE))
    served = (await _page(client, relevance, first=1))["pageInfo"]["endCursor"]
    score, key = _unsealed(served)[:-TAG_BYTES].decode().split("|")
    article_id = int(key)
    genuine = cursors.score(float(score), article_id)
    assert genuine == served and float(score) in TIERS, "signed here as the server signs it"
    assert _slugs(await _page(client, relevance, after=genuine, first=100))
    newest = await _list_cursors(engine, *search_list("ceasefire", ArticleFilters(), SearchOrder.NEWEST))
    bad = [
        cursors.score(0.6079271, article_id),
        cursors.score(float("nan"), article_id),
        cursors._seal("three", "eleven"),
        cursors._seal(3.0),
    ]
    for after in bad:
        assert await _refusal(client, relevance, after) == _refused(after)
    far_future = newest._seal(10**30, article_id)
    assert await _refusal(client, LISTS["search ceasefire, newest first"], far_future) == _refused(far_future)


@pytest.mark.usefixtures("archive")
async def test_the_secret_is_read_once_per_app_and_survives_a_restart(
    engine: AsyncEngine, client: httpx.AsyncClient, database_url: str, sql: StatementLog
) -> None:
    page = await _page(client, LISTS["front page"])
    assert any("cursor_secret" in statement for statement in sql.statements)
    sql.clear()
    cursor = page["pageInfo"]["endCursor"]
    following = _slugs(await _page(client, LISTS["front page"], after=cursor))
    assert not any("cursor_secret" in statement for statement in sql.statements), "read once, then kept"
    # Another server process on the same database (another host, or this one restarted) takes it.
    restarted = create_app(Settings(database_url=database_url), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=restarted), base_url="http://b") as other:
        assert _slugs(await _page(other, LISTS["front page"], after=cursor)) == following


@pytest.mark.usefixtures("archive")
async def test_a_rotated_secret_refuses_the_cursors_signed_before(
    engine: AsyncEngine, client: httpx.AsyncClient, database_url: str
) -> None:
    cursor = (await _page(client, LISTS["front page"]))["pageInfo"]["endCursor"]
    async with engine.connect() as connection:
        before = await read_cursor_secret(connection)
    assert len(before) == 64 and int(before, 16), "64 random hex digits"
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE cursor_secret SET secret = 'rotated, and long enough'"))
    try:
        rotated = create_app(Settings(database_url=database_url), engine=engine)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=rotated), base_url="http://b"
        ) as other:
            assert await _refusal(other, LISTS["front page"], cursor) == _refused(cursor)
            fresh = (await _page(other, LISTS["front page"]))["pageInfo"]["endCursor"]
            assert fresh != cursor and _slugs(await _page(other, LISTS["front page"], after=fresh))
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE cursor_secret SET secret = :before"), {"before": before})


async def test_each_database_gets_its_own_secret(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        before = await read_cursor_secret(connection)
    await downgrade(engine, "6b3d9f2a8c41-1")
    await upgrade(engine)
    async with engine.connect() as connection:
        again = await read_cursor_secret(connection)
    assert again != before and len(again) == 64

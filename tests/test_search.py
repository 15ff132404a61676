"""Full-text search over HTTP on both databases: the query language, ranking, snippets, filters, paging."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Executable, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from starlette.applications import Starlette

from broadsheet.settings import Settings
from graph.app import create_app
from graph.context import STATEMENT_TIMEOUT_MESSAGE
from graph.relay import TAG_BYTES
from graph.search import snippet_of
from ingest.document import ArticleDraft, Block, BlockKind
from ingest.store import store_article
from models.articles import Article, ArticleStatus
from models.db import create_engine
from resolvers.search.language import SearchSyntaxError, TermKind, index_prefix, parse_search
from resolvers.search.snippets import HIGHLIGHT_END, HIGHLIGHT_START
from tests.conftest import StatementLog, data_of, graphql, warm_up

START = datetime(2026, 5, 1, 8, tzinfo=UTC)

ARTICLES = {
    "ceasefire-headline": (
        "Ceasefire holds along the front",
        "A ceasefire agreed on Sunday held overnight. Officers said the ceasefire was fragile, and the "
        "ceasefire line was quiet.",
        ("World", "Europe"),
    ),
    "ceasefire-body": (
        "Markets open higher",
        "Shares rose in early trading. Analysts said a ceasefire abroad helped sentiment.",
        ("Business",),
    ),
    "ceasefire-football": (
        "Derby called off after fans agree ceasefire",
        "The football club said the match would be replayed. Supporters agreed a ceasefire of sorts.",
        ("Sport", "Football"),
    ),
    "sanctions": (
        "Sanctions tighten on oil exports",
        "New sanctions target tankers. Vladimir Putin said the sanctions would fail.",
        ("World", "Europe"),
    ),
    "sanctioned": (
        "Banks sanctioned over payments",
        "Regulators sanctioned two banks in Berlin for late reports.",
        ("Business",),
    ),
    "peace-talks": (
        "Peace talks stall in Geneva",
        "Negotiations between the delegations broke down late on Friday.",
        ("World", "Europe"),
    ),
    "talks-about-peace": (
        "Students debate",
        "The talks were about peace & war, and nothing else, said the school.",
        ("Culture",),
    ),
    "world-cup": (
        "World cup tickets on sale",
        "The world cup opens in June. Some say a ceasefire between the rival fans is overdue.",
        ("Sport", "Football"),
    ),
}


def _draft(number: int, key: str) -> ArticleDraft:
    headline, body, section = ARTICLES[key]
    return ArticleDraft(
        headline=headline,
        blocks=[Block(BlockKind.PARAGRAPH, body)],
        section_path=section,
        published_at=START + timedelta(hours=number),
        source_id=key,
        slug=key,
        source_format="json",
    )


@pytest.fixture
async def archive(engine: AsyncEngine) -> None:
    for number, key in enumerate(ARTICLES):
        await store_article(engine, _draft(number, key))


SEARCH = """query($q: String!, $first: Int = 20, $after: String, $order: SearchOrder = RELEVANCE,
    $section: String, $mentioning: [String!], $kind: EntityKind, $since: DateTime, $until: DateTime) {
  search(query: $q, first: $first, after: $after, orderBy: $order, section: $section,
         mentioning: $mentioning, mentioningKind: $kind, since: $since, until: $until) {
    totalCount
    edges { cursor score node { slug } snippet { text html highlights { start end } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def _search(client: httpx.AsyncClient, q: str, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = data_of(await graphql(client, SEARCH, {"q": q, **variables}))["search"]
    return result


async def _slugs(client: httpx.AsyncClient, q: str, **variables: Any) -> list[str]:
    return [edge["node"]["slug"] for edge in (await _search(client, q, **variables))["edges"]]


async def _error(client: httpx.AsyncClient, q: str, **variables: Any) -> str:
    body = await graphql(client, SEARCH, {"q": q, **variables})
    assert body["data"] is None, body
    message: str = body["errors"][0]["message"]
    return message


@pytest.mark.usefixtures("archive")
async def test_words_are_stemmed_and_all_must_appear(client: httpx.AsyncClient) -> None:
    assert sorted(await _slugs(client, "sanction")) == ["sanctioned", "sanctions"]
    assert sorted(await _slugs(client, "ceasefire fans")) == ["ceasefire-football", "world-cup"]
    assert await _slugs(client, "CEASEFIRE Markets") == ["ceasefire-body"]
    assert await _slugs(client, "ceasefire zeppelin") == []


@pytest.mark.usefixtures("archive")
async def test_phrases_match_words_in_order(client: httpx.AsyncClient) -> None:
    assert await _slugs(client, '"peace talks"') == ["peace-talks"]
    assert sorted(await _slugs(client, "peace talks")) == ["peace-talks", "talks-about-peace"]
    assert await _slugs(client, '"world cup" tickets') == ["world-cup"]


@pytest.mark.usefixtures("archive")
async def test_prefixes_match_every_word_that_starts_so(client: httpx.AsyncClient) -> None:
    assert sorted(await _slugs(client, "sanct*")) == ["sanctioned", "sanctions"]
    # "negotiations" is stored as its stem: the prefix is matched the way the index stores words.
    assert await _slugs(client, "negotiat*") == ["peace-talks"]
    assert await _slugs(client, "ceasef* derby") == ["ceasefire-football"]


@pytest.mark.usefixtures("archive")
async def test_exclusions_remove_words_and_phrases(client: httpx.AsyncClient) -> None:
    everything = {"ceasefire-headline", "ceasefire-body", "ceasefire-football", "world-cup"}
    assert set(await _slugs(client, "ceasefire")) == everything
    assert set(await _slugs(client, "ceasefire -football")) == everything - {"ceasefire-football"}
    assert set(await _slugs(client, 'ceasefire -"world cup"')) == everything - {"world-cup"}
    assert set(await _slugs(client, "ceasefire -derb*")) == everything - {"ceasefire-football"}


@pytest.mark.usefixtures("archive")
async def test_best_match_first(client: httpx.AsyncClient) -> None:
    """Headline matches first, then body matches; newest first within each."""
    found = await _search(client, "ceasefire")
    slugs = [edge["node"]["slug"] for edge in found["edges"]]
    assert slugs == ["ceasefire-football", "ceasefire-headline", "world-cup", "ceasefire-body"]
    assert [edge["score"] for edge in found["edges"]] == [3.0, 3.0, 1.0, 1.0]
    newest = await _search(client, "ceasefire", order="NEWEST")
    assert {edge["node"]["slug"]: edge["score"] for edge in newest["edges"]} == dict(
        zip(slugs, [3.0, 3.0, 1.0, 1.0], strict=True)
    )


@pytest.mark.usefixtures("archive")
async def test_newest_and_oldest_orders(client: httpx.AsyncClient) -> None:
    newest = await _slugs(client, "ceasefire", order="NEWEST")
    assert newest == ["world-cup", "ceasefire-football", "ceasefire-body", "ceasefire-headline"]
    assert await _slugs(client, "ceasefire", order="OLDEST") == newest[::-1]


@pytest.mark.usefixtures("archive")
async def test_snippets_mark_the_matched_words(client: httpx.AsyncClient) -> None:
    (edge,) = (await _search(client, "peace school"))["edges"]
    snippet = edge["snippet"]
    marked = [snippet["text"][h["start"] : h["end"]].lower() for h in snippet["highlights"]]
    assert "peace" in marked and "school" in marked
    assert "</mark> &amp; war" in snippet["html"] and "peace & war" in snippet["text"]
    assert "<mark>peace</mark>" in snippet["html"]


@pytest.mark.usefixtures("archive")
async def test_filters_combine_with_search(client: httpx.AsyncClient) -> None:
    assert sorted(await _slugs(client, "ceasefire", section="sport")) == ["ceasefire-football", "world-cup"]
    assert await _slugs(client, "ceasefire", section="sport/football", until="2026-05-01T11:00:00Z") == [
        "ceasefire-football"
    ]
    assert await _slugs(client, "ceasefire", since="2026-05-01T10:00:00Z", section="business") == []
    assert await _slugs(client, "sanctions", mentioning=["vladimir-putin"]) == ["sanctions"]
    assert await _slugs(client, "sanctioned", kind="PLACE") == ["sanctioned"]  # Berlin
    assert await _slugs(client, "sanctioned", kind="PERSON") == ["sanctions"]  # Putin


@pytest.mark.usefixtures("archive")
async def test_pages_walk_every_hit_once_in_each_order(client: httpx.AsyncClient) -> None:
    expected = await _slugs(client, "ceasefire")
    for order in ("RELEVANCE", "NEWEST", "OLDEST"):
        seen, after = [], None
        while True:
            page = await _search(client, "ceasefire", first=1, after=after, order=order)
            assert page["totalCount"] == 4
            seen += [edge["node"]["slug"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert sorted(seen) == sorted(expected) and len(seen) == 4, order
    assert await _slugs(client, "ceasefire", order="RELEVANCE") == expected


async def test_hits_rank_by_where_the_words_are_then_newest(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementLog
) -> None:
    """Every word in the headline, then each in the headline or standfirst, then the rest, newest first
    within each tier: walked two at a time, the pages are exactly that order, exclusions applied."""
    tiers = {  # headline, standfirst, body, and the tier "quarry jobs" puts it in
        "headline": ("Quarry jobs return", None, "Work starts on Monday.", 3.0),
        "headline-phrase": ("Jobs at the quarry", "Hiring starts.", "Forty of them.", 3.0),
        "split": ("Quarry reopens", "Jobs for forty.", "Lorries return.", 2.0),
        "standfirst": ("Town news", "The quarry has jobs again.", "Lorries return to the high street.", 2.0),
        "headline-and-body": ("Quarry reopens", None, "The jobs went to locals.", 1.0),
        "dust": ("Dust", None, "The quarry jobs raise dust, say neighbours.", 1.0),
    }
    drafts = [
        ArticleDraft(
            headline=headline,
            standfirst=standfirst,
            blocks=[Block(BlockKind.PARAGRAPH, body)],
            section_path=("News",),
            published_at=START,
            source_id=key,
            slug=key,
            source_format="json",
        )
        for key, (headline, standfirst, body, _tier) in tiers.items()
    ]
    drafts += [
        ArticleDraft(
            headline=f"Parish notes {number}",
            blocks=[Block(BlockKind.PARAGRAPH, f"Item {number}: the quarry jobs committee met again.")],
            section_path=("News",),
            published_at=START + timedelta(minutes=number),
            source_id=f"once-{number}",
            slug=f"once-{number}",
            source_format="json",
        )
        for number in range(8)
    ]
    for number, draft in enumerate(drafts):  # ids interleave the tiers
        if number % 2:
            await store_article(engine, draft)
    for number, draft in enumerate(drafts):
        if not number % 2:
            await store_article(engine, draft)
    async with engine.connect() as connection:
        rows = await connection.execute(select(col(Article.slug), col(Article.id)))
        ids = {slug: id_ for slug, id_ in rows if id_ is not None}
    tier_of = {slug: tiers[slug][3] if slug in tiers else 1.0 for slug in ids}
    expected = sorted(tier_of, key=lambda slug: (tier_of[slug], ids[slug]), reverse=True)

    async def walk(q: str) -> list[tuple[str, float]]:
        seen, after = [], None
        while True:
            page = await _search(client, q, first=2, after=after)
            seen += [(edge["node"]["slug"], edge["score"]) for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            after = page["pageInfo"]["endCursor"]

    assert await walk("quarry jobs") == [(slug, tier_of[slug]) for slug in expected]
    assert await walk("quarry jobs -dust") == [(slug, tier_of[slug]) for slug in expected if slug != "dust"]
    assert await _slugs(client, "quarry jobs", first=14) == expected
    # A phrase ranks by where the phrase is: "Jobs at the quarry" is not it, in the headline or anywhere.
    phrase = [slug for slug in expected if slug == "headline" or slug == "dust" or slug.startswith("once-")]
    assert await _slugs(client, '"quarry jobs"') == phrase
    if engine.dialect.name == "postgresql":  # each tier read through its own words
        assert any("headline_words @@" in statement for statement in sql.statements)


@pytest.mark.usefixtures("archive")
async def test_cursors_of_another_search_or_forged_are_refused(client: httpx.AsyncClient) -> None:
    page = await _search(client, "ceasefire", first=1)
    cursor = page["pageInfo"]["endCursor"]
    others: tuple[tuple[str, dict[str, str]], ...] = (
        ("sanctions", {}),
        ("ceasefire", {"order": "NEWEST"}),
        ("ceasefire", {"section": "sport"}),
    )
    for q, variables in others:
        message = await _error(client, q, after=cursor, **variables)
        assert message == f"after: {cursor!r} is not a cursor from this list"
    # This search's own cursor, its score made one no hit has (as a cursor from before tiers would be), its
    # MAC kept. (tests/test_cursors.py: one correctly signed with such a score is refused too.)
    sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    _score, key = sealed[:-TAG_BYTES].decode().split("|")
    forged = base64.urlsafe_b64encode(f"0.6079271|{key}".encode() + sealed[-TAG_BYTES:]).decode().rstrip("=")
    assert (
        await _error(client, "ceasefire", after=forged) == f"after: {forged!r} is not a cursor from this list"
    )
    assert (await _error(client, "ceasefire", after="bm90IGEgY3Vyc29y")).startswith("after:")
    assert (await _error(client, "ceasefire", after="%%%")).startswith("after:")


@pytest.mark.usefixtures("archive")
async def test_search_costs_the_same_statements_for_any_page_size(
    app: Starlette, client: httpx.AsyncClient, sql: StatementLog
) -> None:
    query = """query($first: Int!) { search(query: "ceasefire", first: $first) {
        edges { snippet { text } node { headline breadcrumbs { name } people { role entity { name } } } }
    } }"""
    counts = []
    for first in (1, 4):
        await warm_up(app, client)
        sql.clear()
        data_of(await graphql(client, query, {"first": first}))
        counts.append(sql.count)
    assert counts == [2, 2]  # the hits with their snippets, then the mentions with their entities


async def test_search_follows_updates(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    await store_article(engine, _draft(0, "sanctions"))
    assert await _slugs(client, "tankers") == ["sanctions"]
    changed = _draft(0, "sanctions")
    changed.blocks = [Block(BlockKind.PARAGRAPH, "New measures target shipping insurers.")]
    await store_article(engine, changed)
    assert await _slugs(client, "tankers") == []
    assert await _slugs(client, "insurers") == ["sanctions"]


@pytest.mark.usefixtures("archive")
async def test_search_follows_status_section_and_time(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    """Whatever writes the articles, one row or many in a statement, the index follows: unpublished
    articles leave it, and a move to another section or time is what the filters see."""

    async def run(sql: str | Executable) -> None:
        async with engine.begin() as connection:
            await connection.execute(text(sql) if isinstance(sql, str) else sql)

    everything = sorted(await _slugs(client, "ceasefire"))
    await run("UPDATE article SET status = 'draft' WHERE slug = 'world-cup'")
    assert "world-cup" not in await _slugs(client, "ceasefire")
    business = select(col(Article.section_id)).where(col(Article.slug) == "sanctioned").scalar_subquery()
    await run(update(Article).where(col(Article.slug) == "world-cup").values(status=ArticleStatus.PUBLISHED))
    assert sorted(await _slugs(client, "ceasefire")) == everything
    await run(
        update(Article)
        .where(col(Article.slug) == "world-cup")
        .values(section_id=business, published_at=START + timedelta(days=30))
    )
    moved = await _slugs(client, "ceasefire", section="business", since="2026-05-20T00:00:00Z")
    assert moved == ["world-cup"]
    assert sorted(await _slugs(client, "ceasefire", section="sport")) == ["ceasefire-football"]
    await run("UPDATE article SET word_count = word_count + 1")  # nothing the index holds
    await run("UPDATE article SET status = 'draft'")
    assert await _slugs(client, "ceasefire") == []
    await run("UPDATE article SET status = 'published'")
    assert sorted(await _slugs(client, "ceasefire")) == everything


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "query: no words to look for"),
        ("   ", "query: no words to look for"),
        ("!!! ???", "query: no words to look for"),
        ('"unclosed phrase', "query: unclosed quote at character 1"),
        ("-football", "query: nothing to look for: exclusions alone (-word) match almost everything"),
        ("s*", "query: 's*' at character 1: a prefix needs at least 2 letters"),
        ("war *", "query: '*' at character 5: '*' ends a single word, as in sanct*"),
        ("sa*nct", "query: 'sa*nct' at character 1: '*' ends a single word, as in sanct*"),
        ("x" * 501, "query: longer than 500 characters (501)"),
        (" ".join(["word"] * 33), "query: more than 32 terms (33)"),
    ],
)
async def test_unreadable_queries_are_clear_errors(
    client: httpx.AsyncClient, query: str, message: str
) -> None:
    assert await _error(client, query) == message


def test_the_parser_reads_each_kind_of_term() -> None:
    parsed = parse_search('Ceasefire "peace  talks" sanct* -football -"world cup" U.S. -')
    assert [(term.kind, term.words, term.excluded) for term in parsed.terms] == [
        (TermKind.WORD, ("ceasefir",), False),  # the index's terms: stemmed
        (TermKind.PHRASE, ("peac", "talk"), False),
        (TermKind.PREFIX, ("sanct",), False),
        (TermKind.WORD, ("footbal",), True),
        (TermKind.PHRASE, ("world", "cup"), True),
        (TermKind.PHRASE, ("u", "s"), False),
    ]
    with pytest.raises(SearchSyntaxError):
        parse_search('"')


def test_prefixes_are_cut_back_to_how_stems_start() -> None:
    assert index_prefix("negotiat") == "negoti"
    assert index_prefix("sanct") == "sanct"


def test_snippet_markers_become_ranges() -> None:
    start, end = HIGHLIGHT_START, HIGHLIGHT_END
    snippet = snippet_of(f"The {start}sanctions{end} and {start}talks{end}.")
    assert snippet.text == "The sanctions and talks."
    assert [(mark.start, mark.end) for mark in snippet.highlights] == [(4, 13), (18, 23)]
    assert snippet.html() == "The <mark>sanctions</mark> and <mark>talks</mark>."
    # A stray end, an empty mark and a mark left open highlight nothing; the text stays whole.
    stray = snippet_of(f"a{end}b {start}{end}c {start}d")
    assert stray.text == "ab c d" and stray.highlights == []


async def test_connections_carry_their_backend_settings(engine: AsyncEngine) -> None:
    """PostgreSQL plans each statement for its values (asyncpg prepares statements, and a generic plan
    chosen after a common word would slow a rare one); SQLite enforces foreign keys and lets readers
    read while ingest writes (WAL)."""
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            mode = (await connection.exec_driver_sql("SHOW plan_cache_mode")).scalar()
            assert mode == "force_custom_plan"
            # Lookups by key: a statement's plan may be kept, as PostgreSQL does by default.
            lookups = create_engine(engine.url.render_as_string(hide_password=False), lookups=True)
            async with lookups.connect() as lookup:
                kept = await lookup.exec_driver_sql(
                    "SELECT current_setting('plan_cache_mode'), current_setting('application_name')"
                )
                assert tuple(kept.one()) == ("auto", "broadsheet-lookups")
            await lookups.dispose()
        else:
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"


@pytest.mark.usefixtures("archive")
async def test_a_search_past_the_time_limit_is_stopped_with_a_clear_error(
    engine: AsyncEngine, database_url: str
) -> None:
    """PostgreSQL stops a request's statement that runs past the limit; the client reads why, not a 500."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the time limit is PostgreSQL's statement_timeout; SQLite has none")
    limited = create_engine(database_url, pool_size=1, statement_timeout=0.2)
    app = create_app(Settings(database_url=database_url), engine=limited)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://broadsheet.test") as client:
        async with engine.connect() as blocker:  # a search waiting on this lock runs past the limit
            await blocker.execute(text("LOCK TABLE article_search IN ACCESS EXCLUSIVE MODE"))
            response = await client.post("/graphql", json={"query": SEARCH, "variables": {"q": "ceasefire"}})
            await blocker.rollback()
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None and body["errors"][0]["message"] == STATEMENT_TIMEOUT_MESSAGE
        assert len(await _slugs(client, "ceasefire")) == 4  # the limit stopped one statement, nothing else
    await limited.dispose()


async def test_phrases_read_a_window_then_the_rest_in_the_same_order(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL reads a phrase's matches among the newest index entries in order, then the rest through
    the GIN index: with a window of two entries, every page of every order is what one window holding the
    whole archive gives."""
    places = ("headline", "standfirst", "body")
    for number in range(12):
        where = places[number % 3]
        text_of = {place: f"Notes {number}" for place in places}
        if number % 4 != 3:  # the phrase; every fourth article has its words apart
            text_of[where] = f"The quarry jobs list {number}"
        else:
            text_of[where] = f"Jobs return to the old quarry {number}"
        await store_article(
            engine,
            ArticleDraft(
                headline=text_of["headline"],
                standfirst=text_of["standfirst"],
                blocks=[Block(BlockKind.PARAGRAPH, text_of["body"])],
                section_path=("News",),
                published_at=START + timedelta(hours=(number * 5) % 12),  # dates out of id order
                source_id=f"phrase-{number}",
                slug=f"phrase-{number}",
                source_format="json",
            ),
        )

    async def walk(order: str, first: int) -> list[tuple[str, float]]:
        seen, after = [], None
        while True:
            page = await _search(client, '"quarry jobs"', first=first, after=after, order=order)
            seen += [(edge["node"]["slug"], edge["score"]) for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            after = page["pageInfo"]["endCursor"]

    orders = ("RELEVANCE", "NEWEST", "OLDEST")
    whole = {order: await walk(order, 20) for order in orders}
    assert all(len(hits) == 9 for hits in whole.values())
    monkeypatch.setattr("resolvers.search.PHRASE_WINDOW", 2)
    sql.clear()
    for order in orders:
        assert await walk(order, 2) == whole[order], order
    if engine.dialect.name == "postgresql":  # the rest was read, sorted by an expression no index gives
        assert any("interval '0'" in statement for statement in sql.statements)
        assert any("article_search.article_id + " in statement for statement in sql.statements)

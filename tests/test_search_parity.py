"""One search language, one answer: the same archive in SQLite and PostgreSQL gives the same hits, order,
scores, counts, cursors and snippets for a few hundred queries drawn from its own words; and each symptom of
issue 16 (stop words, accents, prefixes, snippets) is pinned on both."""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from broadsheet.settings import Settings
from graph.app import create_app
from ingest.document import ArticleDraft, Block, BlockKind
from ingest.store import store_article
from models.db import create_engine, upgrade
from models.search import analyse, body_text, word_terms, words
from resolvers.search.language import index_prefix
from tests.conftest import SAMPLES, _drop_postgres, _postgres_engine, data_of, graphql

START = datetime(2026, 3, 1, 6, tzinfo=UTC)
SECTIONS = (("World", "Europe"), ("Business",), ("Sport",), ("Science",))

#: Articles for the issue's symptoms, by slug: (headline, standfirst, body paragraphs).
SYMPTOMS: dict[str, tuple[str, str, list[str]]] = {
    "sofia": (
        "Sofía Sørensen wins the Łódź marathon",
        "Đoković's coach Þór Ægisson and Straße runners cheered.",
        ["The race went through the old town. It was the fastest time of the year, who knew?"],
    ),
    "sorensen-plain": (
        "Sorensen and Sofia in Copenhagen",
        "A profile of the Danish family business.",
        ["Lars Sorensen took over the firm in 1998 and it will pass to his daughter Sofia."],
    ),
    "ceasefire-30-day": (
        "Rivals agree a 30-day ceasefire",
        "Talks resume after the pause.",
        [
            "Both sides said the days of fighting had cost too much. The 30-day truce starts on Monday, "
            "and monitors will report every 30 days on whether it holds.",
        ],
    ),
    "peace-long": (
        "Delegations meet in Geneva",
        "A long day of negotiations.",
        [
            "Delegates arrived early on Tuesday morning and spent the first hours arguing over the agenda, "
            "the seating plan and the order in which the ministers would speak to the press afterwards. "
            "Lunch was brought in at noon. Officials said the peace talks would resume after a break, and "
            "that both teams had brought new maps of the border region to the table. Nobody expected a "
            "deal before the weekend, and several aides said privately that the mood was poor.",
        ],
    ),
    "abroad": (
        "Abe's abrupt exit from the abbey",
        "About an absent abbot.",
        ["Abigail was abroad. Cab drivers laughed about it."],
    ),
}

#: Words to sprinkle through generated articles: accents that decompose and letters that do not,
#: hyphens, apostrophes, numbers and the commonest words.
SPICE = [
    "Sofía", "Sørensen", "Ærø", "Straße", "Łukasz", "Đorđe", "Þingvellir", "Zoë", "naïve", "Ÿvonne", "Ørsted",
    "co-operation", "30-day", "well-known", "U.S.", "Putin's", "O'Brien", "rock’n’roll", "£4.5bn", "2026",
    "the", "a", "it", "who", "will", "of", "and", "ABBA", "about", "abroad", "œuvre", "ﬁnance", "İstanbul",
]  # fmt: skip


def _sample_articles() -> list[tuple[str, str | None, list[str]]]:
    """The sample articles' texts: the wire records, and the captured pages' title and paragraphs."""
    texts: list[tuple[str, str | None, list[str]]] = []
    for line in (SAMPLES / "wire.jsonl").read_text().splitlines():
        record = json.loads(line)
        texts.append((record["headline"], record.get("standfirst"), record["body"].split("\n\n")))
    for page in sorted(SAMPLES.glob("*.txt")):
        lines = [line.strip() for line in page.read_text().splitlines()]
        paragraphs = [line for line in lines if len(line) > 60]
        texts.append((lines[6] or page.stem, None, paragraphs))
    return texts


def _generated(rng: random.Random, vocabulary: list[str], count: int) -> list[tuple[str, str, list[str]]]:
    def sentence(size: int) -> str:
        chosen = [rng.choice(SPICE) if rng.random() < 0.15 else rng.choice(vocabulary) for _ in range(size)]
        return " ".join(chosen).capitalize() + rng.choice([".", ".", "!", "?", ","])

    return [
        (
            sentence(rng.randint(3, 9)).rstrip(".,!?"),
            sentence(rng.randint(8, 20)),
            [" ".join(sentence(rng.randint(5, 18)) for _ in range(rng.randint(1, 6))) for _ in range(3)],
        )
        for _ in range(count)
    ]


@dataclass
class Archive:
    texts: dict[str, tuple[str, str | None, list[str]]]  # by slug
    clients: dict[str, httpx.AsyncClient]  # by engine
    vocabulary: list[str]  # the words of the archive as written


@pytest.fixture(scope="module")
async def archive(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Archive]:
    """One archive, written the same way into a SQLite and a PostgreSQL database."""
    samples = _sample_articles()
    vocabulary = sorted(
        {
            match.group()
            for _, standfirst, body in samples
            for match in words(" ".join([standfirst or "", *body]))
        }
    )
    rng = random.Random(16)
    texts: dict[str, tuple[str, str | None, list[str]]] = dict(SYMPTOMS)
    for number, article in enumerate([*samples, *_generated(rng, vocabulary, 260)]):
        texts[f"article-{number}"] = article
    sqlite = create_engine(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('parity') / 'parity.db'}")
    postgres, name = await _postgres_engine()
    engines = {"sqlite": sqlite, "postgresql": postgres}
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        for kind, engine in engines.items():
            await upgrade(engine)
            for number, (slug, (headline, standfirst, body)) in enumerate(texts.items()):
                draft = ArticleDraft(
                    headline=headline,
                    standfirst=standfirst,
                    blocks=[Block(BlockKind.PARAGRAPH, paragraph) for paragraph in body],
                    section_path=SECTIONS[number % len(SECTIONS)],
                    # Every fifth article shares its time with the one before: ties, broken by id.
                    published_at=START + timedelta(hours=number - (number % 5 == 4)),
                    source_id=slug,
                    slug=slug,
                    source_format="json",
                )
                await store_article(engine, draft)
            async with engine.begin() as connection:  # unpublished in SQL: out of every answer
                await connection.execute(text("UPDATE article SET status = 'draft' WHERE id % 37 = 0"))
            app = create_app(Settings(database_url=engine.url.render_as_string(False)), engine=engine)
            clients[kind] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        yield Archive(texts, clients, vocabulary + SPICE)
    finally:
        for client in clients.values():
            await client.aclose()
        await sqlite.dispose()
        await postgres.dispose()
        await _drop_postgres(name)


SEARCH = """query($q: String!, $first: Int, $after: String, $order: SearchOrder, $section: String,
    $since: DateTime, $until: DateTime) {
  search(query: $q, first: $first, after: $after, orderBy: $order, section: $section, since: $since,
         until: $until) {
    totalCount
    edges { cursor score node { slug } snippet { text highlights { start end } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def _answers(
    archive: Archive, variables: dict[str, Any], after: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each engine's answer to one search (after its own cursor), less the cursors, which each database
    signs with its own secret; and each engine's end cursor, to read on."""
    answers, ends = {}, {}
    for kind, client in archive.clients.items():
        cursor = None if after is None else after[kind]
        search = data_of(await graphql(client, SEARCH, {"first": 10, **variables, "after": cursor}))["search"]
        ends[kind] = search["pageInfo"].pop("endCursor")
        for edge in search["edges"]:
            del edge["cursor"]
        answers[kind] = search
    return answers, ends


def _unaccented(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def _queries(archive: Archive) -> list[str]:
    """A few hundred queries from the archive's own words, of every kind the language has."""
    rng = random.Random(1616)
    words_ = [word for word in archive.vocabulary if len(word) > 1]
    texts = [
        " ".join([headline, standfirst or "", *body]) for headline, standfirst, body in archive.texts.values()
    ]
    queries = ["the", "a", "it", "who", "will", "the peace", "of the", "Sofia", "Sorensen", "ab*", "30-day"]
    queries += [rng.choice(words_) for _ in range(80)]
    queries += [_unaccented(word).upper() for word in rng.sample(SPICE, 20)]
    queries += [f"{word[:length]}*" for word in rng.sample(words_, 50) for length in [rng.randint(2, 5)]]
    for _ in range(50):
        found = [match.group() for match in words(rng.choice(texts))]
        at = rng.randrange(len(found) - 3)
        queries.append('"' + " ".join(found[at : at + rng.randint(2, 3)]) + '"')
    queries += [f"{rng.choice(words_)} -{rng.choice(words_)}" for _ in range(30)]
    queries += [f'{rng.choice(SPICE)} -"{rng.choice(words_)} {rng.choice(words_)}"' for _ in range(10)]
    queries += [f"{rng.choice(words_)} {rng.choice(SPICE)}" for _ in range(30)]
    queries += [f"{rng.choice(words_)[:3]}* {rng.choice(words_)}" for _ in range(20)]
    return queries


async def test_both_engines_answer_every_query_alike(archive: Archive) -> None:
    queries = _queries(archive)
    assert len(queries) >= 300
    rng = random.Random(2026)
    hits = compared = 0
    for number, query in enumerate(queries):
        variables: dict[str, Any] = {"q": query, "order": ("RELEVANCE", "NEWEST", "OLDEST")[number % 3]}
        if number % 7 == 0:
            variables["section"] = rng.choice(["world", "business", "sport", "science"])
        if number % 11 == 0:
            variables["since"] = (START + timedelta(hours=rng.randint(0, 150))).isoformat()
            variables["until"] = (START + timedelta(hours=rng.randint(150, 300))).isoformat()
        page, after = 0, None
        while True:  # the first pages of the query, five hits at a time
            answers, after = await _answers(archive, {**variables, "first": 5}, after)
            assert answers["sqlite"] == answers["postgresql"], (query, variables, page)
            compared += 1
            hits += len(answers["sqlite"]["edges"])
            if not answers["sqlite"]["pageInfo"]["hasNextPage"] or page == 3:
                break
            page += 1
    assert compared > len(queries) and hits > 2000  # most queries find something: not a match of nothings


def _expected(archive: Archive, term_matches: Any) -> set[str]:
    """The published articles whose analysed text has a term ``term_matches`` accepts: an oracle from the
    analyzer alone, no database in it."""
    drafts = {row: slug for row, slug in enumerate(archive.texts, start=1) if row % 37 != 0}
    found = set()
    for slug in drafts.values():
        headline, standfirst, body = archive.texts[slug]
        blocks = [{"text": paragraph} for paragraph in body]
        terms = analyse(headline) + analyse(standfirst or "") + analyse(body_text(blocks))
        if any(term_matches(term) for term in terms):
            found.add(slug)
    return found


async def _all_slugs(archive: Archive, query: str) -> dict[str, set[str]]:
    """Every hit of ``query`` on each engine, page after page."""
    found: dict[str, set[str]] = {kind: set() for kind in archive.clients}
    after = None
    while True:
        answers, after = await _answers(archive, {"q": query, "first": 100}, after)
        assert answers["sqlite"] == answers["postgresql"], query
        for kind, answer in answers.items():
            found[kind] |= {edge["node"]["slug"] for edge in answer["edges"]}
        if not answers["sqlite"]["pageInfo"]["hasNextPage"]:
            return found


@pytest.mark.parametrize("word", ["the", "a", "it", "who", "will"])
async def test_common_words_are_searched_like_any_other(archive: Archive, word: str) -> None:
    found = await _all_slugs(archive, word)
    expected = _expected(archive, lambda term: term == analyse(word)[0])
    assert found["sqlite"] == found["postgresql"] == expected and len(expected) >= 5


async def test_a_common_word_in_a_query_counts_for_its_tier(archive: Archive) -> None:
    answers, _ = await _answers(archive, {"q": "the marathon"})
    assert answers["sqlite"] == answers["postgresql"]
    edges = answers["sqlite"]["edges"]
    assert (edges[0]["node"]["slug"], edges[0]["score"]) == ("sofia", 3.0)  # "the" in its headline too


@pytest.mark.parametrize(
    ("query", "slugs"),
    [
        ("Sofia", {"sofia", "sorensen-plain"}),
        ("sofía", {"sofia", "sorensen-plain"}),
        ("Sorensen", {"sofia", "sorensen-plain"}),
        ("SØRENSEN", {"sofia", "sorensen-plain"}),
        ("lodz", {"sofia"}),
        ("djokovic", set()),  # folding is by letters, not transliteration: đ is d
        ("dokovic", {"sofia"}),
        ("thor aegisson", {"sofia"}),
        ("strasse", {"sofia"}),
    ],
)
async def test_accents_fold_on_both(archive: Archive, query: str, slugs: set[str]) -> None:
    found = await _all_slugs(archive, query)
    assert found["sqlite"] == found["postgresql"]
    assert found["sqlite"] & set(SYMPTOMS) == slugs


async def test_a_prefix_finds_every_term_that_starts_so(archive: Archive) -> None:
    found = await _all_slugs(archive, "ab*")
    expected = _expected(archive, lambda term: term.startswith(index_prefix("ab")))
    assert found["sqlite"] == found["postgresql"] == expected
    assert "abroad" in expected and len(expected) >= 5
    assert "ceasefire-30-day" not in expected  # nothing starts with "ab" there


async def _snippet(archive: Archive, query: str, slug: str) -> tuple[str, list[str]]:
    answers, _ = await _answers(archive, {"q": query, "first": 100})
    assert answers["sqlite"] == answers["postgresql"]
    for edge in answers["sqlite"]["edges"]:
        if edge["node"]["slug"] == slug:
            snippet = edge["snippet"]
            marked = [snippet["text"][mark["start"] : mark["end"]] for mark in snippet["highlights"]]
            return snippet["text"], marked
    raise AssertionError(f"{slug} not found for {query}")


async def test_a_cut_snippet_starts_at_a_sentence_and_says_where_it_was_cut(archive: Archive) -> None:
    snippet, marked = await _snippet(archive, '"peace talks"', "peace-long")
    assert snippet.startswith("…Officials said the peace talks would resume")
    assert snippet.endswith("…") and len(snippet.split()) <= 33
    assert marked == ["peace talks"]  # a phrase is one highlight, not one per word


async def test_hyphenated_words_highlight_as_written(archive: Archive) -> None:
    _, marked = await _snippet(archive, "30-day", "ceasefire-30-day")
    assert marked == ["30-day", "30 days"]  # the phrase's two words side by side, each once; not "days"
    _, marked = await _snippet(archive, "days", "ceasefire-30-day")
    assert marked == ["days", "day", "days"]


@pytest.mark.parametrize(
    ("written", "terms"),
    [
        (
            "Sørensen Ærø œuvre Straße Łódź Đorđe Þór Eyjafjörður İstanbul ı",
            "sorensen aero oeuvr strass lodz dord thor eyjafjordur istanbul i",
        ),
        ("CAFÉ café cafe\u0301 ﬁnance ①", "cafe cafe cafe financ 1"),
        ("Putin's O’Brien rock’n’roll 'quoted'", "putin obrien rocknrol quot"),
        ("30-day U.S. £4.5bn 2026 covid_19", "30 day u s 4 5bn 2026 covid 19"),
        ("the a it who will", "the a it who will"),
    ],
)
def test_the_analyzer_folds_splits_and_stems(written: str, terms: str) -> None:
    assert analyse(written) == terms.split()


def test_the_analyzer_reads_words_as_snippets_find_them() -> None:
    """``analyse`` splits at white space first; snippets find words with ``WORD`` alone: the same terms."""
    texts = [" ".join([h, s or "", *b]) for h, s, b in _sample_articles()] + [
        " ".join(SPICE),
        "a\u0301 \u0301b x_y",
    ]
    for text_ in texts:
        assert analyse(text_) == [term for match in words(text_) for term in word_terms(match.group())]

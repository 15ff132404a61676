"""The names only drafts hold: entities that only drafts mention and sections only drafts are filed under are
unpublished news too. Over HTTP to the real app, on both databases, with keys made as `broadsheet keys create`
makes them: without the `drafts` scope such a name shows nowhere (lookups, lists, a section's children, the
filters of `articles` and `search`, which must refuse it as they refuse a name that does not exist); with the
scope, lookups find it and lists add it when asked (`includeDrafts: true`), as they do drafts.

Each test says which one-line bug it is there to catch."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from ingest.document import ArticleDraft
from ingest.store import store_article
from models import ArticleStatus
from models.api_keys import KeyScope
from tests.conftest import StatementLog, caught_up, warm_up
from tests.helpers import json_article
from tests.test_scopes import new_key, post


def _article(
    slug: str, body: str, *, section: tuple[str, ...], status: ArticleStatus, hour: int
) -> ArticleDraft:
    headline = slug.replace("-", " ").capitalize()
    return json_article(slug, headline, body, section=section, status=status, hour=hour)


PUBLISHED = _article(
    "kremlin-talks-resume",
    "Vladimir Putin's envoy met officials in Warsaw as the Kremlin talks resumed.",
    section=("Europe",),
    status=ArticleStatus.PUBLISHED,
    hour=9,
)
# Filed two levels down, with nothing published in World itself: World must still show, or the article's
# breadcrumbs would lead nowhere.
FAR = _article(
    "lagos-port-reopens",
    "Officials in Lagos reopened the port.",
    section=("World", "Africa"),
    status=ArticleStatus.PUBLISHED,
    hour=8,
)
# Names only the draft holds: a person, a place, an organisation, and a section (Baltic, under Europe).
DRAFT = _article(
    "kremlin-ceasefire-embargoed",
    "Vladimir Putin told officials in Warsaw that the Kremlin would sign the ceasefire. Foreign Minister "
    "Sergei Lavrov flew to Tallinn, where Nordstream Holdings confirmed the deal.",
    section=("Europe", "Baltic"),
    status=ArticleStatus.DRAFT,
    hour=12,
)

PUBLIC_ENTITIES = ["kremlin", "lagos", "vladimir-putin", "warsaw"]  # by name
DRAFT_ONLY_ENTITIES = ["nordstream-holdings", "sergei-lavrov", "tallinn"]
ALL_ENTITIES = [
    "kremlin",
    "lagos",
    "nordstream-holdings",
    "sergei-lavrov",
    "tallinn",
    "vladimir-putin",
    "warsaw",
]
PUBLIC_SECTIONS = ["", "europe", "world", "world/africa"]  # tree order
ALL_SECTIONS = ["", "europe", "europe/baltic", "world", "world/africa"]


@pytest.fixture
async def seeded(engine: AsyncEngine) -> None:
    for article in (PUBLISHED, FAR, DRAFT):
        await store_article(engine, article)


async def newsdesk(engine: AsyncEngine) -> dict[str, str]:
    return await new_key(engine, "newsdesk", [KeyScope.READ, KeyScope.DRAFTS])


async def ids(client: httpx.AsyncClient, drafts_key: dict[str, str]) -> dict[str, str]:
    """The global ids of the draft-only entity and section, as a drafts key finds them."""
    body = await post(
        client, '{ entity(slug: "sergei-lavrov") { id } section(path: "europe/baltic") { id } }', drafts_key
    )
    assert "errors" not in body, body
    return {"entity": body["data"]["entity"]["id"], "section": body["data"]["section"]["id"]}


#: Everywhere a name may show, in one document, lists asked without `includeDrafts`.
EVERYWHERE = """
query Everywhere($entityId: ID!, $sectionId: ID!) {
  entities(first: 100) { edges { node { slug } } }
  people: entities(kind: PERSON) { edges { node { slug } } }
  entity(slug: "sergei-lavrov") { name }
  entityNode: node(id: $entityId) { id }
  sectionNode: node(id: $sectionId) { id }
  sections { path }
  section(path: "europe/baltic") { name }
  home: section(path: "/") { children { path children { path } } }
  europe: section(path: "Europe") { children { path } }
  article(slug: "kremlin-talks-resume") {
    section { children { path } }
    breadcrumbs { path }
    people { entity { slug mentionedWith { entity { slug } } } }
  }
  far: article(slug: "lagos-port-reopens") {
    breadcrumbs { path }
    section { parent { path parent { path } } breadcrumbs { path } }
  }
}
"""


def public_view(data: dict[str, Any]) -> None:
    assert [edge["node"]["slug"] for edge in data["entities"]["edges"]] == PUBLIC_ENTITIES
    assert [edge["node"]["slug"] for edge in data["people"]["edges"]] == ["vladimir-putin"]
    assert [item["path"] for item in data["sections"]] == PUBLIC_SECTIONS
    assert data["home"]["children"] == [
        {"path": "europe", "children": []},
        {"path": "world", "children": [{"path": "world/africa"}]},
    ]
    assert data["europe"]["children"] == []
    article = data["article"]
    assert article["section"]["children"] == []
    assert article["breadcrumbs"] == [
        {"path": "/"},
        {"path": "/europe"},
        {"path": "/europe/kremlin-talks-resume"},
    ]
    (putin,) = article["people"]
    assert putin["entity"]["slug"] == "vladimir-putin"
    assert {item["entity"]["slug"] for item in putin["entity"]["mentionedWith"]} == {"kremlin", "warsaw"}
    # Breadcrumbs of published articles stay whole, through a section with no article of its own.
    assert data["far"] == {
        "breadcrumbs": [
            {"path": "/"},
            {"path": "/world"},
            {"path": "/world/africa"},
            {"path": "/world/africa/lagos-port-reopens"},
        ],
        "section": {
            "parent": {"path": "world", "parent": {"path": ""}},
            "breadcrumbs": [{"path": "/"}, {"path": "/world"}, {"path": "/world/africa"}],
        },
    }


@pytest.mark.parametrize("who", ["anonymous", "read key", "read and write key"])
async def test_without_the_drafts_scope_no_name_only_drafts_hold_shows_anywhere(
    client: httpx.AsyncClient, engine: AsyncEngine, seeded: None, who: str
) -> None:
    """Catches: any one read of entities or sections losing its published condition (the entity list, a
    lookup by slug or by id, the section list, a lookup by path or by id, a section's children), or a
    section shown only when an article is filed in it directly (World, whose breadcrumbs then break)."""
    found = await ids(client, await newsdesk(engine))
    scopes = {
        "anonymous": None,
        "read key": [KeyScope.READ],
        "read and write key": [KeyScope.READ, KeyScope.WRITE],
    }
    chosen = scopes[who]
    headers = {} if chosen is None else await new_key(engine, "partner", chosen)
    body = await post(client, EVERYWHERE, headers, entityId=found["entity"], sectionId=found["section"])
    assert "errors" not in body, body["errors"]
    data = body["data"]
    assert data["entity"] is None and data["entityNode"] is None
    assert data["sectionNode"] is None and data["section"] is None
    public_view(data)
    for name in ("Lavrov", "Tallinn", "Nordstream", "Baltic", "baltic"):
        assert name not in str(body)


FILTERED = {
    "articles": "articles({filter}) {{ totalCount }}",
    "search": 'search(query: "kremlin", {filter}) {{ totalCount }}',
}


@pytest.mark.parametrize("field", FILTERED, ids=FILTERED.keys())
async def test_the_filters_refuse_a_draft_only_name_as_a_name_that_does_not_exist(
    client: httpx.AsyncClient, engine: AsyncEngine, seeded: None, field: str
) -> None:
    """Catches: the `mentioning` or `section` filters looking names up without the published condition
    (an empty answer where a name that does not exist is refused would tell that the draft's exists)."""
    reader = await new_key(engine, "partner", [KeyScope.READ])

    async def error_of(filter_: str) -> str:
        body = await post(client, "{ " + FILTERED[field].format(filter=filter_) + " }", reader)
        (error,) = body["errors"]
        return str(error["message"])

    assert (
        await error_of('mentioning: ["sergei-lavrov"]') == "mentioning: no entity with slug 'sergei-lavrov'"
    )
    assert await error_of('mentioning: ["no-such-one"]') == "mentioning: no entity with slug 'no-such-one'"
    assert await error_of('section: "europe/baltic"') == "section: no section at path 'europe/baltic'"
    assert await error_of('section: "europe/nowhere"') == "section: no section at path 'europe/nowhere'"


async def test_a_drafts_key_finds_draft_only_names_and_lists_them_when_it_asks(
    client: httpx.AsyncClient, engine: AsyncEngine, seeded: None
) -> None:
    """Catches: a lookup (entity by slug or id, section by path or id, the filters) not passing
    `sees_drafts`; `includeDrafts` not reaching the entity list, the section list or a section's children;
    and lists adding draft-only names without being asked (a newsroom tool's navigation is the readers')."""
    headers = await newsdesk(engine)
    found = await ids(client, headers)
    body = await post(client, EVERYWHERE, headers, entityId=found["entity"], sectionId=found["section"])
    assert "errors" not in body, body["errors"]
    data = body["data"]
    assert data["entity"] == {"name": "Sergei Lavrov"} and data["entityNode"] == {"id": found["entity"]}
    assert data["section"] == {"name": "Baltic"} and data["sectionNode"] == {"id": found["section"]}
    public_view(data)

    asked = await post(
        client,
        """
        {
          entities(first: 100, includeDrafts: true) { edges { node { slug } } }
          people: entities(kind: PERSON, includeDrafts: true) { edges { node { slug } } }
          sections(includeDrafts: true) { path }
          europe: section(path: "europe") { children(includeDrafts: true) { path } }
          byName: articles(includeDrafts: true, mentioning: ["sergei-lavrov"]) { nodes { slug } }
          bySection: articles(includeDrafts: true, section: "europe/baltic") { nodes { slug } }
          published: articles(section: "europe/baltic") { totalCount }
        }
        """,
        headers,
    )
    assert "errors" not in asked, asked["errors"]
    data = asked["data"]
    assert [edge["node"]["slug"] for edge in data["entities"]["edges"]] == ALL_ENTITIES
    assert [edge["node"]["slug"] for edge in data["people"]["edges"]] == ["sergei-lavrov", "vladimir-putin"]
    assert [item["path"] for item in data["sections"]] == ALL_SECTIONS
    assert data["europe"]["children"] == [{"path": "europe/baltic"}]
    assert data["byName"]["nodes"] == data["bySection"]["nodes"] == [{"slug": DRAFT.slug}]
    assert data["published"] == {"totalCount": 0}


ASKING_FOR_DRAFTS = {
    "entities": "{ entities(includeDrafts: true) { edges { cursor } } }",
    "sections": "{ sections(includeDrafts: true) { path } }",
    "children": '{ section(path: "europe") { children(includeDrafts: true) { path } } }',
}


@pytest.mark.parametrize("field", ASKING_FOR_DRAFTS, ids=ASKING_FOR_DRAFTS.keys())
async def test_asking_for_draft_only_names_without_the_scope_is_forbidden(
    client: httpx.AsyncClient, engine: AsyncEngine, seeded: None, field: str
) -> None:
    """Catches: a new `includeDrafts` without `DraftsWhenAsked` (it would list the names)."""
    body = await post(client, ASKING_FOR_DRAFTS[field], await new_key(engine, "partner", [KeyScope.READ]))
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["message"] == "includeDrafts: drafts need an API key with the `drafts` scope"
    assert "baltic" not in str(body) and "lavrov" not in str(body)


NAVIGATION = """
{
  sections { path }
  section(path: "europe") { children { path } }
  entities(first: 100) { edges { node { slug } } }
  entity(slug: "tallinn") { name }
}
"""


async def test_publishing_the_draft_shows_its_names_on_the_next_request_and_unpublishing_hides_them(
    app: Starlette, client: httpx.AsyncClient, engine: AsyncEngine, seeded: None
) -> None:
    """Catches: which sections have published articles kept in the process without regard to article
    changes (publishing the draft changes no section: the section list would stay as it was)."""
    await warm_up(app, client)
    before = (await post(client, NAVIGATION, {}))["data"]
    assert [item["path"] for item in before["sections"]] == PUBLIC_SECTIONS and before["entity"] is None
    await store_article(engine, replace(DRAFT, status=ArticleStatus.PUBLISHED))
    await caught_up(app)
    after = (await post(client, NAVIGATION, {}))["data"]
    assert [item["path"] for item in after["sections"]] == ALL_SECTIONS
    assert after["section"]["children"] == [{"path": "europe/baltic"}]
    assert [edge["node"]["slug"] for edge in after["entities"]["edges"]] == ALL_ENTITIES
    assert after["entity"] == {"name": "Tallinn"}
    await store_article(engine, DRAFT)  # back to a draft
    await caught_up(app)
    assert (await post(client, NAVIGATION, {}))["data"] == before


async def test_a_section_emptied_by_moving_its_only_article_is_not_listed(
    app: Starlette, client: httpx.AsyncClient, engine: AsyncEngine, seeded: None
) -> None:
    """Catches: a section shown because it exists (or once had an article) rather than because a
    published article is filed under it: a draft moved out of its section would leave the name behind."""
    await store_article(engine, replace(DRAFT, section_path=("Europe",)))
    await caught_up(app)
    reader = await new_key(engine, "partner", [KeyScope.READ])
    data = (await post(client, '{ sections { path } section(path: "europe/baltic") { name } }', reader))[
        "data"
    ]
    assert [item["path"] for item in data["sections"]] == PUBLIC_SECTIONS and data["section"] is None


async def test_navigation_costs_no_statement_once_warm(
    app: Starlette, client: httpx.AsyncClient, engine: AsyncEngine, seeded: None, sql: StatementLog
) -> None:
    """Catches: which sections are shown read on every request rather than kept while the articles are
    unchanged, or entity lookups and lists made two statements instead of one."""
    await warm_up(app, client)
    sql.clear()
    body = await post(
        client, '{ sections { path children { path } } section(path: "world") { children { name } } }', {}
    )
    assert "errors" not in body
    assert sql.count == 0, sql.statements
    body = await post(client, '{ entity(slug: "warsaw") { name } }', {})
    assert body["data"] == {"entity": {"name": "Warsaw"}} and sql.count == 1, sql.statements
    sql.clear()
    body = await post(client, "{ entities(first: 3) { edges { node { slug } } } }", {})
    assert "errors" not in body and sql.count == 1, sql.statements

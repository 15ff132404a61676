"""Scopes as partners meet them, over HTTP to the real app, with keys made as `broadsheet keys create` makes
them: anonymous requests and `read` keys see published articles only, wherever articles show; a `drafts` key
finds drafts by slug and id, and lists them when it asks; a key without `read` is refused field by field.

Each test says which one-line bug it is there to catch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import replace
from typing import Any, cast

import httpx
import pytest
import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from strawberry.permission import PermissionExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from broadsheet.settings import Settings
from graph.app import create_app
from graph.context import Context
from graph.execution import FastExecutionContext
from graph.relay import global_id
from graph.schema import BroadsheetSchema
from graph.scopes import RequireScope
from ingest.bulk import content_hash
from ingest.document import ArticleDraft
from ingest.records import parse_json_line
from ingest.store import store_article
from models import ArticleStatus
from models.api_keys import KeyScope
from models.types import utcnow
from resolvers.api_keys import ApiKeyRow, create_key
from tests.conftest import caught_up
from tests.helpers import json_article

PUBLISHED_SLUG = "kremlin-talks-resume"
DRAFT_SLUG = "kremlin-ceasefire-embargoed"

#: Everywhere an article may show, in one document: by slug, by id, the root list, a section's, an entity's,
#: search, and every count.
EVERYWHERE = """
query Everywhere($draftId: ID!, $draftSlug: String!) {
  bySlug: article(slug: $draftSlug) { slug status }
  byId: node(id: $draftId) { id }
  articles { totalCount nodes { slug } }
  section(path: "europe") { articles { totalCount nodes { slug } } }
  entity(slug: "kremlin") {
    articleCount
    articles { edges { node { slug } } }
    mentionedWith { entity { slug } sharedArticles }
  }
  search(query: "kremlin") { totalCount edges { node { slug } } }
  embargoed: search(query: "embargoed") { totalCount }
}
"""


PUBLISHED = json_article(
    PUBLISHED_SLUG,
    "Kremlin talks resume",
    "Vladimir Putin's envoy met officials in Warsaw as the Kremlin talks resumed.",
    section=("Europe",),
    status=ArticleStatus.PUBLISHED,
    hour=9,
)
# Newer than the published one: leaked into a list, it would come first. In a subsection, so that Europe's
# list reads several sections (a statement of its own on each database).
DRAFT = json_article(
    DRAFT_SLUG,
    "Embargoed: Kremlin agrees ceasefire",
    "Vladimir Putin told officials in Warsaw that the Kremlin would sign the ceasefire.",
    section=("Europe", "Baltic"),
    status=ArticleStatus.DRAFT,
    hour=12,
)


@pytest.fixture
async def draft_id(engine: AsyncEngine) -> str:
    """A published article and a newer draft that mention the same entities; the draft's global id."""
    await store_article(engine, PUBLISHED)
    stored = await store_article(engine, DRAFT)
    return global_id("Article", stored.article_id)


async def new_key(engine: AsyncEngine, name: str, scopes: Collection[KeyScope]) -> dict[str, str]:
    """Headers presenting a new key with ``scopes``, made as `broadsheet keys create` makes one."""
    async with engine.begin() as connection:
        _row, key = await create_key(connection, name, scopes, now=utcnow())
    return {"authorization": f"Bearer {key}"}


async def post(
    client: httpx.AsyncClient, query: str, headers: dict[str, str], **variables: Any
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def everywhere_published_only(data: dict[str, Any]) -> None:
    assert data["bySlug"] is None and data["byId"] is None
    assert data["articles"] == {"totalCount": 1, "nodes": [{"slug": PUBLISHED_SLUG}]}
    assert data["section"]["articles"] == {"totalCount": 1, "nodes": [{"slug": PUBLISHED_SLUG}]}
    entity = data["entity"]
    assert entity["articleCount"] == 1
    assert entity["articles"]["edges"] == [{"node": {"slug": PUBLISHED_SLUG}}]
    assert {item["entity"]["slug"]: item["sharedArticles"] for item in entity["mentionedWith"]} == {
        "vladimir-putin": 1,
        "warsaw": 1,
    }
    assert data["search"] == {"totalCount": 1, "edges": [{"node": {"slug": PUBLISHED_SLUG}}]}
    assert data["embargoed"] == {"totalCount": 0}


@pytest.mark.parametrize("who", ["anonymous", "read key", "read and write key"])
async def test_without_the_drafts_scope_no_draft_shows_anywhere(
    client: httpx.AsyncClient, engine: AsyncEngine, draft_id: str, who: str
) -> None:
    """Catches: any one read of articles losing its status condition (a lookup, a list, a section's or an
    entity's page, a count, co-mentions, search), or `Context.may` granting drafts to a key without them."""
    scopes = {
        "anonymous": None,
        "read key": [KeyScope.READ],
        "read and write key": [KeyScope.READ, KeyScope.WRITE],
    }
    chosen = scopes[who]
    headers = {} if chosen is None else await new_key(engine, "partner", chosen)
    body = await post(client, EVERYWHERE, headers, draftId=draft_id, draftSlug=DRAFT_SLUG)
    assert "errors" not in body, body["errors"]
    everywhere_published_only(body["data"])


async def test_a_drafts_key_finds_drafts_by_slug_and_id_and_lists_them_when_it_asks(
    client: httpx.AsyncClient, engine: AsyncEngine, draft_id: str
) -> None:
    """Catches: a lookup loader not passing `sees_drafts`, `includeDrafts` not reaching a list's statement
    or its count, the body or mentions of a draft read as a published article's (empty), and drafts listed
    without being asked for (a drafts key's front page must be the public one)."""
    headers = await new_key(engine, "newsdesk", [KeyScope.READ, KeyScope.DRAFTS])
    body = await post(client, EVERYWHERE, headers, draftId=draft_id, draftSlug=DRAFT_SLUG)
    data = body["data"]
    assert "errors" not in body, body["errors"]
    assert data["bySlug"] == {"slug": DRAFT_SLUG, "status": "DRAFT"} and data["byId"] == {"id": draft_id}
    # Lists, counts, co-mentions and search without asking: the published ones, as everyone sees them.
    everywhere_published_only({**data, "bySlug": None, "byId": None})

    asked = await post(
        client,
        """
        query Asked($draftId: ID!, $draftSlug: String!) {
          articles(includeDrafts: true) {
            totalCount nodes { slug status body { ... on Paragraph { text } } }
          }
          section(path: "europe") { articles(includeDrafts: true) { totalCount nodes { slug } } }
          entity(slug: "kremlin") { articles(includeDrafts: true) { edges { node { slug } } } }
          node(id: $draftId) { ... on Article { slug people { entity { slug } } } }
          article(slug: $draftSlug) { headline people { entity { slug } } places { entity { slug } } }
        }
        """,
        headers,
        draftId=draft_id,
        draftSlug=DRAFT_SLUG,
    )
    assert "errors" not in asked, asked["errors"]
    data = asked["data"]
    listed = data["articles"]
    assert listed["totalCount"] == 2, data
    assert [(node["slug"], node["status"]) for node in listed["nodes"]] == [
        (DRAFT_SLUG, "DRAFT"),
        (PUBLISHED_SLUG, "PUBLISHED"),
    ]
    assert listed["nodes"][0]["body"] == [{"text": DRAFT.blocks[0].text}]
    both = [{"slug": DRAFT_SLUG}, {"slug": PUBLISHED_SLUG}]
    assert data["section"]["articles"] == {"totalCount": 2, "nodes": both}
    assert data["entity"]["articles"]["edges"] == [{"node": node} for node in both]
    assert data["node"] == {"slug": DRAFT_SLUG, "people": [{"entity": {"slug": "vladimir-putin"}}]}
    assert data["article"] == {
        "headline": DRAFT.headline,
        "people": [{"entity": {"slug": "vladimir-putin"}}],
        "places": [{"entity": {"slug": "warsaw"}}],
    }


ASKING_FOR_DRAFTS = {
    "articles": "{ articles(includeDrafts: true) { totalCount } }",
    "section": '{ section(path: "europe") { articles(includeDrafts: true) { totalCount } } }',
    "entity": '{ entity(slug: "kremlin") { articles(includeDrafts: true) { edges { cursor } } } }',
}


@pytest.mark.parametrize("field", ASKING_FOR_DRAFTS, ids=ASKING_FOR_DRAFTS.keys())
@pytest.mark.parametrize("who", ["anonymous", "read key"])
async def test_asking_for_drafts_without_the_scope_is_forbidden(
    client: httpx.AsyncClient, engine: AsyncEngine, draft_id: str, field: str, who: str
) -> None:
    """Catches: a list's `includeDrafts` without `DraftsWhenAsked` (the list would answer, with or without
    drafts, instead of telling the client its key is wrong), or the permission reading the wrong argument."""
    headers = {} if who == "anonymous" else await new_key(engine, "partner", [KeyScope.READ])
    body = await post(client, ASKING_FOR_DRAFTS[field], headers)
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["message"] == "includeDrafts: drafts need an API key with the `drafts` scope"
    assert DRAFT_SLUG not in str(body)
    # includeDrafts: false is anybody's.
    allowed = await post(client, ASKING_FOR_DRAFTS[field].replace("true", "false"), headers)
    assert "errors" not in allowed, allowed["errors"]


@pytest.fixture(params=["fast", "stock"])
async def served(
    request: pytest.FixtureRequest, engine: AsyncEngine, database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on each executor, whatever BROADSHEET_FAST_EXECUTION says."""
    settings = Settings(database_url=database_url, fast_execution=request.param == "fast")
    application = create_app(settings, engine=engine)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://broadsheet.test") as http:
            yield http


@pytest.mark.parametrize("scopes", [[KeyScope.DRAFTS], [KeyScope.WRITE]], ids=["drafts only", "write only"])
async def test_a_key_without_read_is_forbidden_every_root_field_on_both_executors(
    served: httpx.AsyncClient, engine: AsyncEngine, draft_id: str, scopes: list[KeyScope]
) -> None:
    """Catches: a root field without `RequireScope(READ)` (it would answer), the fast executor taking its
    short road past a permission, or FORBIDDEN losing its code (it would be masked as ours)."""
    headers = await new_key(engine, "other", scopes)
    nullable = {
        "node": f'node(id: "{draft_id}") {{ id }}',
        "article": f'article(slug: "{PUBLISHED_SLUG}") {{ slug }}',
        "section": 'section(path: "europe") { name }',
        "entity": 'entity(slug: "kremlin") { name }',
    }
    body = await post(served, "{ " + " ".join(nullable.values()) + " }", headers)
    assert body["data"] == dict.fromkeys(nullable)
    assert {(tuple(error["path"]), error["extensions"]["code"]) for error in body["errors"]} == {
        ((name,), "FORBIDDEN") for name in nullable
    }
    assert all(
        error["message"] == "This field needs an API key with the `read` scope" for error in body["errors"]
    )
    for non_null in (
        "articles { nodes { slug } }",
        'search(query: "kremlin") { totalCount }',
        "sections { name }",
        "entities { edges { cursor } }",
    ):
        refused = await post(served, "{ " + non_null + " }", headers)
        assert refused["data"] is None, refused
        ((error),) = refused["errors"]
        assert error["extensions"] == {"code": "FORBIDDEN"}, error
    # Introspection and __typename read no content: they stay open.
    assert (await post(served, "{ __typename }", headers))["data"] == {"__typename": "Query"}


async def test_the_response_cache_never_serves_one_scope_the_answer_of_another(
    cached_app: Starlette, cached: httpx.AsyncClient, engine: AsyncEngine, draft_id: str
) -> None:
    """Catches: the cache keyed without the key's scopes (a kept anonymous null would hide the draft from a
    drafts key, a kept draft would reach a read key, a kept answer would reach a key without read)."""
    await caught_up(cached_app)
    newsdesk = await new_key(engine, "newsdesk", [KeyScope.READ, KeyScope.DRAFTS])
    reader = await new_key(engine, "reader", [KeyScope.READ])
    writer = await new_key(engine, "writer", [KeyScope.WRITE])
    query = "query Draft($slug: String!) { article(slug: $slug) { slug } }"
    for _kept in range(2):  # the second time, each is answered from the cache
        assert (await post(cached, query, newsdesk, slug=DRAFT_SLUG))["data"] == {
            "article": {"slug": DRAFT_SLUG}
        }
        assert (await post(cached, query, reader, slug=DRAFT_SLUG))["data"] == {"article": None}
        assert (await post(cached, query, {}, slug=DRAFT_SLUG))["data"] == {"article": None}
        refused = await post(cached, query, writer, slug=DRAFT_SLUG)
        assert (
            refused["data"] == {"article": None} and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        )


async def test_publishing_a_draft_by_ingesting_it_again_shows_it_to_everyone(
    client: httpx.AsyncClient, engine: AsyncEngine, draft_id: str
) -> None:
    """Catches: the content hash ignoring the status (the same record published would be skipped as
    unchanged), or the write path not carrying the status to the row and the search index."""
    assert content_hash(DRAFT) != content_hash(_published(DRAFT))
    assert content_hash(PUBLISHED) == content_hash(_published(PUBLISHED))  # published hashes are as they were
    stored = await store_article(engine, _published(DRAFT))
    assert global_id("Article", stored.article_id) == draft_id and not stored.created
    body = await post(
        client,
        """
        query Draft($slug: String!) {
          article(slug: $slug) { status }
          search(query: "embargoed") { totalCount }
        }
        """,
        {},
        slug=DRAFT_SLUG,
    )
    assert body["data"] == {"article": {"status": "PUBLISHED"}, "search": {"totalCount": 1}}


def _published(draft: ArticleDraft) -> ArticleDraft:
    return replace(draft, status=ArticleStatus.PUBLISHED)


def test_a_json_record_may_be_a_draft() -> None:
    """Catches: `"draft": true` ignored (stored published), or a non-boolean taken as one."""
    draft = parse_json_line('{"headline": "Embargoed", "draft": true}', source="wire.jsonl", line=1)
    published = parse_json_line('{"headline": "Out now"}', source="wire.jsonl", line=2)
    assert isinstance(draft, ArticleDraft) and draft.status is ArticleStatus.DRAFT
    assert isinstance(published, ArticleDraft) and published.status is ArticleStatus.PUBLISHED
    refused = parse_json_line('{"headline": "Embargoed", "draft": "yes"}', source="wire.jsonl", line=3)
    assert not isinstance(refused, ArticleDraft)
    assert (refused.field, refused.message) == ("draft", "expected true or false, got a string")


@strawberry.type(description="A test-only schema: `write` has no field of its own until mutations come.")
class WriteQuery:
    @strawberry.field(
        description="Needs the write scope.", extensions=[PermissionExtension([RequireScope(KeyScope.WRITE)])]
    )
    def written(self) -> str | None:
        return "written"


def _key(scopes: tuple[KeyScope, ...]) -> ApiKeyRow:
    return ApiKeyRow(1, "k", scopes, None, None, False, utcnow(), None, None, None)


@pytest.mark.parametrize(
    "executor", [FastExecutionContext, StrawberryGraphQLCoreExecutionContext], ids=["fast", "stock"]
)
@pytest.mark.parametrize(
    ("key", "allowed"),
    [(None, False), (_key((KeyScope.READ, KeyScope.DRAFTS)), False), (_key((KeyScope.WRITE,)), True)],
    ids=["anonymous", "read and drafts", "write"],
)
async def test_the_write_scope_guards_a_field_on_both_executors(
    executor: type[StrawberryGraphQLCoreExecutionContext], key: ApiKeyRow | None, allowed: bool
) -> None:
    """Catches: `RequireScope` granting anonymous requests more than read, or checking another scope."""
    schema = BroadsheetSchema(query=WriteQuery, execution_context_class=executor)
    unused: dict[str, Any] = dict.fromkeys(
        ("engine", "lookups", "sections_cache", "cursor_secret", "article_lists")
    )  # no field here reads anything
    context = Context(**unused, request_id="t", api_key=key)
    result = await schema.execute("{ written }", context_value=context)
    assert result.data == {"written": "written" if allowed else None}
    if allowed:
        assert result.errors is None
    else:
        (error,) = cast(list[Any], result.errors)
        assert error.extensions == {"code": "FORBIDDEN"}
        assert error.message == "This field needs an API key with the `write` scope"

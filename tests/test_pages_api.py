"""Other captured pages, served the same way as the seed: trail, standfirst, subheadings, people, roles."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import PAGES, SAMPLES, data_of, graphql
from tests.helpers import ingest_page
from tests.shared import people, read_expectations, split_list

QUERY = """
query ($slug: String!) {
  article(slug: $slug) {
    headline standfirst
    breadcrumbs { name }
    body { __typename ... on Paragraph { text } ... on Subheading { text } }
    people { entity { name } role count }
    organizations { entity { name } }
    places { entity { name } }
  }
}
"""

CASES = [
    (folder / name, expected)
    for folder in (PAGES, SAMPLES)
    for name, expected in read_expectations(folder / "README.md").items()
    if name.endswith(".txt")
]


@pytest.mark.parametrize(("page", "expected"), CASES, ids=[case[0].name for case in CASES])
async def test_page_served_whole(
    engine: AsyncEngine, client: httpx.AsyncClient, page: Path, expected: dict[str, str]
) -> None:
    stored = await ingest_page(engine, page)
    article = data_of(await graphql(client, QUERY, {"slug": stored.slug}))["article"]

    assert [crumb["name"] for crumb in article["breadcrumbs"]] == [
        "Home",
        *expected["section"].split("/"),
        expected["headline"],
    ]
    standfirst = expected.get("standfirst")
    if standfirst is not None:
        assert article["standfirst"] == (None if standfirst == "(none)" else standfirst)
    body = article["body"]
    assert [block["text"] for block in body if block["__typename"] == "Subheading"] == split_list(
        expected["subheadings"]
    )
    assert not any("dvertisement" in block.get("text", "") for block in body)

    found = {person["entity"]["name"]: person for person in article["people"]}
    assert {name: person["role"] for name, person in found.items()} == {
        name: _role_as_stored(role) for name, role in people(expected["people"])
    }
    paragraphs = " ".join(block.get("text", "") for block in body)
    for surname in split_list(expected["surnames"]):
        (name,) = [name for name in found if name.endswith(f" {surname}")]
        full = paragraphs.count(name)
        assert found[name]["count"] > full, f"{surname}: surname mentions not counted on {name}"
        assert len(re.findall(rf"\b{surname}\b", paragraphs)) <= found[name]["count"]
    assert {org["entity"]["name"] for org in article["organizations"]} == set(
        split_list(expected["organisations"])
    )
    assert {place["entity"]["name"] for place in article["places"]} == set(split_list(expected["places"]))


def _role_as_stored(role: str) -> str:
    """Roles are kept as written, without a leading article ("the chief executive of ..." -> "chief ...")."""
    return re.sub(r"^(the|an?) ", "", role)

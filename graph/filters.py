"""The filter arguments `articles` and `search` share: declared once, and resolved to the resolvers' filters.

A root field that takes them declares one parameter, ``filters: FilterArguments``, and the field extension
``FilterArgumentsExtension``; the extension puts the six GraphQL arguments in that parameter's place and
hands the resolver their values together, as Strawberry's own ``InputMutationExtension`` reshapes a
mutation's arguments. The schema shows six plain arguments, as before.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any

import strawberry
from strawberry.annotation import StrawberryAnnotation
from strawberry.extensions.field_extension import FieldExtension
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.field import StrawberryField

from graph.context import get_context
from graph.errors import ClientError
from graph.sections import section_by_path, section_filters
from models import EntityKind
from resolvers.articles import NO_FILTERS, ArticleFilters


@dataclass(frozen=True, slots=True)
class FilterArguments:
    """The filter arguments as the client gave them; each field's annotation declares its GraphQL argument."""

    section: Annotated[
        str | None, strawberry.argument(description='Section path, e.g. "europe" or "news/business".')
    ] = None
    include_subsections: Annotated[
        bool, strawberry.argument(description="With `section`: also articles of sections below it.")
    ] = True
    mentioning: Annotated[
        list[str] | None,
        strawberry.argument(description="Entity slugs; only articles that mention all of them."),
    ] = None
    mentioning_kind: Annotated[
        EntityKind | None,
        strawberry.argument(description="Only articles that mention at least one entity of this kind."),
    ] = None
    since: Annotated[
        datetime | None, strawberry.argument(description="Published at or after this time (UTC if no zone).")
    ] = None
    until: Annotated[
        datetime | None, strawberry.argument(description="Published before this time (UTC if no zone).")
    ] = None


_NAMES = tuple(item.name for item in dataclasses.fields(FilterArguments))
_HINTS = typing.get_type_hints(FilterArguments, include_extras=True)  # the annotations, evaluated


class FilterArgumentsExtension(FieldExtension):
    """Declares FilterArguments' arguments where the resolver has its ``filters`` parameter, and passes
    their values to it as one FilterArguments."""

    def apply(self, field: StrawberryField) -> None:
        # From the resolver's own arguments each time: every schema built applies it again to the field.
        assert field.base_resolver is not None
        own = field.base_resolver.arguments
        declared = [
            StrawberryArgument(
                python_name=item.name,
                graphql_name=None,
                type_annotation=StrawberryAnnotation(_HINTS[item.name]),
                default=item.default,
            )
            for item in dataclasses.fields(FilterArguments)
        ]
        place = [argument.python_name for argument in own].index("filters")
        field.arguments = [*own[:place], *declared, *own[place + 1 :]]

    def map_arguments(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        # GraphQL gives every one of them (each has a default), so none is missing.
        values = {name: kwargs.pop(name) for name in _NAMES}
        return {**kwargs, "filters": FilterArguments(**values)}


async def article_filters(info: strawberry.Info, arguments: FilterArguments) -> ArticleFilters:
    """Resolve a client's filter arguments (slugs and paths to ids), refusing unknown sections and entities
    by name."""
    context = get_context(info)
    in_section = NO_FILTERS
    if arguments.section is not None:
        found = await section_by_path(info, arguments.section)
        if found is None:
            raise ClientError(f"section: no section at path {arguments.section!r}")
        in_section = section_filters(found, arguments.include_subsections)
    slugs = list(dict.fromkeys(arguments.mentioning or []))
    found_entities = await context.entity_by_slug.load_many(slugs)
    for slug, entity in zip(slugs, found_entities, strict=True):
        if entity is None:
            raise ClientError(f"mentioning: no entity with slug {slug!r}")
    since, until = utc(arguments.since, "since"), utc(arguments.until, "until")
    if since is not None and until is not None and since >= until:
        raise ClientError("until: must be later than since")
    return replace(
        in_section,
        entity_ids=tuple(entity.id for entity in found_entities if entity is not None),
        entity_kind=arguments.mentioning_kind,
        since=since,
        until=until,
    )


def utc(moment: datetime | None, argument: str) -> datetime | None:
    """A client's time as UTC; one without a zone is read as UTC."""
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00+01:00": its UTC time is before Python's first date
        raise ClientError(f"{argument}: {moment.isoformat()} is out of range in UTC") from None

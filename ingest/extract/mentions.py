"""What one article says about each entity it names: ``find_mentions``."""

from __future__ import annotations

from ingest.document import ArticleDraft, EntityKind, Location, MentionDraft, TextField
from ingest.extract.article import read_fields, read_mentions
from ingest.extract.lexicon import lookup_key, spaced
from ingest.extract.linking import link_entities
from ingest.extract.roles import find_roles

# Salience weights (they sum to 1): in the headline, in the standfirst, how early the first mention
# stands in reading order, and how often the article names it against its most-named entity.
_HEADLINE_WEIGHT = 0.35
_STANDFIRST_WEIGHT = 0.15
_POSITION_WEIGHT = 0.25
_COUNT_WEIGHT = 0.25


def _more_specific(new: str, old: str) -> bool:
    """Whether ``new`` says more than ``old``: "US President" than "President"."""
    return len(new) > len(old) and f" {lookup_key(old)} " in f" {lookup_key(new)} "


def find_mentions(draft: ArticleDraft) -> list[MentionDraft]:
    """The people, organisations and places an article names, most salient first (ties: first named).

    salience = 0.35 * (named in the headline) + 0.15 * (named in the standfirst)
             + 0.25 * (1 - p) + 0.25 * n / N,
    where p is where the first mention stands in reading order (0 = the headline's first character,
    1 = the end of the body), n the entity's mention count and N the largest count in the article.
    """
    fields = read_fields(draft)
    mentions = read_mentions(fields)
    find_roles(mentions)
    entities = link_entities(mentions)
    length = sum(len(f.text) + 1 for f in fields)
    most = max((len(entity.mentions) for entity in entities), default=1)
    ranked: list[tuple[float, int, MentionDraft]] = []
    for entity in entities:
        entity.mentions.sort(key=lambda m: m.position)
        named_in = {m.source.text_field for m in entity.mentions}
        first = entity.mentions[0].position
        salience = round(
            _HEADLINE_WEIGHT * (TextField.HEADLINE in named_in)
            + _STANDFIRST_WEIGHT * (TextField.STANDFIRST in named_in)
            + _POSITION_WEIGHT * (1 - first / length)
            + _COUNT_WEIGHT * len(entity.mentions) / most,
            4,
        )
        role = None  # the first role given, unless a later one says more ("President" -> "US President")
        for mention in entity.mentions:
            if mention.role and (role is None or _more_specific(mention.role, role)):
                role = mention.role
        name = entity.name
        if entity.kind is EntityKind.PERSON:  # the fullest form the article uses
            name = spaced(max((m.span.text for m in entity.mentions), key=lambda text: len(text.split())))
        locations = [
            Location(m.source.text_field, m.source.block, m.span.start, m.span.end) for m in entity.mentions
        ]
        forms = {spaced(m.span.text) for m in entity.mentions}
        ranked.append((-salience, first, MentionDraft(name, entity.kind, role, locations, forms, salience)))
    ranked.sort(key=lambda item: item[:2])
    return [mention for _, _, mention in ranked]

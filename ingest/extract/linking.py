"""One entity per thing an article names: surnames joined to full names, aliases to canonical
names, short organisation names to longer ones."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.document import EntityKind
from ingest.extract.article import Mention
from ingest.extract.lexicon import canonical_name, lookup_key, spaced


@dataclass(slots=True)
class Entity:
    kind: EntityKind
    name: str
    mentions: list[Mention] = field(default_factory=list)


def link_entities(mentions: list[Mention]) -> list[Entity]:
    """One entity per thing the article names.

    Places and organisations: one per canonical name ("US" -> "United States"), or as written; a
    shorter organisation name that begins exactly one longer one joins it ("Nordlys" -> "Nordlys
    Energy"). People: one per full name (two words or more). A one-word mention joins the full name
    it is the last word of (failing that, the first word of), before or after it in the article. If
    several full names share that word, it joins the one last named in full before it; if none was
    named before it, it joins none and stands on its own.
    """
    entities: dict[tuple[EntityKind, str], Entity] = {}
    surnames: list[Mention] = []
    for mention in mentions:
        kind = mention.span.kind
        if kind is EntityKind.PERSON and len(mention.words) == 1:
            surnames.append(mention)
            continue
        name = (
            spaced(mention.span.text)
            if kind is EntityKind.PERSON
            else canonical_name(kind, mention.span.text)
        )
        entities.setdefault((kind, lookup_key(name)), Entity(kind, name)).mentions.append(mention)
    people = [entity for (kind, _), entity in entities.items() if kind is EntityKind.PERSON]
    for mention in surnames:
        _link_one_word(mention, people, entities)
    _join_longer_names(entities)
    return [entity for entity in entities.values() if entity.mentions]


def _link_one_word(
    mention: Mention, people: list[Entity], entities: dict[tuple[EntityKind, str], Entity]
) -> None:
    """A one-word name joins the full name it ends (or starts), the one last named in full before it where
    several do; else it is an entity of its own."""
    word = mention.words[0]
    candidates = [p for p in people if p.mentions[0].words[-1] == word]
    candidates = candidates or [p for p in people if p.mentions[0].words[0] == word]
    if len(candidates) > 1:
        earlier = [(m.position, p) for p in candidates for m in p.mentions if m.position < mention.position]
        candidates = [max(earlier, key=lambda pair: pair[0])[1]] if earlier else []
    if len(candidates) == 1:
        candidates[0].mentions.append(mention)
    else:
        name = spaced(mention.span.text)
        entities.setdefault(
            (EntityKind.PERSON, lookup_key(name)), Entity(EntityKind.PERSON, name)
        ).mentions.append(mention)


def _join_longer_names(entities: dict[tuple[EntityKind, str], Entity]) -> None:
    """A shorter organisation name that begins exactly one longer one joins it ("Nordlys Energy")."""
    organisations = [entity for (kind, _), entity in entities.items() if kind is EntityKind.ORGANIZATION]
    for short in organisations:
        words = lookup_key(short.name).split()
        longer = [
            o for o in organisations if lookup_key(o.name).split()[: len(words)] == words and o is not short
        ]
        if len(longer) == 1:
            longer[0].mentions += short.mentions
            short.mentions = []

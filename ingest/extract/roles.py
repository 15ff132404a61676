"""The role an article gives a person: a title before the name, shared along a list, or in
apposition after it."""

from __future__ import annotations

import bisect
import re

from ingest.document import EntityKind
from ingest.extract.article import Field, Mention
from ingest.extract.lexicon import (
    LEADS,
    LINKS,
    LOCATIVES,
    OPENERS,
    SENTENCE_END,
    STOP,
    TITLES,
    RuleToken,
    is_role_word,
    singular_title,
    spaced,
)

_LIST_GAP = re.compile(r"\s*(?:,\s*and|,|and|&)\s*")
_APPOSITIVE = re.compile(
    r",\s+(?:(?:the|a|an)\s+)?([^,.;:()“”\"]+?)\s*(?=[,.;:)]|\s+(?:who|which|that|whose)\b|$)"
)
_COMMA = re.compile(r"\s*,")
_DETERMINERS = frozenset({"the", "a", "an", "his", "her", "their", "its", "our", "my", "your"})
_APPOSITIVE_LINKS = frozenset({"of", "for", "at", "on", "in", "to", "with"})
_RELATIVE = re.compile(r",\s+who\s+([^,.;:()“”\"]+?)\s*(?=[,.;:)]|$)")


def _role_before(mention: Mention) -> tuple[str, bool] | None:
    """A title written just before the name, and whether it is plural: ("US President", False) for
    US President Donald Trump, ("envoy", True) for envoys Steve Witkoff.

    Title words, their modifiers, nationalities, "of" and place or organisation names may stand in
    it; it must hold a title word. A title that opens a sentence may also stand in apposition before
    the name: "His coach, Esther Wanjiru, said" -> "coach".
    """
    source = mention.source
    tokens, end = source.tokens, bisect.bisect_left(source.token_starts, source.offset + mention.span.start)
    commas = (
        end > 1 and tokens[end - 1].text == "," and _COMMA.match(source.text, mention.span.end) is not None
    )
    end -= commas
    start = end
    while start and tokens[start - 1].word:
        token = tokens[start - 1]
        if not (is_role_word(token.key) or token.key in LINKS or token.start in source.named):
            break
        start -= 1
    while start < end and tokens[start].key in LINKS:
        start += 1
    heads = [token for token in tokens[start:end] if singular_title(token.key)]
    if not heads or (commas and not _opens_sentence(tokens, start)):
        return None
    head = heads[-1]
    singular = singular_title(head.key)
    plural = singular != head.key
    written = head.text
    if plural:  # "envoys" -> "envoy", "Secretaries" -> "Secretary"; case as written
        written = (
            written[:-3] + ("Y" if written.isupper() else "y")
            if singular == head.key[:-3] + "y"
            else written[:-1]
        )
    text, offset = source.text, source.offset  # token offsets are the article's
    role = (
        text[tokens[start].start - offset : head.start - offset]
        + written
        + text[head.end - offset : tokens[end - 1].end - offset]
    )
    return spaced(role), plural


def _opens_sentence(tokens: list[RuleToken], i: int) -> bool:
    """Whether ``tokens[i]`` opens a sentence, after a determiner at most: "His coach", "The minister"."""
    if i and tokens[i - 1].key in _DETERMINERS:
        i -= 1
    return i == 0 or tokens[i - 1].text in SENTENCE_END or tokens[i - 1].text in OPENERS


def _role_after(mention: Mention) -> str | None:
    """A title in apposition: "Marco Rubio, the Secretary of State," -> "Secretary of State".

    The phrase holds a title word among its first five words; after that come only capitalised or
    title words, unless a small word ("of", "at") opens a longer phrase: "an analyst at Calder
    Securities" is a role, "the minister said" is not. A place it ends with says where the person
    is, not what they are: "an analyst at Calder Securities in London" -> "analyst at Calder
    Securities". Failing a title, a relative clause saying whom the person leads is the role:
    "Jonas Vik, who leads the Offshore Workers’ Union," -> "leads the Offshore Workers’ Union".
    """
    return _role_in_apposition(mention) or _role_in_clause(mention)


def _role_in_apposition(mention: Mention) -> str | None:
    source = mention.source
    match = _APPOSITIVE.match(source.text, mention.span.end)
    if not match:
        return None
    phrase = _phrase(source, *match.span(1))
    if not _is_role_phrase([token for token in phrase if token.word], source):
        return None
    where = _place_at_end(phrase, source)
    if where is not None:
        return spaced(source.text[match.start(1) : phrase[where - 1].end - source.offset])
    return spaced(match.group(1))


def _is_role_phrase(words: list[RuleToken], source: Field) -> bool:
    """A title word among the first five words, then only capitalised or title words up to a small word
    ("of", "at") that opens a longer phrase."""
    heads = [i for i, token in enumerate(words[:5]) if token.key in TITLES]
    if not heads or len(words) > 12 or (words[0].key in STOP and words[0].start not in source.named):
        return False  # "the minister said" is no role, "the US ambassador" is
    for token in words[heads[0] + 1 :]:
        if token.key in _APPOSITIVE_LINKS:
            break
        if not (token.cap or is_role_word(token.key)):
            return False
    return True


def _place_at_end(phrase: list[RuleToken], source: Field) -> int | None:
    """Where, not what: where a trailing "in London", "based in Copenhagen", "near the Hague" starts in the
    phrase, if a title stands before it; else None."""
    k = len(phrase)
    while k and source.named.get(phrase[k - 1].start) is EntityKind.PLACE:
        k -= 1
    if k < len(phrase) and k and phrase[k - 1].key == "the":
        k -= 1
    if k < len(phrase) and k > 1 and phrase[k - 1].key in LOCATIVES:
        k -= 2 if phrase[k - 2].key == "based" else 1
        if any(token.key in TITLES for token in phrase[:k]):
            return k
    return None


def _phrase(source: Field, start: int, end: int) -> list[RuleToken]:
    """The tokens of ``source`` from offset ``start`` to ``end`` in its text."""
    first = bisect.bisect_left(source.token_starts, source.offset + start)
    last = bisect.bisect_left(source.token_starts, source.offset + end)
    return source.tokens[first:last]


def _role_in_clause(mention: Mention) -> str | None:
    """ "who leads the Offshore Workers’ Union" -> "leads the Offshore Workers’ Union": a verb of
    leading, then an organisation's name that ends the clause."""
    source = mention.source
    match = _RELATIVE.match(source.text, mention.span.end)
    if not match:
        return None
    phrase = _phrase(source, *match.span(1))
    k = 2 if len(phrase) > 2 and phrase[1].key == "the" else 1
    if (
        len(phrase) <= k
        or phrase[0].key not in LEADS
        or any(source.named.get(token.start) is not EntityKind.ORGANIZATION for token in phrase[k:])
    ):
        return None
    return spaced(match.group(1))


def find_roles(mentions: list[Mention]) -> None:
    """Give each person mention the role written with it: a title before the name, a plural title
    shared along a list ("envoys A and B"), or a title in apposition after it."""
    previous: Mention | None = None
    for mention in mentions:
        if mention.span.kind is not EntityKind.PERSON:
            continue
        if before := _role_before(mention):
            mention.role, mention.plural_role = before
        elif (
            previous is not None
            and previous.plural_role
            and previous.source is mention.source
            and _LIST_GAP.fullmatch(mention.source.text, previous.span.end, mention.span.start)
        ):
            mention.role, mention.plural_role = previous.role, True
        else:
            mention.role = _role_after(mention)
        previous = mention

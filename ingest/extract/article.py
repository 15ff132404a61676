"""An article read as one text, one field (headline, standfirst, body block) a line: the names
``find_names`` finds in it, each placed in its field."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ingest.document import ArticleDraft, BlockKind, EntityKind, Span, TextField
from ingest.extract.combine import find_names
from ingest.extract.lexicon import RuleToken, lookup_key, rule_tokens


@dataclass(slots=True)
class Field:
    """One text of the article (headline, standfirst, a body block) and where it starts in reading order."""

    text_field: TextField
    block: int | None
    text: str
    offset: int
    # Its tokens as ``find_names`` reads them, in the article as one text: offsets ``offset`` on from
    # ``text``'s.
    tokens: list[RuleToken]
    token_starts: list[int]
    # Starts of the tokens inside a place or organisation name, and its kind.
    named: dict[int, EntityKind] = field(default_factory=dict)


@dataclass(slots=True)
class Mention:
    span: Span  # offsets in its field's text
    source: Field
    position: int  # offset in reading order
    role: str | None = None
    plural_role: bool = False  # "envoys Steve Witkoff": the title also covers the next name in a list
    words: tuple[str, ...] = field(init=False)  # the keys of its words, read often when linking

    def __post_init__(self) -> None:
        self.words = tuple(lookup_key(word) for word in self.span.text.split())


def read_fields(draft: ArticleDraft) -> list[Field]:
    texts: list[tuple[TextField, int | None, str]] = [(TextField.HEADLINE, None, draft.headline)]
    if draft.standfirst:
        texts.append((TextField.STANDFIRST, None, draft.standfirst))
    texts += [
        (TextField.BODY, index, block.text)
        for index, block in enumerate(draft.blocks)
        if block.kind is not BlockKind.AD_SLOT and block.text
    ]
    article = "\n".join(text for _, _, text in texts)  # as ``read_mentions`` reads it
    fields, offset = [], 0
    for kind, block, text in texts:
        tokens = rule_tokens(article, offset, offset + len(text))
        fields.append(Field(kind, block, text, offset, tokens, [token.start for token in tokens]))
        offset += len(text) + 1
    return fields


def read_mentions(fields: list[Field]) -> list[Mention]:
    """Every span ``find_names`` finds in the article, read as one text with one field a line."""
    starts = [f.offset for f in fields]
    mentions = []
    tokens = [token for f in fields for token in f.tokens]
    for span in find_names("\n".join(f.text for f in fields), tokens):
        source = fields[bisect.bisect_right(starts, span.start) - 1]
        local = Span(span.start - source.offset, span.end - source.offset, span.kind, span.text)
        mentions.append(Mention(local, source, span.start))
        if span.kind is not EntityKind.PERSON:
            first = bisect.bisect_left(source.token_starts, span.start)
            last = bisect.bisect_left(source.token_starts, span.end)
            source.named.update(dict.fromkeys(source.token_starts[first:last], span.kind))
    return mentions

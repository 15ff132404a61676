"""Run the current entity extractor over stored articles again, after the extractor has improved."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.bulk import mention_links
from ingest.document import ArticleDraft, Block, BlockKind
from ingest.extract.mentions import find_mentions
from ingest.store import relink
from models.response_cache import ENTITIES, article_tag, entity_tag
from resolvers.articles import ArticleText, article_texts, count_articles


@dataclass(slots=True)
class ReextractSummary:
    articles: int = 0
    entities_created: int = 0


async def reextract(
    engine: AsyncEngine,
    *,
    batch_size: int = 200,
    on_total: Callable[[int], None] = lambda _total: None,
    on_progress: Callable[[int], None] = lambda _done: None,
    purge: Callable[[set[str]], Awaitable[None]] | None = None,
) -> ReextractSummary:
    """Re-link every article's mentions, reading the archive in id order, ``batch_size`` articles at a time.

    Each batch is linked as ``broadsheet ingest`` links one (``ingest.store.relink``), in its own
    transaction, so a run stopped half-way leaves every article either as it was or re-extracted. Entities
    are found by name and alias, so ids stay stable and a second run changes nothing. After each batch
    commits, ``purge`` is given the cache tags it changed (models/response_cache.py).
    """
    summary = ReextractSummary()
    async with engine.connect() as connection:
        on_total(await count_articles(connection))
    after_id = 0
    while True:
        async with engine.connect() as connection:
            batch = await article_texts(connection, after_id=after_id, limit=batch_size)
        if not batch:
            return summary
        linked = []
        for article in batch:
            draft = _draft(article)
            linked.append((article.id, article.published_at, mention_links(draft, find_mentions(draft))))
        entities: set[int] = set()
        async with engine.begin() as connection:
            created = await relink(
                connection, linked, replacing=[article.id for article in batch], entities=entities
            )
        summary.entities_created += created
        if purge is not None:
            tags = {*map(article_tag, (article.id for article in batch)), *map(entity_tag, entities)}
            await purge(tags | {ENTITIES})  # new entities, or ones a published article now names
        summary.articles += len(batch)
        on_progress(len(batch))
        after_id = batch[-1].id


def _draft(article: ArticleText) -> ArticleDraft:
    """The stored text in the shape the extractor reads; block indexes match the stored body's."""
    blocks = [Block(BlockKind(block["type"]), block.get("text", "")) for block in article.body]
    return ArticleDraft(headline=article.headline, blocks=blocks, standfirst=article.standfirst)

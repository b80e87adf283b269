"""Follow step, reading: new articles read back from the index with their chunks' vectors, and their sentences.

Matching and grouping need nothing the reindex did not already compute: each chunk's text and
vector come from the store (Chroma's collection API, as ``index.store.chroma`` uses it), so a new
article costs no embedding until one of its chunks comes close to a follow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.checks.sentences import split_sentences
from bot.follow.models import ArticleDoc
from index.embed.base import Vector
from index.models import ChunkMetadata
from index.store.chroma import Store
from index.store.client import storage_errors

logger = logging.getLogger(__name__)

_BATCH = 200
_MIN_LEAD_CHARS = 30  # shorter first lines are datelines and bylines, not a lead


def read_articles(
    store: Store, article_ids: Iterable[str], arrived: dict[str, float] | None = None
) -> list[ArticleDoc]:
    """The articles still in the index among ``article_ids``, in that order, chunks in article order."""
    wanted = list(dict.fromkeys(article_ids))
    found: dict[str, list[tuple[int, str, Vector, ChunkMetadata]]] = {}
    for start in range(0, len(wanted), _BATCH):
        batch = wanted[start : start + _BATCH]
        with storage_errors(store.location, store.data_dir):
            page = store.collection.get(
                where={"article_id": {"$in": batch}} if len(batch) > 1 else {"article_id": batch[0]},
                include=["documents", "metadatas", "embeddings"],
            )
        embeddings = page["embeddings"] if page["embeddings"] is not None else []
        for text, raw, vector in zip(
            page["documents"] or [], page["metadatas"] or [], embeddings, strict=False
        ):
            meta = ChunkMetadata.from_dict(raw)
            found.setdefault(meta.article_id, []).append(
                (meta.position, text or "", [float(x) for x in vector], meta)
            )
    articles: list[ArticleDoc] = []
    for article_id in wanted:
        chunks = sorted(found.get(article_id, []), key=lambda c: c[0])
        if not chunks:
            continue  # removed since it arrived
        meta = chunks[0][3]
        articles.append(
            ArticleDoc(
                id=article_id,
                title=meta.title or article_id,
                language=meta.language,
                url=meta.url,
                date=meta.date,
                source=meta.source,
                chunks=tuple(c[1] for c in chunks),
                vectors=tuple(c[2] for c in chunks),
                arrived=(arrived or {}).get(article_id, 0.0),
            )
        )
    return articles


def sentences(article: ArticleDoc, chunk_indexes: Iterable[int] | None = None) -> list[str]:
    """The article's sentences (of the given chunks, in article order), each once though chunks overlap."""
    indexes = range(len(article.chunks)) if chunk_indexes is None else sorted(set(chunk_indexes))
    seen: dict[str, None] = {}
    for index in indexes:
        for sentence in split_sentences(article.chunks[index]):
            text = " ".join(sentence.split())
            if len(text) >= 12 and any(ch.isalpha() for ch in text):
                seen.setdefault(text, None)
    return list(seen)


def lead_sentence(article: ArticleDoc) -> str:
    """The article's first real sentence: not its headline, not a dateline; the title when there is none."""
    title = " ".join(article.title.split())
    for sentence in sentences(article, range(min(3, len(article.chunks)))):  # a headline can be a chunk alone
        if sentence.rstrip(".") == title.rstrip(".") or len(sentence) < _MIN_LEAD_CHARS:
            continue
        if title and sentence.startswith(title):  # a headline run into the first sentence
            rest = sentence[len(title) :].strip()
            if len(rest) >= _MIN_LEAD_CHARS:
                return rest
            continue
        return sentence
    return title

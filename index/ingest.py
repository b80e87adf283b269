"""The whole indexing flow: corpus → load → clean → chunk → embed → Chroma, incrementally.

An article is re-embedded only when its fingerprint (content + cleaning +
chunking settings) is not fully stored; articles whose files are gone are
deleted; files that cannot be read (an I/O error) are reported and whatever the
index already holds for them is kept, while files read and found unusable (empty,
binary, no text) are reported and removed.

Chunks are embedded ``embed_batch_size`` at a time and written ``WRITE_BATCH`` at
a time, across articles: one request and one Chroma write per article cost 20
minutes for 20,000 small files. Crash safety does not rest on writing articles
one by one: everything is written as the next generation, which readers do not
see (``index.store.chroma``), old versions are marked, not deleted, and one
metadata write puts the new generation in force. A reindex killed at any point
leaves the old index whole and readable; the next run finds what it wrote (each
chunk records its article's fingerprint and chunk count), keeps the articles
written whole and finishes the rest.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable

from index.config import IndexSettings
from index.embed.base import Embedder, Vector
from index.load.articles import article_id, load_configured_corpus
from index.load.chunking import chunk_article, passage_text
from index.models import Article, Chunk, ReindexReport
from index.store.chroma import ArticleState, Store, drop_collection, open_store, write_lock

logger = logging.getLogger(__name__)

MANIFEST = "index-manifest.json"
"""What the last finished reindex left in the index (article → fingerprint, chunks), so the next one need
not read every chunk's metadata back; trusted only while the collection's generation and count match."""

WRITE_BATCH = 512
"""Chunks stored per Chroma write."""

Progress = Callable[[int, int], None]
"""Called with (chunks embedded so far, chunks to embed in all)."""


def reindex(
    settings: IndexSettings,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> ReindexReport:
    """Bring the index in step with the corpus folder, embedding only what is new or changed."""
    started = time.perf_counter()
    with write_lock(settings):
        set_aside = drop_collection(settings) if rebuild else None
        store = open_store(settings, embedder, create=True)
        store.purge()  # what a reindex killed after putting its generation in force had still to delete
        articles, skipped = load_configured_corpus(settings)
        recorded = _manifest_states(settings, store)
        states = recorded or store.article_states()

        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        todo: list[tuple[Article, list[Chunk]]] = []
        for article in articles:
            state = states.get(article.id)
            if state is not None and state.is_complete(article.fingerprint):
                unchanged.append(article.id)
                continue
            (updated if state is not None else added).append(article.id)
            todo.append(
                (
                    article,
                    chunk_article(
                        article, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap
                    ),
                )
            )

        # A file that could not be read keeps its old chunks; one read and found unusable (emptied,
        # binary, a link out of the corpus) is removed, or its old text would go on answering.
        kept = {article_id(s.path, settings.corpus_dir) for s in skipped if s.keeps_index}
        present = {a.id for a in articles} | kept
        removed = sorted(set(states) - present)

        # A killed run's chunks (written whole ones among them) come into force with this run's generation.
        changing = bool(todo or removed or store.pending)
        generation = store.begin() if changing else store.generation
        for article, _ in todo:
            state = states.get(article.id)
            if state is not None and state.counts.get(article.fingerprint):
                store.discard_version(article.id, article.fingerprint)  # a half-written earlier attempt
        embedded = _embed_and_write(store, embedder, todo, generation, settings.embed_batch_size, progress)
        store.retire(
            {article.id: article.fingerprint for article, _ in todo if article.id in states}
            | dict.fromkeys(removed),
            generation,
        )
        if changing:
            store.commit(generation)
            store.purge()
        # Articles kept after a read error are recorded when whole; if not, the chunk count won't match
        # next time and that run reads the metadata back instead.
        whole = [a for a in kept if a in states and any(map(states[a].is_complete, states[a].counts))]
        final = {a: states[a] for a in (*unchanged, *whole)} | {
            article.id: ArticleState(
                Counter({article.fingerprint: len(chunks)}), {article.fingerprint: len(chunks)}
            )
            for article, chunks in todo
        }
        if recorded is None or changing or set(final) != set(recorded):
            _save_manifest(settings, store, final)  # a no-change run leaves the one that vouched for it

    return ReindexReport(
        added=tuple(added),
        updated=tuple(updated),
        removed=tuple(removed),
        unchanged=tuple(unchanged),
        skipped=tuple(skipped),
        chunks_embedded=embedded,
        seconds=time.perf_counter() - started,
        set_aside=set_aside,
    )


def _manifest_states(settings: IndexSettings, store: Store) -> dict[str, ArticleState] | None:
    """The article states the last reindex recorded, if the collection is still exactly as it left it."""
    try:
        manifest = json.loads((settings.data_dir / MANIFEST).read_text(encoding="utf-8"))
        if (
            manifest["collection"],
            manifest["location"],
            manifest["generation"],
            manifest["count"],
            0,
        ) != (settings.collection, store.location, store.generation, store.count(), store.pending):
            return None
        return {
            article: ArticleState(Counter({fingerprint: chunks}), {fingerprint: chunks})
            for article, (fingerprint, chunks) in manifest["articles"].items()
        }
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.info("not using the index manifest: %s", exc)
        return None


def _save_manifest(settings: IndexSettings, store: Store, states: dict[str, ArticleState]) -> None:
    articles = {}
    for article, state in states.items():
        ((fingerprint, chunks),) = state.counts.items()
        articles[article] = [fingerprint, chunks]
    manifest = {
        "collection": settings.collection,
        "location": store.location,
        "generation": store.generation,
        "count": store.count(),
        "articles": articles,
    }
    path = settings.data_dir / MANIFEST
    temporary = path.with_name(path.name + ".part")
    try:
        temporary.write_text(json.dumps(manifest), encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:  # only costs the next reindex a full read of the chunks' metadata
        logger.warning("could not write %s: %s", path, exc)


def _embed_and_write(
    store: Store,
    embedder: Embedder,
    todo: list[tuple[Article, list[Chunk]]],
    generation: int,
    batch_size: int,
    progress: Progress | None,
) -> int:
    """Embed every chunk to do, ``batch_size`` a request across articles, and store them ``WRITE_BATCH`` a write."""
    rows = [(article, chunk, len(chunks)) for article, chunks in todo for chunk in chunks]
    total = len(rows)
    if progress is not None:
        progress(0, total)
    held: list[tuple[Article, Chunk, int]] = []
    vectors: list[Vector] = []
    for start in range(0, total, batch_size):
        batch = rows[start : start + batch_size]
        vectors.extend(embedder.embed_passages([passage_text(chunk) for _, chunk, _ in batch]))
        held.extend(batch)
        if len(held) >= WRITE_BATCH or start + batch_size >= total:
            store.add_chunks(held, vectors, generation)
            logger.info("stored %d chunks (%d of %d)", len(held), start + len(batch), total)
            held, vectors = [], []
        if progress is not None:
            progress(start + len(batch), total)
    return total

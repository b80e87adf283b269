"""Follow step, matching: does a new article hold a sentence that answers or directly concerns a follow?

Two passes. First the article's chunk vectors, read back from the index, are compared with the
follow's (embedded once as a query): an article none of whose chunks comes within
``PREFILTER_MARGIN`` of the bar is not read further, which keeps a feed poll of unrelated news
cheap. Then the sentences of the close chunks are embedded (through the sentence cache, so each
sentence once) and each scored against the follow by ``sentence_scores``; the best sentence is
the quote, and the article matches when its score reaches the calibrated bar.

``sentence_scores`` is the one seam to swap for a real answerability score: it gets the follow's
text and vector and the sentences with their vectors, and returns one score per sentence on the
scale the bar is calibrated for.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.follow.articles import sentences
from bot.follow.models import ArticleDoc, Quote
from index.embed.base import Embedder, Vector

logger = logging.getLogger(__name__)

CALIBRATED_BAR = {"gguf/embeddinggemma-300m-q8_0": 0.46}
"""The alert bar per embedding model: the best F1 on the dev follows (benchmarks/follows.py; README, Following stories)."""
_UNCALIBRATED_BAR = 0.86  # not measured: e5-like cosine scales sit near 0.8 for related text
PREFILTER_MARGIN = 0.12
"""Chunks scoring this far under the bar still have their sentences scored (a sentence can beat its chunk)."""


def bar_for(min_score: float | None, model_name: str) -> float:
    """The bar the settings give, else the one calibrated for ``model_name``."""
    return min_score if min_score is not None else CALIBRATED_BAR.get(model_name, _UNCALIBRATED_BAR)


def _unit(vectors: Sequence[Vector]) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def sentence_scores(follow: str, follow_vector: Vector, sentence_vectors: Sequence[Vector]) -> list[float]:
    """How well each sentence answers or concerns the follow: for now its cosine with the follow's text."""
    if not sentence_vectors:
        return []
    return [float(x) for x in _unit(sentence_vectors) @ _unit([follow_vector])[0]]


@dataclass(frozen=True)
class Scored:
    """A follow against one article: its best sentence and score (``None``: no chunk came near the bar)."""

    follow: str
    article: ArticleDoc
    quote: Quote | None
    chunk_similarity: float


class Matcher:
    """Scores follows against articles; ``bar`` decides a match, ``prefilter`` which chunks are read further."""

    def __init__(self, embedder: Embedder, bar: float, prefilter: float | None = None) -> None:
        self._embedder = embedder
        self.bar = bar
        self.prefilter = bar - PREFILTER_MARGIN if prefilter is None else prefilter

    def score(self, follows: Sequence[str], articles: Sequence[ArticleDoc]) -> list[Scored]:
        """Every follow against every article, best sentence found where a chunk comes near the bar."""
        if not follows or not articles:
            return []
        follow_units = _unit(self._embedder.embed_queries(list(follows)))
        results: list[Scored] = []
        for article in articles:
            if not article.vectors:
                continue
            chunk_sims = _unit(list(article.vectors)) @ follow_units.T  # chunks × follows
            close = {
                f: [c for c in range(len(article.chunks)) if chunk_sims[c, f] >= self.prefilter]
                for f in range(len(follows))
            }
            wanted = sorted({c for chunks in close.values() for c in chunks})
            title = " ".join(article.title.split()).rstrip(".")
            # The headline is shown with every alert: the quote is a sentence of the body.
            texts = [t for t in sentences(article, wanted) if t.rstrip(".") != title] if wanted else []
            by_chunk = {c: set(sentences(article, [c])) for c in wanted}
            vectors = self._embedder.embed_passages(texts) if texts else []
            for f, follow in enumerate(follows):
                best_chunk = float(chunk_sims[:, f].max())
                mine = [i for i, t in enumerate(texts) if any(t in by_chunk[c] for c in close[f])]
                if not mine:
                    results.append(Scored(follow, article, None, best_chunk))
                    continue
                scores = sentence_scores(follow, follow_units[f].tolist(), [vectors[i] for i in mine])
                top = max(range(len(mine)), key=scores.__getitem__)
                quote = Quote(article, texts[mine[top]], scores[top])
                results.append(Scored(follow, article, quote, best_chunk))
        return results

    def matches(self, follows: Sequence[str], articles: Sequence[ArticleDoc]) -> dict[str, list[Quote]]:
        """For each follow, the articles that match it (their best quote), best first."""
        found: dict[str, list[Quote]] = {follow: [] for follow in follows}
        for scored in self.score(follows, articles):
            if scored.quote is not None and scored.quote.score >= self.bar:
                found[scored.follow].append(scored.quote)
        for quotes in found.values():
            quotes.sort(key=lambda q: -q.score)
        return found

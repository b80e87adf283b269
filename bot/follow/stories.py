"""Follow step, stories: articles telling the same story, across sources and languages, grouped into one.

Two articles are one story when their leads are close in the embedding space, which is shared
across languages, and they arrived within the story window of each other. The lead's vector is
the article's first chunk as the index stored it (its headline and first sentences): measured on
the labelled pairs it groups as well as embedding the headline and first sentence anew, and costs
nothing (benchmarks/follows.py stories; README, Following stories). Grouping is average-linkage clustering:
the two closest groups merge while their mean lead similarity reaches the bar, so one loose pair
does not chain unrelated stories together.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bot.follow.articles import lead_sentence
from bot.follow.models import ArticleDoc, Quote, Story
from index.embed.base import Embedder

CALIBRATED_SAME_STORY = {"gguf/embeddinggemma-300m-q8_0": 0.70}
"""First-chunk similarity at which two articles are one story, per embedding model (benchmarks/follows.py)."""
_UNCALIBRATED_SAME_STORY = 0.9  # not measured: e5-like cosine scales sit near 0.8 for related text


def same_story_for(min_similarity: float | None, model_name: str) -> float:
    """The bar the settings give, else the one calibrated for ``model_name``."""
    if min_similarity is not None:
        return min_similarity
    return CALIBRATED_SAME_STORY.get(model_name, _UNCALIBRATED_SAME_STORY)


def lead_text(article: ArticleDoc) -> str:
    """What is embedded for an article's lead: its headline and first sentence."""
    lead = lead_sentence(article)
    title = " ".join(article.title.split())
    return lead if lead == title else f"{title}\n{lead}"


def lead_similarities(articles: Sequence[ArticleDoc], embedder: Embedder | None) -> np.ndarray:
    """The matrix of cosine similarities between the articles' leads (without an embedder: their first chunks)."""
    if not articles:
        return np.zeros((0, 0))
    if embedder is None:
        vectors = [a.vectors[0] if a.vectors else [0.0] for a in articles]
    else:
        vectors = embedder.embed_passages([lead_text(a) for a in articles])
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = matrix / np.where(norms == 0, 1.0, norms)
    return unit @ unit.T


def cluster(similarity: np.ndarray, times: Sequence[float], bar: float, window: float) -> list[list[int]]:
    """Average-linkage groups of indexes: merge while the closest groups' mean similarity reaches ``bar``.

    Two groups never merge when any two of their members arrived more than ``window`` seconds apart.
    """
    n = len(times)
    groups: list[list[int]] = [[i] for i in range(n)]
    if n < 2:
        return groups
    total = similarity.astype(np.float64).copy()  # summed similarity between groups
    size = np.ones(n)
    first = np.asarray(times, dtype=np.float64)
    last = first.copy()
    alive = np.ones(n, dtype=bool)
    while True:
        mean = total / np.outer(size, size)
        span = np.maximum.outer(last, last) - np.minimum.outer(first, first)
        allowed = np.outer(alive, alive) & (span <= window)
        np.fill_diagonal(allowed, False)
        mean = np.where(allowed, mean, -np.inf)
        a, b = np.unravel_index(int(np.argmax(mean)), mean.shape)
        if mean[a, b] < bar:
            break
        a, b = min(a, b), max(a, b)
        groups[a] = sorted(groups[a] + groups[b])
        groups[b] = []
        total[a, :] += total[b, :]
        total[:, a] += total[:, b]
        size[a] += size[b]
        first[a], last[a] = min(first[a], first[b]), max(last[a], last[b])
        alive[b] = False
    return [g for g in groups if g]


def group_stories(
    articles: Sequence[ArticleDoc],
    *,
    bar: float,
    window_seconds: float,
    quotes: Sequence[Quote] = (),
) -> list[Story]:
    """The articles as stories, in order of their first article's arrival; each story's articles by arrival.

    ``quotes`` (for an alert) are each article's best sentence for the follow; a story keeps its own, best first.
    """
    ordered = sorted(articles, key=lambda a: (a.arrived, a.id))
    similarity = lead_similarities(ordered, None)
    groups = cluster(similarity, [a.arrived for a in ordered], bar, window_seconds)
    by_article = {q.article.id: q for q in quotes}
    stories = []
    for group in sorted(groups, key=lambda g: g[0]):
        members = tuple(ordered[i] for i in group)
        mine = sorted((by_article[a.id] for a in members if a.id in by_article), key=lambda q: -q.score)
        stories.append(Story(articles=members, lead=lead_sentence(members[0]), quotes=tuple(mine)))
    return stories

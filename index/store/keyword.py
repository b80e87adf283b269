"""The keyword side of the index: BM25 (bm25s) over the stored chunks, with Slavic-friendly tokens.

Tokens are words folded (``index.text.lexicon.fold``: lower-cased and transliterated
from Cyrillic to Latin with one table for Russian, Ukrainian and Bulgarian, so
spelling differences between them fold away) and cut to a short prefix, a crude but language-independent
stemmer: "Жорником", "Жорника" and an English question's "Zhornik" meet, and
so do "Восточный", "Восточний", "Восточни" and "Vostochny". Words of seven
letters or more also give their seven-letter prefix, so "Жорника" is closer to
"Жорник" than "Жорнина" is. Numbers stay whole ("3,5", "2019", "57").

The retriever rebuilds this index from the store's chunks whenever the store's
generation moves, so it is always in step with reindexing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from index.text.lexicon import fold, words

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+", re.UNICODE)
_PREFIX = 5
_LONG_PREFIX = 7
_STOPWORDS = frozenset(fold(word) for word in words("stopwords", "search"))


def tokenize(text: str) -> list[str]:
    """Folded, prefix-stemmed tokens of ``text`` (stop words dropped, numbers kept whole)."""
    tokens = []
    for raw in _TOKEN.findall(fold(text)):
        if raw[0].isdigit():
            tokens.append(raw.replace(",", "."))
        elif raw not in _STOPWORDS and len(raw) > 1:
            tokens.append(raw[:_PREFIX])
            if len(raw) >= _LONG_PREFIX:
                # A longer prefix as well, so the exact name outranks other words that share five letters.
                tokens.append(raw[:_LONG_PREFIX])
    return tokens


@dataclass(frozen=True)
class KeywordHit:
    """A chunk BM25 found, with the share of the question's term weight (IDF) it contains."""

    chunk_id: str
    score: float
    coverage: float


class KeywordIndex:
    """BM25 over chunk texts, addressed by chunk id."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        import bm25s

        self.ids = list(ids)
        self._bm25: Any = None
        corpus = [tokenize(text) or ["\u2205"] for text in texts]
        self._terms = [frozenset(tokens) for tokens in corpus]
        frequency = Counter(term for terms in self._terms for term in terms)
        total = len(corpus)
        self._idf = {term: math.log(1 + (total - n + 0.5) / (n + 0.5)) for term, n in frequency.items()}
        self._unseen_idf = math.log(1 + (total + 0.5) / 0.5)
        if corpus:
            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)

    def search(self, query: str, k: int) -> list[KeywordHit]:
        """The ``k`` best chunks for ``query``, best first; chunks sharing no term are left out.

        ``coverage`` is the IDF-weighted share of the question's terms found in
        the chunk: 1.0 when a chunk holds every term (a name asked on its own),
        low when it shares only a common word or two.
        """
        tokens = tokenize(query)
        if self._bm25 is None or not tokens:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens))
        order = np.argsort(-scores, kind="stable")[:k]
        terms = set(tokens)
        weight = {term: self._idf.get(term, self._unseen_idf) for term in terms}
        total = sum(weight.values())
        return [
            KeywordHit(self.ids[i], float(scores[i]), sum(weight[t] for t in terms & self._terms[i]) / total)
            for i in order
            if scores[i] > 0
        ]

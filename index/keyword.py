"""The keyword side of the index: BM25 (bm25s) over the stored chunks, with Slavic-friendly tokens.

Tokens are lower-cased words transliterated from Cyrillic to Latin with one
table for Russian, Ukrainian and Bulgarian (so spelling differences between
them fold away) and cut to a short prefix, a crude but language-independent
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

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+", re.UNICODE)
# One Cyrillic → Latin table for ru/uk/bg, close to the common English spellings of names
# (Жорник → zhornik, Дегтярев → degtiarev, Шойгу → shoigu); letters that differ between the
# three languages (и/і/ы, е/є/э, г/ґ) fold to one.
_FOLD = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "є": "e", "ё": "e", "э": "e",
        "ж": "zh", "з": "z", "и": "i", "і": "i", "ї": "i", "ы": "i", "й": "i", "к": "k", "л": "l", "м": "m",
        "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
        "ч": "ch", "ш": "sh", "щ": "sht", "ъ": "", "ь": "", "ю": "iu", "я": "ia", "ß": "ss",
        # Latin letters folded the same way, so "Kirby" meets "Кирби" and "Wagner" meets "Вагнер".
        "y": "i", "w": "v", "x": "ks", "q": "k",
    }
)  # fmt: skip
_PREFIX = 5
_LONG_PREFIX = 7
_STOPWORDS = frozenset(
    word.translate(_FOLD)
    for word in """
    a an and are as at be by did do does for from had has have how in is it its of on or that the this
    to was were what when where which who whom why will with about after into than then there their they
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было
    вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас
    нибудь опять уж вам ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем
    была сам чтоб без будто чего раз тоже себе под будет ж тогда кто этот того потому этого какой совсем
    ним здесь этом один почти мой тем чтобы нее сейчас были куда зачем всех никогда можно при наконец два
    об другой хоть после над больше тот через эти нас про всего них какая много разве три эту моя
    впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой им более всегда конечно всю между
    які яка який що це як та й і з до на від за по про для але при без чи ще вже також коли де хто
    які його її їх він вона вони ми ви ти я був була були буде є не ні так то те цей ця ці той
    какво кой коя кое кои как са се на от за по при до във в с със и или но не да че ще е бе
    der die das und ist von mit den dem des ein eine einer zu im auf für nicht was wer wie wo wann womit
    le la les de des du et est en un une qui que quoi quel quelle pour dans avec sur au aux où
    """.split()
)


def fold(text: str) -> str:
    """Lower case, Cyrillic transliterated and letter variants merged: the form words are compared in."""
    return text.lower().translate(_FOLD)


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

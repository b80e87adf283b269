"""The keyword side of the index: BM25 (bm25s) over the stored chunks, with Slavic-friendly tokens.

Tokens are lower-cased words folded across Russian/Ukrainian/Bulgarian
spelling (і/ї/ы→и, є/э→е, ё→е, ґ→г) and cut to a short prefix, a crude but
language-independent stemmer: "Жорником", "Жорник" and "Жорника" meet, and so
do "Восточный", "Восточний" and "Восточни". Numbers stay whole ("3,5", "2019",
"57"). The index is rebuilt from the store's chunks, so it is always in step
with reindexing (see ``KeywordIndex.from_store``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+", re.UNICODE)
_FOLD = str.maketrans({"ё": "е", "є": "е", "э": "е", "і": "и", "ї": "и", "ы": "и", "ґ": "г", "ß": "ss"})
_PREFIX = 5
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


def tokenize(text: str) -> list[str]:
    """Folded, prefix-stemmed tokens of ``text`` (stop words dropped, numbers kept whole)."""
    tokens = []
    for raw in _TOKEN.findall(text.lower().translate(_FOLD)):
        if raw[0].isdigit():
            tokens.append(raw.replace(",", "."))
        elif raw not in _STOPWORDS and len(raw) > 1:
            tokens.append(raw[:_PREFIX])
    return tokens


class KeywordIndex:
    """BM25 over chunk texts, addressed by chunk id."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        import bm25s

        self.ids = list(ids)
        self._bm25: Any = None
        corpus = [tokenize(text) or ["\u2205"] for text in texts]
        if corpus:
            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)

    @classmethod
    def from_chunks(cls, chunks: Sequence[tuple[str, str]]) -> KeywordIndex:
        """Build from (chunk id, text) pairs."""
        return cls([cid for cid, _ in chunks], [text for _, text in chunks])

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` best chunks for ``query`` as (chunk id, BM25 score), best first, zero scores dropped."""
        tokens = tokenize(query)
        if self._bm25 is None or not tokens:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens))
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self.ids[i], float(scores[i])) for i in order if scores[i] > 0]

"""The clean step's topic test: how much a paragraph shares with the article before it.

A paragraph's content words (stop words out, names weighing more: ``weighted_terms``) are looked
up in the words seen so far, in any inflected form (``Vocabulary``); its coherence is the weighted
share found. ``index.load.cleaning`` judges by it the lines under a "related news" heading and a
trailing run of paragraphs (``off_topic_tail``) that may be another story's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from index.text import lexicon
from index.text.words import WORD

OFF_TOPIC_BELOW = 0.12
"""A paragraph sharing less than this (weighted) share of its content words with the text before it is off-topic."""

_STOPWORDS = lexicon.words("stopwords", "topic")

_MIN_CORE = 4
_MIN_EVIDENCE = 10
_MAX_TAIL = 10
_NAME_WEIGHT = 2.5
_ENDING = 2  # letters in which two forms of one word may differ (an inflectional ending)


def _median_coherence(head: dict[str, float], paragraphs: Sequence[dict[str, float]]) -> float:
    """How well this article's paragraphs usually hold to what came before them."""
    vocabulary = Vocabulary([head, paragraphs[0]])
    scores: list[float] = []
    for terms in paragraphs[1:]:
        if terms:
            scores.append(vocabulary.coherence(terms))
        vocabulary.add(terms)
    scores.sort()
    return scores[len(scores) // 2] if scores else 0.0


def weighted_terms(text: str) -> dict[str, float]:
    """Content words of a text, lower-cased; names (capitalised inside a sentence, acronyms) weigh more."""
    weights: dict[str, float] = {}
    sentence_start = True
    for match in WORD.finditer(text):
        word = match.group()
        before = text[max(0, match.start() - 3) : match.start()]
        starts = sentence_start or any(ch in ".!?…:" for ch in before)
        sentence_start = False
        lower = word.lower().replace("ё", "е").replace("’", "'")
        acronym = len(word) >= 2 and word.isupper()
        if lower in _STOPWORDS or (len(word) < 3 and not acronym):
            continue
        name = acronym or (word[0].isupper() and not starts)
        weights[lower] = max(weights.get(lower, 0.0), _NAME_WEIGHT if name else 1.0)
    return weights


class Vocabulary:
    """Content words seen so far, found again in any inflected form."""

    def __init__(self, texts: Iterable[Iterable[str]] = ()) -> None:
        self._by_prefix: dict[str, set[str]] = {}
        for words in texts:
            self.add(words)

    def add(self, words: Iterable[str]) -> None:
        for word in words:
            self._by_prefix.setdefault(word[:3], set()).add(word)

    def knows(self, word: str) -> bool:
        return any(
            lexicon.same_word(word, seen, ending=_ENDING) for seen in self._by_prefix.get(word[:3], ())
        )

    def coherence(self, terms: dict[str, float]) -> float:
        """Share of a paragraph's (weighted) content words seen before: 0 shares nothing, 1 all."""
        if not terms:
            return 1.0  # nothing to judge by: keep
        known = sum(weight for word, weight in terms.items() if self.knows(word))
        return known / sum(terms.values())


def off_topic_tail(paragraphs: Sequence[str], title: str | None) -> int | None:
    """Where the trailing paragraphs that share (almost) nothing with the article before them begin, if any.

    A real article's last paragraphs can drift too, so it takes several such
    paragraphs, after an article long enough to know its topic, whose own
    paragraphs hold together far better than the tail holds to them.
    """
    if len(paragraphs) < _MIN_CORE + 2:
        return None
    terms = [weighted_terms(text) for text in paragraphs]
    head = weighted_terms(title) if title else {}
    total = sum(len(text) for text in paragraphs)
    # The longest tail whose every paragraph is off-topic for the article before it.
    for start in range(max(_MIN_CORE, len(paragraphs) - _MAX_TAIL), len(paragraphs) - 1):
        tail = paragraphs[start:]
        if sum(len(text) for text in tail) > total / 2 or sum(len(text) >= 60 for text in tail) < 2:
            continue
        if len(terms[start]) < _MIN_EVIDENCE:
            continue  # a short closing remark of the article says too little to start a cut
        before = Vocabulary([head, *terms[:start]])
        worst = max(before.coherence(t) for t in terms[start:])
        if worst < OFF_TOPIC_BELOW and _median_coherence(head, terms[:start]) >= 2 * worst:
            return start
    return None

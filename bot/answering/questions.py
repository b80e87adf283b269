"""The question step: what counts as a question, how much of one goes on to retrieval, and what it asks for.

An empty message, spaces, emoji, punctuation or a wall of ``[1]`` markers
scores as "relevant" against any corpus (their embeddings sit near
everything), so they are answered with a short request for a question instead
of a list of random quotes. A very long question is cut before it reaches
language detection, retrieval and the prompt, which all cost CPU per character.

What it asks for: its content terms (``question_terms``), and the kind of answer (``answer_kind``: a
name for "who" and "where", a figure for "how many" and "when"), which ``kind_bonus`` finds in a
sentence; choosing evidence (``bot.answering.evidence``) and keeping the model's statements (``bot.answering.qa``) read them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.text import lexicon
from index.text.lexicon import fold_word
from index.text.words import TERM, WORDLIKE

STOPWORDS = lexicon.words("stopwords", "evidence")
"""Function and question words (prompts/lexicon/stopwords.toml): they say nothing about which sentence answers."""
_WHO = lexicon.words("question_words", "who")
_WHERE = lexicon.words("question_words", "where")
_WHEN = lexicon.words("question_words", "when")
_HOW_MANY = lexicon.words("question_words", "how_many")
_MONTHS = re.compile(
    r"\b(?:" + "|".join(sorted(lexicon.words("dates", "month_starts"), key=lambda w: (-len(w), w))) + ")",
    re.IGNORECASE,
)
_NUMBER_WORDS = lexicon.words("numbers", "figure_words")


def asks_something(question: str) -> bool:
    """Whether the text holds at least one word (``[1]`` markers, holding no letters, are none)."""
    return WORDLIKE.search(question) is not None


def bounded(question: str, limit: int) -> str:
    """The question cut to ``limit`` characters, at a space when there is one near the end."""
    question = question.strip()
    if len(question) <= limit:
        return question
    cut = question[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit * 0.8 else cut


def words(text: str) -> list[str]:
    """The words and numbers of ``text``, as they stand ("3,5" and "Komsomolsk-on-Amur" whole)."""
    return TERM.findall(text)


def question_terms(question: str) -> dict[str, float]:
    """Content words of the question (folded) with weights: names and numbers count more."""
    terms: dict[str, float] = {}
    for index, word in enumerate(words(question)):
        lower = word.lower()
        if lower in STOPWORDS and (index == 0 or word == lower):
            continue
        if len(lower) < 3 and not lower.isdigit():
            continue
        weight = 1.0
        if lower[0].isdigit() or (index > 0 and word[0].isupper()):
            weight = 1.5
        term = fold_word(word)
        terms[term] = max(terms.get(term, 0.0), weight)
    return terms


def answer_kind(question: str) -> str | None:
    """What ``question`` asks for: "who", "where", "number", "when", or None (any sentence may answer)."""
    lowered = [word.lower() for word in words(question)]
    joined = " ".join(lowered)
    if any(word in _WHO for word in lowered):
        return "who"
    if any(word in _WHERE for word in lowered):
        return "where"
    if any(word in _HOW_MANY for word in lowered) or re.search(
        r"how (?:many|much|long)|wie (?:viele?|lange)|как долго|як довго|cuánto", joined
    ):
        return "number"
    if any(word in _WHEN for word in lowered):
        return "when"
    return None


def _has_figure(tokens: Sequence[str]) -> bool:
    return any(w[0].isdigit() or w.lower() in _NUMBER_WORDS for w in tokens)


def kind_bonus(kind: str | None, sentence: str, terms: dict[str, float]) -> float:
    """Whether the sentence holds what is asked for: new names for who/where, digits for when/how many."""
    if kind is None:
        return 0.0
    tokens = words(sentence)
    if kind in ("who", "where"):
        new = [
            i > 0 and w[0].isupper() and not any(lexicon.same_word(fold_word(w), t) for t in terms)
            for i, w in enumerate(tokens)
        ]
        names = sum(new)
        if kind == "who":
            # A person is named with a first name and a surname ("the mayor Alexander Zhornik"); a lone
            # capitalised word is as often a place or a day ("the plant in Komsomolsk on Friday").
            pairs = sum(1 for i in range(1, len(new)) if new[i] and new[i - 1])
            return 1.0 if pairs else min(names, 2) / 4
        return min(names, 3) / 3
    has_digits = any(w[0].isdigit() for w in tokens)
    if kind == "number":
        return 1.0 if _has_figure(tokens) else 0.0
    return 1.0 if has_digits or _MONTHS.search(sentence) else 0.0


def asks_for_figure(question: str) -> bool:
    """Whether ``question`` asks for a figure: how many, how long, when."""
    return answer_kind(question) in ("number", "when")


def holds_answer_kind(question: str, statement: str) -> bool:
    """Whether ``statement`` holds the kind of thing ``question`` asks for (any statement, if no kind)."""
    kind = answer_kind(question)
    return kind is None or kind_bonus(kind, statement, question_terms(question)) > 0

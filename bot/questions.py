"""The question step's guard: what counts as a question, and how much of one goes on to retrieval.

An empty message, spaces, emoji, punctuation or a wall of ``[1]`` markers
scores as "relevant" against any corpus (their embeddings sit near
everything), so they are answered with a short request for a question instead
of a list of random quotes. A very long question is cut before it reaches
language detection, retrieval and the prompt, which all cost CPU per character.
"""

from __future__ import annotations

import re

# A word: two letters in a row; or one letter of a script written without spaces between words.
_WORD = re.compile(r"[^\W\d_]{2,}|[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def asks_something(question: str) -> bool:
    """Whether the text holds at least one word (``[1]`` markers, holding no letters, are none)."""
    return _WORD.search(question) is not None


def bounded(question: str, limit: int) -> str:
    """The question cut to ``limit`` characters, at a space when there is one near the end."""
    question = question.strip()
    if len(question) <= limit:
        return question
    cut = question[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit * 0.8 else cut

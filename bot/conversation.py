"""Conversation memory: bounded recent turns, and turning a follow-up into a standalone question.

With an LLM the follow-up is rewritten by the model (the ``condense`` prompt);
without one a simple rule applies: a question that leans on the previous turn
(a pronoun or "there", in any of the languages we know) is joined to the
previous question, which is what retrieval needs to find the same article.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence

from bot.models import Turn
from index import lexicon

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

# Words that point back at something said before (prompts/lexicon/question_words.toml), lower case.
_ANAPHORA = lexicon.words("question_words", "pointing_back")


class History:
    """The most recent turns of one conversation, oldest first, bounded."""

    def __init__(self, max_turns: int, turns: Sequence[Turn] = ()) -> None:
        self._turns: deque[Turn] = deque(turns, maxlen=max(max_turns, 0) or None)
        self._max = max_turns

    def add(self, turn: Turn) -> None:
        if self._max > 0:
            self._turns.append(turn)

    def clear(self) -> None:
        self._turns.clear()

    @property
    def turns(self) -> tuple[Turn, ...]:
        return tuple(self._turns)

    def __len__(self) -> int:
        return len(self._turns)


def is_follow_up(question: str, history: Sequence[Turn]) -> bool:
    """True when ``question`` seems to lean on the previous turn (it has a pointing word)."""
    if not history:
        return False
    words = [w.lower() for w in _WORD.findall(question)]
    return any(w in _ANAPHORA for w in words)


def rule_condense(question: str, history: Sequence[Turn]) -> str:
    """The question retrieval should use when no LLM can rewrite it."""
    if not is_follow_up(question, history):
        return question
    return f"{history[-1].question} {question}"

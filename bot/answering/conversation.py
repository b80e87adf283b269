"""Condense step and conversation memory: bounded recent turns, and a follow-up made a standalone question.

With an LLM, ``condense`` has the model rewrite the follow-up (the ``condense`` prompt);
without one, or when its rewrite lost the question, a simple rule applies: a question that
leans on the previous turn (a pronoun or "there", in any of the languages we know) is joined
to the previous question, which is what retrieval needs to find the same article.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.errors import LLMBadResponse, LLMUnavailable
from bot.models import Turn
from index.text import lexicon
from index.text.language import detect_language, language_name
from index.text.words import LETTERS

if TYPE_CHECKING:
    from bot.answering.pipeline import Generator
    from bot.answering.prompts import Prompts

logger = logging.getLogger(__name__)

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
    words = [w.lower() for w in LETTERS.findall(question)]
    return any(w in _ANAPHORA for w in words)


def rule_condense(question: str, history: Sequence[Turn]) -> str:
    """The question retrieval should use when no LLM can rewrite it."""
    if not is_follow_up(question, history):
        return question
    return f"{history[-1].question} {question}"


def condense(
    question: str, history: Sequence[Turn], language: str, generator: Generator | None, prompts: Prompts
) -> str:
    """The question retrieval should see: a follow-up is rewritten to stand alone."""
    if not history:
        return question
    rule_based = rule_condense(question, history)
    if generator is None or rule_based == question:
        return rule_based
    prompt = prompts.render("condense", history=history, question=question, language=language_name(language))
    try:
        rewritten = generator.complete([{"role": "user", "content": prompt}], max_tokens=60).strip()
    except (LLMUnavailable, LLMBadResponse) as exc:
        logger.warning("could not condense the follow-up with the LLM: %s", exc)
        return rule_based
    rewritten = rewritten.splitlines()[0].strip().strip('"«»') if rewritten else ""
    # A rewrite that lost the question (empty, or another language) is worse than the rule.
    if len(rewritten) < 5 or detect_language(rewritten, default=language) != language:
        return rule_based
    return rewritten

"""Judgment step: the chat model's yes/no, read from its token probabilities, never from free text.

A 1.5B model cannot be trusted to write a faithful sentence, but P("yes") as the first token of its
reply to "does this sentence answer the question?" carries a judgment. The question and the fixed
instruction come first and the worked examples (``prompts/judge_examples.toml``) are static earlier
turns, so the server's prompt cache keeps the shared prefix and each judgment costs only its own
sentence's tokens.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.answering.prompts import Prompts
from bot.errors import LLMBadResponse, LLMUnavailable

if TYPE_CHECKING:
    from bot.answering.pipeline import Generator, Message

logger = logging.getLogger(__name__)

JUDGE_EXAMPLES = "judge_examples.toml"


def judge_messages(prompts: Prompts, question: str, sentence: str, answer: str = "") -> list[Message]:
    """The chat that asks whether ``sentence`` answers ``question`` (or says ``answer`` is its answer)."""
    messages: list[Message] = [{"role": "system", "content": prompts.render("judge_system")}]
    for example in prompts.table(JUDGE_EXAMPLES).get("example", []):
        user = prompts.render(
            "judge", question=example["question"], sentence=example["sentence"], answer=example["answer"]
        )
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": example["reply"]}]
    messages.append(
        {"role": "user", "content": prompts.render("judge", question=question, sentence=sentence, answer=answer)}
    )
    return messages


def yes_probability(
    generator: Generator | None, prompts: Prompts, question: str, sentence: str, answer: str = ""
) -> float | None:
    """The model's P(yes) that ``sentence`` answers ``question``; None when it can't say (no log-probabilities)."""
    from bot.answering.pipeline import Judge

    if not isinstance(generator, Judge):
        return None
    try:
        return generator.yes_probability(judge_messages(prompts, question, sentence, answer))
    except (LLMUnavailable, LLMBadResponse) as exc:
        logger.warning("the model's judgment failed: %s", exc)
        return None

"""Generate step, focused composition: the model answers from the best quote alone, in one short sentence.

Its job is small on purpose: one sentence to read, one to write, in the asker's language (the
instruction is in that language too, which a 1.5B model follows better), after worked examples
(``prompts/focused_examples.toml``) given as earlier turns of the chat. The marker is the quote's;
the answer is checked against the quote and the other answering sentences of its article.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from bot.answering.evidence import Evidence
from bot.answering.pipeline import Attempt, Message, Pipeline
from bot.answering.prompts import Prompts
from bot.answering.reply import ReplyWriter
from bot.checks.citations import statement_sentences
from bot.checks.support import check_sentence
from bot.models import Source
from index.text.language import language_name

logger = logging.getLogger(__name__)

NONE_REPLY = re.compile(r"^\W*(none|-)\W*$", re.IGNORECASE)
"""The focused model's reply when the quoted sentence does not answer."""
FOCUSED_MAX_TOKENS = 96
"""One short sentence; a longer reply is the small model running on."""
FOCUSED_EXAMPLES = "focused_examples.toml"
"""Worked examples for the focused model, in the prompts folder."""
FOCUSED_SENTENCES = 2
"""Most sentences of the focused reply that are checked and kept."""


def compose(
    pipeline: Pipeline,
    question: str,
    language: str,
    quotes: Sequence[Evidence],
    source_of: dict[str, Source],
    writer: ReplyWriter,
    attempt: Attempt,
) -> list[str]:
    """The model's answer from the best quote; what holds up is written, and returned.

    ``attempt.said_none`` is set when the model answers that the quote does not answer.
    """
    best = quotes[0]
    instruction = pipeline.prompts.phrase("focused_instruction", language).format(
        language=language_name(language)
    )
    messages = [
        {"role": "system", "content": pipeline.prompts.render("focused_system")},
        *focused_examples(pipeline.prompts),
        {
            "role": "user",
            "content": pipeline.prompts.render(
                "focused", sentence=best.sentence, question=question, instruction=instruction
            ),
        },
    ]
    max_tokens = min(pipeline.max_tokens or FOCUSED_MAX_TOKENS, FOCUSED_MAX_TOKENS)
    reply = ""
    for delta in pipeline.model().stream(messages, max_tokens=max_tokens):
        attempt.heard()
        reply += delta
    reply = reply.strip().split("\n")[0].strip()
    if NONE_REPLY.match(reply) or not reply:
        attempt.said_none = True
        return []
    evidence = [best.sentence] + [q.sentence for q in quotes[1:] if q.article_id == best.article_id]
    source = source_of[best.article_id]
    written: list[str] = []
    for sentence in statement_sentences(reply)[:FOCUSED_SENTENCES]:
        text, verdict = check_sentence(pipeline.support, question, language, sentence, evidence)
        if verdict.supported:
            backing = [evidence[verdict.best] if verdict.best is not None else best.sentence]
            if writer.statement(text, source, backing):
                written.append(text)
    return written


def focused_examples(prompts: Prompts) -> list[Message]:
    """The worked examples (prompts/focused_examples.toml) as earlier turns of the chat."""
    turns: list[Message] = []
    for example in prompts.table(FOCUSED_EXAMPLES).get("example", []):
        instruction = prompts.phrase("focused_instruction", example["language"]).format(
            language=language_name(example["language"])
        )
        user = prompts.render(
            "focused", sentence=example["sentence"], question=example["question"], instruction=instruction
        )
        turns += [{"role": "user", "content": user}, {"role": "assistant", "content": example["answer"]}]
    return turns

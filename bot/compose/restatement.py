"""Generate step, restate composition: the model picks the evidence sentences that answer and restates each.

Every evidence sentence gets its own number; the model replies with JSON,
``{"answer": [{"evidence": 3, "text": "…"}]}``, which the server is asked to
enforce with a JSON schema (llama.cpp turns it into a grammar). The marker of a
restated sentence comes from the article of the sentence it names, never from
the model, so a small model cannot cite a wrong or missing source; what it says
is then checked against that sentence's article by ``bot.checks.support``, and
``restated`` writes what holds up while the reply still streams.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.answering.evidence import EvidenceGroup
from bot.answering.pipeline import Attempt, Pipeline
from bot.answering.reply import ReplyWriter
from bot.checks.support import NOT_AN_ANSWER, check_sentence
from bot.models import Source
from index.text.language import language_name

logger = logging.getLogger(__name__)

NONE_ANSWERS = 0
"""The evidence number the model gives when no sentence answers the question."""

_ITEM = re.compile(r'\{\s*"evidence"\s*:\s*(-?\d+)\s*,\s*"text"\s*:\s*"((?:[^"\\]|\\.)*)"\s*\}')


@dataclass(frozen=True)
class Numbered:
    """One evidence sentence under its own number, with the article group it belongs to."""

    number: int
    sentence: str
    group: EvidenceGroup


@dataclass(frozen=True)
class Restatement:
    """One item of the model's reply: the evidence sentence it restates and its text."""

    evidence: int
    text: str


def number_sentences(groups: Sequence[EvidenceGroup]) -> list[Numbered]:
    """Every evidence sentence numbered 1..N, article by article in ranking order."""
    numbered: list[Numbered] = []
    for group in groups:
        for sentence in group.sentences:
            numbered.append(Numbered(len(numbered) + 1, sentence, group))
    return numbered


def answer_schema(n_sentences: int, *, max_items: int = 3, max_chars: int = 300) -> dict[str, Any]:
    """The JSON schema of the reply: at least one item (an empty list is a small model's easy way out)."""
    return {
        "type": "object",
        "properties": {
            "answer": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_items,
                "items": {
                    "type": "object",
                    "properties": {
                        "evidence": {"type": "integer", "enum": list(range(n_sentences + 1))},
                        "text": {"type": "string", "minLength": 1, "maxLength": max_chars},
                    },
                    "required": ["evidence", "text"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["answer"],
        "additionalProperties": False,
    }


class ItemReader:
    """Reads the items of a JSON reply while it streams in: each one as soon as its object closes."""

    def __init__(self) -> None:
        self._buffer = ""
        self._seen = 0

    def feed(self, delta: str) -> list[Restatement]:
        """The items completed by this delta."""
        self._buffer += delta
        found = []
        for match in _ITEM.finditer(self._buffer):
            if match.start() < self._seen:
                continue
            self._seen = match.end()
            item = _item(match)
            if item is not None:
                found.append(item)
        return found

    def finish(self) -> list[Restatement]:
        """Items only a whole-reply parse finds (keys in another order, say); the stream has ended."""
        if self._seen:
            return []
        try:
            payload = json.loads(self._buffer)
        except ValueError:
            return []
        items = payload.get("answer") if isinstance(payload, dict) else None
        found = []
        for raw in items if isinstance(items, list) else []:
            if not isinstance(raw, dict):
                continue
            number, text = raw.get("evidence"), raw.get("text")
            if isinstance(number, int) and isinstance(text, str) and text.strip():
                found.append(Restatement(number, text.strip()))
        return found


def _item(match: re.Match[str]) -> Restatement | None:
    try:
        text = json.loads(f'"{match.group(2)}"')
    except ValueError:
        return None
    text = text.strip()
    return Restatement(int(match.group(1)), text) if text else None


def read_items(reply: str) -> list[Restatement]:
    """The items of a whole reply (invalid JSON gives whatever complete items it holds, maybe none)."""
    reader = ItemReader()
    return reader.feed(reply) + reader.finish()


def compose(
    pipeline: Pipeline,
    question: str,
    language: str,
    groups: Sequence[EvidenceGroup],
    sources: Sequence[Source],
    writer: ReplyWriter,
    answering: Sequence[str],
    attempt: Attempt,
) -> list[str]:
    """The model picks the sentences that answer and restates each; what holds up is written at once.

    Returns the model's statements that were written (a failed one may have been replaced by its quote).
    """
    numbered = number_sentences(groups)
    by_number = {item.number: item for item in numbered}
    source_of = {source.article_id: source for source in sources}
    messages = [
        {"role": "system", "content": pipeline.prompts.render("restate_system")},
        {
            "role": "user",
            "content": pipeline.prompts.render(
                "restate",
                groups=groups,
                numbered=numbered,
                question=question,
                language=language_name(language),
            ),
        },
    ]
    written: list[str] = []

    def take(item: Restatement) -> None:
        chosen = by_number.get(item.evidence)
        if chosen is None:  # NONE_ANSWERS (no sentence answers), or a number that isn't there
            return
        source = source_of[chosen.group.article_id]
        text, verdict = check_sentence(
            pipeline.support, question, language, item.text, chosen.group.sentences
        )
        if verdict.reason == NOT_AN_ANSWER:
            return
        best = chosen.group.sentences[verdict.best] if verdict.best is not None else chosen.sentence
        if verdict.supported:
            if writer.statement(text, source, [best]):
                written.append(text)
            return
        if best in answering:  # a quote that doesn't answer would only pile up
            writer.inline_quote(best, source)

    reader = ItemReader()
    for delta in pipeline.model().stream(
        messages, max_tokens=pipeline.max_tokens, schema=answer_schema(len(numbered))
    ):
        attempt.heard()
        for item in reader.feed(delta):
            take(item)
    for item in reader.finish():
        take(item)
    return written

"""Generate step for a small model: it picks the evidence sentences that answer and restates each.

Every evidence sentence gets its own number; the model replies with JSON,
``{"answer": [{"evidence": 3, "text": "…"}]}``, which the server is asked to
enforce with a JSON schema (llama.cpp turns it into a grammar). The marker of a
restated sentence comes from the article of the sentence it names, never from
the model, so a small model cannot cite a wrong or missing source; what it says
is then checked against that sentence's article by ``bot.support``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.extractive import EvidenceGroup

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

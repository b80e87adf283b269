"""Check step, statement level: does what one answer sentence asserts stand in the evidence it cites?

PLACEHOLDER. The real checker (numbers, names, meaning) is being written on
another branch and replaces this file at merge; only the interface below is
relied on by ``bot.qa``. This stand-in checks figures only: a statement
passes when every number it states is a number of its evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.citations import strip_markers
from index.embeddings import Embedder

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Verdict:
    """Whether a statement stands in its evidence, why not, and which evidence sentence backs it best."""

    supported: bool
    reason: str
    """Empty when supported."""
    best: int | None
    """Index into the evidence of the best-backing sentence, None if none."""


def _figures(text: str) -> set[str]:
    return {number.replace(",", ".") for number in _NUMBER.findall(text)}


def _best(statement: str, evidence: Sequence[str]) -> int | None:
    """The evidence sentence sharing most words (then figures) with the statement."""
    if not evidence:
        return None
    words = {w.lower() for w in _WORD.findall(statement)}
    scores = [len(words & {w.lower() for w in _WORD.findall(sentence)}) for sentence in evidence]
    return max(range(len(evidence)), key=lambda i: scores[i])


class SupportChecker:
    """PLACEHOLDER: judges statements by their figures alone (see the module docstring)."""

    def __init__(self, embedder: Embedder | None = None, *, min_similarity: float | None = None) -> None:
        self.embedder = embedder
        self.min_similarity = min_similarity

    def check(self, statement: str, evidence: Sequence[str]) -> Verdict:
        """One statement (markers allowed) against the verbatim evidence sentences it cites."""
        best = _best(strip_markers(statement), evidence)
        missing = sorted(_figures(strip_markers(statement)) - _figures(" ".join(evidence)))
        if not evidence:
            return Verdict(False, "it cites no evidence", None)
        if missing:
            return Verdict(False, f"the cited evidence does not say {', '.join(missing)}", best)
        return Verdict(True, "", best)

    def check_many(self, statements: Sequence[tuple[str, Sequence[str]]]) -> list[Verdict]:
        """``check`` for each (statement, evidence) pair."""
        return [self.check(statement, evidence) for statement, evidence in statements]

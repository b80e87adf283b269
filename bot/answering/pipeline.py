"""The answering pipeline's collaborators: the chat model it needs (``Generator``) and ``Pipeline``.

``bot.answering.qa`` runs the steps with them; the compositions (``bot.compose.focused``, ``bot.compose.restatement``,
``bot.compose.cited``) read them too, which is why they live here and not in ``bot.answering.qa``.
``Attempt`` is what one composition's call of the model leaves behind besides what it wrote.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.answering.prompts import Prompts
from bot.answering.retrieval import Retriever
from bot.checks.support import SupportChecker
from index.embed.base import Embedder

Message = dict[str, str]


class Generator(Protocol):
    """What the pipeline needs of a chat model (``bot.llm.client.ChatClient`` is one)."""

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        schema: dict[str, Any] | None = None,
    ) -> str: ...

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        schema: dict[str, Any] | None = None,
    ) -> Iterator[str]: ...


@dataclass
class Pipeline:
    """The collaborators of ``answer``, built once by the service and shared by every chat."""

    retriever: Retriever
    prompts: Prompts
    generator: Generator | None = None
    mode: str = "extractive"
    evidence_sentences: int = 6
    max_tokens: int | None = None
    max_question_chars: int = 1000
    """Longer questions are cut before language detection, retrieval and the prompt."""
    support: SupportChecker | None = None
    """Checks each sentence of the model's answer against the evidence it cites."""
    sentence_embedder: Embedder | None = None
    """Embeds evidence sentences (default: the retriever's embedder); the service gives a cached one."""
    composition: str = "cited"
    """restate: the model picks evidence sentences and restates them (JSON); cited: free text with [n]."""
    quote_first: bool = True
    """Show the best answering quote as soon as the evidence is known."""
    min_answer_score: float = 0.0
    """Evidence scoring under this is not quoted as an answer (see ``select_evidence``)."""
    allow_refusal: bool = True
    """Offer the model the "not covered" reply on its first attempt; off for small local models, which
    take it too eagerly. A retry after an empty answer, or one stating a figure no evidence holds, is
    always offered it."""

    def model(self) -> Generator:
        """The chat model; a composition is only chosen when there is one."""
        assert self.generator is not None
        return self.generator


@dataclass
class Attempt:
    """What a composition's call of the model came to besides its statements, kept even if it raises."""

    first_token: float | None = None
    """``time.perf_counter()`` when the model's first token (or whole reply) arrived."""
    said_none: bool = False
    """The model answered that none of the sentences it was given answers the question."""

    def heard(self) -> None:
        """The model has said something: the first time, note when."""
        if self.first_token is None:
            self.first_token = time.perf_counter()

    def first_token_ms(self, started: float) -> float | None:
        """Milliseconds from ``started`` (a ``time.perf_counter()``) to the first token; None before it."""
        return (self.first_token - started) * 1000 if self.first_token is not None else None

"""The answer path's collaborators: the chat model it needs (``Generator``), ``Pipeline`` and ``Attempt``.

``Pipeline.from_settings`` is the one way to build a ``Pipeline``: the service and the tests get the
same configuration from the same ``Settings``, so tests run what ships. ``bot.answering.qa`` runs
the steps with it; the compositions (``bot.compose``) read it through the ``AnswerContext``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bot.answering.answerability import AnswerabilityModel, load_model
from bot.answering.prompts import Prompts
from bot.answering.retrieval import Retriever
from bot.checks.support import SupportChecker
from index.embed.base import Embedder

if TYPE_CHECKING:
    from bot.config import Settings

Message = dict[str, str]

MODES = {"openai": "llm", "local": "local"}
"""The ``mode`` of an answer the model contributed to, by provider; without a model it is extractive."""
AUTO_COMPOSITION = {"local": "typed", "openai": "cited"}
"""The composition ``auto`` means, by provider: the bundled model writes only typed answers."""


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


@runtime_checkable
class Judge(Protocol):
    """A chat model whose token probabilities can be read: P("yes") as the first token of its reply."""

    def yes_probability(self, messages: Sequence[Message]) -> float | None: ...


@dataclass(frozen=True)
class Pipeline:
    """The collaborators of ``answer`` and the settings it reads, built once by ``from_settings``."""

    retriever: Retriever
    prompts: Prompts
    answerability: AnswerabilityModel
    sentence_embedder: Embedder
    """Embeds evidence sentences; the service gives a cached one."""
    generator: Generator | None
    composition: str | None
    """How the model's part of the reply is written (``bot.compose.COMPOSERS``); None without a model."""
    mode: str
    max_question_chars: int
    """Longer questions are cut before language detection, retrieval and the prompt."""
    max_tokens: int
    evidence_sentences: int
    """Evidence sentences a free-text model is given."""
    quote_first: bool
    """Show the answering quotes as soon as they are known."""
    allow_refusal: bool
    """Offer a free-text model the "not covered" reply on its first attempt."""
    support: SupportChecker | None
    """Checks each sentence of a free-text answer against the evidence it cites."""

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        retriever: Retriever,
        prompts: Prompts,
        sentence_embedder: Embedder,
        generator: Generator | None = None,
        support: SupportChecker | None = None,
        answerability: AnswerabilityModel | None = None,
    ) -> Pipeline:
        """The pipeline ``settings`` describe, around the given collaborators."""
        llm = settings.llm
        composition = AUTO_COMPOSITION.get(llm.provider, "typed") if llm.composition == "auto" else llm.composition
        return cls(
            retriever=retriever,
            prompts=prompts,
            answerability=answerability or load_model(),
            sentence_embedder=sentence_embedder,
            generator=generator,
            composition=composition if generator is not None else None,
            mode=MODES.get(llm.provider, "extractive") if generator is not None else "extractive",
            max_question_chars=settings.retrieval.max_question_chars,
            max_tokens=llm.max_tokens,
            evidence_sentences=settings.retrieval.evidence_sentences,
            quote_first=llm.quote_first,
            allow_refusal=llm.allow_refusal if llm.allow_refusal is not None else llm.provider != "local",
            support=support if support is not None else SupportChecker(sentence_embedder),
        )

    def model(self) -> Generator:
        """The chat model; a composition is only chosen when there is one."""
        assert self.generator is not None
        return self.generator


@dataclass
class Attempt:
    """What a composition's call of the model came to besides what it wrote, kept even if it raises."""

    first_token: float | None = None
    """``time.perf_counter()`` when the model's first token (or whole reply) arrived."""
    said_none: bool = False
    """The model answered that the sentence it was given does not answer the question."""

    def heard(self) -> None:
        """The model has said something: the first time, note when."""
        if self.first_token is None:
            self.first_token = time.perf_counter()

    def first_token_ms(self, started: float) -> float | None:
        """Milliseconds from ``started`` (a ``time.perf_counter()``) to the first token; None before it."""
        return (self.first_token - started) * 1000 if self.first_token is not None else None

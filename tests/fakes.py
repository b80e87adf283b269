"""Fakes for our own seams: a small deterministic embedder, queue-fed generators, a support checker."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Bag of hashed 4-letter word stems: deterministic, instant, and lexically meaningful."""

    def __init__(self, dim: int = 64, name: str = "test/hash") -> None:
        self._dim = dim
        self._name = name
        self.calls = 0
        self.texts_embedded = 0

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self._dim
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word[:4].encode(), digest_size=4).digest()
            vec[int.from_bytes(digest, "little") % self._dim] += 1.0
        norm = math.sqrt(sum(x * x for x in vec)) or 1.0
        return [x / norm for x in vec]

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        self.texts_embedded += len(texts)
        return [self._vector(t) for t in texts]

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]


class QueueGenerator:
    """A chat model that replies with queued texts (or raises queued errors) and records every request."""

    def __init__(self, *replies: str | Exception) -> None:
        self.replies = list(replies)
        self.requests: list[list[dict[str, str]]] = []
        self.schemas: list[dict[str, Any] | None] = []

    def _next(self, messages: Sequence[dict[str, str]]) -> str:
        self.requests.append([dict(m) for m in messages])
        if not self.replies:
            raise AssertionError("the fake generator was called more often than expected")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def complete(
        self,
        messages: Sequence[dict[str, str]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        schema: dict[str, Any] | None = None,
    ) -> str:
        self.schemas.append(schema)
        return self._next(messages)

    def stream(
        self,
        messages: Sequence[dict[str, str]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        schema: dict[str, Any] | None = None,
    ) -> Iterator[str]:
        self.schemas.append(schema)
        text = self._next(messages)
        for i in range(0, len(text), 7):
            yield text[i : i + 7]


class ScriptedGenerator(QueueGenerator):
    """A chat model whose replies are computed from the prompt it is sent (e.g. to name evidence numbers)."""

    def __init__(self, *scripts: Callable[[str], str]) -> None:
        super().__init__()
        self.scripts = list(scripts)

    def _next(self, messages: Sequence[dict[str, str]]) -> str:
        self.requests.append([dict(m) for m in messages])
        if not self.scripts:
            raise AssertionError("the fake generator was called more often than expected")
        return self.scripts.pop(0)(messages[-1]["content"])


class JudgingGenerator(ScriptedGenerator):
    """A scripted model whose token probabilities can be read: ``yes`` gives P(yes) for each judgment."""

    def __init__(self, *scripts: Callable[[str], str], yes: Callable[[str], float | None]) -> None:
        super().__init__(*scripts)
        self._yes = yes
        self.judged: list[str] = []

    def yes_probability(self, messages: Sequence[dict[str, str]]) -> float | None:
        prompt = messages[-1]["content"]
        self.judged.append(prompt)
        return self._yes(prompt)


class WordSupport:
    """A support checker for tests: a statement holds when its names and figures are all in its evidence."""

    def __init__(self) -> None:
        self.checked: list[tuple[str, tuple[str, ...]]] = []

    def check(self, statement: str, evidence: Sequence[str]) -> Any:
        from bot.checks.support import Verdict

        self.checked.append((statement, tuple(evidence)))
        words = _WORD.findall(re.sub(r"\[\d+\]", "", statement))
        claimed = {w for i, w in enumerate(words) if w[0].isdigit() or (i > 0 and w[0].isupper())}
        known = {w for sentence in evidence for w in _WORD.findall(sentence)}
        best = max(
            range(len(evidence)),
            key=lambda i: len(set(words) & set(_WORD.findall(evidence[i]))),
            default=None,
        )
        missing = sorted(claimed - known)
        return Verdict(not missing, f"not in the evidence: {', '.join(missing)}" if missing else "", best)

    def check_many(self, statements: Sequence[tuple[str, Sequence[str]]]) -> list[Any]:
        return [self.check(s, e) for s, e in statements]


def make_pipeline(
    settings: Any,
    retriever: Any,
    generator: Any = None,
    *,
    provider: str | None = None,
    **overrides: Any,
) -> Any:
    """The pipeline ``settings`` describe (as the service builds it), with ``overrides`` on top.

    ``provider`` (local, openai) sets the provider a generator stands for, so the composition and mode
    are the ones that ship for it.
    """
    from dataclasses import replace

    from bot.answering.pipeline import Pipeline
    from bot.answering.prompts import load_prompts

    if provider is not None:
        settings = settings.model_copy(
            update={"llm": settings.llm.model_copy(update={"provider": provider})}, deep=True
        )
    pipeline = Pipeline.from_settings(
        settings,
        retriever=retriever,
        prompts=load_prompts(),
        sentence_embedder=retriever.embedder,
        generator=generator,
        support=overrides.pop("support", WordSupport()),
    )
    return replace(pipeline, **overrides)

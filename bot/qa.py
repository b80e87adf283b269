"""The answering pipeline: question → language → retrieve → prompt → generate → check citations.

``answer()`` takes its collaborators as arguments and knows nothing of
Telegram, click or environment variables. With no generator it answers
extractively; with one it asks the model, checks every sentence for a valid
marker and the language, retries once with a stricter prompt, and falls back
to the extractive answer (with a note) if the model still fails or can't be
reached. Nothing relevant enough retrieved means "the articles don't cover
this", without calling the model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.citations import check_answer, markers, renumber, sentence_spans, statement_sentences, strip_markers
from bot.conversation import rule_condense
from bot.extractive import EvidenceGroup, extractive_answer, number_evidence, select_evidence
from bot.models import Answer, Source, TokenSink, Turn
from bot.prompts import Prompts
from bot.questions import asks_something, bounded
from bot.retrieval import Retriever
from bot.support import figures as _figures
from bot.support import unsupported_figures
from index.errors import LLMBadResponse, LLMUnavailable
from index.language import detect_language, language_name

logger = logging.getLogger(__name__)

Message = dict[str, str]


class Generator(Protocol):
    """What the pipeline needs of a chat model (``bot.llm.ChatClient`` is one)."""

    def complete(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, temperature: float | None = None
    ) -> str: ...

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, temperature: float | None = None
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
    condense_with_llm: bool = True
    max_question_chars: int = 1000
    """Longer questions are cut before language detection, retrieval and the prompt."""
    allow_refusal: bool = True
    """Offer the model the "not covered" reply on its first attempt; off for small local models, which
    take it too eagerly. A retry after an empty answer, or one stating a figure no evidence holds, is
    always offered it."""


def answer(
    question: str,
    history: Sequence[Turn],
    pipeline: Pipeline,
    *,
    on_token: TokenSink | None = None,
) -> Answer:
    """Answer ``question`` in its own language, every statement cited, given the chat's recent turns."""
    started = time.perf_counter()
    question = bounded(question, pipeline.max_question_chars)
    language = detect_language(question, default=history[-1].language if history else "en")
    if not asks_something(question):  # emoji, punctuation, bare markers: nothing to look up
        ask = pipeline.prompts.phrase("ask_a_question", language)
        return Answer(ask, language, (), refused=True, mode="refusal", question=question)
    standalone = _standalone(question, history, language, pipeline)
    retrieval = pipeline.retriever.retrieve(standalone)
    not_covered = pipeline.prompts.phrase("not_covered", language)

    first_token: list[float] = []

    def done(
        text: str, sources: Sequence[Source], mode: str, *, refused: bool = False, note: str | None = None
    ) -> Answer:
        return Answer(
            text=text,
            language=language,
            sources=tuple(sources),
            refused=refused,
            mode=mode,
            retrieved=retrieval.articles,
            question=standalone,
            note=note,
            latency_ms=(time.perf_counter() - started) * 1000,
            first_token_ms=(first_token[0] - started) * 1000 if first_token else None,
        )

    if not retrieval.relevant:
        return done(not_covered, (), "refusal", refused=True)

    evidence = select_evidence(
        standalone,
        retrieval.passages,
        limit=pipeline.evidence_sentences,
        query_vector=retrieval.query_vector or None,
        embedder=pipeline.retriever.store.embedder,
    )
    if pipeline.generator is None:
        text, sources = extractive_answer(
            standalone, language, retrieval.passages, pipeline.prompts, evidence=evidence
        )
        return done(text, sources, "extractive")

    groups, sources = number_evidence(evidence)
    note_key = "fallback_note"
    try:
        generated = _generate_checked(
            pipeline,
            standalone,
            language,
            groups,
            sources,
            not_covered,
            on_token=on_token,
            first_token=first_token,
        )
    except (LLMUnavailable, LLMBadResponse) as exc:
        logger.warning("LLM failed, answering extractively: %s", exc)
        generated = None
        note_key = "llm_unavailable_note"
    if generated is not None:
        text, refused = generated
        if refused:
            return done(not_covered, (), pipeline.mode, refused=True)
        text, cited = renumber(text, sources)
        return done(text, cited, pipeline.mode)

    text, cited = extractive_answer(
        standalone, language, retrieval.passages, pipeline.prompts, evidence=evidence, note_key=note_key
    )
    return done(text, cited, "extractive", note=pipeline.prompts.phrase(note_key, language))


def _standalone(question: str, history: Sequence[Turn], language: str, pipeline: Pipeline) -> str:
    """The question retrieval should see: a follow-up is rewritten to stand alone."""
    if not history:
        return question
    rule_based = rule_condense(question, history)
    if pipeline.generator is None or not pipeline.condense_with_llm or rule_based == question:
        return rule_based
    prompt = pipeline.prompts.render(
        "condense", history=history, question=question, language=language_name(language)
    )
    try:
        rewritten = pipeline.generator.complete([{"role": "user", "content": prompt}], max_tokens=60).strip()
    except (LLMUnavailable, LLMBadResponse) as exc:
        logger.warning("could not condense the follow-up with the LLM: %s", exc)
        return rule_based
    rewritten = rewritten.splitlines()[0].strip().strip('"«»') if rewritten else ""
    # A rewrite that lost the question (empty, or another language) is worse than the rule.
    if len(rewritten) < 5 or detect_language(rewritten, default=language) != language:
        return rule_based
    return rewritten


def _messages(
    pipeline: Pipeline, template: str, *, allow_refusal: bool, **variables: object
) -> list[Message]:
    # The system prompt never changes between attempts, so a server's prompt cache keeps it.
    system = pipeline.prompts.render("system", allow_refusal=pipeline.allow_refusal)
    return [
        {"role": "system", "content": system},
        {
            "role": "user",
            "content": pipeline.prompts.render(template, allow_refusal=allow_refusal, **variables),
        },
    ]


def _generate_checked(
    pipeline: Pipeline,
    question: str,
    language: str,
    groups: Sequence[EvidenceGroup],
    sources: Sequence[Source],
    not_covered: str,
    *,
    on_token: TokenSink | None,
    first_token: list[float],
) -> tuple[str, bool] | None:
    """The model's answer once it passes the checks (text, refused), or None after a failed retry."""
    generator = pipeline.generator
    assert generator is not None
    variables: dict[str, object] = {
        "groups": groups,
        "question": question,
        "language": language_name(language),
        "not_covered": not_covered,
    }
    problems: tuple[str, ...] = ()
    allow_refusal = pipeline.allow_refusal
    for attempt in range(2):
        template = "answer" if attempt == 0 else "answer_strict"
        messages = _messages(
            pipeline, template, allow_refusal=allow_refusal, **variables, problems=list(problems)
        )
        if attempt == 0 and on_token is not None:
            releaser = _CitedReleaser(on_token, len(sources))
            parts = []
            for delta in generator.stream(messages, max_tokens=pipeline.max_tokens):
                if not first_token:
                    first_token.append(time.perf_counter())
                parts.append(delta)
                releaser.feed(delta)
            text = "".join(parts)
        else:
            text = generator.complete(messages, max_tokens=pipeline.max_tokens)
        check = check_answer(text, len(sources), language, not_covered=[not_covered])
        if check.not_covered:
            return check.text, True
        invented = _unsupported_numbers(check.text, groups) if check.ok else ()
        problems = check.problems if not check.ok else invented
        if not problems:
            return check.text, False
        logger.info("answer attempt %d rejected: %s", attempt + 1, "; ".join(problems))
        # A model that says nothing, or states a figure no evidence holds ("the score was 0-0"), has
        # usually been asked something the articles don't say: the retry may answer "not covered".
        # A missing marker, a wrong marker or a wrong language doesn't open that door: the small model
        # drops markers from right answers, and offered the refusal then, it took it.
        allow_refusal = allow_refusal or check.empty or _states_unknown_figures(check.text, groups)
    return None


def _group_text(group: EvidenceGroup) -> str:
    return " ".join((group.title, group.date or "", *group.sentences))


def _unsupported_numbers(text: str, groups: Sequence[EvidenceGroup]) -> tuple[str, ...]:
    """Numbers the answer states that its cited evidence does not contain: a cheap check of invention.

    Numbers read the same in every language, so this works when the answer and
    the evidence are in different languages; a figure the model made up ("the
    score was 0-0 [1]") sends the answer back for a retry, then to the fallback.
    """
    evidence = {g.marker: _group_text(g) for g in groups}
    problems = []
    for sentence in statement_sentences(text):
        cited = " ".join(evidence.get(marker, "") for marker in markers(sentence))
        for number in unsupported_figures(sentence, cited):
            problems.append(f"It says {number}, which the cited evidence does not say: {sentence.strip()}")
    return tuple(problems)


def _states_unknown_figures(text: str, groups: Sequence[EvidenceGroup]) -> bool:
    """Whether the answer states a number that no evidence sentence holds, cited or not."""
    return bool(_figures(strip_markers(text)) - _figures(" ".join(_group_text(g) for g in groups)))


class _CitedReleaser:
    """Streams only finished sentences that carry a valid marker; stops at the first that doesn't.

    What is released is a preview: the final answer (renumbered, or replaced by
    the extractive fallback) is what the front end shows last.
    """

    def __init__(self, sink: TokenSink, n_sources: int) -> None:
        self._sink = sink
        self._n = n_sources
        self._buffer = ""
        self._released = 0
        self._stopped = False

    def feed(self, delta: str) -> None:
        if self._stopped:
            return
        self._buffer += delta
        spans = sentence_spans(self._buffer)
        # The last span may still be growing; release only the ones before it.
        for start, end in spans[:-1]:
            if end <= self._released:
                continue
            sentence = self._buffer[start:end]
            numbers = markers(sentence)
            if not strip_markers(sentence).strip():
                continue
            if not numbers or any(n < 1 or n > self._n for n in numbers):
                self._stopped = True
                return
            self._sink(self._buffer[self._released : end])
            self._released = end

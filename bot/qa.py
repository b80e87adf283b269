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

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.citations import (
    answer_language,
    check_answer,
    markers,
    statement_sentences,
    strip_markers,
)
from bot.conversation import rule_condense
from bot.disagreement import Side, disputed
from bot.errors import LLMBadResponse, LLMUnavailable
from bot.extractive import (
    Evidence,
    EvidenceGroup,
    asks_for_figure,
    extractive_answer,
    holds_answer_kind,
    number_evidence,
    ranked_quotes,
    select_evidence,
)
from bot.models import Answer, Source, TokenSink, Turn
from bot.prompts import Prompts
from bot.questions import asks_something, bounded
from bot.reply import ReplyWriter, restates_question
from bot.restatement import NONE_ANSWERS, ItemReader, Restatement, answer_schema, number_sentences
from bot.retrieval import Retriever
from bot.support import SupportChecker, Verdict, malformed, unsupported_figures
from bot.support import figures as _figures
from index.embeddings import Embedder
from index.language import detect_language, language_name

logger = logging.getLogger(__name__)

SECOND_QUOTE_SHARE = 0.8
"""A second quote (from another article) is shown at once when it scores this share of the best."""
FOCUS_QUOTES = 2
"""The focused composition gives the model at most this many of the best answering sentences."""

Message = dict[str, str]


class Generator(Protocol):
    """What the pipeline needs of a chat model (``bot.llm.ChatClient`` is one)."""

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
    condense_with_llm: bool = True
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
        text: str,
        sources: Sequence[Source],
        mode: str,
        *,
        refused: bool = False,
        note: str | None = None,
        quotes: tuple[str, ...] = (),
        first_useful: float | None = None,
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
            first_useful_ms=(first_useful - started) * 1000 if first_useful is not None else None,
            quotes=quotes,
        )

    if not retrieval.relevant:
        return done(not_covered, (), "refusal", refused=True)

    evidence = select_evidence(
        standalone,
        retrieval.passages,
        limit=pipeline.evidence_sentences,
        query_vector=retrieval.query_vector or None,
        embedder=pipeline.sentence_embedder or pipeline.retriever.embedder,
        min_answer_score=pipeline.min_answer_score,
    )
    quotes = ranked_quotes(evidence)
    quoted = tuple(item.sentence for item in quotes)
    sides = disputed(quotes) if asks_for_figure(standalone) else []
    if pipeline.generator is None:
        text, sources = extractive_answer(
            standalone, language, retrieval.passages, pipeline.prompts, evidence=evidence
        )
        if not sources:
            return done(text, (), "extractive", refused=True, quotes=quoted)
        marker_of = {source.article_id: source.marker for source in sources}
        shown = [(thing, side) for thing, side in sides if all(s.quote.sentence in text for s in side)]
        if shown:
            text += "\n" + _differ_line(pipeline.prompts, language, shown, lambda q: marker_of[q.article_id])
        return done(text, sources, "extractive", quotes=quoted, first_useful=time.perf_counter())

    groups, sources = number_evidence(evidence)
    source_of = {source.article_id: source for source in sources}
    # Without a sentence that may answer, nothing is shown until the model has said something that holds.
    # A free-text model may still answer "not covered" or fail its retry: it decides before anything is
    # shown (a refusal must not follow a quote already on screen). The small model's checked
    # restatements follow the quotes, which are shown at once.
    hold = not quotes or pipeline.composition == "cited"
    said_none: list[bool] = []
    writer = ReplyWriter(pipeline.prompts, language, on_token, started=started, hold=hold)
    if quotes and pipeline.quote_first:
        _quote_first(pipeline, language, writer, quotes, sides, source_of)
    note_key = "fallback_note"
    held: list[str] | None
    try:
        if pipeline.composition == "focused" and quotes:
            held = _focused(
                pipeline, standalone, language, quotes, source_of, writer, first_token, said_none=said_none
            )
        elif pipeline.composition == "focused":
            held = []  # no sentence answers: nothing to give the model
        elif pipeline.composition == "restate":
            held = _restated(pipeline, standalone, language, groups, sources, writer, quoted, first_token)
        else:
            held = _cited(
                pipeline, standalone, language, groups, sources, not_covered, writer, quoted, first_token
            )
    except _Refused:
        return done(not_covered, (), pipeline.mode, refused=True, quotes=quoted)
    except (LLMUnavailable, LLMBadResponse) as exc:
        logger.warning("LLM failed, answering extractively: %s", exc)
        note_key = "llm_unavailable_note"
        held = None
    if held is None and writer.shown:
        # The quotes already shown stay; the note says why nothing follows them.
        writer.note(pipeline.prompts.phrase(note_key, language))
        writer.release()
        return done(
            writer.text,
            writer.sources,
            "extractive",
            note=pipeline.prompts.phrase(note_key, language),
            quotes=quoted,
            first_useful=writer.first_useful,
        )
    if held is None:
        text, cited = extractive_answer(
            standalone, language, retrieval.passages, pipeline.prompts, evidence=evidence, note_key=note_key
        )
        if not cited:
            return done(not_covered, (), pipeline.mode, refused=True, quotes=quoted)
        if on_token is not None:  # nothing was shown yet: the fallback is streamed whole, as it will stay
            on_token(text)
        return done(
            text,
            cited,
            "extractive",
            note=pipeline.prompts.phrase(note_key, language),
            quotes=quoted,
            first_useful=time.perf_counter(),
        )
    if not quotes and not any(holds_answer_kind(standalone, statement) for statement in held):
        return done(not_covered, (), pipeline.mode, refused=True, quotes=quoted)
    if said_none:
        logger.info("the model found no answer in the sentences it was given (shown: %s)", writer.shown)
        if not writer.shown and not writer.statements:
            # Nothing was shown yet and the model, given the best sentences, says none answers.
            return done(not_covered, (), pipeline.mode, refused=True, quotes=quoted)
        if not writer.statements:
            # The quote stays (it may well answer: the small model says NONE to some right ones), hedged.
            writer.note(pipeline.prompts.phrase("closest_passage_note", language))
    if writer.empty and quotes:  # quote_first off, and nothing of the model's held up
        _quote_first(pipeline, language, writer, quotes, sides, source_of)
    if writer.empty:
        return done(not_covered, (), pipeline.mode, refused=True, quotes=quoted)
    writer.release()
    mode = pipeline.mode if writer.statements else "extractive"
    return done(writer.text, writer.sources, mode, quotes=quoted, first_useful=writer.first_useful)


def _quote_first(
    pipeline: Pipeline,
    language: str,
    writer: ReplyWriter,
    quotes: Sequence[Evidence],
    sides: Sequence[tuple[str, Sequence[Side]]],
    source_of: dict[str, Source],
) -> None:
    """The best quotes; where articles give different figures, each side's quote and a line citing both."""
    shown = _first_quotes(quotes)
    shown += [side.quote for _, group in sides for side in group if side.quote not in shown]
    writer.quote_block([(item.sentence, source_of[item.article_id]) for item in shown])
    if sides:
        writer.line(
            _differ_line(
                pipeline.prompts, language, sides, lambda q: writer.cite(q.sentence, source_of[q.article_id])
            )
        )


def _differ_line(
    prompts: Prompts,
    language: str,
    sides: Sequence[tuple[str, Sequence[Side]]],
    marker_of: Callable[[Evidence], int],
) -> str:
    """ "The articles give different figures: 4 h [1], 5 h [2]." in ``language``."""
    parts = []
    for thing, group in sides:
        unit = prompts.phrase(f"unit_{thing}", language)
        parts.append(", ".join(f"{side.figure} {unit} [{marker_of(side.quote)}]" for side in group))
    return prompts.phrase("figures_differ", language).format(sides="; ".join(parts))


class _Refused(Exception):
    """The model answered that the articles don't cover the question."""


def _first_quotes(quotes: Sequence[Evidence]) -> list[Evidence]:
    """The best quote, and a second from another article when it scores nearly as well (sources may differ)."""
    first = [quotes[0]]
    for item in quotes[1:3]:
        if item.article_id != quotes[0].article_id and item.score >= SECOND_QUOTE_SHARE * quotes[0].score:
            first.append(item)
            break
    return first


def _restated(
    pipeline: Pipeline,
    question: str,
    language: str,
    groups: Sequence[EvidenceGroup],
    sources: Sequence[Source],
    writer: ReplyWriter,
    answering: Sequence[str],
    first_token: list[float],
    *,
    templates: tuple[str, str] = ("restate_system", "restate"),
    said_none: list[bool] | None = None,
) -> list[str]:
    """The model picks the sentences that answer and restates each; what holds up is written at once.

    Returns the model's statements that were written (a failed one may have been replaced by its quote).
    ``said_none`` gets True when the model answered that no sentence answers.
    """
    generator = pipeline.generator
    assert generator is not None
    numbered = number_sentences(groups)
    by_number = {item.number: item for item in numbered}
    source_of = {source.article_id: source for source in sources}
    messages = [
        {"role": "system", "content": pipeline.prompts.render(templates[0])},
        {
            "role": "user",
            "content": pipeline.prompts.render(
                templates[1],
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
        if chosen is None:  # 0: no sentence answers; or a number that isn't there
            if item.evidence == NONE_ANSWERS and said_none is not None:
                said_none.append(True)
            return
        text = " ".join(strip_markers(item.text).split())
        text = re.sub(r"\s*\?+$", ".", text)  # an answer the model punctuated as a question
        source = source_of[chosen.group.article_id]
        if not text or restates_question(text, question):
            logger.info("dropped a restatement that does not answer: %r", text)
            return
        verdict = _verdict(pipeline, text, chosen.group.sentences, language)
        detected = answer_language(text, language)
        _log_check(question, language, text, chosen.group.sentences, verdict, detected)
        if verdict.supported and detected in (None, language):
            backing = [chosen.group.sentences[verdict.best] if verdict.best is not None else chosen.sentence]
            if writer.statement(text, source, backing):
                written.append(text)
            return
        logger.info("restatement failed (%s): %r", verdict.reason or f"language {detected}", text)
        best = chosen.group.sentences[verdict.best] if verdict.best is not None else chosen.sentence
        if best in answering:  # a quote that doesn't answer would only pile up
            writer.inline_quote(best, source)

    reader = ItemReader()
    for delta in generator.stream(
        messages, max_tokens=pipeline.max_tokens, schema=answer_schema(len(numbered))
    ):
        if not first_token:
            first_token.append(time.perf_counter())
        for item in reader.feed(delta):
            take(item)
    for item in reader.finish():
        take(item)
    return written


NONE_REPLY = re.compile(r"^\W*(none|-)\W*$", re.IGNORECASE)
"""The focused model's reply when the quoted sentence does not answer."""
FOCUSED_MAX_TOKENS = 96
"""One short sentence; a longer reply is the small model running on."""
FOCUSED_EXAMPLES = "focused_examples.toml"
"""Worked examples for the focused model, in the prompts folder."""
FOCUSED_SENTENCES = 2
"""Most sentences of the focused reply that are checked and kept."""


def _focused(
    pipeline: Pipeline,
    question: str,
    language: str,
    quotes: Sequence[Evidence],
    source_of: dict[str, Source],
    writer: ReplyWriter,
    first_token: list[float],
    *,
    said_none: list[bool],
) -> list[str]:
    """The model answers from the best quote alone, in one short sentence; what holds up is written.

    Its job is small on purpose: one sentence to read, one to write, in the asker's language (the
    instruction is in that language too, which a 1.5B model follows better). The marker is the quote's;
    the answer is checked against the quote and the other answering sentences of its article.
    """
    generator = pipeline.generator
    assert generator is not None
    best = quotes[0]
    instruction = pipeline.prompts.phrase("focused_instruction", language).format(
        language=language_name(language)
    )
    messages = [
        {"role": "system", "content": pipeline.prompts.render("focused_system")},
        *_focused_examples(pipeline.prompts),
        {
            "role": "user",
            "content": pipeline.prompts.render(
                "focused", sentence=best.sentence, question=question, instruction=instruction
            ),
        },
    ]
    max_tokens = min(pipeline.max_tokens or FOCUSED_MAX_TOKENS, FOCUSED_MAX_TOKENS)
    reply = ""
    for delta in generator.stream(messages, max_tokens=max_tokens):
        if not first_token:
            first_token.append(time.perf_counter())
        reply += delta
    reply = reply.strip().split("\n")[0].strip()
    if NONE_REPLY.match(reply) or not reply:
        said_none.append(True)
        return []
    evidence = [best.sentence] + [q.sentence for q in quotes[1:] if q.article_id == best.article_id]
    source = source_of[best.article_id]
    written: list[str] = []
    for sentence in statement_sentences(reply)[:FOCUSED_SENTENCES]:
        text = re.sub(r"\s*\?+$", ".", " ".join(strip_markers(sentence).split()))
        if not text or restates_question(text, question):
            logger.info("dropped a sentence that does not answer: %r", text)
            continue
        verdict = _verdict(pipeline, text, evidence, language)
        detected = answer_language(text, language)
        _log_check(question, language, text, evidence, verdict, detected)
        if verdict.supported and detected in (None, language):
            backing = [evidence[verdict.best] if verdict.best is not None else best.sentence]
            if writer.statement(text, source, backing):
                written.append(text)
        else:
            logger.info("sentence failed (%s): %r", verdict.reason or f"language {detected}", text)
    return written


def _focused_examples(prompts: Prompts) -> list[Message]:
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


def _log_check(
    question: str,
    language: str,
    statement: str,
    evidence: Sequence[str],
    verdict: Verdict,
    detected: str | None,
) -> None:
    """One JSON line per checked statement at INFO: why a sentence was kept or dropped, and labelling data."""
    if logger.isEnabledFor(logging.INFO):
        record = {
            "question": question,
            "language": language,
            "statement": statement,
            "evidence": list(evidence),
            "supported": verdict.supported,
            "reason": verdict.reason,
            "detected_language": detected,
        }
        logger.info("statement checked: %s", json.dumps(record, ensure_ascii=False))


def _verdict(pipeline: Pipeline, statement: str, evidence: Sequence[str], language: str) -> Verdict:
    """The support check, after the form check (garbled text in ``language`` fails whatever it means)."""
    problem = malformed(statement, language, evidence)
    if problem:
        return Verdict(False, problem, None)
    if pipeline.support is None:
        return Verdict(True, "", None)
    return pipeline.support.check(statement, evidence)


def _cited(
    pipeline: Pipeline,
    question: str,
    language: str,
    groups: Sequence[EvidenceGroup],
    sources: Sequence[Source],
    not_covered: str,
    writer: ReplyWriter,
    answering: Sequence[str],
    first_token: list[float],
) -> list[str] | None:
    """Free text with [n] markers (the first design, kept for capable models): checked, then written.

    Each sentence is checked against the evidence it cites; one that fails is dropped, or replaced by
    the evidence sentence that backs it best. None after a failed retry (the caller falls back).
    """
    generated = _generate_checked(
        pipeline, question, language, groups, sources, not_covered, first_token=first_token
    )
    if generated is None:
        return None
    text, refused = generated
    if refused:
        raise _Refused
    by_marker = {group.marker: group for group in groups}
    source_of = {source.marker: source for source in sources}
    written: list[str] = []
    for sentence in statement_sentences(text):
        numbers = [n for n in markers(sentence) if n in by_marker]
        if not numbers:
            continue
        evidence = [s for n in dict.fromkeys(numbers) for s in by_marker[n].sentences]
        body = strip_markers(sentence).strip()
        verdict = _verdict(pipeline, body, evidence, language)
        source = source_of[numbers[0]]
        if verdict.supported:
            own = by_marker[numbers[0]].sentences
            backing = (
                [evidence[verdict.best]]
                if verdict.best is not None and evidence[verdict.best] in own
                else own
            )
            if writer.statement(body, source, backing):
                written.append(body)
        elif verdict.best is not None and evidence[verdict.best] in answering:
            owner = next(
                n for n in dict.fromkeys(numbers) if evidence[verdict.best] in by_marker[n].sentences
            )
            writer.inline_quote(evidence[verdict.best], source_of[owner])
    return written


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
        text = generator.complete(messages, max_tokens=pipeline.max_tokens)
        if not first_token:
            first_token.append(time.perf_counter())
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

"""The answering pipeline: question → language → condense → retrieve → evidence → quotes → compose → reply.

``answer()`` runs the steps; its collaborators come in a ``Pipeline`` (``bot.answering.pipeline``) and it
knows nothing of Telegram, click or environment variables. With no generator it answers
extractively; with one the best quotes are shown first and the model's answer is composed by
``pipeline.composition``: ``bot.compose.focused`` (from the best quote alone), ``bot.compose.restatement`` (the
evidence sentences picked and restated) or ``bot.compose.cited`` (free text with markers, checked and
retried once). What fails its checks is dropped or replaced by its quote; a model that can't be
reached leaves the quoted evidence with a note. Nothing relevant enough retrieved means "the
articles don't cover this", without calling the model. Where articles give different figures
(``bot.answering.disagreement``), a line says so, citing both.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from bot.answering.conversation import condense
from bot.answering.disagreement import Side, disputed
from bot.answering.evidence import Evidence, number_evidence, ranked_quotes, select_evidence, shown_quotes
from bot.answering.extractive import extractive_answer
from bot.answering.pipeline import Attempt, Pipeline
from bot.answering.prompts import Prompts
from bot.answering.questions import asks_for_figure, asks_something, bounded, holds_answer_kind
from bot.answering.reply import ReplyWriter
from bot.compose import cited, focused, restatement
from bot.errors import LLMBadResponse, LLMUnavailable
from bot.models import Answer, Source, TokenSink, Turn
from index.text.language import detect_language

__all__ = ["Pipeline", "answer"]  # Pipeline is re-exported: callers build one to call answer

logger = logging.getLogger(__name__)


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
    standalone = condense(question, history, language, pipeline.generator, pipeline.prompts)
    retrieval = pipeline.retriever.retrieve(standalone)
    not_covered = pipeline.prompts.phrase("not_covered", language)

    attempt = Attempt()

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
            first_token_ms=attempt.first_token_ms(started),
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
    writer = ReplyWriter(pipeline.prompts, language, on_token, started=started, hold=hold)
    if quotes and pipeline.quote_first:
        _quote_first(pipeline, language, writer, quotes, sides, source_of)
    note_key = "fallback_note"
    held: list[str] | None
    try:
        if pipeline.composition == "focused" and quotes:
            held = focused.compose(pipeline, standalone, language, quotes, source_of, writer, attempt)
        elif pipeline.composition == "focused":
            held = []  # no sentence answers: nothing to give the model
        elif pipeline.composition == "restate":
            held = restatement.compose(
                pipeline, standalone, language, groups, sources, writer, quoted, attempt
            )
        else:
            held = cited.compose(
                pipeline, standalone, language, groups, sources, not_covered, writer, quoted, attempt
            )
    except cited.Refused:
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
        text, quoted_sources = extractive_answer(
            standalone, language, retrieval.passages, pipeline.prompts, evidence=evidence, note_key=note_key
        )
        if not quoted_sources:
            return done(not_covered, (), pipeline.mode, refused=True, quotes=quoted)
        if on_token is not None:  # nothing was shown yet: the fallback is streamed whole, as it will stay
            on_token(text)
        return done(
            text,
            quoted_sources,
            "extractive",
            note=pipeline.prompts.phrase(note_key, language),
            quotes=quoted,
            first_useful=time.perf_counter(),
        )
    if not quotes and not any(holds_answer_kind(standalone, statement) for statement in held):
        return done(not_covered, (), pipeline.mode, refused=True, quotes=quoted)
    if attempt.said_none:
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
    shown = shown_quotes(quotes)  # the extractive answer's quotes; the model then reads the first
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

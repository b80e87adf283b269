"""The answer path: question → language → condense → retrieve → score → decide → quotes → compose → reply.

``answer()`` runs the steps in that order on one ``AnswerContext`` (``bot.answering.context``); its
collaborators come in a ``Pipeline`` and it knows nothing of Telegram, click or environment
variables. Every candidate sentence is scored by the answerability model
(``bot.answering.answerability``); the best score decides: at or above the answer bar the quotes
are the answer; between the bars they are shown under "may not answer directly"; below the related
bar the reply is "not covered", with the closest passage offered as related. The quotes come first
(``bot.answering.selection`` picks them), then what the composer adds (``bot.compose``): with the
bundled model only a typed answer, with a capable model free text, checked. A model that can't be
reached leaves the quotes with a note. Where the quoted articles give different figures
(``bot.answering.disagreement``), a line says so, citing both.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.answering.context import AnswerContext, Verdict, source_of
from bot.answering.conversation import condense
from bot.answering.disagreement import Side, disputed
from bot.answering.evidence import Evidence, scored_evidence
from bot.answering.pipeline import Pipeline
from bot.answering.questions import asks_for_figure, asks_something, bounded
from bot.answering.selection import answering_words, choose_quotes
from bot.compose import make_composer
from bot.compose.base import Composer, Refused
from bot.errors import LLMBadResponse, LLMUnavailable
from bot.models import Answer, TokenSink, Turn
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
    context = _begin(question, history, pipeline, on_token)
    if not asks_something(context.asked):  # emoji, punctuation, bare markers: nothing to look up
        return context.answer(context.phrase("ask_a_question"), (), "refusal", refused=True)
    context.question = condense(context.asked, history, context.language, pipeline.generator, pipeline.prompts)
    context.retrieval = pipeline.retriever.retrieve(context.question)
    if not context.retrieval.relevant:
        return _not_covered(context, related=None)
    context.evidence = scored_evidence(
        context.question,
        context.retrieval.passages,
        pipeline.answerability,
        query_vector=context.retrieval.query_vector or None,
        embedder=pipeline.sentence_embedder,
    )
    context.verdict = _verdict(context)
    if context.verdict == "refuse":
        return _not_covered(context, related=max(context.evidence, key=lambda e: e.score, default=None))
    context.quotes = choose_quotes(context.question, context.evidence, pipeline.answerability)
    composer = make_composer(pipeline.composition)
    _write_quotes(context, composer)
    refusal = _compose(context, composer)
    if refusal is not None:
        return refusal
    context.marked += answering_words(context.question, context.quotes)
    return _finish(context)


def _begin(question: str, history: Sequence[Turn], pipeline: Pipeline, on_token: TokenSink | None) -> AnswerContext:
    """The context of a new question: cut to size, its language read (the chat's last one if unsure)."""
    asked = bounded(question, pipeline.max_question_chars)
    language = detect_language(asked, default=history[-1].language if history else "en")
    return AnswerContext(pipeline, asked, language, on_token)


def _verdict(context: AnswerContext) -> Verdict:
    """Answer, hedge or refuse, by the best sentence's answerability against the model's two bars."""
    model = context.pipeline.answerability
    best = max((item.score for item in context.evidence), default=0.0)
    if best >= model.answer_bar:
        return "answer"
    return "hedge" if best >= model.related_bar else "refuse"


def _not_covered(context: AnswerContext, related: Evidence | None) -> Answer:
    """ "Not covered", with the closest sentence offered below it as related, uncited (it does not answer)."""
    text = context.phrase("not_covered")
    if related is not None:
        quote = context.phrase("quote_open") + related.sentence + context.phrase("quote_close")
        text += f"\n\n{context.phrase('related_passage')}\n{quote} — {related.passage.title}"
    if context.on_token is not None:
        context.on_token(text)
    return context.answer(text, (), "refusal", refused=True)


def _write_quotes(context: AnswerContext, composer: Composer | None) -> None:
    """The quotes first, then a line where figures differ (with quote_first off, only after the model)."""
    writer = context.open_reply()
    if not context.pipeline.quote_first and composer is not None:
        return
    answering = [item for item in context.evidence if item.answers]
    sides = disputed(answering) if asks_for_figure(context.question) else []
    shown = list(context.quotes)
    shown += [side.quote for _, group in sides for side in group if side.quote not in shown]
    context.quotes = shown
    writer.quote_block([(item.sentence, source_of(item)) for item in shown])
    if sides:
        writer.line(_differ_line(context, sides))
    if context.verdict == "hedge":
        writer.note(context.phrase("hedge_note"))


def _differ_line(context: AnswerContext, sides: Sequence[tuple[str, Sequence[Side]]]) -> str:
    """ "The articles give different figures: 4 h [1], 5 h [2]." in the asker's language."""
    assert context.writer is not None
    parts = []
    for thing, group in sides:
        unit = context.phrase(f"unit_{thing}")
        parts.append(
            ", ".join(
                f"{side.figure} {unit} [{context.writer.cite(side.quote.sentence, source_of(side.quote))}]"
                for side in group
            )
        )
    return context.phrase("figures_differ").format(sides="; ".join(parts))


def _compose(context: AnswerContext, composer: Composer | None) -> Answer | None:
    """What the model adds under the quotes; a refusal (nothing shown yet) is returned as the answer."""
    writer = context.writer
    if composer is None or writer is None:
        return None
    try:
        composer.compose(context)
    except Refused:
        if not writer.shown:
            return _not_covered(context, related=None)
        # The score put the quotes on screen; a model that finds no answer in them hedges, never retracts.
        context.note = context.phrase("hedge_note")
        writer.note(context.note)
    except (LLMUnavailable, LLMBadResponse) as exc:
        logger.warning("LLM failed, answering with the quotes: %s", exc)
        context.note = context.phrase("llm_unavailable_note")
        writer.note(context.note)
    if writer.empty and context.quotes:  # quote_first off, and nothing of the model's held up
        writer.quote_block([(item.sentence, source_of(item)) for item in context.quotes])
    return None


def _finish(context: AnswerContext) -> Answer:
    """The reply as written."""
    writer = context.writer
    assert writer is not None
    if writer.empty:
        return _not_covered(context, related=None)
    mode = context.pipeline.mode if writer.statements else "extractive"
    return context.answer(writer.text, writer.sources, mode)

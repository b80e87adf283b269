"""The answerer without an LLM: the evidence sentences that answer, quoted verbatim under a framing line.

``extractive_answer`` is the whole answer when there is no model (``--provider extractive``), and the
fallback when the model is unreachable or its answer fails the checks. The sentences are chosen by
``bot.answering.evidence``.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.answering.evidence import (
    QUOTES_SHOWN,
    Evidence,
    number_evidence,
    ranked_quotes,
    select_evidence,
    shown_quotes,
)
from bot.answering.prompts import Prompts
from bot.models import Passage, Source


def extractive_answer(
    question: str,
    language: str,
    passages: Sequence[Passage],
    prompts: Prompts,
    *,
    limit: int = QUOTES_SHOWN,
    evidence: Sequence[Evidence] | None = None,
    note_key: str | None = None,
) -> tuple[str, tuple[Source, ...]]:
    """The articles' own sentences, best first, quoted verbatim under a framing line in ``language``.

    ``evidence`` reuses sentences already chosen (for the LLM prompt); ``note_key``
    names a phrase (``fallback_note``, ``llm_unavailable_note``) put on the framing
    line before the intro. Which sentences are shown: ``bot.answering.evidence.shown_quotes``.
    """
    chosen = list(evidence) if evidence is not None else select_evidence(question, passages, limit=limit)
    chosen = shown_quotes(ranked_quotes(chosen), limit)  # stable: ties keep their order
    if not chosen:
        return prompts.phrase("not_covered", language), ()

    groups, sources = number_evidence(chosen)
    marker_of = {group.article_id: group.marker for group in groups}
    heading = prompts.phrase("extractive_intro", language)
    if note_key is not None:
        heading = f"{prompts.phrase(note_key, language)} {heading}"
    quote_open, quote_close = prompts.phrase("quote_open", language), prompts.phrase("quote_close", language)
    lines = [heading]
    lines.extend(
        f"• {quote_open}{item.sentence}{quote_close} [{marker_of[item.article_id]}]" for item in chosen
    )
    return "\n".join(lines), sources

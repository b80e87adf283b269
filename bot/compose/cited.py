"""Generate and check steps, cited composition: free text with ``[n]`` markers (the first design, kept
for capable models).

The whole answer is generated, then checked (``bot.checks.citations.check_answer``, and every figure against
the evidence it cites); a rejected answer is asked for once more with a stricter prompt naming what
was wrong. Only then is it written, sentence by sentence, each against the evidence it cites.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.answering.evidence import EvidenceGroup, number_evidence
from bot.answering.pipeline import Attempt, Message, Pipeline
from bot.answering.reply import ReplyWriter
from bot.checks.citations import check_answer, statement_sentences
from bot.checks.claims import figures, unsupported_figures
from bot.checks.markers import markers, strip_markers
from bot.checks.support import judge
from bot.compose.base import Refused
from bot.models import Source

if TYPE_CHECKING:
    from bot.answering.context import AnswerContext
from index.text.language import language_name

logger = logging.getLogger(__name__)


class CitedAnswer:
    """Free text with ``[n]`` markers from the best evidence sentences, checked sentence by sentence."""

    def compose(self, context: AnswerContext) -> None:
        """The model's checked answer under the quotes already shown; raises ``Refused`` on "not covered"."""
        pipeline, writer = context.pipeline, context.writer
        assert writer is not None
        chosen = [item for item in context.evidence if item.answers][: pipeline.evidence_sentences]
        groups, sources = number_evidence(chosen or context.evidence[: pipeline.evidence_sentences])
        not_covered = context.phrase("not_covered")
        generated = _generate_checked(
            pipeline, context.question, context.language, groups, sources, not_covered, context.attempt
        )
        if generated is None:
            if writer.quotes:
                context.note = context.phrase("fallback_note")
                writer.note(context.note)
            return
        text, refused = generated
        if refused:
            raise Refused
        answering = [item.sentence for item in context.quotes]
        _write(pipeline, context.language, text, groups, sources, writer, answering)


def _write(
    pipeline: Pipeline,
    language: str,
    text: str,
    groups: Sequence[EvidenceGroup],
    sources: Sequence[Source],
    writer: ReplyWriter,
    answering: Sequence[str],
) -> None:
    """Each sentence checked against the evidence it cites: kept, or replaced by the evidence that backs it."""
    by_marker = {group.marker: group for group in groups}
    source_of = {source.marker: source for source in sources}
    for sentence in statement_sentences(text):
        numbers = [n for n in markers(sentence) if n in by_marker]
        if not numbers:
            continue
        evidence = [s for n in dict.fromkeys(numbers) for s in by_marker[n].sentences]
        body = strip_markers(sentence).strip()
        verdict = judge(pipeline.support, body, evidence, language)
        source = source_of[numbers[0]]
        if verdict.supported:
            own = by_marker[numbers[0]].sentences
            backing = (
                [evidence[verdict.best]]
                if verdict.best is not None and evidence[verdict.best] in own
                else own
            )
            writer.statement(body, source, backing)
        elif verdict.best is not None and evidence[verdict.best] in answering:
            owner = next(
                n for n in dict.fromkeys(numbers) if evidence[verdict.best] in by_marker[n].sentences
            )
            writer.inline_quote(evidence[verdict.best], source_of[owner])




def answer_messages(
    pipeline: Pipeline, template: str, *, allow_refusal: bool, **variables: object
) -> list[Message]:
    """The system prompt and the ``template`` prompt, rendered."""
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
    attempt: Attempt,
) -> tuple[str, bool] | None:
    """The model's answer once it passes the checks (text, refused), or None after a failed retry."""
    variables: dict[str, object] = {
        "groups": groups,
        "question": question,
        "language": language_name(language),
        "not_covered": not_covered,
    }
    problems: tuple[str, ...] = ()
    allow_refusal = pipeline.allow_refusal
    for number in range(2):
        template = "answer" if number == 0 else "answer_strict"
        prompt = answer_messages(
            pipeline, template, allow_refusal=allow_refusal, **variables, problems=list(problems)
        )
        text = pipeline.model().complete(prompt, max_tokens=pipeline.max_tokens)
        attempt.heard()
        check = check_answer(text, len(sources), language, not_covered=[not_covered])
        if check.not_covered:
            return check.text, True
        invented = unsupported_numbers(check.text, groups) if check.ok else ()
        problems = check.problems if not check.ok else invented
        if not problems:
            return check.text, False
        logger.info("answer attempt %d rejected: %s", number + 1, "; ".join(problems))
        # A model that says nothing, or states a figure no evidence holds ("the score was 0-0"), has
        # usually been asked something the articles don't say: the retry may answer "not covered".
        # A missing marker, a wrong marker or a wrong language doesn't open that door: the small model
        # drops markers from right answers, and offered the refusal then, it took it.
        allow_refusal = allow_refusal or check.empty or _states_unknown_figures(check.text, groups)
    return None


def _group_text(group: EvidenceGroup) -> str:
    return " ".join((group.title, group.date or "", *group.sentences))


def unsupported_numbers(text: str, groups: Sequence[EvidenceGroup]) -> tuple[str, ...]:
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
    return bool(figures(strip_markers(text)) - figures(" ".join(_group_text(g) for g in groups)))

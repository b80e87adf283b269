"""The state of one question on its way through the answer path (``AnswerContext``).

Each step of ``bot.answering.qa.answer`` reads what the steps before it found here and adds its
own: the question as asked and as it stands alone, its language, what retrieval found, the scored
evidence, the verdict (answer, hedge or refuse), the quotes shown, and the reply being written.
Compositions (``bot.compose``) get the same object, so they all have one signature.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.answering.evidence import Evidence
from bot.answering.pipeline import Attempt, Pipeline
from bot.answering.reply import ReplyWriter
from bot.answering.retrieval import Retrieval
from bot.models import Answer, Source, TokenSink

Verdict = Literal["answer", "hedge", "refuse"]


def source_of(item: Evidence) -> Source:
    """The source an evidence sentence is cited by (numbered by the reply when first cited)."""
    passage = item.passage
    return Source(0, item.article_id, passage.title, passage.url, passage.date)


@dataclass
class AnswerContext:
    """One question's way through the answer path: what each step found, and the reply being written."""

    pipeline: Pipeline
    asked: str
    """The question as asked (cut to ``max_question_chars``)."""
    language: str
    on_token: TokenSink | None
    started: float = field(default_factory=time.perf_counter)
    question: str = ""
    """The question as it stands alone (a follow-up condensed): what retrieval and the model see."""
    retrieval: Retrieval | None = None
    evidence: list[Evidence] = field(default_factory=list)
    """Every candidate sentence, scored by the answerability model, best first."""
    verdict: Verdict = "refuse"
    quotes: list[Evidence] = field(default_factory=list)
    """The sentences shown, in the order shown."""
    writer: ReplyWriter | None = None
    attempt: Attempt = field(default_factory=Attempt)
    note: str | None = None
    typed: str | None = None
    """The typed answer shown under the quotes, if any."""
    marked: list[str] = field(default_factory=list)
    """Words of the quotes that answer, for front ends that can mark them."""

    def phrase(self, key: str) -> str:
        """A fixed phrase in the asker's language."""
        return self.pipeline.prompts.phrase(key, self.language)

    def open_reply(self) -> ReplyWriter:
        """The writer of this reply, streaming to ``on_token``."""
        self.writer = ReplyWriter(self.pipeline.prompts, self.language, self.on_token, started=self.started)
        return self.writer

    def answer(self, text: str, sources: Sequence[Source], mode: str, *, refused: bool = False) -> Answer:
        """The finished ``Answer`` with this context's timings and what retrieval found."""
        writer = self.writer
        first_useful = writer.first_useful if writer is not None and not refused else None
        return Answer(
            text=text,
            language=self.language,
            sources=tuple(sources),
            refused=refused,
            mode=mode,
            retrieved=self.retrieval.articles if self.retrieval is not None else (),
            question=self.question or self.asked,
            note=self.note,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            first_token_ms=self.attempt.first_token_ms(self.started),
            first_useful_ms=(first_useful - self.started) * 1000 if first_useful is not None else None,
            quotes=tuple(item.sentence for item in self.quotes) if not refused else (),
            typed=self.typed,
            marked=tuple(dict.fromkeys(self.marked)) if not refused else (),
        )

"""Reply step, HTTP side: the one place the server reads ``bot.models.Answer``.

Everything the API sends about an answer is built here: the text a person reads with its
"Sources" list (the OpenAI-compatible ``content``), the statements with their markers, and
the structured sources with their quoted sentences placed in the article as it reads now
(paragraph number and text, as the Telegram source buttons show them). When ``Answer``
gains fields, this module is the one to update.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bot.answering.prompts import Prompts
from bot.checks.markers import markers, strip_markers
from bot.checks.sentences import sentence_spans
from bot.models import Answer, Source, Turn
from bot.telegram.quotes import locate, paragraph_spans

_BULLET = "• "
_OPENING_QUOTES = "“„«\"'‘‚‹「"
_SOURCES_BLOCK = re.compile(r"\n\n[^\n]*\n(?:\[\d+\] [^\n]*(?:\n|$))+\s*$")


@dataclass(frozen=True)
class Statement:
    """One unit of an answer: a verbatim ``quote``, a model ``statement`` or a ``note``, with its markers.

    ``delta`` is the exact text it adds to the answer (its leading separator and any framing line
    included), so the deltas of an answer's statements, joined, are its text.
    """

    kind: str
    text: str
    markers: tuple[int, ...]
    delta: str

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "markers": list(self.markers)}


def _kind(unit: str) -> str:
    if unit.startswith(_BULLET):
        return "quote"
    if not markers(unit):
        return "note"
    return "quote" if strip_markers(unit).lstrip().startswith(tuple(_OPENING_QUOTES)) else "statement"


def _units(text: str) -> Iterator[tuple[int, int]]:
    """Spans of the answer's units: each bullet line whole, other lines cut into sentences."""
    offset = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith(_BULLET) or not stripped:
            if stripped:
                yield offset + line.index(stripped), offset + len(line.rstrip())
        else:
            for start, end in sentence_spans(line):
                if line[start:end].strip():
                    yield offset + start, offset + end
        offset += len(line) + 1


def statements(text: str) -> list[Statement]:
    """The units of ``text`` (a whole answer or one streamed piece of it), in order.

    A line without markers right before a quote (the framing "Here is what the articles say:") rides
    with that quote; a sentence's markers that stand after it ("… plant. [1]") stay with it.
    """
    spans = list(_units(text))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and not strip_markers(text[start:end]).strip():  # a marker standing on its own
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    found: list[Statement] = []
    taken = 0
    pending = ""
    for index, (start, end) in enumerate(merged):
        unit = text[start:end].strip()
        kind = _kind(unit)
        delta = pending + text[taken:end]
        taken = end
        following = (
            _kind(text[merged[index + 1][0] : merged[index + 1][1]].strip())
            if index + 1 < len(merged)
            else None
        )
        if kind == "note" and following == "quote" and "\n" in text[end : merged[index + 1][0]]:
            pending = delta  # the framing line of the quotes below it
            continue
        pending = ""
        found.append(Statement(kind, unit, tuple(markers(unit)), delta))
    tail = pending + text[taken:]
    if found and tail:
        last = found[-1]
        found[-1] = Statement(last.kind, last.text, last.markers, last.delta + tail)
    elif tail.strip():
        found.append(Statement("note", tail.strip(), (), tail))
    return found


def sources_block(answer: Answer, prompts: Prompts) -> str:
    """The "Sources" list a person reads under the answer: marker, title, link or id, date."""
    if not answer.sources:
        return ""
    lines = [f"{prompts.phrase('sources', answer.language)}:"]
    for source in sorted(answer.sources, key=lambda s: s.marker):
        where = (
            source.url if source.url and source.url.startswith(("http://", "https://")) else source.article_id
        )
        line = f"[{source.marker}] {' '.join(source.title.split()) or source.article_id} — {where}"
        lines.append(line + (f" · {source.date}" if source.date else ""))
    return "\n".join(lines)


def content(answer: Answer, prompts: Prompts) -> str:
    """The answer as a person reads it: its text, markers included, then the sources list."""
    block = sources_block(answer, prompts)
    return f"{answer.text}\n\n{block}" if block else answer.text


def history_answer(text: str) -> str:
    """An assistant message given back as history, without the sources list ``content`` put under it."""
    return _SOURCES_BLOCK.sub("", text).strip()


def turn(question: str, answer_text: str, language: str) -> Turn:
    return Turn(question, history_answer(answer_text), language)


def source_record(source: Source, article: str | None) -> dict[str, Any]:
    """One source with its quoted sentences, each placed in the article as it reads now.

    ``paragraph`` counts from 1 (0 is the headline, None: not found, the article changed or is gone);
    ``context`` is that paragraph's text.
    """
    quotes: list[dict[str, Any]]
    paragraphs: int | None = None
    if article is None:
        quotes = [{"sentence": s, "paragraph": None, "context": None} for s in source.evidence]
    else:
        located, paragraphs = locate(source.evidence, article, source.title)
        spans = paragraph_spans(article)
        headline = paragraphs < len(spans)
        quotes = []
        for item in located:
            context = None
            if item.paragraph is not None:
                index = item.paragraph if headline else item.paragraph - 1
                context = article[spans[index][0] : spans[index][1]].strip()
            quotes.append({"sentence": item.sentence, "paragraph": item.paragraph, "context": context})
    return {
        "marker": source.marker,
        "id": source.article_id,
        "title": source.title,
        "url": source.url,
        "date": source.date,
        "quotes": quotes,
        "paragraphs": paragraphs,
    }


def source_records(answer: Answer, article_text: Callable[[str], str | None]) -> tuple[dict[str, Any], ...]:
    """Every source of ``answer`` by marker, its quotes placed in the article ``article_text`` gives for its id."""
    ordered = sorted(answer.sources, key=lambda s: s.marker)
    return tuple(source_record(source, article_text(source.article_id)) for source in ordered)


def extra_field(answer: Answer, sources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The ``newsbot`` field of an OpenAI response: how the answer was made and its sources with their quotes."""
    return {
        "language": answer.language,
        "refused": answer.refused,
        "mode": answer.mode,
        "note": answer.note,
        "sources": list(sources),
    }


def answer_record(answer: Answer, sources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The native form of an answer (POST /v1/answers): every field a client may show or check."""
    return {
        "question": answer.question,
        "language": answer.language,
        "refused": answer.refused,
        "mode": answer.mode,
        "text": answer.text,
        "note": answer.note,
        "statements": [item.record() for item in statements(answer.text)],
        "sources": list(sources),
        "latency_ms": round(answer.latency_ms, 1),
    }


def fell_back(answer: Answer, mode: str) -> bool:
    """Whether a model was meant to answer and the reply is quotes only (it failed, or nothing held up)."""
    return mode != "extractive" and answer.mode == "extractive" and not answer.refused

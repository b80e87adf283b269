"""Reply step: the answer as the user sees it, written append-only while it streams.

Quotes come first (verbatim evidence, known a few hundred ms after the
question), then the model's sentences that passed the checks. Sources are
numbered in the order the reply first cites them, so what has been streamed is
already final: nothing shown is renumbered or taken back. A sentence said twice
is written once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import replace

from bot.answering.prompts import Prompts
from bot.checks.markers import strip_markers
from bot.checks.sentences import split_sentences
from bot.models import Source, TokenSink
from index.text.words import ALPHANUMERIC

_END = re.compile(r"[.!?…]+$")


def _key(text: str) -> str:
    return " ".join(word.lower() for word in ALPHANUMERIC.findall(strip_markers(text)))


def cited(text: str, marker: int) -> str:
    """``text`` (its own markers dropped) with ``[marker]`` at the end of each of its sentences."""
    body = " ".join(strip_markers(text).split())
    sentences = [s.strip() for s in split_sentences(body) if s.strip()] or [body]
    out = []
    for sentence in sentences:
        end = _END.search(sentence)
        stop = end.group(0) if end else "."
        core = sentence[: end.start()] if end else sentence
        out.append(f"{core.rstrip()} [{marker}]{stop}")
    return " ".join(out)


class ReplyWriter:
    """Builds the reply, sending each finished piece to the sink at once."""

    def __init__(
        self, prompts: Prompts, language: str, sink: TokenSink | None, *, started: float
    ) -> None:
        self._prompts = prompts
        self._language = language
        self._sink = sink
        self._started = started
        self._text = ""
        self._sources: list[Source] = []
        self._number: dict[str, int] = {}
        self._backing: dict[str, list[str]] = {}
        self._remark_last = False
        self._said: set[str] = set()
        self.first_useful: float | None = None
        self.statements = 0
        """Model sentences written (quotes not counted)."""
        self.quotes = 0

    @property
    def text(self) -> str:
        return self._text

    @property
    def sources(self) -> tuple[Source, ...]:
        """The cited sources, each with the evidence sentences the reply relies on."""
        return tuple(replace(s, evidence=tuple(self._backing[s.article_id])) for s in self._sources)

    @property
    def shown(self) -> bool:
        """Whether some of the reply has reached the user already."""
        return self.first_useful is not None

    @property
    def empty(self) -> bool:
        return not self._text.strip()

    def _marker(self, source: Source, backing: Sequence[str]) -> int:
        number = self._number.get(source.article_id)
        if number is None:
            number = self._number[source.article_id] = len(self._sources) + 1
            self._sources.append(replace(source, marker=number))
        relied = self._backing.setdefault(source.article_id, [])
        relied.extend(sentence for sentence in backing if sentence not in relied)
        return number

    def _emit(self, piece: str) -> None:
        self._remark_last = False
        self._text += piece
        if self.first_useful is None:
            self.first_useful = time.perf_counter()
        if self._sink is not None:
            self._sink(piece)

    def quote_block(self, quotes: Sequence[tuple[str, Source]]) -> None:
        """The verbatim sentences under the framing line, one bullet each, in the article's language."""
        fresh = [(q, s) for q, s in quotes if _key(q) not in self._said]
        if not fresh:
            return
        phrase = self._prompts.phrase
        lines = [phrase("extractive_intro", self._language)] if not self._text else []
        for quote, source in fresh:
            self._said.add(_key(quote))
            lines.append(f"• {self._quoted(quote)} [{self._marker(source, [quote])}]")
        self._emit(("\n" if self._text else "") + "\n".join(lines))
        self.quotes += len(fresh)

    def _quoted(self, sentence: str) -> str:
        phrase = self._prompts.phrase
        return f"{phrase('quote_open', self._language)}{sentence}{phrase('quote_close', self._language)}"

    def has_said(self, text: str) -> bool:
        return _key(text) in self._said

    def statement(self, text: str, source: Source, backing: Sequence[str] = ()) -> bool:
        """A checked model sentence with its marker; False (nothing written) when it was said already.

        ``backing`` is the evidence of ``source`` the sentence was checked against.
        """
        key = _key(text)
        if not key or key in self._said:
            return False
        self._said.add(key)
        separator = self._separator()
        if not self.statements and self.quotes and separator.startswith("\n"):
            # Under the quotes, the model's sentence says what it is: a rendering of them, which a
            # 1.5B model gets wrong often enough (benchmarks/data/answer_review.md) to say so.
            separator += self._prompts.phrase("model_summary_label", self._language) + " "
        self._emit(separator + cited(text, self._marker(source, backing)))
        self.statements += 1
        return True

    def typed_answer(self, label: str, value: str, source: Source, sentence: str) -> None:
        """A short typed answer on its own line ("Answer: 4 h [1]"), backed by ``sentence`` of ``source``."""
        line = f"{label} {value} [{self._marker(source, [sentence])}]"
        self._emit(f"\n\n{line}" if self._text else line)
        self.statements += 1

    def inline_quote(self, sentence: str, source: Source) -> bool:
        """An evidence sentence quoted in the answer's paragraph, in place of a statement that failed."""
        key = _key(sentence)
        if key in self._said:
            return False
        self._said.add(key)
        self._emit(f"{self._separator()}{self._quoted(sentence)} [{self._marker(source, [sentence])}]")
        self.quotes += 1
        return True

    def cite(self, sentence: str, source: Source) -> int:
        """The marker of ``source``, recording ``sentence`` as evidence the reply relies on."""
        return self._marker(source, [sentence])

    def line(self, text: str) -> None:
        """A line of its own under what was written (a remark with its own markers)."""
        self._emit(("\n" if self._text else "") + text)
        self._remark_last = True

    def note(self, text: str) -> None:
        self._emit(("\n\n" if self._text else "") + text)

    def _separator(self) -> str:
        if not self._text:
            return ""
        # The quote block ends with a bullet line (or a remark under it); the answer is its own paragraph.
        last_line = self._text.rsplit("\n", 1)[-1]
        return "\n\n" if last_line.startswith("• ") or self._remark_last else " "

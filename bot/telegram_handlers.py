"""Reply step, Telegram side: the handlers for questions, everyday commands, the allow-list and errors.

Each handler parses an update, calls the backend in a worker thread and
renders the result; answers stream through :mod:`bot.telegram_stream`. One
lock per chat keeps that chat's answers in order while other chats run on.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
import re
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.chat_store import ChatStore
from bot.config import Settings
from bot.models import Backend, Turn
from bot.questions import asks_something
from bot.telegram_format import Texts, page_count, render_answer, render_article, user_language
from bot.telegram_stream import NO_LINK_PREVIEWS, deliver, stream_answer
from index.errors import NewsbotError
from index.language import detect_language
from index.models import ArticleInfo

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

SOURCES_PER_PAGE = 15


def addressed_text(message: Message, bot_id: int, username: str | None) -> str | None:
    """The text of a group message meant for the bot, mention removed; ``None`` when it is not for the bot."""
    text = message.text or ""
    mentions = [
        value
        for entity, value in message.parse_entities(
            [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
        ).items()
        if (entity.type == MessageEntity.MENTION and username and value[1:].lower() == username.lower())
        or (
            entity.type == MessageEntity.TEXT_MENTION and entity.user is not None and entity.user.id == bot_id
        )
    ]
    replied_to = message.reply_to_message.from_user if message.reply_to_message is not None else None
    if not mentions and (replied_to is None or replied_to.id != bot_id):
        return None
    for value in mentions:
        text = text.replace(value, " ")
    return re.sub(r"^[\s,:;.!-]+", "", " ".join(text.split()))


class RateLimiter:
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


def _is_our_command(message: Message, username: str | None) -> bool:
    """A ``/command`` that is not addressed to another bot (``/help@other_bot``)."""
    words = (message.text or "").split(maxsplit=1)
    if not words or not words[0].startswith("/"):
        return False
    _, at, target = words[0].partition("@")
    return not at or (username is not None and target.lower() == username.lower())


def _is_group(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type != Chat.PRIVATE


class ChatHandlers:
    """Questions, the everyday commands, the allow-list gate and the one error handler."""

    def __init__(
        self, settings: Settings, backend: Backend, texts: Texts, store: ChatStore, stream_interval: float
    ) -> None:
        self._tg = settings.telegram
        self._backend = backend
        self._texts = texts
        self._store = store
        self._interval = stream_interval
        self._limiter = RateLimiter(self._tg.rate_limit, self._tg.rate_window)
        # One lock per chat keeps its answers in order; a lock nobody holds or awaits is dropped.
        self._chat_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def _chat_lock(self, chat_id: int) -> asyncio.Lock:
        lock = self._chat_locks.get(chat_id)
        if lock is None:
            lock = self._chat_locks[chat_id] = asyncio.Lock()
        return lock

    async def gate(self, update: Update, context: Context) -> None:
        """Stop updates from users outside the allow-list, telling them so when they spoke to the bot."""
        user = update.effective_user
        if user is None:
            raise ApplicationHandlerStop
        tg = self._tg
        if not tg.allowed_users or user.id in tg.allowed_users or user.id in tg.admins:
            return
        logger.info("Refused user %s (not in allowed_users)", user.id)
        text = self._texts.say("not_allowed", user_language(user.language_code))
        message = update.message  # not edits: one refusal per message is enough
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif message is not None and (
            not _is_group(update)
            or _is_our_command(message, context.bot.username)
            or addressed_text(message, context.bot.id, context.bot.username) is not None
        ):
            await message.reply_text(text)
        raise ApplicationHandlerStop

    async def start(self, update: Update, context: Context) -> None:
        """``/start``: greet and say how to ask."""
        user, message = update.effective_user, update.effective_message
        if user is not None and message is not None:
            lang = user_language(user.language_code)
            await message.reply_text(self._texts.say("start", lang, name=user.first_name))

    async def help(self, update: Update, context: Context) -> None:
        """``/help``: what the index holds (articles, languages, dates) and how to ask."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None:
            return
        lang = user_language(user.language_code)
        stats = await asyncio.to_thread(self._backend.stats)
        if stats.articles == 0:
            await message.reply_text(self._texts.say("no_articles", lang))
            return
        by_count = sorted(stats.languages.items(), key=lambda kv: (-kv[1], kv[0]))
        languages = ", ".join(f"{code} ({count})" for code, count in by_count)
        if stats.date_min and stats.date_max:
            dates = self._texts.say("date_range", lang, first=stats.date_min, last=stats.date_max)
        else:
            dates = self._texts.say("date_unknown", lang)
        await message.reply_text(
            self._texts.say(
                "help",
                lang,
                articles=stats.articles,
                languages=languages,
                date_range=dates,
                bot=context.bot.username,
            )
        )

    async def reset(self, update: Update, context: Context) -> None:
        """``/reset``: forget this chat's history."""
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None:
            return
        async with self._chat_lock(chat.id):
            self._store.reset(chat.id)
        await message.reply_text(self._texts.say("reset_done", user_language(user.language_code)))

    def _sources_view(
        self, articles: Sequence[ArticleInfo], page: int, lang: str
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        ordered = sorted(articles, key=lambda a: (a.date or "", a.title), reverse=True)
        pages = page_count(len(ordered), SOURCES_PER_PAGE)
        page = min(max(page, 1), pages)
        first = (page - 1) * SOURCES_PER_PAGE
        header = self._texts.say("sources_page", lang, page=page, pages=pages, count=len(ordered))
        lines = [f"<b>{html.escape(header, quote=False)}</b>"]
        lines += [render_article(first + i + 1, a) for i, a in enumerate(ordered[first:][:SOURCES_PER_PAGE])]
        buttons = [
            InlineKeyboardButton(self._texts.say(key, lang), callback_data=f"sources:{target}")
            for key, target, shown in (
                ("previous_page", page - 1, page > 1),
                ("next_page", page + 1, page < pages),
            )
            if shown
        ]
        return "\n".join(lines), InlineKeyboardMarkup([buttons]) if buttons else None

    async def sources(self, update: Update, context: Context) -> None:
        """``/sources [page]``: the indexed articles, a page at a time, with buttons to turn pages."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None:
            return
        lang = user_language(user.language_code)
        articles = await asyncio.to_thread(self._backend.articles)
        if not articles:
            await message.reply_text(self._texts.say("no_articles", lang))
            return
        wanted = context.args[0] if context.args else ""
        # isdecimal, not isdigit: "²" is a digit that int() refuses.
        page = int(wanted) if wanted.isdecimal() and len(wanted) <= 6 else 1
        text, keyboard = self._sources_view(articles, page, lang)
        await message.reply_text(
            text, parse_mode=ParseMode.HTML, reply_markup=keyboard, link_preview_options=NO_LINK_PREVIEWS
        )

    async def sources_page(self, update: Update, context: Context) -> None:
        """A page button under ``/sources``: show that page in the same message."""
        query = update.callback_query
        if query is None or query.data is None:
            return
        await query.answer()
        lang = user_language(query.from_user.language_code)
        articles = await asyncio.to_thread(self._backend.articles)
        if not articles:
            await query.edit_message_text(self._texts.say("no_articles", lang))
            return
        text, keyboard = self._sources_view(articles, int(query.data.split(":")[1]), lang)
        try:
            await query.edit_message_text(
                text, parse_mode=ParseMode.HTML, reply_markup=keyboard, link_preview_options=NO_LINK_PREVIEWS
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():  # a double press shows the same page again
                raise

    async def question(self, update: Update, context: Context) -> None:
        """A text message: answer it from the articles, streaming, with sources; remember the turn."""
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None or message.text is None:
            return
        user_lang = user_language(user.language_code)
        group = _is_group(update)
        question = (
            addressed_text(message, context.bot.id, context.bot.username) if group else message.text.strip()
        )
        if question is None:
            return
        if not question:
            await message.reply_text(self._texts.say("empty_question", user_lang))
            return
        if not asks_something(question):  # emoji, punctuation, bare [1] markers: nothing to look up
            await message.reply_text(self._texts.say("ask_a_question", user_lang))
            return
        wait = self._limiter.acquire(user.id)
        if wait:
            lang = await asyncio.to_thread(detect_language, question, user_lang)
            logger.info("Rate limit hit by user %s", user.id)
            await message.reply_text(self._texts.say("rate_limited", lang, seconds=max(1, round(wait))))
            return
        async with self._chat_lock(chat.id):
            history = self._store.history(chat.id)
            answer = await stream_answer(
                message,
                lambda on_token: self._backend.answer(question, history, on_token),
                lambda answer: render_answer(
                    answer, self._texts.say("sources", answer.language or user_lang)
                ),
                interval=self._interval,
                quote=group,
            )
            self._store.append(chat.id, Turn(question=question, answer=answer.text, language=answer.language))

    async def on_error(self, update: object, context: Context) -> None:
        """The one error handler: log with the traceback, then send a short apology in the user's language.

        What went wrong (paths, database errors) goes only to the log and to admins, never to other users.
        """
        error = context.error
        if isinstance(error, NetworkError | Forbidden) and not isinstance(error, BadRequest):
            logger.warning("Telegram error: %s", error)
        else:
            logger.error("Error while handling an update: %s", error, exc_info=error)
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        user, message = update.effective_user, update.effective_message
        lang = user_language(user.language_code if user is not None else None)
        if message is not None and message.text and not message.text.startswith("/"):
            lang = await asyncio.to_thread(detect_language, message.text, lang)
        text = self._texts.say("error_apology", lang)
        if user is not None and user.id in self._tg.admins and error is not None:
            # An admin can act on the detail (a setting, a full disk); a NewsbotError's text says what to do.
            text = (
                str(error)
                if isinstance(error, NewsbotError)
                else f"{text}\n\n{type(error).__name__}: {error}"
            )
        chat_id = update.effective_chat.id
        try:
            await deliver(functools.partial(context.bot.send_message, chat_id, text))
        except TelegramError as exc:
            logger.warning("Could not send the error message: %s", exc)

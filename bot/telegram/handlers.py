"""Reply step, Telegram side: the handlers for questions, everyday commands, the allow-list and errors.

Each handler parses an update, calls the backend in a worker thread and
renders the result; answers stream through :mod:`bot.telegram.stream`. One
lock per chat keeps that chat's answers in order while other chats run on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import secrets
import weakref
from typing import Any

from telegram import Chat, Message, MessageEntity, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import Application, ApplicationHandlerStop, CommandHandler, ContextTypes

from bot.answering.questions import asks_something
from bot.config import Settings
from bot.models import Answer, Backend, Turn
from bot.telegram.chat_store import ChatStore
from bot.telegram.format import Texts, render_answer, user_language
from bot.telegram.rate_limiter import RateLimiter
from bot.telegram.stream import NO_LINK_PREVIEWS, Drafts, Reply, deliver, stream_answer
from bot.telegram.views import source_buttons, sources_listing
from index.text.language import detect_language

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


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


def _is_our_command(message: Message, username: str | None) -> bool:
    """A ``/command`` that is not addressed to another bot (``/help@other_bot``)."""
    words = (message.text or "").split(maxsplit=1)
    if not words or not words[0].startswith("/"):
        return False
    _, at, target = words[0].partition("@")
    return not at or (username is not None and target.lower() == username.lower())


_SHOWN_COMMAND = 40
"""Most characters of an unknown command repeated back."""


def _known_command(application: Application[Any, Any, Any, Any, Any, Any], name: str) -> bool:
    """Whether a command handler of ``application``, in any group, answers ``/name``."""
    return any(
        isinstance(handler, CommandHandler) and name.lower() in handler.commands
        for handlers in application.handlers.values()
        for handler in handlers
    )


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
        self._drafts = Drafts(enabled=self._tg.drafts)
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
        text, keyboard = sources_listing(articles, page, lang, self._texts)
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
        text, keyboard = sources_listing(articles, int(query.data.split(":")[1]), lang, self._texts)
        try:
            await query.edit_message_text(
                text, parse_mode=ParseMode.HTML, reply_markup=keyboard, link_preview_options=NO_LINK_PREVIEWS
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():  # a double press shows the same page again
                raise

    async def unknown_command(self, update: Update, context: Context) -> None:
        """A ``/command`` no handler of the bot knows: a short hint pointing at /help, in the user's language.

        Registered in a group of its own after every other handler, it checks the application's command
        handlers itself, so a command registered after it (or in another module) still wins. In a group
        chat it speaks only when the command names this bot (``/foo@newsbot``): the others may be another bot's.
        """
        user, message = update.effective_user, update.effective_message
        if user is None or message is None or not message.text or not message.text.startswith("/"):
            return
        if not _is_our_command(message, context.bot.username):
            return
        word = message.text.split(maxsplit=1)[0]
        name, at, _ = word[1:].partition("@")
        if (_is_group(update) and not at) or _known_command(context.application, name):
            return
        shown = word if len(word) <= _SHOWN_COMMAND else word[:_SHOWN_COMMAND] + "…"
        lang = user_language(user.language_code)
        await message.reply_text(self._texts.say("unknown_command", lang, command=shown))

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
                lambda answer: self._reply(chat.id, answer, user_lang),
                interval=self._interval,
                quote=group,
                drafts=None if group else self._drafts,
            )
            turn = Turn(question=question, answer=answer.text, language=answer.language)
            try:
                self._store.append(chat.id, turn)
            except OSError as exc:  # the answer is out; a follow-up question loses its context, no more
                logger.warning("Could not remember the turn in chat %s: %s", chat.id, exc)

    def _reply(self, chat_id: int, answer: Answer, user_lang: str) -> Reply:
        """The final messages of an answer, with a button per quoted source (saved first, so it works at once)."""
        parts = render_answer(answer, self._texts.say("sources", answer.language or user_lang))
        try:
            saved = self._store.save_answer(chat_id, answer)
        except OSError as exc:  # a full disk costs the buttons, not the answer
            logger.warning("Could not save the sources of an answer in chat %s: %s", chat_id, exc)
            saved = None
        return Reply(parts, source_buttons(saved.sources, saved.key) if saved is not None else None)

    async def on_error(self, update: object, context: Context) -> None:
        """The one error handler: log with the traceback, then send a short apology in the user's language.

        What went wrong (paths, settings, database errors) goes only to the log, under a short reference
        that admins are given with their apology; no chat ever sees it.
        """
        error = context.error
        reference = secrets.token_hex(3)
        if isinstance(error, NetworkError | Forbidden) and not isinstance(error, BadRequest):
            logger.warning("Telegram error [%s]: %s", reference, error)
        else:
            logger.error("Error while handling an update [%s]: %s", reference, error, exc_info=error)
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        user, message, query = update.effective_user, update.effective_message, update.callback_query
        lang = user_language(user.language_code if user is not None else None)
        if query is None and message is not None and message.text and not message.text.startswith("/"):
            lang = await asyncio.to_thread(detect_language, message.text, lang)
        text = self._texts.say("error_apology", lang)
        if user is not None and user.id in self._tg.admins:
            text += " " + self._texts.say("error_logged", lang, ref=reference)
        try:
            if query is not None:  # a button: the apology in the alert, not in the chat
                try:
                    await query.answer(text, show_alert=True)
                    return
                except BadRequest:  # already answered, or too old to answer
                    pass
            await deliver(functools.partial(context.bot.send_message, update.effective_chat.id, text))
        except TelegramError as exc:
            logger.warning("Could not send the error message: %s", exc)

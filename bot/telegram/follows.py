"""Follow step, Telegram side: /follow, /following, /unfollow, /digest, and the alerts and daily digests sent unasked.

A chat's follows are kept with its history (``bot.follow.book`` over the chat store). After every
reindex that adds or changes articles (this bot's feed poll, an upload, a link: told at once by the
backend; another process's `newsbot reindex`: seen in the arrival log every
``NEWSBOT_FOLLOW__CHECK_SECONDS``) the new articles are matched against every follow in a worker
thread (``bot.follow.engine``), and each story that concerns a follow is one message with the
best quote and a source button per article, which works as an answer's do (the messages are
:mod:`bot.telegram.follow_views`). Alerts over
``NEWSBOT_FOLLOW__MAX_PER_HOUR`` in a chat are left for its digest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import re
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Bot, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ContextTypes

from bot.config import Settings
from bot.follow.book import FollowBook
from bot.follow.engine import FollowEngine, engine_for
from bot.follow.models import Alert
from bot.models import Backend
from bot.telegram.chat_store import ChatStore
from bot.telegram.follow_views import (
    alert_answer,
    alert_html,
    digest_due,
    digest_html,
    parse_hours,
    parse_time,
)
from bot.telegram.format import Texts, user_language
from bot.telegram.stream import NO_LINK_PREVIEWS, deliver
from bot.telegram.views import source_buttons
from index.errors import NewsbotError
from index.models import ReindexReport
from index.text.language import detect_language

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
AnyApplication = Application[Any, Any, Any, Any, Any, Any]
CURSOR = "telegram"
"""The bot's place in the arrival log."""


class FollowHandlers:
    """The follow commands, and the jobs that send alerts and daily digests."""

    def __init__(self, settings: Settings, backend: Backend, texts: Texts, store: ChatStore) -> None:
        self._settings = settings
        self._follow = settings.follow
        self._tg = settings.telegram
        self._texts = texts
        self._store = store
        self.book = FollowBook(store, limit=settings.follow.max_per_chat)
        self.engine = _engine_for(backend)
        self._zone = ZoneInfo(settings.follow.timezone)
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._app: AnyApplication | None = None
        listeners = getattr(backend, "reindex_listeners", None)
        if self.engine is not None and isinstance(listeners, list):
            listeners.append(self._reindexed)

    def schedule(self, app: AnyApplication) -> None:
        """The jobs: look for new articles another process indexed, and send the daily digests."""
        self._app = app
        if self.engine is None:
            return
        if app.job_queue is None:
            logger.warning("No job queue: follows are checked only after this bot's own reindexes")
            return
        app.job_queue.run_repeating(self.check, interval=self._follow.check_seconds, first=1, name="follows")
        app.job_queue.run_repeating(self.daily, interval=60, first=5, name="digests")

    # -- commands -------------------------------------------------------------------------------

    async def follow(self, update: Update, context: Context) -> None:
        """``/follow <question or topic>``: follow it in this chat."""
        self._loop = asyncio.get_running_loop()
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None:
            return
        user_lang = user_language(user.language_code)
        text = " ".join(context.args or ())
        if not re.search(r"[^\W_]", text):
            await message.reply_text(self._texts.say("follow_usage", user_lang))
            return
        lang = await asyncio.to_thread(detect_language, text, user_lang)
        added = self.book.add(chat.id, text, lang, user=user.id)
        if added is None:
            await message.reply_text(self._texts.say("follow_limit", lang, limit=self._follow.max_per_chat))
            return
        logger.info("Chat %s follows %r", chat.id, added.text)
        await message.reply_text(self._texts.say("follow_added", lang, number=added.number, text=added.text))

    async def following(self, update: Update, context: Context) -> None:
        """``/following``: the chat's follows, numbered."""
        self._loop = asyncio.get_running_loop()
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None:
            return
        lang = user_language(user.language_code)
        follows = self.book.follows(chat.id)
        if not follows:
            await message.reply_text(self._texts.say("following_none", lang))
            return
        lines = [self._texts.say("following_list", lang)]
        lines += [f"{f.number}. {f.text}" for f in follows]
        await message.reply_text("\n".join(lines))

    async def unfollow(self, update: Update, context: Context) -> None:
        """``/unfollow N``: stop following the chat's follow number N."""
        self._loop = asyncio.get_running_loop()
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None:
            return
        lang = user_language(user.language_code)
        wanted = context.args[0] if context.args else ""
        gone = self.book.remove(chat.id, int(wanted)) if wanted.isdecimal() and len(wanted) <= 4 else None
        if gone is None:
            await message.reply_text(self._texts.say("unfollow_usage", lang))
            return
        await message.reply_text(self._texts.say("unfollow_done", lang, text=gone.text))

    async def digest(self, update: Update, context: Context) -> None:
        """``/digest [hours]``, ``/digest daily 08:00``, ``/digest off``."""
        self._loop = asyncio.get_running_loop()
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None:
            return
        lang = user_language(user.language_code)
        args = [a.lower() for a in context.args or ()]
        if args[:1] == ["off"] or args == ["daily", "off"]:
            self.book.set_daily(chat.id, None, lang)
            await message.reply_text(self._texts.say("digest_daily_off", lang))
            return
        if args[:1] == ["daily"]:
            at = parse_time(args[1]) if len(args) == 2 else None
            if at is None:
                await message.reply_text(self._texts.say("digest_usage", lang))
                return
            self.book.set_daily(chat.id, at, lang)
            await message.reply_text(
                self._texts.say("digest_daily_set", lang, time=at, zone=self._follow.timezone)
            )
            return
        hours = parse_hours(args[0]) if len(args) == 1 else 24.0 if not args else None
        if hours is None:
            await message.reply_text(self._texts.say("digest_usage", lang))
            return
        await self._send_digest(context.bot, chat.id, lang, hours)

    # -- alerts -----------------------------------------------------------------------------------

    def _reindexed(self, report: ReindexReport) -> None:
        """Told by the backend (in its worker thread) that a reindex finished: check the new articles now."""
        loop, app = self._loop, self._app
        if (report.added or report.updated) and loop is not None and app is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._check_soon, app.bot)

    def _check_soon(self, bot: Bot) -> None:
        task = asyncio.get_running_loop().create_task(self._check(bot), name="follows-now")
        self._tasks.add(task)  # held until done: the loop keeps only a weak reference
        task.add_done_callback(self._tasks.discard)

    async def check(self, context: Context) -> None:
        """The job: alert on what arrived since the last check."""
        self._loop = asyncio.get_running_loop()
        await self._check(context.bot)

    async def _check(self, bot: Bot) -> None:
        engine = self.engine
        if engine is None:
            return
        async with self._lock:
            try:
                await self._check_once(bot, engine)
            except NewsbotError as exc:
                logger.warning("Follow check failed: %s", exc)

    async def _check_once(self, bot: Bot, engine: FollowEngine) -> None:
        log = engine.log
        cursor = await asyncio.to_thread(log.cursor, CURSOR)
        arrivals = await asyncio.to_thread(log.after, cursor or 0)
        if not arrivals:
            return
        chats = self.book.chats()
        oldest = min((f.created for follows in chats.values() for f in follows), default=None)
        fresh = [a for a in arrivals if oldest is not None and a.at >= oldest]
        if fresh:
            alerted = {
                (chat, follow): done for chat in chats for follow, done in self.book.alerted(chat).items()
            }
            recent = {
                (chat, follow): sent for chat in chats for follow, sent in self.book.recent(chat).items()
            }
            alerts = await asyncio.to_thread(engine.alerts, chats, fresh, alerted, recent)
            await self._deliver(bot, alerts)
        await asyncio.to_thread(log.set_cursor, CURSOR, arrivals[-1].seq)

    def _allowed(self, user: int | None) -> bool:
        tg = self._tg
        return not tg.allowed_users or (user is not None and (user in tg.allowed_users or user in tg.admins))

    async def _deliver(self, bot: Bot, alerts: Sequence[Alert]) -> None:
        """Send each alert once; over the hourly cap (or for a user no longer allowed) it waits for the digest.

        A story whose earlier sources were alerted already edits that message to list every source.
        """
        for alert in sorted(alerts, key=lambda a: -(a.story.quotes[0].score if a.story.quotes else 0.0)):
            chat, follow, new = alert.chat_id, alert.follow, alert.new_article_ids
            if not self._allowed(follow.user):
                self.book.mark(chat, follow.id, new, sent=False)
                continue
            if alert.replaces is not None:
                self.book.mark(chat, follow.id, new, sent=False)
                if await self._edit_alert(bot, alert, alert.replaces.message_id):
                    continue
            elif self._follow.max_per_hour - self.book.sent_last_hour(chat) <= 0:
                self.book.mark(chat, follow.id, new, sent=False)
                logger.info("Alert for chat %s left for the digest (over the hourly cap)", chat)
                continue
            self.book.mark(chat, follow.id, new, sent=True)  # before sending: never twice
            try:
                message_id = await self._send_alert(bot, alert)
            except (Forbidden, BadRequest) as exc:  # blocked, or the chat is gone: don't try again
                logger.warning("Alert to chat %s refused: %s", chat, exc)
            except TelegramError as exc:
                logger.warning("Alert to chat %s not delivered, will retry: %s", chat, exc)
                self.book.unmark(chat, follow.id, new)
            else:
                self.book.remember(chat, follow.id, message_id, alert.article_ids)

    def _rendered(self, alert: Alert) -> tuple[str, InlineKeyboardMarkup | None]:
        keyboard: InlineKeyboardMarkup | None = None
        try:
            saved = self._store.save_answer(alert.chat_id, alert_answer(alert))
            keyboard = source_buttons(saved.sources, saved.key) if saved is not None else None
        except OSError as exc:  # a full disk costs the buttons, not the alert
            logger.warning("Could not save the sources of an alert in chat %s: %s", alert.chat_id, exc)
        return alert_html(alert, self._texts), keyboard

    async def _send_alert(self, bot: Bot, alert: Alert) -> int:
        text, keyboard = self._rendered(alert)
        send = functools.partial(
            bot.send_message,
            alert.chat_id,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
            link_preview_options=NO_LINK_PREVIEWS,
        )
        return (await deliver(send)).message_id

    async def _edit_alert(self, bot: Bot, alert: Alert, message_id: int) -> bool:
        """Edit an earlier alert to list the story's new sources; False when that message can't be edited."""
        text, keyboard = self._rendered(alert)
        edit = functools.partial(
            bot.edit_message_text,
            text,
            chat_id=alert.chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
            link_preview_options=NO_LINK_PREVIEWS,
        )
        try:
            await deliver(edit)
        except TelegramError as exc:  # deleted, too old: a new message instead
            logger.info(
                "Could not edit alert %s in chat %s (%s): sending a new one", message_id, alert.chat_id, exc
            )
            return False
        self.book.remember(alert.chat_id, alert.follow.id, message_id, alert.article_ids)
        return True

    # -- digests ----------------------------------------------------------------------------------

    async def daily(self, context: Context) -> None:
        """The job: send each chat's daily digest once its time has come."""
        self._loop = asyncio.get_running_loop()
        now = dt.datetime.now(self._zone)
        for chat in self.book.daily_chats():
            schedule = self.book.daily(chat)
            if schedule is None or not digest_due(schedule[0], schedule[2], now):
                continue
            self.book.daily_sent(chat, now.date().isoformat())
            try:
                await self._send_digest(context.bot, chat, schedule[1], 24.0)
            except TelegramError as exc:
                logger.warning("Daily digest to chat %s not delivered: %s", chat, exc)

    async def _send_digest(self, bot: Bot, chat_id: int, lang: str, hours: float) -> None:
        engine = self.engine
        if engine is None:
            await deliver(functools.partial(bot.send_message, chat_id, self._texts.say("follows_off", lang)))
            return
        since = dt.datetime.now().timestamp() - hours * 3600
        digest = await asyncio.to_thread(engine.digest, since)
        for text in digest_html(digest, lang, self._texts, hours):
            await deliver(
                functools.partial(
                    bot.send_message,
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=NO_LINK_PREVIEWS,
                )
            )


def _engine_for(backend: Backend) -> FollowEngine | None:
    """The follow engine over the backend's index; ``None`` for a backend without one (follows kept, not checked)."""
    from bot.service import Newsbot

    return engine_for(backend) if isinstance(backend, Newsbot) else None

"""Indexing step, Telegram side: the admins' ``/reindex``, article uploads and links, and the feed poll.

All run the backend in a worker thread, one at a time (they write the same
index), so other chats keep being answered meanwhile. Everyone who is not in
``settings.telegram.admins`` gets a polite refusal; a link sent by someone else
is a question as any other message.
"""

from __future__ import annotations

import asyncio
import logging
import re

import httpx
from telegram import File, Message, MessageEntity, Update
from telegram.constants import ChatAction
from telegram.error import NetworkError
from telegram.ext import ContextTypes, filters

from bot.config import TelegramSettings
from bot.models import Backend
from bot.telegram.format import Texts, user_language
from index.errors import BadArticle, NewsbotError
from index.load.corpus import TEXT_SUFFIXES

logger = logging.getLogger(__name__)

_DOWNLOAD_TIMEOUT = 60.0


async def download_capped(file: File, limit: int) -> bytes | None:
    """The file's bytes, streamed; ``None`` as soon as more than ``limit`` bytes have arrived."""
    url = file.file_path or ""
    if not url.startswith(("http://", "https://")):  # a local Bot API server hands out paths
        data = bytes(await file.download_as_bytearray())
        return data if len(data) <= limit else None
    received = bytearray()
    try:
        async with (
            httpx.AsyncClient(timeout=_DOWNLOAD_TIMEOUT) as client,
            client.stream("GET", url) as response,
        ):
            if response.is_error:
                raise NetworkError(f"could not download the uploaded file: HTTP {response.status_code}")
            async for part in response.aiter_bytes():
                received += part
                if len(received) > limit:
                    return None
    except httpx.HTTPError as exc:
        # The URL carries the bot token: neither it nor the original exception goes any further.
        raise NetworkError(f"could not download the uploaded file: {type(exc).__name__}") from None
    return bytes(received)


_MAX_LINKS = 20


def message_links(message: Message) -> list[str]:
    """The http(s) links of a message: written out, or behind a link text."""
    links: list[str] = []
    for entity, value in message.parse_entities([MessageEntity.URL, MessageEntity.TEXT_LINK]).items():
        url = entity.url if entity.type == MessageEntity.TEXT_LINK and entity.url else value
        if "://" not in url:
            url = "https://" + url  # Telegram marks "example.com/news" as a link too
        if url.lower().startswith(("http://", "https://")) and url not in links:
            links.append(url)
    return links


class OnlyLinks(filters.MessageFilter):
    """A message that is nothing but links (an admin adding articles), not a question mentioning one."""

    def filter(self, message: Message) -> bool:
        links = message.parse_entities([MessageEntity.URL, MessageEntity.TEXT_LINK])
        if not links:
            return False
        rest = message.text or ""
        for value in links.values():
            rest = rest.replace(value, " ")
        return not re.search(r"[^\W_]", rest)


class AdminHandlers:
    """``/reindex`` and document uploads, for admins only."""

    def __init__(self, settings: TelegramSettings, backend: Backend, texts: Texts) -> None:
        self._tg = settings
        self._backend = backend
        self._texts = texts
        self._index_lock = asyncio.Lock()

    async def reindex(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/reindex``: bring the index in step with the corpus folder and report what changed."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None:
            return
        lang = user_language(user.language_code)
        if user.id not in self._tg.admins:
            await message.reply_text(self._texts.say("admin_only", lang))
            return
        await message.reply_text(self._texts.say("reindex_started", lang))
        async with self._index_lock:
            report = await asyncio.to_thread(self._backend.reindex)
        logger.info("Reindex by admin %s: %s", user.id, report.summary())
        await message.reply_text(self._texts.say("reindex_done", lang, summary=report.summary()))

    async def upload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A ``.txt``/``.md`` document: check type and size, download it, add it to the corpus and index."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None or message.document is None:
            return
        lang = user_language(user.language_code)
        document = message.document
        name = document.file_name or "article.txt"
        if user.id not in self._tg.admins:
            await message.reply_text(self._texts.say("admin_only", lang))
            return
        if not name.lower().endswith(TEXT_SUFFIXES):
            await message.reply_text(self._texts.say("upload_refused_type", lang, name=name))
            return
        limit = self._tg.max_upload_bytes

        def too_big(size: int) -> str:
            return self._texts.say(
                "upload_too_big", lang, name=name, size=-(-size // 1000), limit=limit // 1000
            )

        if document.file_size is not None and document.file_size > limit:
            await message.reply_text(too_big(document.file_size))
            return
        file = await document.get_file()
        # file_size is optional in the Bot API: what arrives is counted, and the download stopped past the limit.
        data = await download_capped(file, limit)
        if data is None:
            await message.reply_text(too_big(file.file_size or limit + 1))
            return
        async with self._index_lock:
            await message.reply_chat_action(ChatAction.TYPING)
            try:
                report = await asyncio.to_thread(self._backend.add_article, name, data)
            except BadArticle as exc:  # the file's own fault: the reason, never a path or a setting
                await message.reply_text(
                    self._texts.say(
                        "upload_rejected", lang, name=name, reason=exc.reason.removeprefix(f"{name}: ")
                    )
                )
                return
        saved = ", ".join((*report.added, *report.updated)) or name
        logger.info("Article %s uploaded by admin %s: %s", saved, user.id, report.summary())
        await message.reply_text(self._texts.say("upload_saved", lang, name=saved, summary=report.summary()))

    async def add_links(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A message of links from an admin: fetch the pages and feeds, add their articles, say what was added."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None or user.id not in self._tg.admins:
            return
        lang = user_language(user.language_code)
        urls = message_links(message)[:_MAX_LINKS]
        await message.reply_text(self._texts.say("links_started", lang, count=len(urls)))
        await message.reply_chat_action(ChatAction.TYPING)
        # Not under the index lock: the backend fetches first and takes its own lock to index.
        report, reindexed = await asyncio.to_thread(self._backend.add_links, urls)
        logger.info("Links from admin %s: %s", user.id, report.summary())
        lines = [f"+ {saved.title} ({saved.status})" for saved in report.saved]
        lines += [f"✗ {reason}" for _, reason in report.failed]
        summary = report.summary() + (f"; {reindexed.summary()}" if reindexed is not None else "")
        await message.reply_text(
            self._texts.say("links_done", lang, summary=summary)
            + ("\n\n" + "\n".join(lines) if lines else "")
        )

    async def poll_feeds(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The scheduled job: add what is new in the followed feeds, in a worker thread; failures are logged."""
        if self._index_lock.locked():
            logger.info("Feed poll skipped: the index is being written; next time")
            return
        try:  # not under the index lock either: the backend fetches first and takes its own lock to index
            report, reindexed = await asyncio.to_thread(self._backend.poll_feeds)
        except NewsbotError as exc:
            logger.warning("Feed poll failed: %s", exc)
            return
        except Exception:  # one bad poll must not fail every later one with it
            logger.exception("Feed poll failed")
            return
        for url, reason in report.failed:
            logger.warning("Feed poll: %s", reason if url in reason else f"{url}: {reason}")
        logger.info("Feed poll: %s%s", report.summary(), f"; {reindexed.summary()}" if reindexed else "")

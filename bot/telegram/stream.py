"""Reply step, Telegram side: stream one answer into a chat while the backend writes it.

The backend is synchronous, so it runs in a worker thread; its tokens hop back
to the event loop with ``call_soon_threadsafe`` and are shown as plain text (a
partial answer may hold half an HTML tag) at most once per interval, except the
first text (the answering quote), which is shown as soon as it arrives.
"typing…" is kept up until then.

In private chats the growing text is a draft (``sendMessageDraft``) and one
final ``sendMessage`` persists the answer; in groups, or where the Bot API
refuses drafts, it is a message edited in place and the final edit carries the
rendered HTML (if that edit fails the answer is sent anew). Final messages are
retried with backoff through a Bot API outage of up to about a minute
(``deliver``), so an answer is never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import stamina
from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, NetworkError, TelegramError

from bot.models import Answer, TokenSink
from bot.telegram.format import preview_text

logger = logging.getLogger(__name__)

NO_LINK_PREVIEWS = LinkPreviewOptions(is_disabled=True)
TYPING_EVERY = 4.5
"""Seconds between "typing…" actions: Telegram shows one for about five seconds."""
DRAFT_REFRESH = 20.0
"""Seconds after which an unchanged draft is sent again: Telegram drops a draft after about 30."""
# Waits of 1, 2, 4, 8, 15, 15… s (with jitter): about a minute of outage is ridden out; then give up.
_DELIVERY_ATTEMPTS = 9
_DELIVERY_BUDGET = 90.0
_REFUSED_CHATS = 10_000

T = TypeVar("T")


def _transient(exc: Exception) -> bool:
    """A failure the Bot API may not repeat: the network or a 5xx (PTB's NetworkError), not a BadRequest.

    429 is not here: the application's AIORateLimiter already waits out RetryAfter.
    """
    return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)


async def deliver(send: Callable[[], Awaitable[T]]) -> T:
    """``send()``, retried with backoff while the Bot API is unreachable or failing (stamina, bounded)."""
    async for attempt in stamina.retry_context(
        on=_transient,
        attempts=_DELIVERY_ATTEMPTS,
        timeout=_DELIVERY_BUDGET,
        wait_initial=1.0,
        wait_max=15.0,
    ):
        with attempt:
            if attempt.num > 1:
                logger.warning("Bot API failing, delivery attempt %d", attempt.num)
            return await send()
    raise AssertionError("unreachable: stamina raises once attempts run out")


@dataclass(frozen=True)
class Reply:
    """A finished answer as Telegram messages: whole HTML parts, and the buttons under the last one."""

    parts: Sequence[str]
    keyboard: InlineKeyboardMarkup | None = None


class Drafts:
    """Where an answer may stream as a draft: private chats, until the Bot API refuses one.

    A refusal (400, 403) turns drafts off for that chat; a Bot API server without the method (404)
    turns them off for every chat. Either lasts until the bot restarts.
    """

    def __init__(self, enabled: bool = True) -> None:
        self._enabled = enabled
        self._refused: OrderedDict[int, None] = OrderedDict()  # bounded: the oldest refusal is forgotten

    def usable(self, chat_id: int) -> bool:
        """Whether to try a draft in this chat."""
        return self._enabled and chat_id not in self._refused

    def refused(self, chat_id: int, error: TelegramError) -> None:
        """The Bot API refused a draft in this chat: edit messages there from now on."""
        if isinstance(error, InvalidToken | EndPointNotFound):
            logger.warning(
                "The Bot API has no sendMessageDraft (%s): answers stream by editing a message", error
            )
            self._enabled = False
            return
        logger.info(
            "Drafts refused in chat %s (%s): answers there stream by editing a message", chat_id, error
        )
        self._refused[chat_id] = None
        if len(self._refused) > _REFUSED_CHATS:
            self._refused.popitem(last=False)


async def _typing(message: Message) -> None:
    try:
        await message.reply_chat_action(ChatAction.TYPING)  # in the question's forum topic, if any
    except TelegramError as exc:
        logger.debug("sendChatAction failed: %s", exc)


async def _keep_typing(message: Message) -> None:
    while True:
        await asyncio.sleep(TYPING_EVERY)
        await _typing(message)


def _not_modified(error: TelegramError) -> bool:
    return "not modified" in str(error).lower()


class _Preview:
    """The answer's text while it grows: a draft where drafts work, else a message edited in place."""

    def __init__(self, message: Message, *, quote: bool, drafts: Drafts | None) -> None:
        self._message = message
        self._quote = quote
        self._drafts = drafts if drafts is not None and drafts.usable(message.chat_id) else None
        self._edited: Message | None = None
        self.text = ""
        self.shown_at = 0.0

    @property
    def drafting(self) -> bool:
        """Whether the text is shown as a draft (so the final answer is a new message)."""
        return self._drafts is not None

    async def show(self, text: str) -> None:
        """Show ``text`` in place of what was shown; a failure only costs this one update."""
        if self._drafts is None or not await self._draft(text):
            await self._edit(text)
        self.text = text
        self.shown_at = asyncio.get_running_loop().time()

    async def _draft(self, text: str) -> bool:
        """Send the draft; False when the Bot API refuses drafts here (the caller edits a message instead)."""
        assert self._drafts is not None
        try:
            # The question's message id names the draft: non-zero, and one draft per question.
            await self._message.reply_text_draft(self._message.message_id, text)
        except (BadRequest, Forbidden, InvalidToken, EndPointNotFound) as exc:
            if _not_modified(exc):
                return True
            self._drafts.refused(self._message.chat_id, exc)
            self._drafts = None
            return False
        except TelegramError as exc:  # the network, a 5xx, a flood wait: the next update will do
            logger.warning("Could not update the draft: %s", exc)
        return True

    async def _edit(self, text: str) -> None:
        try:
            if self._edited is None:
                self._edited = await self._message.reply_text(
                    text, do_quote=self._quote, link_preview_options=NO_LINK_PREVIEWS
                )
            else:
                await self._edited.edit_text(text, link_preview_options=NO_LINK_PREVIEWS)
        except TelegramError as exc:
            if not _not_modified(exc):
                logger.warning("Could not update the streaming message: %s", exc)

    async def finish(self, reply: Reply) -> None:
        """Persist the answer: a final edit of the streamed message, else new messages; buttons on the last."""
        parts = list(reply.parts) or ["…"]
        last = len(parts) - 1
        start = 0
        if self._edited is not None and await self._final_edit(
            parts[0], reply.keyboard if last == 0 else None
        ):
            start = 1
        for index in range(start, len(parts)):
            await deliver(
                functools.partial(
                    self._message.reply_text,
                    parts[index],
                    parse_mode=ParseMode.HTML,
                    do_quote=self._quote and index == 0,
                    reply_markup=reply.keyboard if index == last else None,
                    link_preview_options=NO_LINK_PREVIEWS,
                )
            )
            if index == 0 and self._edited is not None:
                with contextlib.suppress(TelegramError):  # a stale partial answer is untidy, not harmful
                    await self._edited.delete()

    async def _final_edit(self, html_text: str, keyboard: InlineKeyboardMarkup | None) -> bool:
        assert self._edited is not None
        try:
            await self._edited.edit_text(
                html_text,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
                link_preview_options=NO_LINK_PREVIEWS,
            )
        except TelegramError as exc:
            if isinstance(exc, BadRequest) and _not_modified(exc):
                return True
            logger.warning("Could not edit the streamed answer, sending it anew: %s", exc)
            return False
        return True


async def stream_answer(
    message: Message,
    produce: Callable[[TokenSink], Answer],
    finish: Callable[[Answer], Reply],
    *,
    interval: float,
    quote: bool,
    drafts: Drafts | None,
) -> Answer:
    """Reply to ``message`` with what ``produce`` (run in a thread) writes; end with ``finish``'s messages.

    ``drafts`` is None where drafts are never tried (groups).
    """
    loop = asyncio.get_running_loop()
    tokens: list[str] = []
    arrived = asyncio.Event()

    def take(token: str) -> None:
        tokens.append(token)
        arrived.set()

    def on_token(token: str) -> None:  # runs in the worker thread
        loop.call_soon_threadsafe(take, token)

    await _typing(message)
    job = asyncio.ensure_future(asyncio.to_thread(produce, on_token))
    typing = asyncio.create_task(_keep_typing(message))
    first = asyncio.ensure_future(arrived.wait())
    preview = _Preview(message, quote=quote, drafts=drafts)
    try:
        while True:
            # The first text (the quote, known within a second) goes out as soon as it arrives;
            # after that at most one update per interval.
            done, _ = await asyncio.wait(
                {job} if preview.text else {job, first}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
            )
            if job in done:
                break
            partial = "".join(tokens)
            text = preview_text(partial) if partial.strip() else ""
            if text and text != preview.text:
                typing.cancel()  # the text itself now shows that an answer is coming
                await preview.show(text)
            elif preview.drafting and preview.text and loop.time() - preview.shown_at > DRAFT_REFRESH:
                await preview.show(preview.text)  # a slow answer: keep the draft from lapsing
        answer = job.result()
    finally:
        typing.cancel()
        first.cancel()
    await preview.finish(finish(answer))
    return answer

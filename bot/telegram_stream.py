"""Reply step, Telegram side: stream one answer into a chat while the backend writes it.

The backend is synchronous, so it runs in a worker thread; its tokens hop back
to the event loop with ``call_soon_threadsafe`` and are shown as plain text (a
partial answer may hold half an HTML tag) by editing one message at most once
per interval, except the first text (the answering quote), which is shown
as soon as it arrives. The final edit carries the rendered HTML; if that edit
fails the answer is sent as a new message, so it is never lost: that send is
retried with backoff through a Bot API outage of up to about a minute
(``deliver``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import stamina
from telegram import LinkPreviewOptions, Message
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.models import Answer, TokenSink
from bot.telegram_format import preview_text

logger = logging.getLogger(__name__)

NO_LINK_PREVIEWS = LinkPreviewOptions(is_disabled=True)
_TYPING_EVERY = 4.5  # Telegram shows "typing…" for about five seconds
# Waits of 1, 2, 4, 8, 15, 15… s (with jitter): about a minute of outage is ridden out; then give up.
_DELIVERY_ATTEMPTS = 9
_DELIVERY_BUDGET = 90.0

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


async def _typing(message: Message) -> None:
    try:
        await message.reply_chat_action(ChatAction.TYPING)  # in the question's forum topic, if any
    except TelegramError as exc:
        logger.debug("sendChatAction failed: %s", exc)


async def _keep_typing(message: Message) -> None:
    while True:
        await asyncio.sleep(_TYPING_EVERY)
        await _typing(message)


async def stream_answer(
    message: Message,
    produce: Callable[[TokenSink], Answer],
    render: Callable[[Answer], list[str]],
    *,
    interval: float,
    quote: bool,
) -> Answer:
    """Reply to ``message`` with what ``produce`` (run in a thread) writes; finish with ``render``'s HTML."""
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
    preview: Message | None = None
    shown = ""
    try:
        while True:
            # The first text (the quote, known within a second) goes out as soon as it arrives;
            # after that at most one edit per interval.
            done, _ = await asyncio.wait(
                {job} if shown else {job, first}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
            )
            if job in done:
                break
            partial = "".join(tokens)
            text = preview_text(partial) if partial.strip() else ""
            if text and text != shown:
                preview = await _show_preview(message, preview, text, quote)
                shown = text
        answer = job.result()
    finally:
        typing.cancel()
        first.cancel()
    await _deliver(message, preview, render(answer), quote)
    return answer


async def _show_preview(message: Message, preview: Message | None, text: str, quote: bool) -> Message | None:
    """Send or update the streaming message; a failure only costs this one update of it."""
    try:
        if preview is None:
            return await message.reply_text(text, do_quote=quote, link_preview_options=NO_LINK_PREVIEWS)
        await preview.edit_text(text, link_preview_options=NO_LINK_PREVIEWS)
    except TelegramError as exc:
        if "not modified" not in str(exc).lower():
            logger.warning("Could not update the streaming message: %s", exc)
    return preview


async def _deliver(message: Message, preview: Message | None, parts: list[str], quote: bool) -> None:
    """Put the first HTML part in the streaming message (or a new one if editing fails), then the rest."""
    first, *rest = parts
    sent = False
    if preview is not None:
        try:
            await preview.edit_text(first, parse_mode=ParseMode.HTML, link_preview_options=NO_LINK_PREVIEWS)
            sent = True
        except BadRequest as exc:
            sent = "not modified" in str(exc).lower()
            if not sent:
                logger.warning("Could not edit the streamed answer, sending it anew: %s", exc)
        except TelegramError as exc:
            logger.warning("Could not edit the streamed answer, sending it anew: %s", exc)
    if not sent:
        await deliver(
            functools.partial(
                message.reply_text,
                first,
                parse_mode=ParseMode.HTML,
                do_quote=quote,
                link_preview_options=NO_LINK_PREVIEWS,
            )
        )
        if preview is not None:
            with contextlib.suppress(TelegramError):  # a stale partial answer is untidy, not harmful
                await preview.delete()
    for part in rest:
        await deliver(
            functools.partial(
                message.reply_text, part, parse_mode=ParseMode.HTML, link_preview_options=NO_LINK_PREVIEWS
            )
        )

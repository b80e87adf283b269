"""Reply step, Telegram side: checkable citations — a source button shows what its answer relies on.

An answer's sources, with the sentences of each article it relies on, were
saved with the chat's history under a short random key (:mod:`bot.telegram.chat_store`);
the button's callback data is that key and the source's number. A press looks
them up, finds each sentence in the article as it reads now
(``Backend.article_text``) to say where it is ("paragraph 3 of 12"), and
replies to the answer with the quote, verbatim, in the article's language. A
key that is unknown — forgotten by ``/reset``, pushed out by newer answers,
from another chat, or forged — gets a polite "expired" and nothing else.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import MaybeInaccessibleMessage, Message, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.models import Backend, Source
from bot.telegram.chat_store import ChatStore
from bot.telegram.format import Texts, user_language
from bot.telegram.stream import NO_LINK_PREVIEWS, deliver
from bot.telegram.views import QUOTE_CALLBACK, QuoteGroup, quote_messages
from index.errors import NewsbotError
from index.text.language import detect_language, language_name

logger = logging.getLogger(__name__)

_REPEAT_WINDOW = 10.0  # seconds in which a second press of one button (a double tap) shows nothing new
_REMEMBERED_PRESSES = 1_000
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class Located:
    """A quoted sentence and where it is in the article: ``paragraph`` 0 is the headline, None not found."""

    sentence: str
    paragraph: int | None
    start: int = -1
    end: int = -1


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Each paragraph's (start, end): blocks between blank lines, or lines when the text has no blank line."""
    separator = re.compile(r"\n[ \t]*\n\s*" if _BLANK_LINE.search(text) else r"\n\s*")
    spans: list[tuple[int, int]] = []
    start = 0
    for match in separator.finditer(text):
        if text[start : match.start()].strip():
            spans.append((start, match.start()))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def locate(sentences: Sequence[str], text: str, title: str) -> tuple[list[Located], int]:
    """Find each sentence in the article's text (whitespace may differ); also the body's paragraph count.

    A first paragraph that is the title is the headline, not paragraph 1: the reader counts from the text.
    """
    spans = paragraph_spans(text)
    headline = bool(spans) and " ".join(text[spans[0][0] : spans[0][1]].split()) == " ".join(title.split())
    located: list[Located] = []
    for sentence in sentences:
        words = sentence.rstrip("…").split()  # a sentence cut short when stored ends with "…"
        match = re.search(r"\s+".join(map(re.escape, words)), text) if words else None
        if match is None:
            located.append(Located(sentence, None))
            continue
        index = next((i for i, (_, end) in enumerate(spans) if match.start() < end), len(spans) - 1)
        located.append(Located(sentence, index if headline else index + 1, match.start(), match.end()))
    return located, len(spans) - headline


def quote_groups(
    located: Sequence[Located], paragraphs: int, lang: str, texts: Texts, text: str
) -> list[QuoteGroup]:
    """The found sentences by paragraph, in the article's order (" … " where text lies between), then the rest."""
    found = sorted((item for item in located if item.paragraph is not None), key=lambda item: item.start)
    groups: list[QuoteGroup] = []
    for paragraph, members in itertools.groupby(found, key=lambda item: item.paragraph):
        items = list(members)
        quoted = items[0].sentence
        end = items[0].end
        for item in items[1:]:
            if item.start < end:  # the same sentence twice, or overlapping: already shown
                continue
            quoted += " " if not text[end : item.start].strip() else " … "
            quoted += item.sentence
            end = item.end
        label = (
            texts.say("quote_headline", lang)
            if paragraph == 0
            else texts.say("quote_paragraph", lang, number=paragraph, total=paragraphs)
        )
        groups.append(QuoteGroup(label, quoted))
    missing = [item.sentence for item in located if item.paragraph is None]
    if missing:
        groups.append(QuoteGroup(texts.say("quote_not_found", lang), "\n".join(missing)))
    return groups


def language_label(code: str, lang: str, texts: Texts) -> str:
    """The name of language ``code`` in language ``lang`` (in English when no phrase file names it)."""
    try:
        return texts.say(f"language_{code}", lang)
    except KeyError:
        return language_name(code)


def render_quote(source: Source, article: str | None, lang: str, texts: Texts) -> list[str]:
    """The quote messages of one source for a reader of ``lang``; ``article`` is its text now, if it has one."""
    notes: list[str] = []
    if article is None:
        notes.append(texts.say("quote_article_gone", lang))
        groups = [QuoteGroup("", "\n".join(source.evidence))]
    else:
        located, paragraphs = locate(source.evidence, article, source.title)
        groups = quote_groups(located, paragraphs, lang, texts, article)
    quoted_language = detect_language(article or " ".join(source.evidence), lang)
    if quoted_language != lang:
        notes.append(texts.say("quote_language", lang, language=language_label(quoted_language, lang, texts)))
    return quote_messages(source, groups, notes)


class QuoteHandlers:
    """The source buttons under answers, and every other button nobody knows any more."""

    def __init__(self, backend: Backend, texts: Texts, store: ChatStore) -> None:
        self._backend = backend
        self._texts = texts
        self._store = store
        self._pressed: OrderedDict[tuple[int, str], float] = OrderedDict()

    async def show(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A source button: reply to the answer with that source's quote, or say that the answer expired."""
        query, chat = update.callback_query, update.effective_chat
        if query is None:
            return
        data = query.data if isinstance(query.data, str) else ""
        match = QUOTE_CALLBACK.match(data)
        saved = self._store.saved_answer(chat.id, match[1]) if match and chat is not None else None
        source = saved.source(int(match[2])) if saved is not None and match else None
        if chat is None or saved is None or source is None:
            lang = saved.language if saved is not None else user_language(query.from_user.language_code)
            await query.answer(self._texts.say("quote_expired", lang), show_alert=True)
            return
        await query.answer()
        if self._pressed_again(chat.id, data):
            return
        try:
            await self._send_quote(context, chat.id, query.message, source, saved.language)
        except Exception:
            self._pressed.pop((chat.id, data), None)  # pressing again may then help
            raise

    async def _send_quote(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chat_id: int,
        pressed: MaybeInaccessibleMessage | None,
        source: Source,
        lang: str,
    ) -> None:
        article = await asyncio.to_thread(self._article_text, source.article_id)
        messages = await asyncio.to_thread(render_quote, source, article, lang, self._texts)
        answer_message = pressed if isinstance(pressed, Message) else None
        for index, text in enumerate(messages):
            if answer_message is not None:
                # A reply to the answer whose button was pressed; sent anyway if that message is gone.
                reply = ReplyParameters(answer_message.message_id, allow_sending_without_reply=True)
                send = functools.partial(
                    answer_message.reply_text,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_parameters=reply if index == 0 else None,
                    link_preview_options=NO_LINK_PREVIEWS,
                )
            else:
                send = functools.partial(
                    context.bot.send_message,
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=NO_LINK_PREVIEWS,
                )
            await deliver(send)

    async def unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Any other button (from an older version of the bot, or forged): stop its spinner politely."""
        query = update.callback_query
        if query is not None:
            lang = user_language(query.from_user.language_code)
            await query.answer(self._texts.say("quote_expired", lang), show_alert=True)

    def _article_text(self, article_id: str) -> str | None:
        try:
            return self._backend.article_text(article_id)
        except NewsbotError as exc:  # the quote itself is still worth showing
            logger.warning("Could not read article %s to place a quote: %s", article_id, exc)
            return None

    def _pressed_again(self, chat_id: int, data: str) -> bool:
        """Whether this button was pressed in this chat moments ago (its quote is already on its way)."""
        now = time.monotonic()
        last = self._pressed.get((chat_id, data))
        self._pressed[(chat_id, data)] = now
        self._pressed.move_to_end((chat_id, data))
        while len(self._pressed) > _REMEMBERED_PRESSES:
            self._pressed.popitem(last=False)
        return last is not None and now - last < _REPEAT_WINDOW

"""Reply step, Telegram side: the views with buttons — the ``/sources`` pages, an answer's source buttons
and the quote a source button shows.

Pure functions from data to HTML and inline keyboards; every text from an
article or the model is escaped, and every message is whole HTML fragments
within Telegram's length limit.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.models import Source
from bot.telegram.format import (
    MESSAGE_LIMIT,
    Texts,
    pack,
    page_count,
    render_article,
    render_source,
    split_plain,
)
from bot.telegram.format import telegram_length as length
from index.models import ArticleInfo

SOURCES_PER_PAGE = 15
CALLBACK_LIMIT = 64
"""Telegram's longest callback data, in bytes."""

QUOTE_PREFIX = "cite"
QUOTE_CALLBACK = re.compile(r"^cite:([A-Za-z0-9_-]{1,16}):(\d{1,4})$")
_TITLED_BUTTONS = 10  # up to this many sources, one titled button per row; beyond, compact [n] buttons
_BUTTONS_PER_ROW = 5
_MAX_BUTTONS = 100  # Telegram's limit per keyboard
_BUTTON_TITLE = 32


def sources_listing(
    articles: Sequence[ArticleInfo], page: int, lang: str, texts: Texts
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the ``/sources`` listing, newest first, with ◀/▶ buttons."""
    ordered = sorted(articles, key=lambda a: (a.date or "", a.title), reverse=True)
    pages = page_count(len(ordered), SOURCES_PER_PAGE)
    page = min(max(page, 1), pages)
    first = (page - 1) * SOURCES_PER_PAGE
    header = texts.say("sources_page", lang, page=page, pages=pages, count=len(ordered))
    lines = [f"<b>{html.escape(header, quote=False)}</b>"]
    lines += [render_article(first + i + 1, a) for i, a in enumerate(ordered[first:][:SOURCES_PER_PAGE])]
    buttons = [
        InlineKeyboardButton(texts.say(key, lang), callback_data=f"sources:{target}")
        for key, target, shown in (
            ("previous_page", page - 1, page > 1),
            ("next_page", page + 1, page < pages),
        )
        if shown
    ]
    return "\n".join(lines), InlineKeyboardMarkup([buttons]) if buttons else None


def quote_callback(key: str, marker: int) -> str:
    """The callback data of one source button: the saved answer's key and the source's number."""
    data = f"{QUOTE_PREFIX}:{key}:{marker}"
    if len(data.encode("utf-8")) > CALLBACK_LIMIT:
        raise ValueError(f"callback data over {CALLBACK_LIMIT} bytes: {data!r}")
    return data


def _short(title: str) -> str:
    title = " ".join(title.split()) or "…"
    if len(title) <= _BUTTON_TITLE:
        return title
    cut = title[: _BUTTON_TITLE - 1].rsplit(" ", 1)[0] if " " in title[: _BUTTON_TITLE - 1] else ""
    return (cut or title[: _BUTTON_TITLE - 1]).rstrip(" ,;:–—-") + "…"


def source_buttons(sources: Sequence[Source], key: str) -> InlineKeyboardMarkup | None:
    """One button per source with a quote (``[1] short title``); compact ``[n]`` buttons when there are many."""
    quoted = sorted((s for s in sources if s.evidence), key=lambda s: s.marker)[:_MAX_BUTTONS]
    if not quoted:
        return None
    if len(quoted) <= _TITLED_BUTTONS:
        rows = [
            [
                InlineKeyboardButton(
                    f"[{s.marker}] {_short(s.title)}", callback_data=quote_callback(key, s.marker)
                )
            ]
            for s in quoted
        ]
    else:
        buttons = [
            InlineKeyboardButton(f"[{s.marker}]", callback_data=quote_callback(key, s.marker)) for s in quoted
        ]
        rows = [buttons[i : i + _BUTTONS_PER_ROW] for i in range(0, len(buttons), _BUTTONS_PER_ROW)]
    return InlineKeyboardMarkup(rows)


@dataclass(frozen=True)
class QuoteGroup:
    """Quoted sentences that sit together in an article, and where: ``label`` (already in the reader's language)."""

    label: str
    text: str


def quote_messages(
    source: Source, groups: Sequence[QuoteGroup], notes: Sequence[str], limit: int = MESSAGE_LIMIT
) -> list[str]:
    """The quote a source button shows: the source line, notes, then each group in an expandable blockquote."""
    head = render_source(source) + "".join(f"\n<i>{html.escape(n, quote=False)}</i>" for n in notes)
    fragments = [head]
    for group in groups:
        label = f"<b>{html.escape(group.label, quote=False)}</b>\n" if group.label else ""
        room = limit - length(label) - len("<blockquote expandable></blockquote>")

        def fits(piece: str, room: int = room) -> bool:
            return length(html.escape(piece, quote=False)) <= room

        for i, piece in enumerate(split_plain(group.text, fits)):
            quoted = f"<blockquote expandable>{html.escape(piece, quote=False)}</blockquote>"
            fragments.append((label if i == 0 else "") + quoted)
    return pack(fragments, "\n\n", limit)

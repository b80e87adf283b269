"""Reply step, Telegram side: render answers and article lists as Telegram HTML and split long replies.

Everything that comes from the model or from the articles is escaped; the only
tags are the ones made here, and every piece handed to Telegram is a whole
fragment, so a split never cuts through a tag.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

from bot.answering.prompts import Prompts
from bot.checks.markers import MARKER
from bot.models import Answer, Source
from index.models import ArticleInfo
from index.text.language import language_code

MESSAGE_LIMIT = 4096
"""Telegram's longest message text; measured here on the HTML, which is never shorter."""

_TITLE_LIMIT = 200
_PARAGRAPHS = re.compile(r"\n\s*\n")
# Finer and finer places to cut a paragraph that is too long on its own: lines, sentences, words.
_CUTS = (re.compile(r"(\n)"), re.compile(r"((?<=[.!?…。])\s+)"), re.compile(r"(\s+)"))


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def render_text(plain: str) -> str:
    """Escape model text for HTML and make the ``[n]`` citation markers bold."""
    return MARKER.sub(r"<b>\g<0></b>", html.escape(plain, quote=False))


def bold_marked(rendered: str, marked: Sequence[str]) -> str:
    """``rendered`` HTML with the answering words of its quote lines ("• …") in bold, markers untouched."""
    if not marked:
        return rendered
    pattern = re.compile(
        r"(?<![\w\[>])("
        + "|".join(re.escape(html.escape(w, quote=False)) for w in sorted(set(marked), key=len, reverse=True))
        + r")(?![\w\]<])"
    )
    lines = rendered.split("\n")
    return "\n".join(pattern.sub(r"<b>\1</b>", line) if line.startswith("• ") else line for line in lines)


def _title(title: str) -> str:
    title = " ".join(title.split()) or "…"
    return title if len(title) <= _TITLE_LIMIT else title[: _TITLE_LIMIT - 1] + "…"


def _link(title: str, url: str | None) -> str:
    """The title as a link when the URL is a web address, else as plain escaped text."""
    text = html.escape(_title(title), quote=False)
    if url and url.startswith(("http://", "https://")):
        return f'<a href="{html.escape(url, quote=True)}">{text}</a>'
    return text


def render_source(source: Source) -> str:
    """One line of an answer's source list: marker, title (linked when there is a URL), id or date."""
    line = f"<b>[{source.marker}]</b> {_link(source.title, source.url)}"
    if not (source.url and source.url.startswith(("http://", "https://"))):
        line += f" · <code>{html.escape(source.article_id, quote=False)}</code>"
    if source.date:
        line += f" · {html.escape(source.date, quote=False)}"
    return line


def render_article(number: int, article: ArticleInfo) -> str:
    """One line of the ``/sources`` listing."""
    line = f"{number}. {_link(article.title, article.url)}"
    if not (article.url and article.url.startswith(("http://", "https://"))):
        line += f" · <code>{html.escape(article.id, quote=False)}</code>"
    details = [d for d in (article.date, article.language) if d]
    if details:
        line += " · " + html.escape(" · ".join(details), quote=False)
    return line


def split_plain(text: str, fits: Callable[[str], bool], level: int = 0) -> list[str]:
    """Cut plain text into pieces that each ``fits``, preferring line, then sentence, then word ends."""
    text = text.strip()
    if not text:
        return []
    if fits(text):
        return [text]
    if level == len(_CUTS):
        return _hard_cut(text, fits)
    parts = _CUTS[level].split(text)
    # re.split with a group alternates text and separator; keep each separator with its text.
    units = ["".join(parts[i : i + 2]) for i in range(0, len(parts), 2)]
    pieces: list[str] = []
    current = ""
    for unit in units:
        if fits((current + unit).strip()):
            current += unit
            continue
        if current.strip():
            pieces.append(current.strip())
        current = ""
        if fits(unit.strip()):
            current = unit
        else:
            pieces.extend(split_plain(unit, fits, level + 1))
    if current.strip():
        pieces.append(current.strip())
    return pieces


def _hard_cut(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Last resort for one enormous word: cut by characters."""
    pieces: list[str] = []
    while text:
        low, high = 1, len(text)  # the longest prefix that fits, by bisection
        while low < high:
            middle = (low + high + 1) // 2
            if fits(text[:middle]):
                low = middle
            else:
                high = middle - 1
        pieces.append(text[:low])
        text = text[low:]
    return pieces


def pack(fragments: Sequence[str], separator: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join whole HTML fragments with ``separator`` into as few messages of at most ``limit`` as possible."""
    messages: list[str] = []
    current = ""
    for fragment in fragments:
        candidate = f"{current}{separator}{fragment}" if current else fragment
        if telegram_length(candidate) <= limit:
            current = candidate
            continue
        if current:
            messages.append(current)
        current = fragment
    if current:
        messages.append(current)
    return messages


def render_answer(answer: Answer, sources_header: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The final reply as HTML messages: the answer's paragraphs, then the numbered sources."""

    def fits(piece: str) -> bool:
        return telegram_length(render_text(piece)) <= limit

    blocks: list[str] = []
    for paragraph in _PARAGRAPHS.split(answer.text.strip()):
        blocks.extend(bold_marked(render_text(piece), answer.marked) for piece in split_plain(paragraph, fits))
    if answer.sources:
        lines = [f"<b>{html.escape(sources_header, quote=False)}</b>"]
        lines.extend(render_source(source) for source in sorted(answer.sources, key=lambda s: s.marker))
        blocks.extend(pack(lines, "\n", limit))
    return pack(blocks, "\n\n", limit) or ["…"]


def preview_text(partial: str, limit: int = MESSAGE_LIMIT) -> str:
    """Plain text shown while an answer streams in, with a trailing ellipsis, cut to fit one message."""
    budget = limit - 2
    text = partial.strip()
    if telegram_length(text) > budget:
        text = text[: budget - 1]
        while telegram_length(text) > budget - 1:
            text = text[:-1]
    return f"{text} …"


def page_count(items: int, per_page: int) -> int:
    """How many pages ``items`` make, at least one."""
    return max(1, -(-items // per_page))


def user_language(code: str | None) -> str:
    """The two-letter language of a Telegram ``language_code`` such as ``pt-br``; English when unknown."""
    return language_code(code or "") or "en"


class Texts:
    """The bot's fixed texts (phrase group ``telegram``) in a given language, placeholders filled."""

    def __init__(self, prompts: Prompts) -> None:
        self._prompts = prompts

    def say(self, key: str, lang: str, **values: object) -> str:
        """The phrase ``key`` in ``lang`` (English when missing) with ``{name}`` placeholders filled."""
        return self._prompts.phrase(key, lang).format(**values)

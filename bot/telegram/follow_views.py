"""Follow step, Telegram side: the views of follows — an alert with its quote and sources, a digest — and the
arguments of /digest.

Pure functions from data to HTML; every text from an article is escaped, and a digest is whole HTML
fragments packed into messages within Telegram's length limit.
"""

from __future__ import annotations

import datetime as dt
import html
import re

from bot.follow.engine import Digest
from bot.follow.models import Alert, ArticleDoc
from bot.models import Answer, Source
from bot.telegram.format import MESSAGE_LIMIT, Texts, pack

_DAILY = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")
_HOURS = re.compile(r"^(\d{1,4})\s*h?$", re.IGNORECASE)
_MAX_DIGEST_HOURS = 24 * 31


def _link(title: str, url: str | None) -> str:
    text = html.escape(" ".join(title.split())[:200] or "…", quote=False)
    if url and url.startswith(("http://", "https://")):
        return f'<a href="{html.escape(url, quote=True)}">{text}</a>'
    return text


def source_line(marker: int, article: ArticleDoc) -> str:
    """One source of an alert or a digest: marker, title (linked), date, source."""
    details = [d for d in (article.date, article.source) if d]
    line = f"<b>[{marker}]</b> {_link(article.title, article.url)}"
    if not (article.url and article.url.startswith(("http://", "https://"))):
        line += f" · <code>{html.escape(article.id, quote=False)}</code>"
    return line + "".join(f" · {html.escape(d, quote=False)}" for d in details)


def alert_html(alert: Alert, texts: Texts) -> str:
    """The alert: what is followed, the best quote with its marker, then every source of the story."""
    story, lang = alert.story, alert.follow.language
    markers = {article.id: i for i, article in enumerate(story.articles, 1)}
    best = story.quotes[0] if story.quotes else None
    header = texts.say("follow_alert", lang, follow=alert.follow.text)
    parts = [f"🔔 <b>{html.escape(header, quote=False)}</b>"]
    if best is not None:
        quote = html.escape(best.sentence, quote=False)
        parts.append(f"<blockquote expandable>{quote}</blockquote> <b>[{markers[best.article.id]}]</b>")
    parts.append("\n".join(source_line(markers[a.id], a) for a in story.articles))
    return "\n\n".join(parts)


def alert_answer(alert: Alert) -> Answer:
    """The alert as an answer whose sources carry their quotes: what its source buttons show."""
    quotes = {q.article.id: q.sentence for q in alert.story.quotes}
    sources = tuple(
        Source(i, a.id, a.title, a.url, a.date, evidence=(quotes.get(a.id) or alert.story.lead,))
        for i, a in enumerate(alert.story.articles, 1)
    )
    return Answer(
        "", alert.follow.language, sources, refused=False, mode="follow", question=alert.follow.text
    )


def digest_html(digest: Digest, lang: str, texts: Texts, hours: float) -> list[str]:
    """The digest as messages: a header, then each story with its lead quote and its sources with their dates."""
    shown = f"{hours:g}"
    if not digest.stories:
        return [html.escape(texts.say("digest_empty", lang, hours=shown), quote=False)]
    header = texts.say(
        "digest_header", lang, hours=shown, articles=digest.articles, stories=len(digest.stories)
    )
    fragments = [f"📰 <b>{html.escape(header, quote=False)}</b>"]
    for number, story in enumerate(digest.stories, 1):
        lead = html.escape(story.lead, quote=False)
        sources = "\n".join(source_line(i, a) for i, a in enumerate(story.articles, 1))
        fragments.append(f"<b>{number}.</b> <i>{lead}</i>\n{sources}")
    return pack(fragments, "\n\n", MESSAGE_LIMIT)


def parse_hours(text: str) -> float | None:
    """Hours in ``/digest 6`` or ``/digest 6h``; ``None`` when it is not that."""
    match = _HOURS.match(text.strip())
    if match is None or not 1 <= int(match[1]) <= _MAX_DIGEST_HOURS:
        return None
    return float(match[1])


def parse_time(text: str) -> str | None:
    """``08:00`` (also ``8:00``, ``8.00``, ``8h00``) as ``HH:MM``; ``None`` when it is not a time of day."""
    match = _DAILY.match(text.strip())
    return f"{int(match[1]):02d}:{match[2]}" if match else None


def digest_due(at: str, last: str | None, now: dt.datetime) -> bool:
    """Whether a daily digest at ``at`` (local ``now``) is due: its time has come today and today's is not out."""
    hour, minute = map(int, at.split(":"))
    return last != now.date().isoformat() and (now.hour, now.minute) >= (hour, minute)

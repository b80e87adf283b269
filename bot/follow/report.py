"""Follow step, terminal side: alerts and digests as plain text lines, for `newsbot follow check` and `newsbot digest`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.follow.engine import Digest
from bot.follow.models import Alert, ArticleDoc, Story


def source_text(marker: int, article: ArticleDoc) -> str:
    """``[1] Title · date · source · url (or id)``."""
    details = [d for d in (article.date, article.source, article.url or article.id) if d]
    return f"[{marker}] {' '.join(article.title.split())} · " + " · ".join(details)


def _sources(story: Story) -> list[str]:
    return [f"    {source_text(i, a)}" for i, a in enumerate(story.articles, 1)]


def alert_lines(alerts: Sequence[Alert]) -> list[str]:
    """What the alerts would say: the follow, the best quote with its marker, every source."""
    lines: list[str] = []
    for alert in alerts:
        story = alert.story
        markers = {a.id: i for i, a in enumerate(story.articles, 1)}
        lines.append(f"follow {alert.follow.number}: {alert.follow.text}")
        if story.quotes:
            best = story.quotes[0]
            lines.append(f"  “{best.sentence}” [{markers[best.article.id]}]  (score {best.score:.3f})")
        lines.extend(_sources(story))
        lines.append("")
    return lines


def digest_lines(digest: Digest) -> list[str]:
    """The digest: a header line, then each story with its lead quote and its sources."""
    start = dt.datetime.fromtimestamp(digest.since).strftime("%Y-%m-%d %H:%M")
    if not digest.stories:
        return [f"nothing new since {start}"]
    lines = [f"since {start}: {digest.articles} articles in {digest.total_stories} stories", ""]
    if digest.total_stories > len(digest.stories):
        lines[-1:] = [f"(the {len(digest.stories)} with most sources)", ""]
    for number, story in enumerate(digest.stories, 1):
        lines.append(f"{number}. “{story.lead}”")
        lines.extend(_sources(story))
        lines.append("")
    return lines

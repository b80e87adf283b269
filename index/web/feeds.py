"""Feeds, the source side of web articles: RSS/Atom items and what each feed gave last time.

``feed_items`` reads a feed's links (feedparser); ``FeedState`` keeps, under the
data dir, each feed's ETag / Last-Modified (so an unchanged feed costs one
small conditional request) and the item links already added.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

logger = logging.getLogger(__name__)

FEED_STATE = "feeds.json"
_SEEN_PER_FEED = 2000
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")
_FEED_START = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:RDF)\b", re.DOTALL)


@dataclass(frozen=True)
class FeedItem:
    """One item of a feed: the article's link, and its title and date as the feed gives them."""

    link: str
    title: str | None = None
    date: str | None = None


def looks_like_feed(body: bytes, content_type: str) -> bool:
    """Whether a response is an RSS/Atom feed rather than a page."""
    if content_type in _FEED_TYPES:
        return True
    if content_type in ("text/html", "application/xhtml+xml"):
        return False
    return bool(_FEED_START.match(body[:4096]))


def feed_items(body: bytes, url: str) -> list[FeedItem]:
    """The items of a feed, newest first as the feed lists them; relative links made absolute."""
    import feedparser

    parsed = feedparser.parse(body, response_headers={"content-location": url})
    items: list[FeedItem] = []
    for entry in parsed.entries:
        link = entry.get("link") or next(
            (x.get("href") for x in entry.get("links", []) if x.get("rel") == "alternate"), None
        )
        if not link:
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        try:
            date = dt.date(*stamp[:3]).isoformat() if stamp else None
        except (TypeError, ValueError):  # a year 0 or a month 13: no date rather than no item
            date = None
        try:
            link = urljoin(url, link.strip())
        except ValueError:  # a malformed link (http://[::1/x) fails alone, with its reason, when fetched
            link = link.strip()
        items.append(FeedItem(link, entry.get("title"), date))
    return items


@dataclass
class FeedRecord:
    """What one feed gave last time: its validators and the item links already added."""

    etag: str | None = None
    last_modified: str | None = None
    seen: list[str] = field(default_factory=list)

    def conditional_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


class FeedState:
    """Every feed's record, in ``<data dir>/feeds.json``; a damaged file only costs a full fetch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.feeds: dict[str, FeedRecord] = {}
        try:
            payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            for url, raw in payload.get("feeds", {}).items():
                self.feeds[url] = FeedRecord(
                    raw.get("etag"), raw.get("last_modified"), list(raw.get("seen", []))
                )
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            logger.warning("ignoring the feed state %s: %s", path, exc)

    def record(self, url: str) -> FeedRecord:
        return self.feeds.setdefault(url, FeedRecord())

    def save(self) -> None:
        """Write the state atomically."""
        for record in self.feeds.values():
            record.seen = record.seen[-_SEEN_PER_FEED:]
        payload = {
            "feeds": {
                url: {"etag": r.etag, "last_modified": r.last_modified, "seen": r.seen}
                for url, r in self.feeds.items()
            }
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".part")
        temporary.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
        temporary.replace(self.path)

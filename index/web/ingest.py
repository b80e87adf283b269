"""Web articles into the corpus: links and feeds → fetched pages → Markdown files under ``corpus/web/``.

``add_links`` takes article pages and feed URLs alike (a feed adds the articles
its items link to); ``poll_feeds`` asks each followed feed for what is new with
a conditional GET. Each link that fails is reported with its reason and the
others go on; nothing already saved is removed. Indexing the saved files is the
usual incremental reindex, done by the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from pathlib import Path

from index.errors import BadArticle, FetchError
from index.models import Saved, WebReport
from index.web.feeds import FeedState, feed_items, looks_like_feed
from index.web.fetcher import Fetched, Fetcher
from index.web.pages import article_file, article_markdown, extract_page

logger = logging.getLogger(__name__)


def save_page(fetched: Fetched, corpus_dir: Path, *, date: str | None = None) -> Saved:
    """Extract the article of a fetched page and write it (only when it changed) as a corpus .md file."""
    try:
        page = extract_page(fetched.body, url=fetched.url)
    except BadArticle as exc:
        raise FetchError(f"{fetched.url}: {exc.reason}") from exc
    url = page.url or fetched.url
    path = article_file(corpus_dir, url)
    text = article_markdown(page, url=url, date=date)
    title = page.title or path.stem
    if path.exists():
        if path.read_text(encoding="utf-8", errors="replace") == text:
            return Saved(url, title, path, "unchanged")
        status = "updated"
    else:
        status = "added"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")  # hidden from the loader: not .md
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    logger.info("%s %s as %s", status, url, path)
    return Saved(url, title, path, status)


def _add_items(
    fetcher: Fetcher, corpus_dir: Path, feed: Fetched, seen: Collection[str], max_items: int
) -> tuple[WebReport, list[str]]:
    """The feed's items not seen before, each saved or failed, and the links of those saved."""
    report = WebReport()
    added: list[str] = []
    for item in feed_items(feed.body, feed.url)[:max_items]:
        if item.link in seen or item.link in added:
            continue
        try:
            page = fetcher.get(item.link)
            report.saved.append(save_page(page, corpus_dir, date=item.date))
        except FetchError as exc:
            report.failed.append((item.link, str(exc)))
            continue
        added.append(item.link)
    return report, added


def add_links(
    urls: Iterable[str],
    fetcher: Fetcher,
    corpus_dir: Path,
    *,
    state: FeedState | None = None,
    max_items: int = 30,
) -> WebReport:
    """Fetch each link: a page is saved as an article, a feed adds the articles its items link to."""
    report = WebReport()
    for url in urls:
        try:
            fetched = fetcher.get(url)
            if looks_like_feed(fetched.body, fetched.content_type):
                record = state.record(url) if state is not None else None
                items, added = _add_items(
                    fetcher, corpus_dir, fetched, record.seen if record else (), max_items
                )
                report.include(items)
                if record is not None:
                    record.seen.extend(added)
            else:
                report.saved.append(save_page(fetched, corpus_dir))
        except FetchError as exc:
            report.failed.append((url, str(exc)))
    if state is not None:
        state.save()
    return report


def poll_feeds(
    urls: Iterable[str], fetcher: Fetcher, corpus_dir: Path, state: FeedState, *, max_items: int = 30
) -> WebReport:
    """Ask each feed for what is new (a conditional GET) and add the items not added before.

    A feed whose items could not all be added keeps no validators, so the next poll fetches it in
    full and tries the failed items again.
    """
    report = WebReport()
    for url in urls:
        record = state.record(url)
        try:
            fetched = fetcher.get(url, headers=record.conditional_headers())
            if fetched.status == 304:
                report.feeds_unchanged += 1
                continue
            if not looks_like_feed(fetched.body, fetched.content_type):
                raise FetchError(
                    f"{url}: not an RSS or Atom feed ({fetched.content_type or 'no content type'})"
                )
            items, added = _add_items(fetcher, corpus_dir, fetched, record.seen, max_items)
            report.include(items)
            record.seen.extend(added)
            complete = not items.failed
            record.etag = fetched.headers.get("etag") if complete else None
            record.last_modified = fetched.headers.get("last-modified") if complete else None
        except FetchError as exc:
            report.failed.append((url, str(exc)))
    state.save()
    return report

"""Web articles into the corpus: links and feeds → fetched pages → Markdown files under ``corpus/web/``.

``add_links`` takes article pages and feed URLs alike (a feed adds the articles
its items link to); ``poll_feeds`` asks each followed feed for what is new with
a conditional GET. Each link that fails, whatever the reason, is reported on
one line and the others go on; the feed state is saved and nothing already
saved is removed. A page link has ``NEWSBOT_FETCH__TIMEOUT`` seconds in all; a
feed has that much for itself and its items together (items left over are
tried next time). An article over the corpus file limit is not saved. Indexing
the saved files is the usual incremental reindex, done by the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from index.errors import BadArticle, FetchError
from index.models import Saved, WebReport
from index.web.feeds import FeedState, feed_items, looks_like_feed
from index.web.fetcher import Fetched, Fetcher, printable
from index.web.pages import article_file, article_markdown, extract_page

logger = logging.getLogger(__name__)


@contextmanager
def _alone(report: WebReport, url: str) -> Iterator[None]:
    """Whatever goes wrong with one link is reported as its failure, on one line; the others go on."""
    try:
        yield
    except FetchError as exc:
        report.failed.append((url, " ".join(str(exc).split())))
    except Exception as exc:  # a library's surprise on a hostile link must not cost the other links
        logger.debug("%s failed", printable(url), exc_info=True)
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        report.failed.append((url, f"{printable(url)}: {reason}"))


def save_page(
    fetched: Fetched, corpus_dir: Path, *, date: str | None = None, max_file_bytes: int | None = None
) -> Saved:
    """Extract the article of a fetched page and write it (only when it changed) as a corpus .md file.

    An article over ``max_file_bytes`` (the corpus file limit, which the reindex would skip it for)
    is not saved: ``FetchError``.
    """
    try:
        page = extract_page(fetched.body, url=fetched.url)
    except BadArticle as exc:
        raise FetchError(f"{fetched.url}: {exc.reason}") from exc
    url = page.url or fetched.url
    path = article_file(corpus_dir, url)
    text = article_markdown(page, url=url, date=date)
    size = len(text.encode("utf-8"))
    if max_file_bytes is not None and size > max_file_bytes:
        raise FetchError(
            f"{url}: its article is {size:,} bytes, over the {max_file_bytes:,}-byte file limit "
            "(NEWSBOT_INDEX__MAX_FILE_BYTES): not saved"
        )
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


@dataclass(frozen=True)
class _Limits:
    """What every link of one call shares: the time a link (or a feed and its items) has, and sizes."""

    seconds: float
    max_items: int
    max_file_bytes: int | None


def _add_items(
    fetcher: Fetcher,
    corpus_dir: Path,
    feed: Fetched,
    seen: Collection[str],
    limits: _Limits,
    deadline: float,
) -> tuple[WebReport, list[str]]:
    """The feed's items not seen before, each saved or failed by ``deadline``, and the links of those saved."""
    report = WebReport()
    added: list[str] = []
    for item in feed_items(feed.body, feed.url)[: limits.max_items]:
        if item.link in seen or item.link in added:
            continue
        if time.monotonic() >= deadline:
            report.failed.append(
                (
                    item.link,
                    f"{printable(item.link)}: not fetched, the {limits.seconds:g} s for its feed "
                    "ran out (tried again next time)",
                )
            )
            continue
        with _alone(report, item.link):
            page = fetcher.get(item.link, deadline=deadline)
            report.saved.append(
                save_page(page, corpus_dir, date=item.date, max_file_bytes=limits.max_file_bytes)
            )
            added.append(item.link)
    return report, added


def add_links(
    urls: Iterable[str],
    fetcher: Fetcher,
    corpus_dir: Path,
    *,
    state: FeedState | None = None,
    max_items: int = 30,
    max_file_bytes: int | None = None,
    seconds: float | None = None,
) -> WebReport:
    """Fetch each link: a page is saved as an article, a feed adds the articles its items link to.

    Each link has ``seconds`` (default ``NEWSBOT_FETCH__TIMEOUT``), a feed's items included.
    """
    limits = _Limits(seconds or fetcher.settings.timeout, max_items, max_file_bytes)
    report = WebReport()
    try:
        for url in urls:
            with _alone(report, url):
                deadline = time.monotonic() + limits.seconds
                fetched = fetcher.get(url, deadline=deadline)
                if looks_like_feed(fetched.body, fetched.content_type):
                    record = state.record(url) if state is not None else None
                    items, added = _add_items(
                        fetcher, corpus_dir, fetched, record.seen if record else (), limits, deadline
                    )
                    report.include(items)
                    if record is not None:
                        record.seen.extend(added)
                else:
                    report.saved.append(save_page(fetched, corpus_dir, max_file_bytes=max_file_bytes))
    finally:
        if state is not None:
            state.save()
    return report


def poll_feeds(
    urls: Iterable[str],
    fetcher: Fetcher,
    corpus_dir: Path,
    state: FeedState,
    *,
    max_items: int = 30,
    max_file_bytes: int | None = None,
    seconds: float | None = None,
) -> WebReport:
    """Ask each feed for what is new (a conditional GET) and add the items not added before.

    Each feed has ``seconds`` (default ``NEWSBOT_FETCH__TIMEOUT``) for itself and its items. A feed
    whose items could not all be added keeps no validators, so the next poll fetches it in full and
    tries the failed items again.
    """
    limits = _Limits(seconds or fetcher.settings.timeout, max_items, max_file_bytes)
    report = WebReport()
    try:
        for url in urls:
            with _alone(report, url):
                deadline = time.monotonic() + limits.seconds
                record = state.record(url)
                fetched = fetcher.get(url, headers=record.conditional_headers(), deadline=deadline)
                if fetched.status == 304:
                    report.feeds_unchanged += 1
                    continue
                if not looks_like_feed(fetched.body, fetched.content_type):
                    raise FetchError(
                        f"{url}: not an RSS or Atom feed ({fetched.content_type or 'no content type'})"
                    )
                items, added = _add_items(fetcher, corpus_dir, fetched, record.seen, limits, deadline)
                report.include(items)
                record.seen.extend(added)
                complete = not items.failed
                record.etag = fetched.headers.get("etag") if complete else None
                record.last_modified = fetched.headers.get("last-modified") if complete else None
    finally:
        state.save()
    return report

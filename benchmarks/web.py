"""Web-article benchmarks: pages extracted per second, and the cost of a feed poll that finds nothing new.

Run: .venv/bin/python benchmarks/web.py [--rounds 30] [--items 30]
Serves the saved pages of tests/data/web (and a feed of --items items) on 127.0.0.1; prints figures,
asserts nothing. Works in a scratch folder, never touches corpus/ or the real index.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.config import FetchSettings  # noqa: E402
from index.web.feeds import FeedState  # noqa: E402
from index.web.fetcher import Fetcher  # noqa: E402
from index.web.ingest import poll_feeds  # noqa: E402
from index.web.pages import extract_page  # noqa: E402
from tests.web_server import WEB_DATA, saved_site, serve  # noqa: E402

PAGES = sorted(WEB_DATA.glob("*.html"))


def _feed(base: str, items: int) -> bytes:
    entries = "".join(
        f"<item><title>Story {i}</title><link>{base}/story/{i}</link>"
        f"<pubDate>Mon, 03 Jun 2024 {i % 24:02d}:00:00 GMT</pubDate></item>"
        for i in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>B</title>{entries}</channel></rss>'.encode()
    )


def extraction(rounds: int) -> None:
    pages = [path.read_bytes() for path in PAGES]
    # A long page as well: the same article repeated 20 times inside the same furniture.
    long_page = PAGES[0].read_bytes()
    article = long_page.split(b"<article>")[1].split(b"</article>")[0]
    long_page = long_page.replace(article, article * 20)
    extract_page(pages[0], url="http://127.0.0.1/warm-up")  # imports and lxml set-up, outside the timing
    for label, batch in (
        ("saved pages (3-5 kB)", pages),
        (f"long page ({len(long_page) // 1000} kB)", [long_page]),
    ):
        times = []
        for _ in range(rounds):
            for data in batch:
                start = time.perf_counter()
                extract_page(data, url="http://127.0.0.1/page")
                times.append(time.perf_counter() - start)
        print(
            f"extraction, {label}: {len(times) / sum(times):.0f} pages/s "
            f"(median {statistics.median(times) * 1000:.1f} ms a page, {len(times)} extractions)"
        )


def unchanged_poll(rounds: int, items: int) -> None:
    site = saved_site()
    with serve(site), tempfile.TemporaryDirectory() as scratch:
        body = _feed(site.base, items)
        site.routes["/feed.xml"] = (200, {**site.routes["/feed.xml"][1]}, body)
        for i in range(items):
            site.page(
                f"/story/{i}", PAGES[i % len(PAGES)].read_bytes().replace(b"<h1>", f"<h1>{i} ".encode())
            )
        corpus, state = Path(scratch) / "corpus", FeedState(Path(scratch) / "feeds.json")
        robots: dict[str, object] = {}
        settings = FetchSettings(allow_private=True)
        start = time.perf_counter()
        with Fetcher(settings, robots=robots) as fetcher:  # type: ignore[arg-type]
            first = poll_feeds([site.url("/feed.xml")], fetcher, corpus, state)
        print(
            f"first poll: {len(first.saved)} new articles from a {len(body) // 1000} kB feed in "
            f"{(time.perf_counter() - start) * 1000:.0f} ms"
        )
        times, sizes, requests = [], [], []
        for _ in range(rounds):
            start = time.perf_counter()
            with Fetcher(settings, robots=robots) as fetcher:  # type: ignore[arg-type]
                report = poll_feeds([site.url("/feed.xml")], fetcher, corpus, state)
            times.append(time.perf_counter() - start)
            sizes.append(fetcher.bytes_received)
            requests.append(fetcher.requests)
            assert report.feeds_unchanged == 1 and not report.saved
        print(
            f"poll with no new items ({items}-item feed): median {statistics.median(times) * 1000:.1f} ms, "
            f"{statistics.median(requests):.0f} request, {statistics.median(sizes):.0f} bytes received "
            f"(status and headers of a 304; the full feed is {len(body):,} bytes)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--items", type=int, default=30)
    args = parser.parse_args()
    extraction(args.rounds)
    unchanged_poll(args.rounds, args.items)


if __name__ == "__main__":
    main()

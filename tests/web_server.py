"""A real HTTP server on 127.0.0.1 for web-article tests and benchmarks: saved pages, a feed, robots.txt.

Routes map a path to (status, headers, body); every request's path and headers are recorded.
The feed route answers conditional GETs (ETag / Last-Modified → 304) like a real server. A path in
``trickle`` sends its body one byte at a time, that many seconds apart (a slow or hostile server).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

WEB_DATA = Path(__file__).parent / "data" / "web"
FEED_ETAG = '"feed-v1"'
FEED_MODIFIED = "Wed, 12 Jun 2024 09:00:00 GMT"

Route = tuple[int, dict[str, str], bytes]


@dataclass
class Site:
    """The server's routes and what it was asked."""

    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    trickle: dict[str, float] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path

    def page(self, path: str, body: bytes, content_type: str = "text/html; charset=utf-8") -> None:
        self.routes[path] = (200, {"Content-Type": content_type}, body)

    def asked(self, path: str) -> list[dict[str, str]]:
        return [headers for asked, headers in self.requests if asked == path]


def saved_site() -> Site:
    """The saved pages of tests/data/web and an RSS feed linking to two of them."""
    site = Site()
    html = "text/html; charset=utf-8"
    site.page("/news/world/storm-cuts-power-northern-coast", (WEB_DATA / "en-storm.html").read_bytes(), html)
    site.page("/society/kazan-novyi-most", (WEB_DATA / "ru-bridge.html").read_bytes(), html)
    site.page("/economy/rekordnyi-urozhai-sonyashnyku", (WEB_DATA / "uk-harvest.html").read_bytes(), html)
    site.routes["/feed.xml"] = (
        200,
        {"Content-Type": "application/rss+xml", "ETag": FEED_ETAG, "Last-Modified": FEED_MODIFIED},
        (WEB_DATA / "feed.xml").read_bytes(),
    )
    return site


@contextmanager
def serve(site: Site) -> Iterator[Site]:
    """Serve ``site`` on a free loopback port until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            site.requests.append((self.path, headers))
            status, extra, body = site.routes.get(
                self.path.split("?")[0], (404, {"Content-Type": "text/plain"}, b"not found")
            )
            etag = extra.get("ETag")
            if (
                status == 200
                and etag
                and (
                    headers.get("if-none-match") == etag
                    or headers.get("if-modified-since", "-") == extra.get("Last-Modified")
                )
            ):
                status, body = 304, b""
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            pause = site.trickle.get(self.path.split("?")[0])
            if pause is None:
                self.wfile.write(body)
                return
            try:
                for byte in body:
                    if stopping.wait(pause):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:  # the client gave up
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    stopping = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True  # a trickling answer never holds up the end of the block
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()

"""Hostile and careless links, feeds and servers (issue #19): each served on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.service import Newsbot
from index.config import FetchSettings
from index.errors import FetchError
from index.web.feeds import FeedState
from index.web.fetcher import Fetcher, refused_address
from index.web.ingest import add_links, poll_feeds
from tests.fakes import HashEmbedder
from tests.web_server import WEB_DATA, Site, saved_site, serve

STORM = "/news/world/storm-cuts-power-northern-coast"
HARVEST = "/economy/rekordnyi-urozhai-sonyashnyku"
HARVEST_TITLE = "Аграрії Полтавщини зібрали рекордний урожай соняшнику"
STORM_PAGE = (WEB_DATA / "en-storm.html").read_bytes()
DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"


@pytest.fixture
def site() -> Iterator[Site]:
    with serve(saved_site()) as running:
        yield running


@pytest.fixture
def newsbot(settings: Settings) -> Iterator[Newsbot]:
    settings.fetch = FetchSettings(allow_private=True, timeout=5)
    with Newsbot(settings, embedder=HashEmbedder()) as bot:
        bot.reindex()
        yield bot


def _rss(*links: str) -> bytes:
    items = "".join(
        f"<item><title>Item {i}</title><link>{link}</link></item>" for i, link in enumerate(links)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()
    )


def _fetcher(**settings: object) -> Fetcher:
    return Fetcher(FetchSettings(allow_private=True, **settings))  # type: ignore[arg-type]


# -- item 1: one bad link fails alone -------------------------------------------------------------------


@pytest.mark.parametrize("location", ["data:text/html,<p>hi</p>", "mailto:editor@example.com"])
def test_a_redirect_to_a_link_that_is_not_a_page_fails_alone(
    newsbot: Newsbot, site: Site, location: str
) -> None:
    site.routes["/moved"] = (302, {"Location": location}, b"")
    report, reindexed = newsbot.add_links([site.url("/moved"), site.url(HARVEST)])
    assert [s.title for s in report.saved] == [HARVEST_TITLE]
    ((url, reason),) = report.failed
    assert url == site.url("/moved") and reason.startswith(site.url("/moved")) and "\n" not in reason
    assert reindexed is not None and len(reindexed.added) == 1


@pytest.mark.parametrize(
    ("link", "reason"),
    [("http://[::1/x", "malformed link"), ("http://127.0.0.1/a/\x7fx", r"a control character")],
)
def test_a_malformed_link_fails_alone_on_one_printable_line(
    newsbot: Newsbot, site: Site, link: str, reason: str
) -> None:
    report, _ = newsbot.add_links([link, site.url(HARVEST)])
    assert [s.title for s in report.saved] == [HARVEST_TITLE]
    ((url, said),) = report.failed
    assert url == link and reason in said and said.isprintable()


def test_a_feed_with_bad_item_links_saves_the_others_and_its_state_every_poll(
    newsbot: Newsbot, site: Site
) -> None:
    feed = _rss(site.url("/a/&#127;x"), "http://[::1/x", STORM)  # feedparser drops the second
    site.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, feed)
    newsbot.settings.feeds.urls = [site.url("/feed.xml")]
    first, reindexed = newsbot.poll_feeds()
    assert [s.title for s in first.saved] == ["Storm cuts power to 40,000 homes on northern coast"]
    assert [url for url, _ in first.failed] == [site.url("/a/\x7fx")]
    assert reindexed is not None and len(reindexed.added) == 1
    state = json.loads((newsbot.settings.index.data_dir / "feeds.json").read_text(encoding="utf-8"))
    assert state["feeds"][site.url("/feed.xml")]["seen"] == [site.url(STORM)]
    second, _ = newsbot.poll_feeds()  # the same bad items fail again, alone
    assert second.saved == [] and len(second.failed) == 1


def test_an_unexpected_error_costs_only_its_own_link(
    newsbot: Newsbot, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from index.web import ingest

    real = ingest.extract_page

    def fragile(data: bytes | str, url: str | None = None) -> object:
        if url and url.endswith(STORM):
            raise RecursionError("maximum recursion depth exceeded\nwhile parsing")
        return real(data, url=url)

    monkeypatch.setattr(ingest, "extract_page", fragile)
    report, reindexed = newsbot.add_links([site.url(STORM), site.url(HARVEST)])
    assert [s.title for s in report.saved] == [HARVEST_TITLE]
    ((url, reason),) = report.failed
    assert url == site.url(STORM) and "RecursionError" in reason and "\n" not in reason
    assert reindexed is not None and len(reindexed.added) == 1


# -- item 3: compressed bodies are bounded as they are decoded ----------------------------------------


def _gzip_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(packer.compress(bytes(1 << 20)) for _ in range(size >> 20)) + packer.flush()


def test_stacked_content_encodings_are_refused(site: Site) -> None:
    site.routes["/bomb"] = (
        200,
        {"Content-Type": "text/html", "Content-Encoding": "gzip, gzip"},
        gzip.compress(_gzip_zeros(64 << 20)),
    )
    with _fetcher() as fetcher, pytest.raises(FetchError, match="stacked content encodings"):
        fetcher.get(site.url("/bomb"))


def test_a_gzip_bomb_stops_at_the_limit_without_decoding_the_rest(site: Site) -> None:
    bomb = _gzip_zeros(64 << 20)
    site.routes["/bomb"] = (200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, bomb)
    tracemalloc.start()
    try:
        with _fetcher(max_bytes=100_000) as fetcher, pytest.raises(FetchError, match="100,000-byte limit"):
            fetcher.get(site.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000  # 64 MB of zeros behind it; httpx alone decoded each chunk whole


@pytest.mark.parametrize(
    ("coding", "pack"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw deflate, as some servers send
    ],
)
def test_compressed_pages_are_still_read(site: Site, coding: str, pack: object) -> None:
    site.routes["/packed"] = (
        200,
        {"Content-Type": "text/html", "Content-Encoding": coding},
        pack(STORM_PAGE),  # type: ignore[operator]
    )
    with _fetcher() as fetcher:
        assert fetcher.get(site.url("/packed")).body == STORM_PAGE


def test_a_coding_it_did_not_ask_for_is_refused(site: Site) -> None:
    site.routes["/br"] = (200, {"Content-Type": "text/html", "Content-Encoding": "br"}, b"\x1b\x03")
    with _fetcher() as fetcher, pytest.raises(FetchError, match="'br' is not supported"):
        fetcher.get(site.url("/br"))
    assert site.asked("/br")[0]["accept-encoding"] == "gzip, deflate"


# -- item 6: one deadline per link and per feed ---------------------------------------------------------


def test_a_trickling_robots_txt_and_page_end_within_one_timeout(site: Site) -> None:
    site.page("/robots.txt", b"User-agent: *\nAllow: /\n" + b"#" * 100, "text/plain")
    site.trickle = {"/robots.txt": 0.4, STORM: 0.4}
    started = time.monotonic()
    with _fetcher(timeout=1) as fetcher, pytest.raises(FetchError, match="in time"):
        fetcher.get(site.url(STORM))
    assert time.monotonic() - started < 1.4


def test_a_feed_of_trickling_items_ends_within_one_timeout(site: Site, tmp_path: Path) -> None:
    links = [f"/story/{i}" for i in range(4)]
    site.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml", "ETag": '"v1"'}, _rss(*links))
    for link in links:
        site.page(link, STORM_PAGE)
        site.trickle[link] = 0.4
    state = FeedState(tmp_path / "feeds.json")
    started = time.monotonic()
    with _fetcher(timeout=1) as fetcher:
        report = poll_feeds([site.url("/feed.xml")], fetcher, tmp_path / "corpus", state)
    assert time.monotonic() - started < 1.5
    assert report.saved == [] and len(report.failed) == 4
    assert "ran out (tried again next time)" in report.failed[-1][1]
    assert state.record(site.url("/feed.xml")).etag is None  # the next poll fetches it in full again


def test_a_page_link_and_a_feed_link_each_get_their_own_time(site: Site, tmp_path: Path) -> None:
    site.trickle[STORM] = 0.4
    started = time.monotonic()
    with _fetcher(timeout=1) as fetcher:
        report = add_links([site.url(STORM), site.url(HARVEST)], fetcher, tmp_path / "corpus")
    assert time.monotonic() - started < 1.6
    assert [s.title for s in report.saved] == [HARVEST_TITLE] and len(report.failed) == 1


# -- item 7: robots.txt as RFC 9309 reads it ------------------------------------------------------------


@pytest.mark.parametrize(
    ("routes", "reason"),
    [
        (
            {
                "/robots.txt": (301, {"Location": "/a"}, b""),
                "/a": (302, {"Location": "/b"}, b""),
                "/b": (200, {"Content-Type": "text/plain"}, DISALLOW_ALL),
            },
            "does not allow",
        ),
        ({"/robots.txt": (200, {}, DISALLOW_ALL + b"# padding\n" * 60_000)}, "does not allow"),
        ({"/robots.txt": (503, {}, b"busy")}, "answered HTTP 503"),
    ],
    ids=["behind-redirects", "over-500-KiB", "server-error"],
)
def test_robots_txt_that_used_to_allow_everything_now_refuses(
    routes: dict[str, tuple[int, dict[str, str], bytes]], reason: str
) -> None:
    with serve(Site(routes=dict(routes))) as site, _fetcher() as fetcher:
        site.page("/page", STORM_PAGE)
        with pytest.raises(FetchError, match=reason):
            fetcher.get(site.url("/page"))
    assert site.asked("/page") == []


def test_robots_txt_rules_past_500_kib_are_ignored_and_six_redirects_mean_none() -> None:
    padded = b"User-agent: *\n" + b"# padding\n" * 52_000 + b"Disallow: /\n"
    with serve(Site(routes={"/robots.txt": (200, {}, padded)})) as site, _fetcher() as fetcher:
        site.page("/page", STORM_PAGE)
        assert fetcher.get(site.url("/page")).status == 200
    hops = {f"/r{i}": (301, {"Location": f"/r{i + 1}"}, b"") for i in range(6)}
    hops["/r6"] = (200, {}, DISALLOW_ALL)
    with serve(Site(routes={"/robots.txt": (301, {"Location": "/r0"}, b""), **hops})) as site:
        site.page("/page", STORM_PAGE)
        with _fetcher() as fetcher:
            assert fetcher.get(site.url("/page")).status == 200
        assert site.asked("/r4") and not site.asked("/r5")  # robots.txt and five redirects, no more


# -- item 8: IPv6 addresses that carry an IPv4 one ------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("64:ff9b::a00:1", True),  # NAT64 → 10.0.0.1
        ("64:ff9b::7f00:1", True),  # NAT64 → 127.0.0.1
        ("64:ff9b::808:808", False),  # NAT64 → 8.8.8.8
        ("64:ff9b:1::a00:1", True),  # local-use NAT64
        ("2002:a00:1::1", True),  # 6to4 → 10.0.0.1
        ("2002:a9fe:a9fe::1", True),  # 6to4 → 169.254.169.254
        ("2002:808:808::1", False),  # 6to4 → 8.8.8.8
        ("::127.0.0.1", True),  # IPv4-compatible
        ("::a00:1", True),
        ("fec0::1", True),  # site-local
        ("2001:4860:4860::8888", False),
    ],
)
def test_an_ipv6_address_is_judged_by_the_ipv4_address_inside_it(address: str, refused: bool) -> None:
    assert refused_address(address) is refused


# -- item 11: an article over the file limit is not saved -----------------------------------------------


def _long_page(words: int) -> bytes:
    text = " ".join(f"word{i % 997}" for i in range(words))
    return f"<html><body><article><h1>Long</h1><p>{text}</p></article></body></html>".encode()


def test_an_article_over_the_file_limit_is_not_saved_and_the_link_fails(newsbot: Newsbot, site: Site) -> None:
    newsbot.settings.index.max_file_bytes = 20_000
    site.page("/long", _long_page(5000))
    report, reindexed = newsbot.add_links([site.url("/long")])
    assert report.saved == [] and reindexed is None
    ((_, reason),) = report.failed
    assert "20,000-byte file limit (NEWSBOT_INDEX__MAX_FILE_BYTES)" in reason
    assert not (newsbot.settings.index.corpus_dir / "web").exists()


def test_cli_add_of_a_page_over_the_file_limit_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch, corpus: Path, tmp_path: Path, site: Site
) -> None:
    from typer.testing import CliRunner

    from bot import cli

    monkeypatch.setattr("bot.service.make_embedder", lambda settings: HashEmbedder())
    monkeypatch.chdir(tmp_path)
    site.page("/long", _long_page(5000))
    env = {
        "NEWSBOT_INDEX__CORPUS_DIR": str(corpus),
        "NEWSBOT_INDEX__DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_INDEX__MAX_FILE_BYTES": "20000",
        "NEWSBOT_LLM__PROVIDER": "extractive",
        "NEWSBOT_FETCH__ALLOW_PRIVATE": "true",
    }
    result = CliRunner().invoke(cli.app, ["add", site.url("/long"), site.url("/missing")], env=env)
    assert result.exit_code == 1 and "added:" not in result.stdout, result.output
    assert "NEWSBOT_INDEX__MAX_FILE_BYTES" in result.stderr

"""Articles from the web: saved pages served on 127.0.0.1, a feed, robots.txt, refused addresses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.config import Settings
from bot.service import Newsbot
from index.config import FetchSettings
from index.errors import BadArticle, FetchError
from index.load.articles import load_corpus
from index.web.fetcher import Fetcher, _GuardedBackend, refused_address
from index.web.pages import article_file, extract_page
from tests.fakes import HashEmbedder
from tests.web_server import FEED_ETAG, FEED_MODIFIED, WEB_DATA, Site, saved_site, serve

STORM = "/news/world/storm-cuts-power-northern-coast"
BRIDGE = "/society/kazan-novyi-most"
HARVEST = "/economy/rekordnyi-urozhai-sonyashnyku"

PAGES = {
    "en-storm.html": (
        ["cutting power to about 40,000 homes", "harbour master Tom Breck"],
        [
            "Subscribe to our newsletter",
            "Rovers lift the cup",
            "croissant",
            "my shed is gone",
            "All rights reserved",
            "Cookie settings",
            "Home",
        ],
    ),
    "ru-bridge.html": (
        ["длиной 2,3 километра", "маршрута № 37"],
        ["Подпишитесь", "Хоккеисты", "Театр оперы", "ждали этот мост", "Все права защищены", "Политика"],
    ),
    "uk-harvest.html": (
        ["1,2 мільйона тонн", "Лубенського району"],
        ["Вам може сподобатися", "Ворскла", "галушок", "Молодці аграрії", "Передрук", "Контакти"],
    ),
}


@pytest.fixture
def site() -> Iterator[Site]:
    with serve(saved_site()) as running:
        yield running


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    settings.fetch = FetchSettings(allow_private=True, timeout=5)
    return settings


@pytest.fixture
def newsbot(web_settings: Settings) -> Iterator[Newsbot]:
    with Newsbot(web_settings, embedder=HashEmbedder()) as bot:
        bot.reindex()  # the corpus's own articles, so that reports show only what the web added
        yield bot


def _web_files(settings: Settings) -> list[Path]:
    return sorted((settings.index.corpus_dir / "web").rglob("*.md"))


@pytest.mark.parametrize("name", sorted(PAGES))
def test_a_saved_page_gives_its_article_and_none_of_the_furniture(name: str) -> None:
    kept, furniture = PAGES[name]
    page = extract_page((WEB_DATA / name).read_bytes(), url="http://127.0.0.1/whatever")
    for text in kept:
        assert text in page.text
    for text in furniture:
        assert text not in page.text
    assert page.title and page.title not in page.text.split("\n\n")[0]
    assert page.date is not None and page.date.startswith("2024-")
    assert page.url is not None and page.url.startswith("http://127.0.0.1/")


def test_a_canonical_url_on_another_site_is_not_believed() -> None:
    page = extract_page((WEB_DATA / "en-storm.html").read_bytes(), url="https://evil.example/copy")
    assert page.url == "https://evil.example/copy"


def test_html_files_in_the_corpus_are_read_for_their_article(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "storm.html").write_bytes((WEB_DATA / "en-storm.html").read_bytes())
    (corpus / "bridge.htm").write_bytes((WEB_DATA / "ru-bridge.html").read_bytes())
    (corpus / "menu.html").write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>")
    articles, skipped = load_corpus(corpus, max_file_bytes=1_000_000)
    by_id = {a.id: a for a in articles}
    assert set(by_id) == {"storm", "bridge"}
    storm = by_id["storm"]
    assert storm.title == "Storm cuts power to 40,000 homes on northern coast"
    assert (storm.date, storm.source, storm.language) == ("2024-03-05", "Daily Planet", "en")
    assert storm.url == "http://127.0.0.1/news/world/storm-cuts-power-northern-coast"
    assert "Tom Breck" in storm.text and "my shed is gone" not in storm.text
    assert by_id["bridge"].language == "ru" and by_id["bridge"].date == "2024-06-12"
    assert [(s.path.name, s.reason) for s in skipped] == [("menu.html", "no article text in the page")]


def test_a_page_without_an_article_is_refused() -> None:
    with pytest.raises(BadArticle, match="no article text"):
        extract_page(b"<html><body><nav>Home | World</nav></body></html>")


def test_file_names_are_safe_and_stable() -> None:
    corpus = Path("corpus")
    first = article_file(corpus, "https://WWW.Example.com/a/../Новости/Путин заявил.html#top")
    assert first == article_file(corpus, "https://www.example.com/a/../Новости/Путин заявил.html")
    assert first.parent == corpus / "web" / "example.com"
    assert first.name.endswith(".md") and "/" not in first.name and ".." not in first.name
    assert article_file(corpus, "https://example.com/") != article_file(corpus, "https://example.com/?page=2")


def test_adding_a_link_saves_front_matter_markdown_and_indexes_it(newsbot: Newsbot, site: Site) -> None:
    report, reindexed = newsbot.add_links([site.url(STORM)])
    assert [s.status for s in report.saved] == ["added"] and not report.failed
    (path,) = _web_files(newsbot.settings)
    assert path.parent.name == "127.0.0.1"
    text = path.read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---")[1])
    assert front["title"] == "Storm cuts power to 40,000 homes on northern coast"
    assert front["url"] == "http://127.0.0.1/news/world/storm-cuts-power-northern-coast"
    assert (front["date"], front["source"]) == ("2024-03-05", "Daily Planet")
    assert "Tom Breck" in text and "Rovers lift the cup" not in text
    assert reindexed is not None and reindexed.added == ("web/127.0.0.1/" + path.stem,)
    assert "newsbot" in site.asked(STORM)[0]["user-agent"]


def test_re_adding_a_link_updates_the_same_file_and_adds_no_chunks(newsbot: Newsbot, site: Site) -> None:
    newsbot.add_links([site.url(STORM)])
    chunks = newsbot.stats().chunks
    report, reindexed = newsbot.add_links([site.url(STORM) + "?utm_source=telegram"])
    assert [s.status for s in report.saved] == ["unchanged"]
    assert reindexed is None and len(_web_files(newsbot.settings)) == 1
    assert newsbot.stats().chunks == chunks


def test_a_feed_link_adds_the_articles_its_items_link_to(newsbot: Newsbot, site: Site) -> None:
    report, reindexed = newsbot.add_links([site.url("/feed.xml")])
    assert sorted(s.title for s in report.saved) == [
        "Storm cuts power to 40,000 homes on northern coast",
        "В Казани открыли новый мост через Волгу",
    ]
    assert reindexed is not None and len(reindexed.added) == 2


def test_an_unchanged_feed_is_asked_with_a_conditional_get_and_adds_nothing(
    newsbot: Newsbot, site: Site
) -> None:
    newsbot.settings.feeds.urls = [site.url("/feed.xml")]
    first, _ = newsbot.poll_feeds()
    assert len(first.saved) == 2
    site.requests.clear()
    second, reindexed = newsbot.poll_feeds()
    (asked,) = site.asked("/feed.xml")
    assert asked["if-none-match"] == FEED_ETAG and asked["if-modified-since"] == FEED_MODIFIED
    assert (second.saved, second.failed, second.feeds_unchanged, reindexed) == ([], [], 1, None)
    assert [path for path, _ in site.requests] == ["/feed.xml"]  # robots.txt was asked once, the first time


def test_a_feed_item_that_failed_is_tried_again_next_poll(newsbot: Newsbot, site: Site) -> None:
    newsbot.settings.feeds.urls = [site.url("/feed.xml")]
    page = site.routes.pop(BRIDGE)
    first, _ = newsbot.poll_feeds()
    assert len(first.saved) == 1 and [url for url, _ in first.failed] == [site.url(BRIDGE)]
    site.routes[BRIDGE] = page
    second, reindexed = newsbot.poll_feeds()
    assert [s.title for s in second.saved] == ["В Казани открыли новый мост через Волгу"]
    assert reindexed is not None and len(reindexed.added) == 1 and not reindexed.removed


def test_each_failed_link_is_reported_and_the_others_are_still_added(newsbot: Newsbot, site: Site) -> None:
    site.page("/big", b"<html>" + b"x" * 200_000 + b"</html>")
    newsbot.settings.fetch = FetchSettings(allow_private=True, max_bytes=100_000)
    urls = [site.url("/missing"), "file:///etc/passwd", site.url(HARVEST), site.url("/big"), "ftp://x/y"]
    report, reindexed = newsbot.add_links(urls)
    assert [s.title for s in report.saved] == ["Аграрії Полтавщини зібрали рекордний урожай соняшнику"]
    reasons = dict(report.failed)
    assert "HTTP 404" in reasons[site.url("/missing")]
    assert "only http and https" in reasons["file:///etc/passwd"]
    assert "limit" in reasons[site.url("/big")]
    assert "only http and https" in reasons["ftp://x/y"]
    assert reindexed is not None and len(reindexed.added) == 1


def test_redirects_are_followed_up_to_the_limit(site: Site) -> None:
    site.routes["/short"] = (301, {"Location": HARVEST}, b"")
    site.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with Fetcher(FetchSettings(allow_private=True, max_redirects=3)) as fetcher:
        assert fetcher.get(site.url("/short")).url == site.url(HARVEST)
        with pytest.raises(FetchError, match="more than 3 redirects"):
            fetcher.get(site.url("/loop"))


def test_private_and_loopback_addresses_are_refused_without_the_setting(site: Site) -> None:
    with Fetcher(FetchSettings()) as fetcher, pytest.raises(FetchError, match="ALLOW_PRIVATE"):
        fetcher.get(site.url(STORM))
    assert site.requests == []


def test_a_redirect_to_a_private_address_is_refused(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    # The test server is on loopback: let that through, and refuse the cloud metadata address.
    monkeypatch.setattr("index.web.fetcher.refused_address", lambda address: address.startswith("169.254."))
    site.routes["/to-metadata"] = (302, {"Location": "http://169.254.169.254/latest/meta-data"}, b"")
    with (
        Fetcher(FetchSettings()) as fetcher,
        pytest.raises(FetchError, match=r"169\.254\.169\.254.*ALLOW_PRIVATE"),
    ):
        fetcher.get(site.url("/to-metadata"))
    assert len(site.asked("/to-metadata")) == 1


def test_every_connection_is_checked_not_only_the_link(site: Site) -> None:
    """What connects is checked too, so a DNS answer that changes after the first check gets nowhere."""
    port = int(site.base.rsplit(":", 1)[1])
    with pytest.raises(FetchError, match="ALLOW_PRIVATE"):
        _GuardedBackend(allow_private=False).connect_tcp("localhost", port)
    _GuardedBackend(allow_private=True).connect_tcp("127.0.0.1", port).close()


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("192.168.0.1", True),
        ("169.254.169.254", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("fe80::1", True),
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
    ],
)
def test_addresses_a_link_may_not_reach(address: str, refused: bool) -> None:
    assert refused_address(address) is refused


def test_robots_txt_disallow_is_respected_unless_switched_off(site: Site) -> None:
    site.page("/robots.txt", b"User-agent: *\nDisallow: /news/\n", "text/plain")
    with Fetcher(FetchSettings(allow_private=True)) as fetcher:
        with pytest.raises(FetchError, match=r"robots\.txt"):
            fetcher.get(site.url(STORM))
        assert fetcher.get(site.url(HARVEST)).status == 200
    assert site.asked(STORM) == []
    with Fetcher(FetchSettings(allow_private=True, respect_robots=False)) as fetcher:
        assert fetcher.get(site.url(STORM)).status == 200


def test_cli_add_and_feeds_print_what_was_added_and_what_failed(
    monkeypatch: pytest.MonkeyPatch, corpus: Path, tmp_path: Path, site: Site
) -> None:
    from typer.testing import CliRunner

    from bot import cli

    monkeypatch.setattr("bot.service.make_embedder", lambda settings: HashEmbedder())
    monkeypatch.chdir(tmp_path)
    env = {
        "NEWSBOT_INDEX__CORPUS_DIR": str(corpus),
        "NEWSBOT_INDEX__DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_LLM__PROVIDER": "extractive",
        "NEWSBOT_FETCH__ALLOW_PRIVATE": "true",
        "NEWSBOT_FEEDS__URLS": f'["{site.url("/feed.xml")}"]',
    }
    runner = CliRunner()
    added = runner.invoke(cli.app, ["add", site.url(HARVEST), site.url("/missing")], env=env)
    assert added.exit_code == 0, added.output
    assert "added: Аграрії Полтавщини зібрали рекордний урожай соняшнику" in added.stdout
    assert (
        "HTTP 404" in added.stderr and "1 new / 0 updated / 0 unchanged articles / 1 failed" in added.stdout
    )
    first = runner.invoke(cli.app, ["feeds"], env=env)
    assert first.exit_code == 0 and "2 new" in first.stdout, first.output
    again = runner.invoke(cli.app, ["feeds"], env=env)
    assert "1 feeds not modified" in again.stdout and "index unchanged" in again.stdout
    refused = runner.invoke(
        cli.app, ["add", site.url(STORM)], env={**env, "NEWSBOT_FETCH__ALLOW_PRIVATE": "false"}
    )
    assert refused.exit_code == 1 and "ALLOW_PRIVATE" in refused.stderr


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("http:///nohost", "no host"),
        ("http://127.0.0.1:99999/x", "bad port"),
    ],
)
def test_links_that_are_not_web_pages_are_refused_before_any_request(url: str, reason: str) -> None:
    with Fetcher(FetchSettings(allow_private=True)) as fetcher, pytest.raises(FetchError, match=reason):
        fetcher.get(url)
    assert fetcher.requests == 0

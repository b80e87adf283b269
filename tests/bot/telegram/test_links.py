"""Links sent to the Telegram bot by an admin, and the scheduled feed poll (real PTB Application, respx)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.telegram.app import build_application
from index.models import ReindexReport, Saved, WebReport
from tests.bot.telegram.test_app import (
    ADMIN,
    USER,
    BotAPI,
    FakeBackend,
    api,  # noqa: F401  (a fixture)
    feed,
    make_settings,
    message_update,
)


class WebBackend(FakeBackend):
    """FakeBackend that also takes links and polls feeds, recording the thread it ran in."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[list[str]] = []
        self.polls: list[str] = []

    def add_links(self, urls: Sequence[str]) -> tuple[WebReport, ReindexReport | None]:
        self.links.append(list(urls))
        report = WebReport(
            saved=[Saved(urls[0], "Storm cuts power", Path("corpus/web/x/storm-1.md"), "added")],
            failed=[(u, f"{u}: HTTP 404") for u in urls[1:]],
        )
        return report, ReindexReport(added=("web/x/storm-1",), chunks_embedded=2, seconds=0.1)

    def poll_feeds(self) -> tuple[WebReport, ReindexReport | None]:
        self.polls.append(threading.current_thread().name)
        return WebReport(feeds_unchanged=1), None


@pytest.fixture
def backend() -> WebBackend:
    return WebBackend()


def _links_update(text: str, user_id: int) -> dict[str, Any]:
    entities = []
    for word in text.split():
        if word.startswith("http"):
            entities.append({"type": "url", "offset": text.index(word), "length": len(word)})
    return message_update(text, chat_id=user_id, user_id=user_id, entities=entities)


async def test_an_admin_sending_links_gets_them_added_and_a_reply_saying_what(
    tmp_path: Path,
    api: BotAPI,  # noqa: F811
    backend: WebBackend,
) -> None:
    app = build_application(make_settings(tmp_path), backend)
    async with app:
        await feed(app, _links_update("https://example.com/storm https://example.com/gone", ADMIN))
    assert backend.links == [["https://example.com/storm", "https://example.com/gone"]]
    assert backend.calls == []  # not taken for a question
    started, done = api.texts(ADMIN)
    assert started == "Fetching 2 link(s) and indexing what they hold…"
    assert done.startswith("Added from the web: web: 1 new / 0 updated / 0 unchanged articles / 1 failed")
    assert "+ Storm cuts power (added)" in done and "✗ https://example.com/gone: HTTP 404" in done


async def test_a_link_from_someone_else_or_inside_a_question_is_a_question(
    tmp_path: Path,
    api: BotAPI,  # noqa: F811
    backend: WebBackend,
) -> None:
    app = build_application(make_settings(tmp_path), backend)
    async with app:
        await feed(app, _links_update("https://example.com/storm", USER))
        await feed(app, _links_update("What does https://example.com/storm say about power cuts?", ADMIN))
    assert backend.links == []
    assert [question for question, _ in backend.calls] == [
        "https://example.com/storm",
        "What does https://example.com/storm say about power cuts?",
    ]


async def test_feeds_are_polled_on_a_schedule_in_a_worker_thread(
    tmp_path: Path,
    api: BotAPI,  # noqa: F811
    backend: WebBackend,
) -> None:
    settings = make_settings(tmp_path)
    settings.feeds.urls = ["https://example.com/rss.xml"]
    settings.feeds.poll_minutes = 15
    app = build_application(settings, backend)
    assert app.job_queue is not None
    (job,) = app.job_queue.jobs()
    assert job.name == "feeds"
    async with app:
        await job.run(app)
    assert len(backend.polls) == 1 and backend.polls[0] != threading.main_thread().name


def test_no_poll_is_scheduled_when_it_is_off(tmp_path: Path, backend: WebBackend) -> None:
    settings = make_settings(tmp_path)
    settings.feeds.urls = ["https://example.com/rss.xml"]
    app = build_application(settings, backend)
    assert app.job_queue is None or not app.job_queue.jobs()


async def test_a_feed_poll_that_raises_anything_is_logged_and_the_next_one_runs(
    tmp_path: Path,
    api: BotAPI,  # noqa: F811
    backend: WebBackend,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(tmp_path)
    settings.feeds.urls = ["https://example.com/rss.xml"]
    settings.feeds.poll_minutes = 15
    failures = iter([ValueError("Invalid IPv6 URL")])

    def poll() -> tuple[WebReport, ReindexReport | None]:
        error = next(failures, None)
        if error is not None:
            raise error
        return WebBackend.poll_feeds(backend)

    backend.poll_feeds = poll  # type: ignore[method-assign]
    app = build_application(settings, backend)
    assert app.job_queue is not None
    (job,) = app.job_queue.jobs()
    async with app:
        await job.run(app)
        await job.run(app)
    (failed,) = [r for r in caplog.records if r.getMessage() == "Feed poll failed"]
    assert failed.exc_info is not None and "Invalid IPv6 URL" in str(failed.exc_info[1])
    assert len(backend.polls) == 1


async def test_an_admins_slow_links_do_not_hold_up_a_reindex(
    tmp_path: Path,
    api: BotAPI,  # noqa: F811
    backend: WebBackend,
) -> None:
    fetching = threading.Event()
    release = threading.Event()
    add_links = backend.add_links

    def slow(urls: Sequence[str]) -> tuple[WebReport, ReindexReport | None]:
        fetching.set()
        assert release.wait(10), "the test never let the links finish"
        return add_links(urls)

    backend.add_links = slow  # type: ignore[method-assign]
    app = build_application(make_settings(tmp_path), backend)
    async with app:
        links = asyncio.create_task(feed(app, _links_update("https://example.com/storm", ADMIN)))
        await asyncio.to_thread(fetching.wait, 5)
        await asyncio.wait_for(feed(app, message_update("/reindex", chat_id=ADMIN, user_id=ADMIN)), 3)
        assert backend.reindexed == 1 and not links.done()
        release.set()
        await links
    assert backend.links == [["https://example.com/storm"]]

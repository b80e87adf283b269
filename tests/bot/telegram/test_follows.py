"""Follows through the real PTB Application: /follow, a feed poll served on loopback, alerts, restarts, digests."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx

from bot.config import Settings
from bot.service import Newsbot
from bot.telegram.app import NewsbotApplication, build_application
from tests.bot.telegram.test_app import (
    TOKEN,
    USER,
    BotAPI,
    eventually,
    feed,
    message_update,
    params,
    visible,
)
from tests.bot.telegram.test_citations import press
from tests.conftest import write_corpus
from tests.fakes import HashEmbedder
from tests.web_server import Site, serve

OTHER = 3003


def page(title: str, site_name: str, date: str, *paragraphs: str) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="og:site_name" content="{site_name}">'
        f'<meta property="article:published_time" content="{date}T09:00:00Z"></head>'
        f"<body><main><article><h1>{title}</h1>{body}</article></main></body></html>"
    ).encode()


STORM_A = page(
    "Storm cuts power to 40,000 homes on northern coast",
    "Daily Planet",
    "2024-03-05",
    "A powerful storm hit the northern coast on Tuesday, cutting power to about 40,000 homes, "
    "the regional energy company said.",
    "Rescue teams evacuated more than 300 people overnight from low-lying streets in Portwick, "
    "where the sea wall was breached shortly after midnight.",
    "Governor Helen Marsh declared a state of emergency and asked residents to stay indoors.",
)
STORM_B = page(
    "Northern coast storm leaves 40,000 homes without power",
    "Coast Herald",
    "2024-03-05",
    "A storm on the northern coast left about 40,000 homes without power on Tuesday, the energy "
    "company said.",
    "Emergency crews evacuated 300 people from Portwick after the sea wall gave way.",
    "The governor declared a state of emergency across the region.",
)
BAKERY = page(
    "Local bakery wins national croissant award",
    "Coast Herald",
    "2024-03-06",
    "A family bakery in Eastharbour won the national croissant award on Wednesday, beating "
    "ninety other bakers from across the country.",
    "The judges praised the butter layers and the crisp golden crust of its pastries.",
    "The owners said they would celebrate by baking for the whole street on Saturday.",
)


def rss(site: Site, *paths: str) -> bytes:
    items = "".join(f"<item><title>{p}</title><link>{site.url(p)}</link></item>" for p in paths)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>News</title>'
        f"<link>{site.base}/</link><description>News</description>{items}</channel></rss>"
    ).encode()


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site()
    with serve(site) as running:
        running.page("/planet/storm", STORM_A)
        running.page("/herald/storm", STORM_B)
        running.page("/herald/bakery", BAKERY)
        running.page("/planet.xml", rss(running), "application/rss+xml")
        running.page("/herald.xml", rss(running), "application/rss+xml")
        yield running


def publish(site: Site, feed_path: str, *paths: str) -> None:
    site.page(feed_path, rss(site, *paths), "application/rss+xml")


@pytest.fixture
def api() -> Iterator[BotAPI]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()  # the feeds and pages, served on loopback
        yield BotAPI(mock)


def follow_settings(tmp_path: Path, site: Site, **telegram: Any) -> Settings:
    write_corpus(tmp_path / "corpus", {"old.txt": "Old news\n\nA quiet day in the harbour town."})
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram={"token": TOKEN, **telegram},
        index={
            "corpus_dir": tmp_path / "corpus",
            "data_dir": tmp_path / "data",
            "chunk_size": 64,
            "chunk_overlap": 8,
        },
        llm={"provider": "extractive"},
        fetch={"allow_private": True, "timeout": 5},
        feeds={"urls": [site.url("/planet.xml"), site.url("/herald.xml")], "poll_minutes": 15},
        follow={"min_score": 0.3, "story_min_similarity": 0.65},
    )


class Bot:
    """A running bot over a real Newsbot (hash embedder, Chroma in tmp_path): the app and its jobs."""

    def __init__(self, settings: Settings) -> None:
        self.newsbot = Newsbot(settings, embedder=HashEmbedder())
        self.newsbot.ensure_index()
        self.app: NewsbotApplication = build_application(settings, self.newsbot, stream_interval=0.05)

    def job(self, name: str) -> Any:
        assert self.app.job_queue is not None
        return next(job for job in self.app.job_queue.jobs() if job.name == name)

    async def poll(self) -> None:
        """The scheduled feed poll, as the job queue runs it."""
        await self.job("feeds").run(self.app)

    async def check(self) -> None:
        """The scheduled follow check (what another process indexed)."""
        await self.job("follows").run(self.app)


def alerts_sent(api: BotAPI, chat_id: int = USER) -> list[Any]:
    return [
        c
        for c in api.send.calls
        if int(params(c.request)["chat_id"]) == chat_id and params(c.request)["text"].startswith("🔔")
    ]


async def test_a_poll_that_adds_a_matching_article_sends_one_alert_with_its_quote_and_button(
    tmp_path: Path, site: Site, api: BotAPI
) -> None:
    bot = Bot(follow_settings(tmp_path, site))
    async with bot.app:
        await feed(bot.app, message_update("/follow storm power cut northern coast homes"))
        assert api.texts(USER)[-1].startswith("Following (1): storm power cut northern coast homes")
        publish(site, "/planet.xml", "/planet/storm", "/herald/bakery")
        await bot.poll()  # the reindex tells the follows at once: no wait for the check job
        await eventually(lambda: len(alerts_sent(api)) == 1)
        await bot.check()  # a later check finds nothing new

        [call] = alerts_sent(api)
        sent = params(call.request)
        text = visible(sent["text"])
        assert "New on what you follow: storm power cut northern coast homes" in text
        assert "cutting power to about 40,000 homes" in text and "[1]" in text
        assert '<a href="' + html.escape(site.url("/planet/storm"), quote=True) in sent["text"]
        assert "Daily Planet" in text and "2024-03-05" in text
        assert "croissant" not in text and "bakery" not in text.lower()
        [[button]] = json.loads(sent["reply_markup"])["inline_keyboard"]
        assert button["text"].startswith("[1] Storm cuts power")

        await feed(bot.app, press(button["callback_data"]))
    quote = api.texts(USER)[-1]
    assert "cutting power to about 40,000 homes" in visible(quote)
    assert "Paragraph 1 of 3" in visible(quote)


async def test_the_same_story_from_two_feeds_is_one_alert_listing_both_sources(
    tmp_path: Path, site: Site, api: BotAPI
) -> None:
    bot = Bot(follow_settings(tmp_path, site))
    async with bot.app:
        await feed(bot.app, message_update("/follow storm power cut northern coast homes"))
        publish(site, "/planet.xml", "/planet/storm")
        publish(site, "/herald.xml", "/herald/storm", "/herald/bakery")
        await bot.poll()
        await eventually(lambda: len(alerts_sent(api)) >= 1)
        await bot.check()
    [call] = alerts_sent(api)
    text = visible(params(call.request)["text"])
    assert {
        line[:4] for line in text.splitlines() if "Storm cuts power" in line or "Northern coast storm" in line
    } == {
        "[1] ",
        "[2] ",
    }
    assert "Daily Planet" in text and "Coast Herald" in text
    buttons = json.loads(params(call.request)["reply_markup"])["inline_keyboard"]
    assert len(buttons) == 2


async def test_after_a_restart_an_alerted_article_is_not_alerted_again_even_when_it_changes(
    tmp_path: Path, site: Site, api: BotAPI
) -> None:
    settings = follow_settings(tmp_path, site)
    first = Bot(settings)
    async with first.app:
        await feed(first.app, message_update("/follow storm power cut northern coast homes"))
        publish(site, "/planet.xml", "/planet/storm")
        await first.poll()
        await eventually(lambda: len(alerts_sent(api)) == 1)
    first.newsbot.close()

    saved = sorted((tmp_path / "corpus" / "web").rglob("*.md"))
    assert saved
    saved[0].write_text(saved[0].read_text(encoding="utf-8") + "\nPower was back in most homes by Friday.\n")
    second = Bot(settings)  # a new process: the follow, what was alerted and the log come from disk
    async with second.app:
        report = second.newsbot.reindex()  # as `newsbot reindex` would, outside the bot's own polls
        assert report.updated
        await second.check()
        await feed(second.app, message_update("/following"))
    assert len(alerts_sent(api)) == 1
    assert api.texts(USER)[-1].endswith("1. storm power cut northern coast homes")


async def test_an_unfollowed_topic_sends_nothing(tmp_path: Path, site: Site, api: BotAPI) -> None:
    bot = Bot(follow_settings(tmp_path, site))
    async with bot.app:
        await feed(bot.app, message_update("/follow storm power cut northern coast homes"))
        await feed(bot.app, message_update("/unfollow 1"))
        assert api.texts(USER)[-1] == "No longer following: storm power cut northern coast homes"
        await feed(bot.app, message_update("/following"))
        publish(site, "/planet.xml", "/planet/storm")
        await bot.poll()
        await bot.check()
    assert api.texts(USER)[-1].startswith("This chat follows nothing yet.")
    assert alerts_sent(api) == []


async def test_a_chat_off_the_allow_list_can_not_follow_and_gets_nothing(
    tmp_path: Path, site: Site, api: BotAPI
) -> None:
    bot = Bot(follow_settings(tmp_path, site, allowed_users=[USER]))
    async with bot.app:
        await feed(bot.app, message_update("/follow storm power cut", chat_id=OTHER, user_id=OTHER))
        publish(site, "/planet.xml", "/planet/storm")
        await bot.poll()
        await bot.check()
    assert api.texts(OTHER) == ["Sorry, this bot is private and you are not on its list of users."]
    assert not (tmp_path / "data" / "telegram" / "chats" / f"{OTHER}.json").exists()


async def test_a_digest_groups_one_story_told_by_two_feeds_and_an_empty_window_says_so(
    tmp_path: Path, site: Site, api: BotAPI
) -> None:
    settings = follow_settings(tmp_path, site)
    settings.index.corpus_dir = tmp_path / "empty"
    settings.index.corpus_dir.mkdir()
    bot = Bot(settings)
    async with bot.app:
        await feed(bot.app, message_update("/digest"))
        assert api.texts(USER)[-1] == "Nothing new in the last 24 h."
        publish(site, "/planet.xml", "/planet/storm")
        publish(site, "/herald.xml", "/herald/storm", "/herald/bakery")
        await bot.poll()
        await feed(bot.app, message_update("/digest 6"))
    digest = visible(api.texts(USER)[-1])
    assert digest.startswith("📰 New in the last 6 h: 3 articles in 2 stories")
    first, second = digest.split("\n\n")[1:]
    assert first.startswith(
        ("1. A powerful storm hit the northern coast", "1. A storm on the northern coast")
    )
    assert "] Storm cuts power" in first and "] Northern coast storm" in first
    assert "2024-03-05 · Daily Planet" in first and "2024-03-05 · Coast Herald" in first
    assert second.startswith("2. A family bakery") and "[1] Local bakery" in second


async def test_a_daily_digest_goes_out_once_a_day_at_its_time(
    tmp_path: Path, site: Site, api: BotAPI
) -> None:
    bot = Bot(follow_settings(tmp_path, site))
    async with bot.app:
        await feed(bot.app, message_update("/digest daily 00:00"))
        assert api.texts(USER)[-1].startswith("Every day at 00:00 (UTC)")
        await bot.job("digests").run(bot.app)
        await bot.job("digests").run(bot.app)
    digests = [t for t in api.texts(USER) if t.startswith("📰")]
    assert len(digests) == 1 and "1 articles in 1 stories" in digests[0]


def test_follow_commands_are_registered_with_the_other_commands(tmp_path: Path, site: Site) -> None:
    bot = Bot(follow_settings(tmp_path, site))
    commands = {
        c for handlers in bot.app.handlers.values() for h in handlers for c in getattr(h, "commands", ())
    }
    assert {"follow", "following", "unfollow", "digest", "start", "help"} <= commands


async def test_a_later_source_of_an_alerted_story_is_added_to_its_message_not_sent_anew(
    tmp_path: Path, site: Site, api: BotAPI
) -> None:
    bot = Bot(follow_settings(tmp_path, site))
    async with bot.app:
        await feed(bot.app, message_update("/follow storm power cut northern coast homes"))
        publish(site, "/planet.xml", "/planet/storm")
        await bot.poll()
        await eventually(lambda: len(alerts_sent(api)) == 1)
        publish(site, "/herald.xml", "/herald/storm")
        await bot.poll()
        await eventually(lambda: api.edit.called)
        await bot.check()
    [first] = alerts_sent(api)
    edited = params(api.edit.calls.last.request)
    assert edited["message_id"] == str(first.response.json()["result"]["message_id"])
    text = visible(edited["text"])
    assert text.startswith("🔔 New on what you follow: storm power cut northern coast homes")
    assert "[1] Storm cuts power" in text and "[2] Northern coast storm" in text
    assert len(json.loads(edited["reply_markup"])["inline_keyboard"]) == 2

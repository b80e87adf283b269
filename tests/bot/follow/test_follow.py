"""The follow core: the arrival log, a chat's follow book, matching, story grouping, and the CLI commands."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bot import cli
from bot.config import Settings
from bot.follow.book import FollowBook
from bot.follow.engine import engine_for
from bot.follow.models import Follow
from bot.follow.storage import arrival_log, parse_duration
from bot.follow.stories import cluster
from bot.models import Turn
from bot.service import Newsbot
from bot.telegram.chat_store import ChatStore
from bot.telegram.follow_views import digest_due, parse_hours, parse_time
from tests.fakes import HashEmbedder

runner = CliRunner()


def test_the_arrival_log_keeps_order_a_cursor_and_time_windows(tmp_path: Path) -> None:
    log = arrival_log(tmp_path)
    log.record(["a", "b"], [], at=100.0)
    log.record([], ["a"], at=200.0)
    assert [(x.article_id, x.kind) for x in log.after(0)] == [
        ("a", "added"),
        ("b", "added"),
        ("a", "updated"),
    ]
    assert log.cursor("bot") is None
    log.set_cursor("bot", 2)
    assert [x.article_id for x in arrival_log(tmp_path).after(arrival_log(tmp_path).cursor("bot") or 0)] == [
        "a"
    ]
    assert [x.seq for x in log.between(150.0)] == [3]


@pytest.mark.parametrize(
    ("text", "seconds"), [("24h", 86400), ("90m", 5400), ("2d", 172800), ("1w", 604800), ("6", 21600)]
)
def test_durations_read_as_people_write_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "yesterday", "-2h", "0h", "9999d"])
def test_a_bad_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_follows_survive_a_reset_and_new_turns_and_number_from_one(tmp_path: Path) -> None:
    store = ChatStore(tmp_path, keep=3)
    book = FollowBook(store, limit=2)
    first = book.add(7, "Russia North Korea arms deal", "en", user=7)
    assert first is not None and first.number == 1
    assert book.add(7, "russia  north korea ARMS deal", "en") == first  # the same follow, not a second
    store.append(7, Turn("q", "a"))
    assert book.add(7, "Чи відвідає Путін Пхеньян?", "uk") is not None
    assert book.add(7, "A third one", "en") is None  # the chat's limit
    store.reset(7)
    assert store.history(7) == ()
    assert [(f.number, f.text) for f in FollowBook(ChatStore(tmp_path, keep=3)).follows(7)] == [
        (1, "Russia North Korea arms deal"),
        (2, "Чи відвідає Путін Пхеньян?"),
    ]
    gone = book.remove(7, 1)
    assert gone is not None and gone.text == "Russia North Korea arms deal"
    assert [f.number for f in book.follows(7)] == [1]
    assert book.remove(7, 5) is None
    assert book.chats() == {7: book.follows(7)}


def test_alerted_articles_and_the_hourly_count_are_remembered(tmp_path: Path) -> None:
    book = FollowBook(ChatStore(tmp_path, keep=3))
    follow = book.add(5, "storm", "en")
    assert follow is not None
    book.mark(5, follow.id, ["a", "b"], sent=True)
    book.mark(5, follow.id, ["c"], sent=False)  # left for the digest: not counted
    assert book.alerted(5) == {follow.id: {"a", "b", "c"}}
    assert book.sent_last_hour(5) == 1
    book.unmark(5, follow.id, ["a", "b"])
    assert FollowBook(ChatStore(tmp_path, keep=3)).alerted(5) == {follow.id: {"c"}}
    assert book.sent_last_hour(5) == 0


def test_clustering_joins_close_leads_within_the_window_and_does_not_chain() -> None:
    similarity = np.array(
        [
            [1.0, 0.9, 0.5, 0.1],
            [0.9, 1.0, 0.75, 0.1],
            [0.5, 0.75, 1.0, 0.1],
            [0.1, 0.1, 0.1, 1.0],
        ]
    )
    assert cluster(similarity, [0, 0, 0, 0], 0.7, 10) == [[0, 1], [2], [3]]  # mean(0.5, 0.75) < 0.7
    assert cluster(similarity, [0, 0, 0, 0], 0.6, 10) == [[0, 1, 2], [3]]
    assert cluster(similarity, [0, 100, 0, 0], 0.6, 10) == [[0, 2], [1], [3]] or cluster(
        similarity, [0, 100, 0, 0], 0.6, 10
    ) == [[0], [1], [2], [3]]


@pytest.fixture
def newsbot(settings: Settings) -> Newsbot:
    settings.follow.min_score = 0.45
    bot = Newsbot(settings, embedder=HashEmbedder())
    bot.reindex()
    return bot


def test_a_follow_matches_the_article_that_concerns_it_with_its_best_sentence(newsbot: Newsbot) -> None:
    engine = engine_for(newsbot)
    follow = Follow(1, "Who accompanied Kim Jong Un at the aircraft plant?", "en", created=0.0)
    alerts = engine.alerts({9: [follow]}, engine.log.after(0))
    assert [a.article_ids for a in alerts] == [("plant",)]
    best = alerts[0].story.quotes[0]
    assert "Kim Jong Un visited the aircraft plant" in best.sentence or "accompanied" in best.sentence
    assert best.score >= engine.bar
    assert engine.alerts({9: [follow]}, engine.log.after(0), {(9, 1): {"plant"}}) == []  # alerted already
    later = Follow(1, follow.text, "en", created=time.time() + 60)
    assert engine.alerts({9: [later]}, engine.log.after(0)) == []  # it arrived before the follow was made


def test_a_rebuild_is_not_news_but_a_changed_article_is(newsbot: Newsbot, settings: Settings) -> None:
    log = engine_for(newsbot).log
    before = log.last()
    newsbot.reindex(rebuild=True)
    assert log.last() == before
    (settings.index.corpus_dir / "world" / "weather.txt").write_text(
        "Heavy snow\n\nThe passes stay closed until Monday."
    )
    newsbot.reindex()
    assert [(a.article_id, a.kind) for a in log.after(before)] == [("world/weather", "updated")]


def test_the_cli_follows_checks_and_digests(
    monkeypatch: pytest.MonkeyPatch, corpus: Path, tmp_path: Path
) -> None:
    monkeypatch.setattr("bot.service.make_embedder", lambda settings: HashEmbedder())
    monkeypatch.chdir(tmp_path)
    env = {
        "NEWSBOT_INDEX__CORPUS_DIR": str(corpus),
        "NEWSBOT_INDEX__DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_INDEX__CHUNK_SIZE": "64",
        "NEWSBOT_INDEX__CHUNK_OVERLAP": "8",
        "NEWSBOT_FOLLOW__MIN_SCORE": "0.3",
    }
    assert runner.invoke(cli.app, ["digest", "--since", "1h"], env=env).stdout.startswith("since ")
    added = runner.invoke(cli.app, ["follow", "add", "Kim", "aircraft", "plant", "visit"], env=env)
    assert added.exit_code == 0 and added.stdout.strip() == "following 1: Kim aircraft plant visit"
    assert runner.invoke(cli.app, ["follow", "list"], env=env).stdout.strip() == "1. Kim aircraft plant visit"
    checked = runner.invoke(cli.app, ["follow", "check", "--since", "1h"], env=env)
    assert checked.exit_code == 0
    assert (
        "follow 1: Kim aircraft plant visit" in checked.stdout
        and "[1] Kim visits the aircraft plant" in checked.stdout
    )
    assert "Heavy snow" not in checked.stdout
    bad = runner.invoke(cli.app, ["digest", "--since", "yesterday"], env=env)
    assert bad.exit_code == 1 and "bad --since" in bad.stderr
    removed = runner.invoke(cli.app, ["follow", "remove", "1"], env=env)
    assert removed.stdout.strip() == "no longer following: Kim aircraft plant visit"
    assert runner.invoke(cli.app, ["follow", "remove", "1"], env=env).exit_code == 1


@pytest.mark.parametrize(
    ("text", "expected"), [("08:00", "08:00"), ("8:05", "08:05"), ("7.30", "07:30"), ("7h30", "07:30")]
)
def test_a_daily_time_reads_as_people_write_it(text: str, expected: str) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "8", "noon", "08:60"])
def test_a_bad_daily_time_is_refused(text: str) -> None:
    assert parse_time(text) is None


def test_a_daily_digest_is_due_once_its_time_has_come_and_once_a_day() -> None:
    morning = dt.datetime(2026, 12, 5, 7, 59)
    assert not digest_due("08:00", None, morning)
    assert digest_due("08:00", None, morning.replace(hour=8, minute=0))
    assert digest_due("08:00", "2026-12-04", morning.replace(hour=9))
    assert not digest_due("08:00", "2026-12-05", morning.replace(hour=9))
    assert parse_hours("6") == 6.0 and parse_hours("12h") == 12.0 and parse_hours("0") is None

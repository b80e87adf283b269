"""Unknown commands (issue #19, item 14): a short hint pointing at /help in the user's language, never silence."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import respx
from telegram.ext import CommandHandler

from bot.telegram.app import NewsbotApplication, build_application
from tests.bot.telegram.test_app import GROUP, USER, BotAPI, FakeBackend, feed, make_settings, message_update


@pytest.fixture
def api() -> Iterator[BotAPI]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield BotAPI(mock)


@pytest.fixture
async def app(tmp_path: Path, api: BotAPI) -> AsyncIterator[NewsbotApplication]:
    application = build_application(make_settings(tmp_path), FakeBackend(), stream_interval=0.05)
    async with application:
        yield application


@pytest.mark.parametrize(
    ("language", "says"),
    [("en", "I don't know the command /foo"), ("ru", "Я не знаю команды /foo"), ("uk", "/foo")],
)
async def test_an_unknown_command_gets_a_hint_in_the_users_language(
    app: NewsbotApplication, api: BotAPI, language: str, says: str
) -> None:
    await feed(app, message_update("/foo bar", language_code=language))
    texts = api.texts(USER)
    assert len(texts) == 1
    assert says in texts[0] and "/help" in texts[0]


async def test_known_commands_are_not_answered_as_unknown(app: NewsbotApplication, api: BotAPI) -> None:
    await feed(app, message_update("/reset"))
    texts = api.texts(USER)
    assert len(texts) == 1 and "forgotten" in texts[0]


async def test_a_command_registered_after_the_fallback_still_wins(
    app: NewsbotApplication, api: BotAPI
) -> None:
    heard: list[str] = []

    async def watch(update: object, context: object) -> None:
        heard.append("watch")

    app.add_handler(CommandHandler("watch", watch))  # as another module adding a command later would
    await feed(app, message_update("/watch https://example.com/rss"))
    assert heard == ["watch"]
    assert api.texts(USER) == []


async def test_in_a_group_only_commands_naming_this_bot_get_the_hint(
    app: NewsbotApplication, api: BotAPI
) -> None:
    await feed(app, message_update("/foo", chat_id=GROUP))
    await feed(app, message_update("/foo@other_bot", chat_id=GROUP))
    assert api.texts(GROUP) == []
    await feed(app, message_update("/foo@newsbot_test_bot", chat_id=GROUP))
    assert len(api.texts(GROUP)) == 1 and "/help" in api.texts(GROUP)[0]


async def test_a_long_command_is_repeated_cut(app: NewsbotApplication, api: BotAPI) -> None:
    await feed(app, message_update("/" + "x" * 300))
    (text,) = api.texts(USER)
    assert "x" * 41 not in text and "…" in text

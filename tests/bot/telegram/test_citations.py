"""Checkable citations: a button per quoted source under each answer shows the sentences it relies on.

Driven through the real PTB Application with the Bot API mocked by respx (harness in test_telegram_app).
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.answering.prompts import load_prompts
from bot.config import Settings
from bot.models import Answer, Source, Turn
from bot.service import Newsbot
from bot.telegram.app import NewsbotApplication, build_application
from bot.telegram.chat_store import ChatStore
from bot.telegram.format import Texts
from bot.telegram.quotes import locate, render_quote
from bot.telegram.views import quote_messages, source_buttons
from tests.bot.telegram.test_app import (
    GROUP,
    USER,
    BotAPI,
    Builder,
    FakeBackend,
    feed,
    group_question,
    make_settings,
    message_update,
    params,
    visible,
)
from tests.fakes import HashEmbedder

# The Application harness and its fixtures (app, api, backend, make_app).
pytest_plugins = ("tests.bot.telegram.test_app",)

_ids = itertools.count(90_000)
CALLBACK = re.compile(r"^cite:[A-Za-z0-9_-]{8}:\d+$")
EXPIRED = "Sorry, I no longer keep the sources of this answer. Please ask the question again."


def press(data: str, *, chat_id: int = USER, user_id: int = USER, message_id: int = 555) -> dict[str, Any]:
    chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
    return {
        "update_id": next(_ids),
        "callback_query": {
            "id": f"cb{next(_ids)}",
            "from": {"id": user_id, "is_bot": False, "first_name": "Ann", "language_code": "en"},
            "chat_instance": "ci",
            "data": data,
            "message": {"message_id": message_id, "date": 0, "chat": chat, "text": "…"},
        },
    }


def buttons(api: BotAPI, chat_id: int = USER) -> dict[str, str]:
    """Button text → callback data under the last answer sent to ``chat_id``."""
    call = next(c for c in reversed(api.send.calls) if int(params(c.request)["chat_id"]) == chat_id)
    return {b["text"]: b["callback_data"] for row in api.keyboard(call.request) for b in row}


def alerts(api: BotAPI) -> list[tuple[str | None, str | None]]:
    """(text, show_alert) of every answerCallbackQuery."""
    return [(params(c.request).get("text"), params(c.request).get("show_alert")) for c in api.callback.calls]


async def ask_and_press(app: NewsbotApplication, api: BotAPI, button: str) -> dict[str, str]:
    await feed(app, message_update("What about Kim?"))
    answer_id = api.send.calls.last.response.json()["result"]["message_id"]
    await feed(app, press(buttons(api)[button], message_id=answer_id))
    return params(api.send.calls.last.request)


# --- the buttons -------------------------------------------------------------------------------


async def test_each_quoted_source_gets_a_button_with_short_callback_data(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.sources = (*backend.sources, Source(3, "no-quote", "An article with no quoted sentence"))
    await feed(app, message_update("What about Kim?"))

    final = api.send.calls.last.request
    assert "<b>[3]</b> An article with no quoted sentence" in params(final)["text"]  # still listed
    keyboard = api.keyboard(final)
    assert [[b["text"] for b in row] for row in keyboard] == [
        ["[1] Kim to meet Putin <in…"],
        ["[2] EU grain & Ukraine"],
    ]
    data = [b["callback_data"] for row in keyboard for b in row]
    assert all(CALLBACK.match(d) and len(d.encode()) <= 64 for d in data)
    assert len({d.split(":")[1] for d in data}) == 1  # one key for the answer, the number per source


async def test_a_refusal_without_sources_has_no_buttons(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.text, backend.sources = "The articles do not say.", ()
    await feed(app, message_update("What is the weather on Mars?"))
    assert "reply_markup" not in params(api.send.calls.last.request)


def test_many_sources_get_compact_buttons_within_telegrams_limits() -> None:
    sources = [Source(i, f"a{i}", "T" * 300, evidence=("x.",)) for i in range(1, 131)]
    markup = source_buttons(sources, "AbCdEfGh")
    assert markup is not None
    flat = [b for row in markup.inline_keyboard for b in row]
    assert len(flat) == 100 and flat[0].text == "[1]" and flat[-1].text == "[100]"
    assert all(len(row) <= 5 for row in markup.inline_keyboard)
    assert all(len(str(b.callback_data).encode()) <= 64 for b in flat)


# --- pressing one -------------------------------------------------------------------------------


async def test_pressing_a_button_replies_with_that_articles_sentences_and_where_they_are(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    await feed(app, message_update("What about Kim?"))
    answer_id = api.send.calls.last.response.json()["result"]["message_id"]
    await feed(app, press(buttons(api)["[2] EU grain & Ukraine"], message_id=answer_id))

    assert alerts(api) == [(None, None)]  # the spinner stops, no alert
    assert backend.texts_read == ["eu-grain"]
    sent = params(api.send.calls.last.request)
    assert sent["parse_mode"] == "HTML"
    assert json.loads(sent["reply_parameters"]) == {
        "message_id": answer_id,
        "allow_sending_without_reply": True,
    }
    assert sent["text"] == (
        "<b>[2]</b> EU grain &amp; Ukraine · <code>eu-grain</code> · 2023-09-10\n\n"
        "<b>Paragraph 2 of 2</b>\n<blockquote expandable>"
        "The ban on Ukrainian grain &lt;imports&gt; &amp; seeds ends on Friday. Poland wants it extended."
        "</blockquote>"
    )
    visible(sent["text"])


async def test_the_quote_links_the_article_and_finds_a_sentence_across_a_line_break(
    app: NewsbotApplication, api: BotAPI
) -> None:
    sent = await ask_and_press(app, api, "[1] Kim to meet Putin <in…")
    link = '<a href="https://example.com/kim?a=1&amp;b=2">Kim to meet Putin &lt;in Vladivostok&gt;</a>'
    assert sent["text"].startswith(f"<b>[1]</b> {link} · 2023-09-05\n\n<b>Paragraph 2 of 2</b>\n")
    assert "Kim Jong Un will meet Vladimir Putin in Vladivostok next week." in sent["text"]


async def test_a_quote_in_another_language_says_so_in_the_readers_language(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.language = "ru"  # the question (and the answer) in Russian, the article in English
    sent = await ask_and_press(app, api, "[2] EU grain & Ukraine")
    assert "<i>Цитата на языке статьи: английский.</i>" in sent["text"]
    assert "<b>Абзац 2 из 2</b>" in sent["text"]
    assert "The ban on Ukrainian grain" in sent["text"]  # verbatim, not translated


async def test_a_quote_from_a_changed_or_removed_article_is_still_shown_with_a_note(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.texts["eu-grain"] = "EU grain & Ukraine\n\nThe ban ends on Friday. Poland wants it extended."
    sent = await ask_and_press(app, api, "[2] EU grain & Ukraine")
    assert (
        "<b>Paragraph 1 of 1</b>\n<blockquote expandable>Poland wants it extended.</blockquote>"
        in sent["text"]
    )
    assert (
        "<b>Not found in the article as it reads now (it may have changed since this answer)</b>\n"
        "<blockquote expandable>The ban on Ukrainian grain &lt;imports&gt; &amp; seeds ends on Friday."
    ) in sent["text"]

    del backend.texts["eu-grain"]
    sent = await ask_and_press(app, api, "[2] EU grain & Ukraine")
    assert (
        "<i>This article is no longer in my collection; these are the sentences the answer relied on.</i>"
        in sent["text"]
    )
    assert "Poland wants it extended." in sent["text"]


async def test_a_double_tap_shows_the_quote_once(app: NewsbotApplication, api: BotAPI) -> None:
    await feed(app, message_update("What about Kim?"))
    data = buttons(api)["[2] EU grain & Ukraine"]
    await feed(app, press(data))
    await feed(app, press(data))
    assert len(api.texts()) == 2  # the answer and one quote
    assert len(api.callback.calls) == 2  # both presses answered


async def test_a_button_in_a_group_quotes_into_the_group(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    await feed(app, group_question("What about Kim?"))
    markup = api.keyboard(api.send.calls.last.request)
    await feed(app, press(markup[1][0]["callback_data"], chat_id=GROUP, user_id=2002))
    sent = params(api.send.calls.last.request)
    assert int(sent["chat_id"]) == GROUP
    assert "Poland wants it extended." in sent["text"]


# --- keeping the buttons working -----------------------------------------------------------------


async def test_a_button_still_works_after_a_restart(make_app: Builder, api: BotAPI) -> None:
    first = make_app()
    async with first:
        await feed(first, message_update("What about Kim?"))
    data = buttons(api)["[1] Kim to meet Putin <in…"]
    second = make_app()
    async with second:
        await feed(second, press(data))
    assert alerts(api) == [(None, None)]
    assert "Kim Jong Un will meet Vladimir Putin in Vladivostok next week." in api.texts()[-1]


async def test_forged_stale_or_foreign_buttons_get_a_polite_expired_alert(
    app: NewsbotApplication, api: BotAPI
) -> None:
    await feed(app, message_update("What about Kim?"))
    valid = buttons(api)["[2] EU grain & Ukraine"]
    key = valid.split(":")[1]
    forged = [
        "cite:AAAAAAAA:1",  # never issued
        f"cite:{key}:7",  # no such source
        f"cite:{key}:1x",
        "cite:../../etc/passwd:1",
        "cite:" + "x" * 58,
        "sources:abc",
        "x" * 64,
    ]
    for data in forged:
        await feed(app, press(data))
    await feed(app, press(valid, chat_id=2002, user_id=2002))  # another chat's button
    assert alerts(api) == [(EXPIRED, "true")] * (len(forged) + 1)
    assert len(api.texts()) == 1  # only the answer: nothing quoted, no apology


async def test_reset_and_newer_answers_expire_the_old_buttons(make_app: Builder, api: BotAPI) -> None:
    application = make_app(quoted_answers=2)
    async with application:
        pressed = []
        for i in range(3):
            await feed(application, message_update(f"Question {i}?"))
            pressed.append(buttons(api)["[2] EU grain & Ukraine"])
        for data in pressed:
            await feed(application, press(data))
        assert alerts(api) == [(EXPIRED, "true"), (None, None), (None, None)]

        await feed(application, message_update("/reset"))
        await feed(application, press(pressed[-1]))
    assert alerts(api)[-1] == (EXPIRED, "true")


async def test_an_outsider_pressing_a_button_is_refused(make_app: Builder, api: BotAPI) -> None:
    application = make_app(allowed_users=[USER])
    async with application:
        await feed(application, message_update("What about Kim?"))
        await feed(application, press(buttons(api)["[2] EU grain & Ukraine"], user_id=6006))
    assert alerts(api) == [("Sorry, this bot is private and you are not on its list of users.", "true")]
    assert len(api.texts()) == 1


async def test_a_failing_quote_gets_the_apology_not_the_error(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    await feed(app, message_update("What about Kim?"))

    def broken(article_id: str) -> str | None:
        raise RuntimeError("disk error at /srv/newsbot/corpus")

    backend.article_text = broken  # type: ignore[method-assign]
    api.callback.side_effect = [
        httpx.Response(200, json={"ok": True, "result": True}),
        httpx.Response(
            400, json={"ok": False, "error_code": 400, "description": "Bad Request: query is too old"}
        ),
    ]
    await feed(app, press(buttons(api)["[2] EU grain & Ukraine"]))
    assert api.texts()[-1] == "Sorry, something went wrong while answering. Please try again in a moment."


# --- the pure parts ------------------------------------------------------------------------------


def test_sentences_are_found_by_paragraph_whatever_the_line_breaks() -> None:
    text = "Title here\n\nFirst   paragraph. It has\ntwo sentences.\n\nSecond one.\n"
    located, paragraphs = locate(
        ["It has two sentences.", "Second one.", "Title here", "Gone."], text, "Title here"
    )
    assert paragraphs == 2
    assert [item.paragraph for item in located] == [1, 2, 0, None]
    # no blank lines at all (pages from the web): each line is a paragraph, and no headline when it differs
    located, paragraphs = locate(["B b."], "A a.\nB b.\nC c.", "Another title")
    assert (paragraphs, located[0].paragraph) == (3, 2)


def test_quote_joins_neighbours_and_marks_what_lies_between() -> None:
    texts = Texts(load_prompts())
    text = "One. Two. Three.\n\nFour."
    source = Source(1, "a", "A", evidence=("Three.", "One.", "Two.", "Four."))
    [message] = render_quote(source, text, "en", texts)
    assert (
        "<b>Paragraph 1 of 2</b>\n<blockquote expandable>One. Two. Three.</blockquote>\n\n"
        "<b>Paragraph 2 of 2</b>\n<blockquote expandable>Four.</blockquote>"
    ) in message
    source = Source(1, "a", "A", evidence=("Three.", "One."))
    assert "<blockquote expandable>One. … Three.</blockquote>" in render_quote(source, text, "en", texts)[0]


def test_a_very_long_quote_is_split_into_whole_messages() -> None:
    from bot.telegram.views import QuoteGroup

    source = Source(1, "a", "A <b>", evidence=())
    groups = [QuoteGroup("Paragraph 1 of 1", "Sentence & more. " * 600)]
    messages = quote_messages(source, groups, ["note"])
    assert len(messages) >= 3
    for message in messages:
        assert len(message.encode("utf-16-le")) // 2 <= 4096
        visible(message)
    assert messages[0].startswith("<b>[1]</b> A &lt;b&gt; · <code>a</code>\n<i>note</i>")


def test_the_chat_store_keeps_answers_bounded_and_ignores_damage(tmp_path: Path) -> None:
    store = ChatStore(tmp_path, keep=1, keep_answers=2)
    huge = Source(1, "a", "A", evidence=tuple(f"Sentence {i} " + "x" * 3000 for i in range(20)))
    saved = store.save_answer(5, Answer("a [1]", "uk", (huge, Source(2, "b", "B")), refused=False, mode="x"))
    assert saved is not None and [s.marker for s in saved.sources] == [1]  # B had nothing to quote
    assert len(saved.sources[0].evidence) == 6 and all(len(e) <= 1500 for e in saved.sources[0].evidence)
    assert store.saved_answer(5, saved.key) == saved
    assert store.saved_answer(6, saved.key) is None
    store.append(5, Turn("q", "a"))
    assert store.saved_answer(5, saved.key) == saved  # a turn keeps the answers
    raw = json.loads((tmp_path / "5.json").read_text(encoding="utf-8"))
    raw["answers"][0]["sources"] = "garbage"
    (tmp_path / "5.json").write_text(json.dumps(raw), encoding="utf-8")
    assert store.saved_answer(5, saved.key) is None
    assert store.history(5) == (Turn("q", "a"),)
    assert store.save_answer(5, Answer("none", "en", (), refused=True, mode="x")) is None


# --- with the real backend -----------------------------------------------------------------------


@pytest.fixture
def newsbot(settings: Settings) -> Newsbot:
    bot = Newsbot(settings, embedder=HashEmbedder())
    bot.ensure_index()
    return bot


def test_the_service_gives_an_articles_cleaned_text_and_nothing_outside_the_corpus(
    newsbot: Newsbot, corpus: Path, tmp_path: Path
) -> None:
    assert newsbot.article_text("world/weather") is not None
    assert newsbot.article_text("world/weather").startswith("Heavy snow in the mountains\n\n")  # type: ignore[union-attr]
    assert "title:" not in (newsbot.article_text("forum") or "")  # front matter is not text
    (tmp_path / "secret.txt").write_text("Outside the corpus.", encoding="utf-8")
    assert newsbot.article_text("../secret") is None
    assert newsbot.article_text("nothing-here") is None


async def test_a_real_extractive_answer_is_checkable(
    newsbot: Newsbot, settings: Settings, tmp_path: Path, api: BotAPI
) -> None:
    bot_settings = make_settings(tmp_path)
    application = build_application(bot_settings, newsbot, stream_interval=0.05)
    async with application:
        await feed(application, message_update("Who accompanied Kim at the aircraft plant?"))
        data = buttons(api)["[1] Kim visits the aircraft plant"]
        await feed(application, press(data))
    quote = api.texts()[-1]
    # Every sentence the answer quoted is found in the article as it reads now, with its paragraph.
    assert "<b>Paragraph 1 of 3</b>\n<blockquote expandable>Kim Jong Un visited the aircraft plant" in quote


async def test_an_answer_is_delivered_without_buttons_when_its_sources_cannot_be_saved(
    make_app: Builder, api: BotAPI, tmp_path: Path
) -> None:
    (tmp_path / "data" / "telegram").mkdir(parents=True)
    # A file where the chats folder should be: every write fails, as on a full disk.
    (tmp_path / "data" / "telegram" / "chats").write_text("not a folder", encoding="utf-8")
    application = make_app()
    async with application:
        await feed(application, message_update("What about Kim?"))
    [answer] = api.texts()
    assert answer.startswith("Kim will meet Putin <b>[1]</b>.")
    assert "reply_markup" not in params(api.send.calls.last.request)

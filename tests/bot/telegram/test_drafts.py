"""Streaming in private chats as a draft (sendMessageDraft), and the fall back to editing a message.

Driven through the real PTB Application with the Bot API mocked by respx (harness in test_telegram_app).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.telegram import stream as telegram_stream
from bot.telegram.app import NewsbotApplication
from tests.bot.telegram.test_app import (
    USER,
    BotAPI,
    Builder,
    FakeBackend,
    eventually,
    feed,
    group_question,
    message_update,
    params,
)

# The Application harness and its fixtures (app, api, backend, make_app).
pytest_plugins = ("tests.bot.telegram.test_app",)


async def answer_while_streaming(
    app: NewsbotApplication, update: dict[str, Any], backend: FakeBackend, shown: Callable[[], bool]
) -> None:
    """Feed a question and hold its answer back until ``shown()`` says the streamed text is on screen."""
    backend.gate = threading.Event()
    task = asyncio.create_task(feed(app, update))
    await eventually(shown)
    backend.gate.set()
    await task


async def test_a_private_chat_streams_a_draft_then_persists_the_answer_with_one_message(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.tokens = ["Kim will meet <Putin> [1]."]
    more = threading.Event()
    backend.stages = [(" He flies in on Monday [1].", more)]
    backend.gate = threading.Event()
    question = message_update("What about Kim?")
    task = asyncio.create_task(feed(app, question))

    await eventually(lambda: api.draft.called)
    assert api.action.called  # "typing…" came first
    first = api.drafts()[0]
    assert first == {
        "chat_id": str(USER),
        "draft_id": str(question["message"]["message_id"]),
        "text": "Kim will meet <Putin> [1]. …",
    }
    more.set()
    await eventually(lambda: api.draft.call_count == 2)
    assert api.drafts()[1]["text"] == "Kim will meet <Putin> [1]. He flies in on Monday [1]. …"
    assert {d["draft_id"] for d in api.drafts()} == {first["draft_id"]}  # one draft, animated
    assert not api.send.called
    backend.gate.set()
    await task

    assert not api.edit.called
    assert api.send.call_count == 1
    final = params(api.send.calls.last.request)
    assert final["parse_mode"] == "HTML"
    assert final["text"].startswith("Kim will meet Putin <b>[1]</b>.")
    assert "<b>Sources</b>" in final["text"]
    assert len(api.keyboard(api.send.calls.last.request)) == 2


async def test_a_refused_draft_falls_back_to_editing_and_is_not_tried_again_in_that_chat(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    api.draft.respond(
        400, json={"ok": False, "error_code": 400, "description": "Bad Request: TEXTDRAFT_PEER_INVALID"}
    )
    backend.tokens = ["Kim will meet Putin [1]."]
    backend.gate = threading.Event()
    task = asyncio.create_task(feed(app, message_update("What about Kim?")))
    await eventually(lambda: api.send.called)
    preview = params(api.send.calls.last.request)
    assert preview["text"] == "Kim will meet Putin [1]. …"  # the same text, now as a message
    backend.gate.set()
    await task
    final = params(api.edit.calls.last.request)
    assert final["parse_mode"] == "HTML" and final["text"].startswith("Kim will meet Putin <b>[1]</b>.")
    assert len(api.keyboard(api.edit.calls.last.request)) == 2

    sent = api.send.call_count
    await answer_while_streaming(
        app, message_update("And Putin?"), backend, lambda: api.send.call_count > sent
    )
    assert api.draft.call_count == 1  # remembered for this chat
    other = message_update("And Kim?", chat_id=2002, user_id=2002)
    await answer_while_streaming(app, other, backend, lambda: api.draft.call_count == 2)  # another chat tries


async def test_a_bot_api_server_without_drafts_turns_them_off_for_every_chat(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    api.draft.respond(
        404, json={"ok": False, "error_code": 404, "description": "Not Found: method not found"}
    )
    backend.tokens = ["Kim will meet Putin [1]."]
    await answer_while_streaming(app, message_update("What about Kim?"), backend, lambda: api.send.called)
    other = message_update("And Kim?", chat_id=2002, user_id=2002)
    await answer_while_streaming(app, other, backend, lambda: api.send.call_count == 2)
    assert api.draft.call_count == 1
    assert [params(c.request)["text"] for c in api.send.calls] == ["Kim will meet Putin [1]. …"] * 2
    assert all(params(c.request)["parse_mode"] == "HTML" for c in api.edit.calls)


async def test_a_passing_network_error_costs_one_draft_update_not_the_drafts(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    api.draft.side_effect = [
        httpx.Response(502, text="Bad Gateway"),
        httpx.Response(200, json={"ok": True, "result": True}),
    ]
    backend.tokens = ["Kim will meet Putin [1]."]
    more = threading.Event()
    backend.stages = [(" On Monday [1].", more)]
    backend.gate = threading.Event()
    task = asyncio.create_task(feed(app, message_update("What about Kim?")))
    await eventually(lambda: api.draft.call_count == 1)
    more.set()
    await eventually(lambda: api.draft.call_count == 2)
    backend.gate.set()
    await task
    assert api.drafts()[1]["text"] == "Kim will meet Putin [1]. On Monday [1]. …"
    assert not api.edit.called
    assert api.send.call_count == 1 and params(api.send.calls.last.request)["parse_mode"] == "HTML"


async def test_drafts_can_be_turned_off(make_app: Builder, api: BotAPI, backend: FakeBackend) -> None:
    backend.tokens = ["Kim will meet Putin [1]."]
    application = make_app(drafts=False)
    async with application:
        await answer_while_streaming(
            application, message_update("What about Kim?"), backend, lambda: api.send.called
        )
    assert not api.draft.called
    assert params(api.send.calls[0].request)["text"] == "Kim will meet Putin [1]. …"
    assert params(api.edit.calls.last.request)["parse_mode"] == "HTML"


async def test_typing_stays_until_the_first_text_appears(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram_stream, "TYPING_EVERY", 0.02)
    first = threading.Event()
    backend.stages = [("Kim will meet Putin [1].", first)]
    backend.gate = threading.Event()
    task = asyncio.create_task(feed(app, message_update("What about Kim?")))
    await eventually(lambda: api.action.call_count >= 4)  # a slow start: "typing…" is renewed
    first.set()
    await eventually(lambda: api.draft.called)
    typing = api.action.call_count
    await asyncio.sleep(0.2)
    assert api.action.call_count == typing  # the draft shows progress now
    backend.gate.set()
    await task


async def test_a_slow_answer_keeps_its_draft_from_lapsing(
    make_app: Builder, api: BotAPI, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram_stream, "DRAFT_REFRESH", 0.05)
    backend.tokens = ["Kim will meet Putin [1]."]
    backend.gate = threading.Event()
    application = make_app(stream_interval=0.02)
    async with application:
        task = asyncio.create_task(feed(application, message_update("What about Kim?")))
        await eventually(lambda: api.draft.call_count >= 3)
        backend.gate.set()
        await task
    assert {d["text"] for d in api.drafts()} == {"Kim will meet Putin [1]. …"}


async def test_a_group_never_gets_a_draft(app: NewsbotApplication, api: BotAPI, backend: FakeBackend) -> None:
    backend.tokens = ["Kim will meet Putin [1]."]
    await answer_while_streaming(app, group_question("What about Kim?"), backend, lambda: api.send.called)
    assert not api.draft.called
    assert params(api.send.calls[0].request)["text"] == "Kim will meet Putin [1]. …"
    assert params(api.edit.calls.last.request)["parse_mode"] == "HTML"

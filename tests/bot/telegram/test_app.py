"""The Telegram front end, driven through the real PTB Application with the Bot API mocked by respx."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from telegram import Update
from telegram.ext import Application

from bot.cli import configure_logging
from bot.config import ChatSettings, Settings, TelegramSettings
from bot.models import Answer, Source, TokenSink, Turn
from bot.telegram.app import NewsbotApplication, build_application, run_bot
from index.config import IndexSettings
from index.errors import BadArticle, ConfigError, IndexBusy, StoreUnavailable
from index.models import ArticleInfo, IndexStats, ReindexReport

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
API = f"https://api.telegram.org/bot{TOKEN}"
FILES = f"https://api.telegram.org/file/bot{TOKEN}"
BOT = {"id": 987654321, "is_bot": True, "first_name": "Newsbot", "username": "newsbot_test_bot"}
USER = 1001
ADMIN = 4242
GROUP = -100777

SOURCES = (
    Source(
        1,
        "kim-putin",
        "Kim to meet Putin <in Vladivostok>",
        "https://example.com/kim?a=1&b=2",
        "2023-09-05",
        evidence=("Kim Jong Un will meet Vladimir Putin in Vladivostok next week.",),
    ),
    Source(
        2,
        "eu-grain",
        "EU grain & Ukraine",
        None,
        "2023-09-10",
        evidence=(
            "The ban on Ukrainian grain <imports> & seeds ends on Friday.",
            "Poland wants it extended.",
        ),
    ),
)
ARTICLES = {
    "kim-putin": (
        "Kim to meet Putin <in Vladivostok>\n\n"
        "The Kremlin confirmed the visit on Monday.\n\n"
        "Kim Jong Un will meet Vladimir Putin\nin Vladivostok next week. The talks will last two days."
    ),
    "eu-grain": (
        "EU grain & Ukraine\n\n"
        "Brussels, 10 September.\n\n"
        "The ban on Ukrainian grain <imports> & seeds ends on Friday. Poland wants it extended."
    ),
}


class FakeBackend:
    """The Backend protocol with canned replies; records every call; can hold an answer until released."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Turn, ...]]] = []
        self.tokens: list[str] = []
        self.stages: list[tuple[str, threading.Event]] = []  # tokens sent only once their event is set
        self.text = "Kim will meet Putin [1]. <script>alert(1)</script> & grain [2]."
        self.sources: tuple[Source, ...] = SOURCES
        self.language = "en"
        self.gate: threading.Event | None = None
        self.error: Exception | None = None
        self.article_list: list[ArticleInfo] = [
            ArticleInfo("kim-putin", "Kim to meet Putin", "uk", 4, "https://example.com/kim", "2023-09-05"),
            ArticleInfo("eu-grain", "EU grain", "en", 3, None, "2023-09-10"),
        ]
        self.reindexed = 0
        self.added: list[tuple[str, bytes]] = []
        self.texts: dict[str, str] = dict(ARTICLES)
        self.texts_read: list[str] = []

    def answer(self, question: str, history: Sequence[Turn], on_token: TokenSink | None = None) -> Answer:
        self.calls.append((question, tuple(history)))
        for token in self.tokens:
            if on_token is not None:
                on_token(token)
        for token, release in self.stages:
            assert release.wait(10), "the test never released the next token"
            if on_token is not None:
                on_token(token)
        if self.gate is not None:
            assert self.gate.wait(10), "the test never released the slow answer"
        if self.error is not None:
            raise self.error
        return Answer(self.text, self.language, self.sources, refused=False, mode="fake", question=question)

    def stats(self) -> IndexStats:
        return IndexStats(
            articles=len(self.article_list),
            chunks=7,
            languages={"uk": 1, "en": 1},
            embedding_model="test/hash",
            embedding_dim=64,
            location="memory",
            size_bytes=None,
            date_min="2023-09-05",
            date_max="2023-09-10",
        )

    def articles(self) -> Sequence[ArticleInfo]:
        return self.article_list

    def article_text(self, article_id: str) -> str | None:
        self.texts_read.append(article_id)
        return self.texts.get(article_id)

    def reindex(self) -> ReindexReport:
        self.reindexed += 1
        return ReindexReport(added=("a",), unchanged=("b", "c"), chunks_embedded=5, seconds=1.5)

    def add_article(self, filename: str, data: bytes) -> ReindexReport:
        self.added.append((filename, data))
        if data.startswith(b"\xff"):
            raise BadArticle(f"{filename}: binary file, not text", reason="binary file, not text")
        if data.startswith(b"\xfe"):
            raise IndexBusy("another process holds /srv/newsbot/.newsbot/index.lock")
        return ReindexReport(added=("new",), chunks_embedded=3, seconds=0.2)


class BotAPI:
    """respx routes for the Bot API methods the bot uses, answering like Telegram would."""

    def __init__(self, mock: respx.MockRouter) -> None:
        self._ids = itertools.count(100)
        mock.post(f"{API}/getMe").respond(json={"ok": True, "result": BOT})
        self.send = mock.post(f"{API}/sendMessage").mock(side_effect=self._message)
        self.edit = mock.post(f"{API}/editMessageText").mock(side_effect=self._message)
        self.action = mock.post(f"{API}/sendChatAction").respond(json={"ok": True, "result": True})
        self.draft = mock.post(f"{API}/sendMessageDraft").respond(json={"ok": True, "result": True})
        self.delete = mock.post(f"{API}/deleteMessage").respond(json={"ok": True, "result": True})
        self.callback = mock.post(f"{API}/answerCallbackQuery").respond(json={"ok": True, "result": True})
        self.get_file = mock.post(f"{API}/getFile").respond(
            json={
                "ok": True,
                "result": {"file_id": "F1", "file_unique_id": "U1", "file_path": "documents/file_1.txt"},
            }
        )
        self.download = mock.get(f"{FILES}/documents/file_1.txt").respond(content=b"Title\n\nBody text.")

    def _message(self, request: httpx.Request) -> httpx.Response:
        data = params(request)
        chat_id = int(data["chat_id"])
        message_id = int(data["message_id"]) if "message_id" in data else next(self._ids)
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        result = {"message_id": message_id, "date": 0, "chat": chat, "text": data["text"], "from": BOT}
        return httpx.Response(200, json={"ok": True, "result": result})

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Every text sent with sendMessage, in order (optionally to one chat)."""
        return [
            params(c.request)["text"]
            for c in self.send.calls
            if chat_id is None or int(params(c.request)["chat_id"]) == chat_id
        ]

    def drafts(self) -> list[dict[str, str]]:
        """The bodies of every sendMessageDraft, in order."""
        return [params(c.request) for c in self.draft.calls]

    def keyboard(self, request: httpx.Request) -> list[list[dict[str, str]]]:
        """The inline keyboard a sendMessage or editMessageText carried (empty when none)."""
        markup = params(request).get("reply_markup")
        return json.loads(markup)["inline_keyboard"] if markup else []


def params(request: httpx.Request) -> dict[str, str]:
    """The form fields PTB sent (non-string values arrive JSON-encoded)."""
    return dict(parse_qsl(request.content.decode()))


_update_ids = itertools.count(1)


def message_update(
    text: str | None = None,
    *,
    chat_id: int = USER,
    user_id: int = USER,
    language_code: str = "en",
    entities: list[dict[str, Any]] | None = None,
    reply_to: dict[str, Any] | None = None,
    document: dict[str, Any] | None = None,
) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": "Ann"}
    if chat_id < 0:
        chat = {"id": chat_id, "type": "supergroup", "title": "Newsroom"}
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": 0,
        "chat": chat,
        "from": {"id": user_id, "is_bot": False, "first_name": "Ann", "language_code": language_code},
    }
    if text is not None:
        message["text"] = text
    if text is not None and text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    if entities is not None:
        message["entities"] = entities
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    if document is not None:
        message["document"] = document
    return {"update_id": next(_update_ids), "message": message}


def group_question(text: str) -> dict[str, Any]:
    """A question in the group, addressed to the bot by a mention (groups stream by editing a message)."""
    mention = "@newsbot_test_bot"
    return message_update(
        f"{mention} {text}",
        chat_id=GROUP,
        entities=[{"type": "mention", "offset": 0, "length": len(mention)}],
    )


def make_settings(tmp_path: Path, **telegram: Any) -> Settings:
    values: dict[str, Any] = {"token": TOKEN, "admins": [ADMIN], **telegram}
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram=TelegramSettings.model_validate(values),
        chat=ChatSettings.model_validate({"history_turns": 3}),
        index=IndexSettings.model_validate(
            {"data_dir": tmp_path / "data", "corpus_dir": tmp_path / "corpus"}
        ),
    )


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def api() -> Iterator[BotAPI]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield BotAPI(mock)


Builder = Callable[..., NewsbotApplication]


@pytest.fixture
def make_app(tmp_path: Path, backend: FakeBackend) -> Builder:
    def make(**telegram: Any) -> NewsbotApplication:
        interval = telegram.pop("stream_interval", 0.05)
        return build_application(make_settings(tmp_path, **telegram), backend, stream_interval=interval)

    return make


@pytest.fixture
async def app(make_app: Builder, api: BotAPI) -> AsyncIterator[NewsbotApplication]:
    application = make_app()
    async with application:
        yield application


async def feed(app: NewsbotApplication, payload: dict[str, Any]) -> None:
    await app.process_update(Update.de_json(payload, app.bot))


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.01)


class TagChecker(HTMLParser):
    """Fails on unbalanced tags or tags Telegram's HTML mode would not accept from us."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in {"b", "a", "code", "i", "blockquote"}, tag
        assert tag != "blockquote" or attrs == [("expandable", None)], attrs
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"

    def handle_data(self, data: str) -> None:
        self.text += data


def visible(html_text: str) -> str:
    checker = TagChecker()
    checker.feed(html_text)
    checker.close()
    assert checker.stack == [], f"unclosed tags {checker.stack}"
    return checker.text


# --- answering -------------------------------------------------------------------------------


async def test_answer_is_escaped_html_with_bold_markers_and_linked_sources(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    await feed(app, message_update("What about Kim?"))

    assert backend.calls == [("What about Kim?", ())]
    assert params(api.action.calls.last.request) == {"chat_id": str(USER), "action": "typing"}
    sent = params(api.send.calls.last.request)
    assert sent["parse_mode"] == "HTML"
    text = sent["text"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; grain <b>[2]</b>." in text
    assert "Kim will meet Putin <b>[1]</b>." in text
    assert "<script>" not in text
    link = '<a href="https://example.com/kim?a=1&amp;b=2">Kim to meet Putin &lt;in Vladivostok&gt;</a>'
    assert f"<b>[1]</b> {link} · 2023-09-05" in text
    assert "<b>[2]</b> EU grain &amp; Ukraine · <code>eu-grain</code> · 2023-09-10" in text
    assert "<b>Sources</b>" in text
    visible(text)


async def test_in_a_group_the_answer_streams_as_a_plain_preview_then_a_final_html_edit(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.tokens = ["Kim will meet <Putin> [1]"]  # the first text is shown as soon as it arrives
    backend.gate = threading.Event()
    task = asyncio.create_task(feed(app, group_question("What about Kim?")))

    await eventually(lambda: api.send.called)
    preview = params(api.send.calls.last.request)
    assert preview["text"] == "Kim will meet <Putin> [1] …"
    assert "parse_mode" not in preview
    backend.gate.set()
    await task

    assert api.send.call_count == 1
    assert not api.draft.called  # drafts are for private chats only
    final = params(api.edit.calls.last.request)
    assert final["message_id"] == str(api.send.calls.last.response.json()["result"]["message_id"])
    assert final["parse_mode"] == "HTML"
    assert final["text"].startswith("Kim will meet Putin <b>[1]</b>.")
    assert "<b>Sources</b>" in final["text"]
    assert [row[0]["text"] for row in api.keyboard(api.edit.calls.last.request)] == [
        "[1] Kim to meet Putin <in…",
        "[2] EU grain & Ukraine",
    ]


async def test_long_answer_with_many_sources_is_split_at_paragraphs_without_breaking_tags(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    paragraphs = [f"Paragraph {i}: " + "Ukraine & grain <exports> [1]. " * 12 for i in range(40)]
    backend.text = "\n\n".join(paragraphs)
    backend.sources = tuple(
        Source(i, f"article-{i}", f"Title {i} " + "x" * 150, f"https://example.com/{i}", "2023-09-01")
        for i in range(1, 81)
    )
    await feed(app, message_update("Tell me everything"))

    messages = api.texts()
    assert len(messages) > 3
    shown = []
    for message in messages:
        assert len(message.encode("utf-16-le")) // 2 <= 4096
        shown.append(visible(message))
        assert message.startswith(("Paragraph ", "<b>"))  # each message starts at a paragraph or list line
    everything = "\n\n".join(shown)
    for paragraph in paragraphs:
        assert paragraph.strip() in everything
    for i in range(1, 81):
        assert f"[{i}] Title {i} " in everything
    assert all(params(c.request)["parse_mode"] == "HTML" for c in api.send.calls)


async def test_an_internal_error_never_reaches_the_chat_not_even_an_admins(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    backend.error = StoreUnavailable(
        "cannot open the index at /srv/newsbot/.newsbot/chroma: database disk image is malformed; "
        "check NEWSBOT_INDEX__DATA_DIR"
    )
    backend.tokens = ["Kim will meet Putin [1]."]  # some checked text was already streamed
    with caplog.at_level(logging.ERROR, logger="bot.telegram.handlers"):
        await feed(app, message_update("What about Kim?"))
        await feed(app, message_update("Was ist mit Kim?", chat_id=ADMIN, user_id=ADMIN, language_code="de"))
        await feed(app, group_question("What about Kim?"))
    apology = "Sorry, something went wrong while answering. Please try again in a moment."
    assert api.texts(USER) == [apology]
    assert api.texts(GROUP)[-1] == apology
    [admin_text] = api.texts(ADMIN)
    prefix = "Entschuldigung, beim Antworten ist etwas schiefgegangen. Bitte versuch es gleich noch einmal. "
    assert admin_text.startswith(prefix + "Die Einzelheiten stehen im Log des Bots, markiert mit ")
    reference = admin_text.removeprefix(prefix).split()[-1].rstrip(".")
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[1] is backend.error]
    assert len(logged) == 3
    assert any(f"[{reference}]" in r.getMessage() for r in logged)  # the admin can find the traceback
    bodies = [c.request.content.decode() for c in api.send.calls + api.edit.calls + api.draft.calls]
    assert bodies
    assert not [b for b in bodies if "srv" in b or "NEWSBOT_" in b or "malformed" in b or "chroma" in b]


async def test_an_admins_command_that_fails_gets_the_apology_not_the_error(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.reindex = lambda: (_ for _ in ()).throw(IndexBusy("another process holds /srv/x/index.lock"))  # type: ignore[method-assign]
    await feed(app, message_update("/reindex", chat_id=ADMIN, user_id=ADMIN))
    texts = api.texts(ADMIN)
    assert texts[0] == "Re-indexing the corpus, this can take a while…"
    assert texts[1].startswith("Sorry, something went wrong while answering.")
    assert "/srv" not in texts[1] and "lock" not in texts[1]


async def test_an_apology_outlasts_a_short_bot_api_outage(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.error = RuntimeError("boom")
    outage = [httpx.Response(502, text="Bad Gateway")] * 4
    api.send.side_effect = lambda request: outage.pop() if outage else api._message(request)
    await feed(app, message_update("What about Kim?"))
    assert api.send.call_count == 5
    assert api.texts()[-1] == "Sorry, something went wrong while answering. Please try again in a moment."


async def test_an_answer_outlasts_a_bot_api_outage_of_server_errors_and_timeouts(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    outage: list[Any] = [
        httpx.Response(500, json={"ok": False, "error_code": 500, "description": "Internal Server Error"}),
        httpx.ConnectError("connection refused"),
        httpx.Response(502, text="Bad Gateway"),
        httpx.ReadTimeout("timed out"),
        httpx.Response(503, text="Service Unavailable"),
    ]

    def flaky(request: httpx.Request) -> httpx.Response:
        if outage:
            failure = outage.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure  # type: ignore[no-any-return]
        return api._message(request)

    api.send.side_effect = flaky
    await feed(app, message_update("What about Kim?"))
    assert api.send.call_count == 6
    assert "Kim will meet Putin <b>[1]</b>." in api.texts()[-1]
    assert len(backend.calls) == 1  # delivered, not answered again


async def test_unexpected_error_gets_an_apology_in_the_question_language(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    backend.error = RuntimeError("boom")
    with caplog.at_level(logging.ERROR, logger="bot.telegram.app"):
        await feed(app, message_update("Что происходит с зерном на Украине?", language_code="en"))
    assert api.texts() == ["Извините, при ответе что-то пошло не так. Попробуйте ещё раз чуть позже."]
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


async def test_a_message_without_words_is_asked_for_a_question_without_touching_the_corpus(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    await feed(app, message_update("🔥🔥🔥", language_code="de"))
    await feed(app, message_update("[1]" * 1000))
    assert api.texts() == [
        "Bitte stellen Sie eine Frage in Worten zu den Nachrichtenartikeln.",
        "Please ask a question in words about the news articles.",
    ]
    assert backend.calls == []


async def test_final_edit_failure_falls_back_to_a_new_message_with_the_buttons(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.tokens = ["Kim will meet Putin"]
    backend.gate = threading.Event()
    fail_once = [
        httpx.Response(500, json={"ok": False, "error_code": 500, "description": "Internal Server Error"})
    ]
    api.edit.side_effect = lambda request: fail_once.pop() if fail_once else api._message(request)
    task = asyncio.create_task(feed(app, group_question("What about Kim?")))
    await eventually(lambda: api.send.called)
    backend.gate.set()
    await task

    assert api.edit.call_count == 1  # the final edit, which failed
    final = params(api.send.calls.last.request)
    assert final["parse_mode"] == "HTML"
    assert "Kim will meet Putin <b>[1]</b>." in final["text"]
    assert len(api.keyboard(api.send.calls.last.request)) == 2
    assert (
        params(api.delete.calls.last.request)["message_id"]
        == params(api.edit.calls.last.request)["message_id"]
    )


async def test_failed_edit_mid_stream_does_not_lose_the_answer(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.tokens = ["Kim will"]
    next_token = threading.Event()
    backend.stages = [(" meet Putin", next_token)]
    backend.gate = threading.Event()
    fail_once = [httpx.Response(400, json={"ok": False, "error_code": 400, "description": "Bad Request: x"})]
    api.edit.side_effect = lambda request: fail_once.pop() if fail_once else api._message(request)
    task = asyncio.create_task(feed(app, group_question("What about Kim?")))
    await eventually(lambda: api.send.called)
    next_token.set()
    await eventually(lambda: api.edit.called)
    assert params(api.edit.calls.last.request)["text"] == "Kim will meet Putin …"  # this edit fails
    backend.gate.set()
    await task

    assert api.send.call_count == 1  # the preview only: the final answer went into it
    final = params(api.edit.calls.last.request)
    assert final["parse_mode"] == "HTML"
    assert final["text"].startswith("Kim will meet Putin <b>[1]</b>.")


async def test_bot_keeps_answering_after_a_failed_send(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    failures = [
        httpx.Response(400, json={"ok": False, "error_code": 400, "description": "Bad Request: oops"})
    ]
    api.send.side_effect = lambda request: failures.pop() if failures else api._message(request)
    await feed(app, message_update("First question"))
    await feed(app, message_update("Second question"))

    texts = api.texts()
    assert texts[1] == "Sorry, something went wrong while answering. Please try again in a moment."
    assert "Kim will meet Putin <b>[1]</b>." in texts[2]


async def test_flood_limit_retry_after_is_honoured(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    flood = [
        httpx.Response(
            429,
            json={
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests",
                "parameters": {"retry_after": 1},
            },
        )
    ]
    api.send.side_effect = lambda request: flood.pop() if flood else api._message(request)
    await feed(app, message_update("What about Kim?"))
    assert api.send.call_count == 2
    assert "Kim will meet Putin" in api.texts()[1]


async def test_token_never_reaches_the_logs(
    make_app: Builder, api: BotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("DEBUG")  # as the entry point does, whichever test ran before
    with caplog.at_level(logging.DEBUG):
        application = make_app()
        async with application:
            await feed(application, message_update("What about Kim?"))
    assert api.send.called
    assert caplog.records
    assert all(
        TOKEN not in r.getMessage() and TOKEN.split(":")[1] not in r.getMessage() for r in caplog.records
    )


# --- history ---------------------------------------------------------------------------------


async def test_history_is_passed_on_and_reset_forgets_it(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    await feed(app, message_update("Who meets Putin?"))
    await feed(app, message_update("Where?"))
    assert backend.calls[1] == ("Where?", (Turn("Who meets Putin?", backend.text, "en"),))

    await feed(app, message_update("/reset"))
    assert api.texts()[-1] == "Done: I have forgotten our conversation."
    await feed(app, message_update("Where?"))
    assert backend.calls[2] == ("Where?", ())


async def test_history_is_bounded_by_history_turns(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    for i in range(5):
        await feed(app, message_update(f"Question {i}"))
    assert [t.question for t in backend.calls[-1][1]] == ["Question 1", "Question 2", "Question 3"]


async def test_history_survives_a_restart(make_app: Builder, api: BotAPI, backend: FakeBackend) -> None:
    first = make_app()
    async with first:
        await feed(first, message_update("Who meets Putin?"))
    second = make_app()
    async with second:
        await feed(second, message_update("Where?"))
    assert backend.calls[1][1] == (Turn("Who meets Putin?", backend.text, "en"),)


async def test_each_chat_has_its_own_history(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    await feed(app, message_update("Who meets Putin?", chat_id=USER, user_id=USER))
    await feed(app, message_update("Where?", chat_id=2002, user_id=2002))
    assert backend.calls[1] == ("Where?", ())


# --- many people -----------------------------------------------------------------------------


async def test_a_slow_answer_in_one_chat_does_not_hold_up_another(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.gate = threading.Event()
    slow = asyncio.create_task(feed(app, message_update("What about Kim?", chat_id=USER, user_id=USER)))
    await eventually(lambda: len(backend.calls) == 1)

    async def other_chat_then_release() -> None:
        await feed(app, message_update("/help", chat_id=3003, user_id=3003))
        assert not slow.done()
        assert api.texts(3003) and "I know 2 news articles" in api.texts(3003)[0]
        assert api.texts(USER) == []
        assert backend.gate is not None
        backend.gate.set()

    await asyncio.gather(slow, other_chat_then_release())
    assert "Kim will meet Putin <b>[1]</b>." in api.texts(USER)[-1]


async def test_questions_in_one_chat_are_answered_in_order(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.gate = threading.Event()
    first = asyncio.create_task(feed(app, message_update("First?")))
    await eventually(lambda: len(backend.calls) == 1)
    second = asyncio.create_task(feed(app, message_update("Second?")))
    await asyncio.sleep(0.2)
    assert len(backend.calls) == 1  # the second waits for the first, which is still being answered
    backend.gate.set()
    await asyncio.gather(first, second)
    assert backend.calls[1] == ("Second?", (Turn("First?", backend.text, "en"),))


async def test_rate_limit_answers_kindly_and_spares_the_backend(
    make_app: Builder, api: BotAPI, backend: FakeBackend
) -> None:
    application = make_app(rate_limit=2, rate_window=60)
    async with application:
        for i in range(3):
            await feed(application, message_update(f"Question number {i} about the grain deal"))
        await feed(application, message_update("Question from someone else", chat_id=5005, user_id=5005))
    assert [q for q, _ in backend.calls] == [
        "Question number 0 about the grain deal",
        "Question number 1 about the grain deal",
        "Question from someone else",
    ]
    refusal = api.texts(USER)[-1]
    assert refusal.startswith("You are asking faster than I can read. Please wait ")
    assert refusal.endswith(" s and ask again.")


async def test_user_outside_the_allow_list_is_refused_without_touching_the_corpus(
    make_app: Builder, api: BotAPI, backend: FakeBackend
) -> None:
    application = make_app(allowed_users=[USER])
    async with application:
        await feed(
            application, message_update("What about Kim?", chat_id=6006, user_id=6006, language_code="de")
        )
        await feed(application, message_update("/sources", chat_id=6006, user_id=6006))
        await feed(application, message_update("What about Kim?"))
    assert api.texts(6006) == [
        "Entschuldigung, dieser Bot ist privat und du stehst nicht auf der Liste seiner Nutzer.",
        "Sorry, this bot is private and you are not on its list of users.",
    ]
    assert backend.calls == [("What about Kim?", ())]


async def test_outsider_in_a_group_is_refused_only_when_addressing_the_bot(
    make_app: Builder, api: BotAPI, backend: FakeBackend
) -> None:
    application = make_app(allowed_users=[USER])
    mention = [{"type": "mention", "offset": 0, "length": len("@newsbot_test_bot")}]
    async with application:
        await feed(application, message_update("Nice weather today", chat_id=GROUP, user_id=6006))
        await feed(application, message_update("/help@other_bot", chat_id=GROUP, user_id=6006))
        assert not api.send.called
        await feed(application, message_update("/help@newsbot_test_bot", chat_id=GROUP, user_id=6006))
        await feed(
            application, message_update("@newsbot_test_bot hi", chat_id=GROUP, user_id=6006, entities=mention)
        )
    assert api.texts(GROUP) == ["Sorry, this bot is private and you are not on its list of users."] * 2
    assert backend.calls == []


# --- groups ----------------------------------------------------------------------------------


async def test_group_message_without_mention_is_ignored(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    await feed(app, message_update("What about Kim?", chat_id=GROUP))
    assert backend.calls == []
    assert not api.send.called
    assert not api.action.called


async def test_group_mention_is_answered_with_the_mention_stripped(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    text = "@newsbot_test_bot, what about Kim?"
    mention = [{"type": "mention", "offset": 0, "length": len("@newsbot_test_bot")}]
    await feed(app, message_update(text, chat_id=GROUP, entities=mention))

    assert backend.calls == [("what about Kim?", ())]
    sent = params(api.send.calls.last.request)
    assert int(sent["chat_id"]) == GROUP
    assert "Kim will meet Putin <b>[1]</b>." in sent["text"]
    assert json.loads(sent["reply_parameters"])["message_id"] > 0  # answers quote the question in groups


async def test_group_reply_to_the_bot_is_answered(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    earlier = {
        "message_id": 1,
        "date": 0,
        "chat": {"id": GROUP, "type": "supergroup"},
        "from": BOT,
        "text": "…",
    }
    await feed(app, message_update("And the grain?", chat_id=GROUP, reply_to=earlier))
    assert backend.calls == [("And the grain?", ())]


async def test_group_mention_of_another_bot_is_ignored(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    mention = [{"type": "mention", "offset": 0, "length": len("@other_bot")}]
    await feed(app, message_update("@other_bot what about Kim?", chat_id=GROUP, entities=mention))
    assert backend.calls == []


# --- commands --------------------------------------------------------------------------------


async def test_start_greets_in_the_users_language(app: NewsbotApplication, api: BotAPI) -> None:
    await feed(app, message_update("/start", language_code="uk"))
    assert api.texts()[0].startswith("Вітаю, Ann!")


async def test_help_tells_counts_languages_and_dates(app: NewsbotApplication, api: BotAPI) -> None:
    await feed(app, message_update("/help", language_code="fr"))
    text = api.texts()[0]
    assert "Je connais 2 articles de presse dans ces langues : en (1), uk (1)." in text
    assert "la période du 2023-09-05 au 2023-09-10" in text
    assert "@newsbot_test_bot" in text


async def test_sources_are_paged_with_buttons(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.article_list = [
        ArticleInfo(f"a{i:02}", f"Article <{i}>", "en", 1, None, f"2023-09-{i % 28 + 1:02}")
        for i in range(40)
    ]
    await feed(app, message_update("/sources"))
    first = params(api.send.calls.last.request)
    assert first["parse_mode"] == "HTML"
    assert first["text"].startswith("<b>Indexed articles — page 1 of 3 (40 in total)</b>\n1. Article &lt;")
    keyboard = json.loads(first["reply_markup"])["inline_keyboard"]
    assert [b["callback_data"] for b in keyboard[0]] == ["sources:2"]

    await feed(app, message_update("/sources 3"))
    third = params(api.send.calls.last.request)
    assert third["text"].startswith("<b>Indexed articles — page 3 of 3 (40 in total)</b>\n31. ")
    assert [b["callback_data"] for b in json.loads(third["reply_markup"])["inline_keyboard"][0]] == [
        "sources:2"
    ]

    press = {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": "cb1",
            "from": {"id": USER, "is_bot": False, "first_name": "Ann", "language_code": "en"},
            "chat_instance": "ci",
            "data": "sources:2",
            "message": {"message_id": 555, "date": 0, "chat": {"id": USER, "type": "private"}, "text": "…"},
        },
    }
    await feed(app, press)
    assert api.callback.called
    edited = params(api.edit.calls.last.request)
    assert edited["message_id"] == "555"
    assert edited["text"].startswith("<b>Indexed articles — page 2 of 3 (40 in total)</b>\n16. ")
    buttons = json.loads(edited["reply_markup"])["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["sources:1", "sources:3"]


async def test_sources_with_an_empty_index(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    backend.article_list = []
    await feed(app, message_update("/sources"))
    assert api.texts() == ["No articles are indexed yet."]


# --- admins ----------------------------------------------------------------------------------


async def test_reindex_is_for_admins_only(app: NewsbotApplication, api: BotAPI, backend: FakeBackend) -> None:
    await feed(app, message_update("/reindex"))
    assert api.texts() == ["Sorry, only the bot's administrators can do that."]
    assert backend.reindexed == 0

    await feed(app, message_update("/reindex", chat_id=ADMIN, user_id=ADMIN))
    assert backend.reindexed == 1
    assert api.texts(ADMIN) == [
        "Re-indexing the corpus, this can take a while…",
        "Re-index finished: " + FakeBackend().reindex().summary(),
    ]


def document_update(name: str, size: int | None, user_id: int = ADMIN) -> dict[str, Any]:
    document: dict[str, Any] = {"file_id": "F1", "file_unique_id": "U1", "file_name": name}
    if size is not None:
        document["file_size"] = size
    return message_update(chat_id=user_id, user_id=user_id, document=document)


async def test_admin_upload_is_downloaded_and_added(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    await feed(app, document_update("new.txt", 30))
    assert params(api.get_file.calls.last.request) == {"file_id": "F1"}
    assert api.download.called
    assert backend.added == [("new.txt", b"Title\n\nBody text.")]
    summary = ReindexReport(added=("new",), chunks_embedded=3, seconds=0.2).summary()
    assert api.texts(ADMIN) == [f"Saved new: {summary}"]


async def test_upload_from_a_non_admin_is_refused(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    await feed(app, document_update("new.txt", 30, user_id=USER))
    assert api.texts(USER) == ["Sorry, only the bot's administrators can do that."]
    assert not api.get_file.called
    assert backend.added == []


async def test_upload_over_the_size_limit_is_refused_before_download(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    await feed(app, document_update("big.md", 5_000_000))
    assert api.texts(ADMIN) == ["big.md is too big (5000 KB); the limit is 1000 KB."]
    assert not api.get_file.called


async def test_upload_of_another_file_type_is_refused(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    await feed(app, document_update("report.pdf", 30))
    assert api.texts(ADMIN) == ["I can only add .txt or .md files, not report.pdf."]
    assert not api.get_file.called


async def test_rejected_upload_shows_the_files_fault_but_not_the_servers(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    api.download.respond(content=b"\xff\xfe broken")
    await feed(app, document_update("new.txt", None))
    assert api.texts(ADMIN) == ["new.txt was not added: binary file, not text"]
    api.download.respond(content=b"\xfe busy")
    await feed(app, document_update("new.txt", None))
    assert api.texts(ADMIN)[-1].startswith("Sorry, something went wrong while answering.")
    assert "/srv" not in api.texts(ADMIN)[-1]


async def test_upload_without_a_declared_size_stops_downloading_past_the_limit(
    app: NewsbotApplication, api: BotAPI, backend: FakeBackend
) -> None:
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1000):  # 64 MB if read to the end
            sent.append(1)
            yield b"x" * 65_536

    api.download.mock(return_value=httpx.Response(200, content=endless()))
    await feed(app, document_update("huge.txt", None))
    assert api.texts(ADMIN) == ["huge.txt is too big (1001 KB); the limit is 1000 KB."]
    assert len(sent) < 40
    assert backend.added == []


async def test_sources_page_argument_that_is_not_a_plain_number_shows_the_first_page(
    app: NewsbotApplication, api: BotAPI
) -> None:
    for argument in ("²", "٣", "-1", "9" * 50):
        await feed(app, message_update(f"/sources {argument}"))
    assert len(api.texts()) == 4
    assert all(text.startswith("<b>Indexed articles — page 1 of 1") for text in api.texts())


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "not-a-token", "abc:def", "123456 : secret"])
def test_missing_or_malformed_token_is_a_config_error(tmp_path: Path, token: str | None) -> None:
    settings = make_settings(tmp_path, token=token)
    with respx.mock(assert_all_mocked=True), pytest.raises(ConfigError, match="NEWSBOT_TELEGRAM__TOKEN"):
        build_application(settings, FakeBackend())


async def test_self_hosted_bot_api_url_is_used(tmp_path: Path, backend: FakeBackend) -> None:
    settings = make_settings(tmp_path, base_url="http://127.0.0.1:8081/bot")
    application = build_application(settings, backend)
    assert application.bot.base_url == f"http://127.0.0.1:8081/bot{TOKEN}"
    assert application.bot.base_file_url == f"http://127.0.0.1:8081/file/bot{TOKEN}"


# --- running ---------------------------------------------------------------------------------


def test_run_bot_polls_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(Application, "run_polling", lambda self, **kwargs: seen.append(kwargs))
    run_bot(make_settings(tmp_path), FakeBackend())
    assert seen == [{"allowed_updates": Update.ALL_TYPES}]


def test_run_bot_serves_a_webhook_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(Application, "run_webhook", lambda self, **kwargs: seen.append(kwargs))
    settings = make_settings(
        tmp_path,
        webhook_url="https://bot.example.org/hook/news",
        webhook_port=8081,
        webhook_secret="s3cr3t_-x",
    )
    run_bot(settings, FakeBackend())
    assert seen == [
        {
            "listen": "127.0.0.1",
            "port": 8081,
            "url_path": "hook/news",
            "webhook_url": "https://bot.example.org/hook/news",
            "secret_token": "s3cr3t_-x",
            "allowed_updates": Update.ALL_TYPES,
        }
    ]


def test_run_bot_webhook_url_argument_wins_and_bad_secret_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(Application, "run_webhook", lambda self, **kwargs: seen.append(kwargs))
    run_bot(make_settings(tmp_path), FakeBackend(), webhook_url="https://other.example.org/")
    assert seen[0]["webhook_url"] == "https://other.example.org/"
    assert seen[0]["url_path"] == ""
    assert seen[0]["secret_token"] is None
    with pytest.raises(ConfigError, match="NEWSBOT_TELEGRAM__WEBHOOK_SECRET"):
        run_bot(
            make_settings(tmp_path, webhook_secret="has spaces"), FakeBackend(), webhook_url="https://x.org/"
        )


def test_token_rejected_by_telegram_is_a_config_error(tmp_path: Path) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(f"{API}/getMe").respond(
            401, json={"ok": False, "error_code": 401, "description": "Unauthorized"}
        )
        with pytest.raises(ConfigError, match="rejected the bot token"):
            run_bot(make_settings(tmp_path), FakeBackend())


async def test_the_first_text_is_shown_at_once_not_after_the_stream_interval(
    make_app: Builder, api: BotAPI, backend: FakeBackend
) -> None:
    backend.tokens = ["Here is what the articles say:\n• “Kim will meet Putin.” [1]"]
    backend.gate = threading.Event()
    application = make_app(stream_interval=30.0)
    async with application:
        task = asyncio.create_task(feed(application, message_update("What about Kim?")))
        await eventually(lambda: api.draft.called, timeout=3.0)
        assert "Kim will meet Putin" in api.drafts()[-1]["text"]
        task_group = asyncio.create_task(feed(application, group_question("What about Kim?")))
        await eventually(lambda: api.send.called, timeout=3.0)
        assert "Kim will meet Putin" in params(api.send.calls.last.request)["text"]
        backend.gate.set()
        await asyncio.gather(task, task_group)

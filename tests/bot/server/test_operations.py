"""The native API, access rules, limits, the queue, health, metrics, reindex and the page."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Sequence

import httpx
import openai
import pytest
import respx
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.config import Settings
from bot.errors import LLMUnavailable
from bot.models import Answer, TokenSink, Turn
from bot.server.access import ApiError
from bot.server.app import build_app
from bot.server.gate import Gate
from bot.server.run import check_binding
from bot.service import Newsbot
from index.errors import ConfigError
from tests.bot.server.conftest import QUESTION, asgi_client, openai_client, with_server
from tests.fakes import HashEmbedder, QueueGenerator

OFF_TOPIC = "What is the recipe for apple strudel with vanilla sauce?"


def sse_events(body: str) -> list[tuple[str, dict[str, object]]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_a_native_answer_has_statements_with_markers_and_sources_with_quotes(
    settings: Settings, newsbot: Newsbot
) -> None:
    async with asgi_client(build_app(settings, newsbot)) as http:
        record = (await http.post("/v1/answers", json={"question": QUESTION})).json()
    assert record["refused"] is False and record["language"] == "en" and record["mode"] == "extractive"
    cited = {n for statement in record["statements"] for n in statement["markers"]}
    assert cited and cited <= {source["marker"] for source in record["sources"]}
    quoted = [s for s in record["statements"] if s["kind"] == "quote"]
    sentences = {quote["sentence"] for source in record["sources"] for quote in source["quotes"]}
    assert quoted and all(any(sentence in s["text"] for sentence in sentences) for s in quoted)


async def test_native_events_add_up_to_the_answer_and_end_with_done(
    settings: Settings, newsbot: Newsbot
) -> None:
    async with asgi_client(build_app(settings, newsbot)) as http:
        response = await http.post("/v1/answers", json={"question": QUESTION, "stream": True})
    events = sse_events(response.text)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events[-1][0] == "done" and {name for name, _ in events[:-1]} <= {"quote", "statement", "note"}
    assert "".join(str(data["delta"]) for _, data in events[:-1]) == events[-1][1]["text"]


async def test_an_off_topic_question_is_refused_and_counted(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"retrieval": settings.retrieval.model_copy(update={"min_score": 0.9})}
    )
    with Newsbot(settings, embedder=HashEmbedder()) as bot:
        bot.ensure_index()
        async with asgi_client(build_app(settings, bot)) as http:
            record = (await http.post("/v1/answers", json={"question": OFF_TOPIC})).json()
            metrics = (await http.get("/metrics")).text
    assert record["refused"] is True and record["sources"] == []
    assert "newsbot_refusals_total 1.0" in metrics


async def test_metrics_count_requests_answers_and_kept_answers(settings: Settings, newsbot: Newsbot) -> None:
    async with asgi_client(build_app(settings, newsbot)) as http:
        for _ in range(2):
            await http.post("/v1/answers", json={"question": QUESTION})
        await http.get("/v1/models")
        metrics = (await http.get("/metrics")).text
    assert 'newsbot_http_requests_total{method="POST",route="/v1/answers",status="200"} 2.0' in metrics
    assert 'newsbot_answers_total{mode="extractive"} 1.0' in metrics, "the second was a kept answer"
    assert "newsbot_cached_answers_total 1.0" in metrics
    assert 'newsbot_http_request_duration_seconds_count{route="/v1/models"} 1.0' in metrics
    assert "newsbot_queue_length 0.0" in metrics


async def test_a_model_that_cannot_be_reached_is_counted_as_a_fallback_and_not_kept(
    settings: Settings,
) -> None:
    settings = settings.model_copy(
        update={
            "llm": settings.llm.model_copy(update={"provider": "openai", "base_url": "http://llm.test/v1"})
        }
    )
    failing = QueueGenerator(*[LLMUnavailable("no LLM server at http://llm.test/v1")] * 4)
    with Newsbot(settings, embedder=HashEmbedder(), generator=failing) as bot:
        bot.ensure_index()
        async with asgi_client(build_app(settings, bot)) as http:
            first = (await http.post("/v1/answers", json={"question": QUESTION})).json()
            await http.post("/v1/answers", json={"question": QUESTION})
            metrics = (await http.get("/metrics")).text
    assert first["mode"] == "extractive" and first["note"] and first["sources"]
    assert "newsbot_fallbacks_total 2.0" in metrics, "a fallback is answered anew: the model may be back"


# -- keys, limits --------------------------------------------------------------------------------------


async def test_with_keys_a_request_needs_a_valid_one(settings: Settings, newsbot: Newsbot) -> None:
    app = build_app(with_server(settings, api_keys=["sesame"]), newsbot)
    async with asgi_client(app, client=("203.0.113.5", 4000)) as http:
        for key in ("none", "wrong"):
            with pytest.raises(openai.AuthenticationError) as raised:
                await openai_client(http, key).models.list()
            assert raised.value.code == "invalid_api_key"
        assert [m.id for m in (await openai_client(http, "sesame").models.list()).data] == ["newsbot"]


async def test_without_keys_only_loopback_clients_are_served(settings: Settings, newsbot: Newsbot) -> None:
    async with asgi_client(build_app(settings, newsbot), client=("203.0.113.5", 4000)) as http:
        with pytest.raises(openai.PermissionDeniedError) as raised:
            await openai_client(http).models.list()
    assert "NEWSBOT_SERVER__API_KEYS" in raised.value.message


def test_listening_beyond_loopback_without_keys_is_refused(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="NEWSBOT_SERVER__API_KEYS"):
        check_binding(with_server(settings, host="0.0.0.0"))
    check_binding(with_server(settings, host="0.0.0.0", api_keys=["sesame"]))
    check_binding(with_server(settings, host="::1"))


def test_serve_on_a_public_address_without_keys_exits_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_SERVER__HOST", "0.0.0.0")
    monkeypatch.setenv("NEWSBOT_SERVER__API_KEYS", "")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "NEWSBOT_SERVER__HOST=0.0.0.0" in result.output and "Traceback" not in result.output


async def test_a_key_over_its_rate_limit_gets_429_with_retry_after(
    settings: Settings, newsbot: Newsbot
) -> None:
    app = build_app(with_server(settings, api_keys=["a", "b"], rate_limit=2, rate_window=60), newsbot)
    async with asgi_client(app, Authorization="Bearer a") as http:
        assert [(await http.get("/v1/models")).status_code for _ in range(2)] == [200, 200]
        limited = await http.get("/v1/models")
        other = await http.get("/v1/models", headers={"Authorization": "Bearer b"})
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert other.status_code == 200, "each key has its own budget"


async def test_a_body_or_question_over_its_cap_is_refused(settings: Settings, newsbot: Newsbot) -> None:
    app = build_app(with_server(settings, max_body_bytes=2048, max_question_chars=100), newsbot)
    async with asgi_client(app) as http:
        big = await http.post("/v1/answers", json={"question": "x" * 5000})
        long = await http.post("/v1/answers", json={"question": "Kim " * 40})
    assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"
    assert long.status_code == 400 and long.json()["error"]["code"] == "question_too_long"


async def test_allowed_origins_get_cors_headers(settings: Settings, newsbot: Newsbot) -> None:
    app = build_app(with_server(settings, cors_origins=["https://chat.example.org"]), newsbot)
    async with asgi_client(app) as http:
        allowed = await http.get("/v1/models", headers={"Origin": "https://chat.example.org"})
        other = await http.get("/v1/models", headers={"Origin": "https://evil.example.com"})
    assert allowed.headers["access-control-allow-origin"] == "https://chat.example.org"
    assert "access-control-allow-origin" not in other.headers


# -- the queue -----------------------------------------------------------------------------------------


class Held(Newsbot):
    """A Newsbot whose answers wait until the test releases them."""

    release: threading.Event
    started: threading.Semaphore

    def answer(self, question: str, history: Sequence[Turn], on_token: TokenSink | None = None) -> Answer:
        self.started.release()
        assert self.release.wait(10)
        return super().answer(question, history, on_token)


@pytest.fixture
def held(settings: Settings) -> Iterator[Held]:
    with Held(settings, embedder=HashEmbedder()) as bot:
        bot.release, bot.started = threading.Event(), threading.Semaphore(0)
        bot.ensure_index()
        yield bot
        bot.release.set()


async def test_past_the_queue_a_request_gets_503_with_retry_after_at_once(
    settings: Settings, held: Held
) -> None:
    app = build_app(with_server(settings, concurrency=1, queue_size=1, answer_cache_size=0), held)
    async with asgi_client(app) as http:
        running = asyncio.create_task(http.post("/v1/answers", json={"question": QUESTION}))
        assert await asyncio.to_thread(held.started.acquire, timeout=10)
        waiting = asyncio.create_task(http.post("/v1/answers", json={"question": "Who was the mayor?"}))
        await asyncio.sleep(0.2)
        assert "newsbot_queue_length 1.0" in (await http.get("/metrics")).text
        refused = await asyncio.wait_for(http.post("/v1/answers", json={"question": "Which jets?"}), 2)
        held.release.set()
        answered = [await running, await waiting]
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "server_busy"
    assert [r.status_code for r in answered] == [200, 200]


async def test_a_request_waiting_past_the_queue_timeout_gets_503(settings: Settings, held: Held) -> None:
    app = build_app(with_server(settings, concurrency=1, queue_timeout=0.3, answer_cache_size=0), held)
    async with asgi_client(app) as http:
        running = asyncio.create_task(http.post("/v1/answers", json={"question": QUESTION}))
        assert await asyncio.to_thread(held.started.acquire, timeout=10)
        late = await asyncio.wait_for(
            http.post("/v1/answers", json={"question": "Which jets?", "stream": True}), 5
        )
        held.release.set()
        assert (await running).status_code == 200
    assert late.status_code == 503 and "Retry-After" in late.headers


# -- operations ----------------------------------------------------------------------------------------


async def test_health_is_ok_with_an_index_and_no_model_to_check(settings: Settings, newsbot: Newsbot) -> None:
    async with asgi_client(build_app(settings, newsbot)) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200 and response.json()["index"]["chunks"] > 0


@respx.mock(assert_all_mocked=True)
async def test_health_fails_while_the_llm_server_does_not_answer(
    settings: Settings, respx_mock: respx.MockRouter
) -> None:
    settings = settings.model_copy(
        update={
            "llm": settings.llm.model_copy(update={"provider": "openai", "base_url": "http://llm.test/v1"})
        }
    )
    route = respx_mock.get("http://llm.test/v1/models")
    route.side_effect = [httpx.Response(503), httpx.Response(200, json={"object": "list", "data": []})]
    with Newsbot(settings, embedder=HashEmbedder()) as bot:
        bot.ensure_index()
        async with asgi_client(build_app(settings, bot)) as http:
            down = await http.get("/healthz")
            up = await http.get("/healthz")
    assert down.status_code == 503 and "503" in down.json()["model"]["error"]
    assert up.status_code == 200 and up.json()["model"]["ok"] is True


async def test_reindex_is_for_admin_keys_and_forgets_kept_answers(
    settings: Settings, newsbot: Newsbot
) -> None:
    app = build_app(with_server(settings, api_keys=["user"], admin_keys=["root"]), newsbot)
    async with asgi_client(app) as http:
        denied = await http.post("/v1/reindex", headers={"Authorization": "Bearer user"})
        await http.post("/v1/answers", json={"question": QUESTION}, headers={"Authorization": "Bearer user"})
        (settings.index.corpus_dir / "plant.txt").unlink()
        done = await http.post("/v1/reindex", headers={"Authorization": "Bearer root"})
        after = await http.post(
            "/v1/answers", json={"question": QUESTION}, headers={"Authorization": "Bearer root"}
        )
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "not_admin"
    assert done.status_code == 200 and done.json()["removed"] == ["plant"]
    assert all(source["id"] != "plant" for source in after.json()["sources"])


async def test_the_page_is_served_at_the_root(settings: Settings, newsbot: Newsbot) -> None:
    async with asgi_client(build_app(settings, newsbot)) as http:
        page = await http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'fetch("v1/answers"' in page.text and "set-cookie" not in page.headers


async def test_the_same_question_asked_meanwhile_shares_the_answer_being_written(
    settings: Settings, held: Held
) -> None:
    app = build_app(with_server(settings, concurrency=2, answer_cache_size=0), held)
    async with asgi_client(app) as http:
        first = asyncio.create_task(http.post("/v1/answers", json={"question": QUESTION}))
        assert await asyncio.to_thread(held.started.acquire, timeout=10)
        second = asyncio.create_task(http.post("/v1/answers", json={"question": QUESTION, "stream": True}))
        await asyncio.sleep(0.2)
        held.release.set()
        answers = [await first, await second]
        metrics = (await http.get("/metrics")).text
    assert not held.started.acquire(timeout=0), "the answer was written once"
    assert answers[0].json()["text"] == sse_events(answers[1].text)[-1][1]["text"]
    assert 'newsbot_answers_total{mode="extractive"} 1.0' in metrics


async def test_a_burst_of_requests_admits_the_slots_and_the_queue_and_refuses_the_rest() -> None:
    gate = Gate(concurrency=1, queue_size=4, timeout=10)
    outcomes: list[str] = []

    async def ask() -> None:
        try:
            await gate.enter()
        except ApiError as exc:
            outcomes.append(
                f"{exc.status} retry after {exc.retry_after is not None and exc.retry_after >= 1}"
            )
            return
        await asyncio.sleep(0.01)
        gate.leave(0.01)
        outcomes.append("answered")

    await asyncio.gather(*(ask() for _ in range(20)))
    assert sorted(outcomes) == ["503 retry after True"] * 15 + ["answered"] * 5
    assert (gate.waiting, gate.running) == (0, 0)

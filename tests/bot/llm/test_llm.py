"""The OpenAI-compatible chat client against respx-mocked servers: what it sends, and every fault."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import httpx
import pytest
import respx
import stamina
from pydantic import SecretStr

from bot.config import LLMSettings
from bot.errors import LLMBadResponse, LLMUnavailable
from bot.llm.client import ChatClient, make_chat_client
from index.errors import ConfigError
from index.remote.retries import route_retry_logs

BASE = "http://llm.test/v1"
KEY = "sk-test-secret-4242"
MESSAGES = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Who won?"}]


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    # Waits become zero; cap=True keeps the client's own attempt count (1 + retries).
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


@pytest.fixture
def server() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest.fixture
def settings() -> LLMSettings:
    return LLMSettings(
        provider="openai", base_url=BASE, model="news-model", api_key=SecretStr(KEY), retries=2
    )


@pytest.fixture
def client(settings: LLMSettings) -> Iterator[ChatClient]:
    with httpx.Client() as http:
        yield make_chat_client(settings, http_client=http)


def completion(content: str | None = "Team A won.", **extra: object) -> httpx.Response:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    return httpx.Response(200, json={"id": "c1", "object": "chat.completion", "choices": [choice], **extra})


def sse(*events: object, done: bool = True) -> httpx.Response:
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
    if done:
        lines.append("data: [DONE]\n\n")
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content="".join(lines).encode())


def chunk(
    content: str | None = None, finish: str | None = None, role: str | None = None
) -> dict[str, object]:
    delta: dict[str, str] = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


GOOD_STREAM = (chunk(role="assistant"), chunk("Team "), chunk("A won."), chunk(finish="stop"))


class _DropsAfterFirstEvent(httpx.SyncByteStream):
    """A response body that delivers one delta and then loses the connection."""

    def __iter__(self) -> Iterator[bytes]:
        yield f"data: {json.dumps(chunk('Team '))}\n\n".encode()
        raise httpx.ReadError("connection reset by peer")


def test_completion_sends_model_messages_limits_and_key(client: ChatClient, server: respx.MockRouter) -> None:
    route = server.post("/chat/completions").mock(return_value=completion())

    assert client.complete(MESSAGES) == "Team A won."

    request = route.calls.last.request
    assert json.loads(request.content) == {
        "model": "news-model",
        "messages": MESSAGES,
        "max_tokens": 320,
        "temperature": 0.1,
        "stream": False,
    }
    assert request.headers["Authorization"] == f"Bearer {KEY}"


def test_per_call_limits_override_the_settings(client: ChatClient, server: respx.MockRouter) -> None:
    route = server.post("/chat/completions").mock(return_value=completion())

    client.complete(MESSAGES, max_tokens=20, temperature=0.0)

    body = json.loads(route.calls.last.request.content)
    assert (body["max_tokens"], body["temperature"]) == (20, 0.0)


def test_server_without_key_gets_no_authorization_header(server: respx.MockRouter) -> None:
    route = server.post("/chat/completions").mock(return_value=completion())
    client = make_chat_client(LLMSettings(provider="openai", base_url=BASE + "/"), model="llama3")

    client.complete(MESSAGES)
    client.close()

    request = route.calls.last.request
    assert "Authorization" not in request.headers
    assert json.loads(request.content)["model"] == "llama3"


def test_local_server_url_and_model_replace_the_settings(settings: LLMSettings) -> None:
    with respx.mock(base_url="http://127.0.0.1:8123/v1", assert_all_mocked=True) as local:
        route = local.post("/chat/completions").mock(return_value=completion("ok"))
        client = make_chat_client(settings, base_url="http://127.0.0.1:8123/v1", model="qwen")

        assert client.complete(MESSAGES) == "ok"

    assert json.loads(route.calls.last.request.content)["model"] == "qwen"


def test_stream_yields_deltas_in_order_and_asks_for_a_stream(
    client: ChatClient, server: respx.MockRouter
) -> None:
    route = server.post("/chat/completions").mock(return_value=sse(*GOOD_STREAM))

    assert list(client.stream(MESSAGES, max_tokens=50)) == ["Team ", "A won."]

    request = route.calls.last.request
    body = json.loads(request.content)
    assert (body["stream"], body["max_tokens"], body["messages"]) == (True, 50, MESSAGES)
    assert request.headers["Authorization"] == f"Bearer {KEY}"


def test_stream_skips_keepalives_and_usage_only_chunks(client: ChatClient, server: respx.MockRouter) -> None:
    body = (
        ": keep-alive\n\n"
        f"data: {json.dumps(chunk('Hi', finish='stop'))}\n\n"
        'data: {"choices": [], "usage": {"total_tokens": 3}}\n\n'
        "data: [DONE]\n\n"
    )
    server.post("/chat/completions").mock(return_value=httpx.Response(200, content=body.encode()))

    assert list(client.stream(MESSAGES)) == ["Hi"]


def test_timeouts_are_retried_then_reported(client: ChatClient, server: respx.MockRouter) -> None:
    route = server.post("/chat/completions").mock(side_effect=httpx.ReadTimeout("timed out"))

    with pytest.raises(LLMUnavailable, match="did not answer within 120 s after 3 attempts") as err:
        client.complete(MESSAGES)

    assert route.call_count == 3
    assert "NEWSBOT_LLM__TIMEOUT" in str(err.value)


def test_refused_connection_names_the_url_and_the_setting(
    client: ChatClient, server: respx.MockRouter
) -> None:
    route = server.post("/chat/completions").mock(
        side_effect=httpx.ConnectError("[Errno 111] Connection refused")
    )

    with pytest.raises(LLMUnavailable) as err:
        client.complete(MESSAGES)

    assert str(err.value) == (
        "no LLM server at http://llm.test/v1 (connection refused); start it or set NEWSBOT_LLM__BASE_URL"
    )
    assert route.call_count == 3


def test_rate_limit_is_retried_and_then_answers(client: ChatClient, server: respx.MockRouter) -> None:
    route = server.post("/chat/completions").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "1"}), completion("late but fine")]
    )

    assert client.complete(MESSAGES) == "late but fine"
    assert route.call_count == 2


def test_retry_after_sets_the_wait_before_the_next_attempt(
    client: ChatClient, server: respx.MockRouter
) -> None:
    server.post("/chat/completions").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "0.05"}), completion()]
    )
    waits: list[float] = []
    stamina.instrumentation.set_on_retry_hooks([lambda details: waits.append(details.wait_for)])
    try:
        with stamina.set_testing(False):
            client.complete(MESSAGES)
    finally:
        stamina.instrumentation.set_on_retry_hooks(None)

    assert waits == [pytest.approx(0.05)]


@pytest.mark.parametrize("retries", [0, 2, 4])
def test_server_errors_exhaust_exactly_one_plus_retries_attempts(
    retries: int, server: respx.MockRouter
) -> None:
    route = server.post("/chat/completions").mock(return_value=httpx.Response(503, text="overloaded"))
    client = make_chat_client(LLMSettings(provider="openai", base_url=BASE, retries=retries))

    with pytest.raises(LLMUnavailable) as err:
        client.complete(MESSAGES)

    assert route.call_count == 1 + retries
    assert str(err.value) == f"LLM server kept failing: HTTP 503 after {1 + retries} attempts"


def test_rejected_key_is_not_retried(client: ChatClient, server: respx.MockRouter) -> None:
    route = server.post("/chat/completions").mock(
        return_value=httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {KEY}"}})
    )

    with pytest.raises(LLMUnavailable) as err:
        client.complete(MESSAGES)

    assert route.call_count == 1
    assert str(err.value) == "the LLM server refused the API key (HTTP 401); check NEWSBOT_LLM__API_KEY"


def test_unknown_model_is_not_retried(client: ChatClient, server: respx.MockRouter) -> None:
    route = server.post("/chat/completions").mock(
        return_value=httpx.Response(404, json={"error": {"message": "The model `news-model` does not exist"}})
    )

    with pytest.raises(LLMUnavailable) as err:
        client.complete(MESSAGES)

    assert route.call_count == 1
    assert str(err.value) == "model 'news-model' not found on the server (HTTP 404); check NEWSBOT_LLM__MODEL"


def test_missing_endpoint_points_at_the_base_url(client: ChatClient, server: respx.MockRouter) -> None:
    server.post("/chat/completions").mock(return_value=httpx.Response(404, text="404 page not found"))

    with pytest.raises(LLMUnavailable, match=r"NEWSBOT_LLM__BASE_URL \(it usually ends in /v1\)"):
        client.complete(MESSAGES)


def test_bad_request_is_not_retried_and_quotes_the_server(
    client: ChatClient, server: respx.MockRouter
) -> None:
    route = server.post("/chat/completions").mock(
        return_value=httpx.Response(400, json={"error": {"message": "prompt exceeds the context size"}})
    )

    with pytest.raises(LLMUnavailable, match="HTTP 400\\): prompt exceeds the context size"):
        client.complete(MESSAGES)

    assert route.call_count == 1


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>gateway</html>"),
        httpx.Response(200, json={"choices": []}),
        httpx.Response(200, json={"error": "nope"}),
        completion(content=None),
    ],
    ids=["not-json", "empty-choices", "no-choices", "null-content"],
)
def test_malformed_reply_is_a_bad_response(
    reply: httpx.Response, client: ChatClient, server: respx.MockRouter
) -> None:
    route = server.post("/chat/completions").mock(return_value=reply)

    with pytest.raises(LLMBadResponse):
        client.complete(MESSAGES)

    assert route.call_count == 1


@pytest.mark.parametrize(
    "reply",
    [
        sse(chunk("Team "), "{not json"),
        sse(chunk("Team "), done=False),
        sse(chunk("Team "), {"error": {"message": "slot crashed"}}),
    ],
    ids=["garbled-event", "cut-short", "error-event"],
)
def test_broken_stream_is_a_bad_response(
    reply: httpx.Response, client: ChatClient, server: respx.MockRouter
) -> None:
    server.post("/chat/completions").mock(return_value=reply)
    received: list[str] = []

    with pytest.raises(LLMBadResponse):
        received.extend(client.stream(MESSAGES))

    assert received == ["Team "]


def test_stream_failing_before_the_first_delta_is_retried(
    client: ChatClient, server: respx.MockRouter
) -> None:
    route = server.post("/chat/completions").mock(
        side_effect=[httpx.Response(502), httpx.ConnectError("Connection refused"), sse(*GOOD_STREAM)]
    )

    assert "".join(client.stream(MESSAGES)) == "Team A won."
    assert route.call_count == 3


def test_stream_dropped_midway_is_not_retried(client: ChatClient, server: respx.MockRouter) -> None:
    route = server.post("/chat/completions").mock(
        return_value=httpx.Response(200, stream=_DropsAfterFirstEvent())
    )
    received: list[str] = []

    with pytest.raises(LLMUnavailable, match="dropped the answer midway"):
        received.extend(client.stream(MESSAGES))

    assert received == ["Team "]
    assert route.call_count == 1


def test_stream_rejected_key_is_not_retried(client: ChatClient, server: respx.MockRouter) -> None:
    route = server.post("/chat/completions").mock(
        return_value=httpx.Response(403, json={"error": "forbidden"})
    )

    with pytest.raises(LLMUnavailable, match="refused the API key \\(HTTP 403\\)"):
        list(client.stream(MESSAGES))

    assert route.call_count == 1


def test_abandoned_stream_sends_nothing_more(client: ChatClient, server: respx.MockRouter) -> None:
    route = server.post("/chat/completions").mock(return_value=sse(*GOOD_STREAM))

    deltas = client.stream(MESSAGES)
    assert next(deltas) == "Team "
    deltas.close()

    assert route.call_count == 1


@pytest.mark.parametrize(
    "fault",
    [
        httpx.Response(401, json={"error": {"message": f"bad key {KEY}"}}),
        httpx.Response(400, json={"error": {"message": f"header was Bearer {KEY}"}}),
        httpx.Response(500, text=KEY),
        httpx.ConnectTimeout("timed out"),
    ],
    ids=["401", "400-echoing-key", "500", "timeout"],
)
def test_api_key_never_appears_in_errors_or_logs(
    fault: httpx.Response | Exception,
    client: ChatClient,
    server: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.post("/chat/completions").mock(side_effect=[fault] * 3)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(LLMUnavailable) as err:
        client.complete(MESSAGES)

    assert KEY not in str(err.value)
    assert KEY not in repr(err.value.__cause__)
    assert KEY not in caplog.text


def test_missing_base_url_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="NEWSBOT_LLM__BASE_URL"):
        make_chat_client(LLMSettings(provider="openai"))


class _Trickle(httpx.SyncByteStream):
    """A body that arrives a few bytes at a time, each well within the read timeout, for ``seconds``."""

    def __init__(self, piece: bytes, seconds: float, every: float = 0.02) -> None:
        self.piece, self.count, self.every = piece, int(seconds / every), every

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.count):
            time.sleep(self.every)
            yield self.piece


@pytest.mark.parametrize(
    ("call", "reply"),
    [
        ("complete", httpx.Response(200, stream=_Trickle(b" ", seconds=5))),
        ("stream", httpx.Response(200, stream=_Trickle(b": keep-alive\n\n", seconds=5))),
        (
            "stream",
            httpx.Response(
                200, stream=_Trickle(b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n', seconds=5)
            ),
        ),
    ],
    ids=["trickled-body", "sse-keepalives", "endless-deltas"],
)
def test_timeout_is_a_wall_clock_deadline_for_the_whole_request(
    call: str, reply: httpx.Response, server: respx.MockRouter
) -> None:
    route = server.post("/chat/completions").mock(return_value=reply)
    client = make_chat_client(LLMSettings(provider="openai", base_url=BASE, timeout=0.3, retries=2))
    started = time.monotonic()

    with pytest.raises(LLMUnavailable, match=r"did not finish within 0\.3 s"):
        result = getattr(client, call)(MESSAGES)
        if call == "stream":
            list(result)

    assert time.monotonic() - started < 1.5  # not the 5 s the server would take, nor 3 attempts of it
    assert route.call_count == 1


def test_a_long_retry_after_is_not_waited_for(server: respx.MockRouter) -> None:
    route = server.post("/chat/completions").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "3600"})
    )
    client = make_chat_client(LLMSettings(provider="openai", base_url=BASE, retries=2))
    with stamina.set_testing(False):
        started = time.monotonic()
        with pytest.raises(LLMUnavailable, match="asks to wait 3600 s"):
            client.complete(MESSAGES)
    assert time.monotonic() - started < 1
    assert route.call_count == 1


def test_a_retry_is_logged_by_us_at_info_not_by_stamina_at_warning(
    client: ChatClient, server: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    server.post("/chat/completions").mock(side_effect=[httpx.Response(503), completion()])
    route_retry_logs()
    try:
        with caplog.at_level(logging.INFO):
            client.complete(MESSAGES)
    finally:
        stamina.instrumentation.set_on_retry_hooks(None)

    retries = [(r.name, r.levelname) for r in caplog.records if "retry" in r.getMessage()]
    assert retries == [("index.remote.retries", "INFO")]
    assert "503" in caplog.text and "retry 1 in" in caplog.text


def test_a_schema_is_sent_as_openai_structured_output_and_no_llama_cpp_field(
    server: respx.MockRouter, client: ChatClient
) -> None:
    route = server.post("/chat/completions").mock(return_value=completion('{"answer": []}'))
    schema = {"type": "object", "properties": {"answer": {"type": "array", "minItems": 1}}}
    client.complete([{"role": "user", "content": "q"}], schema=schema)
    body = json.loads(route.calls.last.request.content)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": False},
    }
    assert "repeat_penalty" not in body, "llama.cpp's own fields go to the local server only"


def test_the_local_server_also_gets_its_repeat_penalty(
    server: respx.MockRouter, settings: LLMSettings
) -> None:
    route = server.post("/chat/completions").mock(return_value=sse(chunk("{"), chunk("}", finish="stop")))
    with httpx.Client() as http:
        local = make_chat_client(
            settings.model_copy(update={"repeat_penalty": 1.15}), http_client=http, llama_cpp=True
        )
        assert "".join(local.stream([{"role": "user", "content": "q"}], schema={"type": "object"})) == "{}"
    body = json.loads(route.calls.last.request.content)
    assert body["repeat_penalty"] == 1.15
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object"}


def test_without_a_schema_no_response_format_is_sent(server: respx.MockRouter, client: ChatClient) -> None:
    route = server.post("/chat/completions").mock(return_value=completion())
    client.complete([{"role": "user", "content": "q"}])
    assert "response_format" not in json.loads(route.calls.last.request.content)


def test_the_openai_environment_changes_nothing_that_is_sent(
    server: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://elsewhere.test/v1")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-from-the-environment")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-from-the-environment")
    route = server.post("/chat/completions").mock(return_value=completion())

    make_chat_client(LLMSettings(provider="openai", base_url=BASE)).complete(MESSAGES)

    sent = {name.lower() for name in route.calls.last.request.headers}
    assert not sent & {"authorization", "openai-organization", "openai-project"}


def test_retries_are_ours_alone_the_sdk_sends_each_attempt_once(
    client: ChatClient, server: respx.MockRouter
) -> None:
    route = server.post("/chat/completions").mock(side_effect=[httpx.Response(503), completion()])

    assert client.complete(MESSAGES) == "Team A won."

    assert [call.request.headers["x-stainless-retry-count"] for call in route.calls] == ["0", "0"]

"""The OpenAI-compatible embeddings backend against respx routes; the backend factory."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
import stamina

from index.config import EmbeddingSettings
from index.embed.embeddings import UseEmbedder, make_embedder
from index.embed.openai_compat import OpenAIEmbedder
from index.errors import ConfigError, EmbeddingUnavailable

BASE = "http://127.0.0.1:8081/v1"


def _settings(**overrides: object) -> EmbeddingSettings:
    return EmbeddingSettings.model_validate(
        {"backend": "openai", "base_url": BASE, "model": "bge-m3", "api_key": "sk-secret", **overrides}
    )


def _vectors(request: httpx.Request) -> httpx.Response:
    texts = json.loads(request.content)["input"]
    # Returned out of order on purpose: the client must sort by index.
    data = [{"index": i, "embedding": [float(i), 1.0, 0.5]} for i in range(len(texts))][::-1]
    return httpx.Response(200, json={"data": data, "model": "bge-m3"})


def test_sends_model_texts_and_key_and_keeps_the_order(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(f"{BASE}/embeddings").mock(side_effect=_vectors)
    embedder = OpenAIEmbedder(_settings())
    vectors = embedder.embed_passages(["first", "second", "third"])
    assert [v[0] for v in vectors] == [0.0, 1.0, 2.0]
    sent = route.calls.last.request
    assert json.loads(sent.content) == {
        "model": "bge-m3",
        "input": ["first", "second", "third"],
        "encoding_format": "float",
    }
    assert sent.headers["Authorization"] == "Bearer sk-secret"
    assert sent.headers["x-stainless-retry-count"] == "0"
    assert embedder.dim == 3
    assert embedder.model_name == "openai/bge-m3"


def test_dimension_is_probed_once_when_asked_first(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(f"{BASE}/embeddings").mock(side_effect=_vectors)
    embedder = OpenAIEmbedder(_settings())
    assert embedder.dim == 3
    assert embedder.dim == 3
    assert route.call_count == 1


def test_refused_key_is_one_clear_error_without_the_key(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(f"{BASE}/embeddings").mock(return_value=httpx.Response(401, json={"error": "bad key"}))
    with pytest.raises(EmbeddingUnavailable, match="NEWSBOT_EMBEDDING__API_KEY") as caught:
        OpenAIEmbedder(_settings()).embed_queries(["q"])
    assert "sk-secret" not in str(caught.value)


def test_unreachable_server_is_one_clear_error_after_the_bounded_retries(
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(f"{BASE}/embeddings").mock(side_effect=httpx.ConnectError("Connection refused"))
    with pytest.raises(EmbeddingUnavailable) as caught:
        OpenAIEmbedder(_settings()).embed_queries(["q"])
    assert str(caught.value) == (
        f"embeddings server at {BASE}/embeddings is unreachable (connection refused) after 3 attempts; "
        "start it or set NEWSBOT_EMBEDDING__BASE_URL"
    )
    assert route.call_count == 3


@pytest.mark.parametrize(
    "fault",
    [
        httpx.Response(503, text="overloaded"),
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("server disconnected"),
    ],
    ids=["503", "429", "timeout", "dropped"],
)
def test_passing_failures_are_retried_like_the_chat_clients(
    fault: httpx.Response | Exception, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/embeddings").mock(side_effect=[fault, _vectors])
    assert OpenAIEmbedder(_settings()).embed_queries(["q"]) == [[0.0, 1.0, 0.5]]
    assert route.call_count == 2
    first, second = (json.loads(call.request.content) for call in route.calls)
    assert first == second == {"model": "bge-m3", "input": ["q"], "encoding_format": "float"}


@pytest.mark.parametrize("retries", [0, 4])
def test_a_failing_server_gets_one_plus_retries_attempts(retries: int, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(f"{BASE}/embeddings").mock(return_value=httpx.Response(500))
    with pytest.raises(EmbeddingUnavailable, match=f"kept failing: HTTP 500 after {1 + retries} attempts"):
        OpenAIEmbedder(_settings(retries=retries)).embed_queries(["q"])
    assert route.call_count == 1 + retries


def test_a_long_retry_after_is_not_waited_for(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(f"{BASE}/embeddings").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "3600"})
    )
    with stamina.set_testing(False), pytest.raises(EmbeddingUnavailable, match="asks to wait 3600 s"):
        OpenAIEmbedder(_settings()).embed_queries(["q"])
    assert route.call_count == 1


def test_a_server_without_a_key_gets_no_authorization_header(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(f"{BASE}/embeddings").mock(side_effect=_vectors)
    OpenAIEmbedder(_settings(api_key=None)).embed_queries(["q"])
    assert "Authorization" not in route.calls.last.request.headers


def test_malformed_response_is_an_error(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(f"{BASE}/embeddings").mock(return_value=httpx.Response(200, json={"nope": []}))
    with pytest.raises(EmbeddingUnavailable, match="malformed"):
        OpenAIEmbedder(_settings()).embed_queries(["q"])


def test_wrong_number_of_vectors_is_an_error(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(f"{BASE}/embeddings").mock(
        return_value=httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0]}]})
    )
    with pytest.raises(EmbeddingUnavailable, match="1 vectors for 2 texts"):
        OpenAIEmbedder(_settings()).embed_passages(["a", "b"])


def test_openai_backend_without_base_url_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="NEWSBOT_EMBEDDING__BASE_URL"):
        make_embedder(_settings(base_url=None))


def test_factory_builds_the_backend_the_settings_name() -> None:
    assert isinstance(make_embedder(_settings()), OpenAIEmbedder)
    use = make_embedder(EmbeddingSettings(backend="use"))
    assert isinstance(use, UseEmbedder)
    assert len(use.embed_queries(["hello"])[0]) == use.dim == 512

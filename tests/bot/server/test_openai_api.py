"""The OpenAI-compatible API, driven by the `openai` SDK: models, answers with markers and sources, streaming, errors."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import openai
import pytest

from bot.checks.markers import markers
from bot.config import Settings
from bot.models import Answer, TokenSink, Turn
from bot.server.app import build_app
from bot.service import Newsbot
from tests.bot.server.conftest import QUESTION, asgi_client, openai_client
from tests.fakes import HashEmbedder


async def test_the_models_list_has_newsbot(api: openai.AsyncOpenAI) -> None:
    listed = await api.models.list()
    assert [model.id for model in listed.data] == ["newsbot"]


async def test_an_answer_cites_its_sources_and_lists_them_with_their_quotes(api: openai.AsyncOpenAI) -> None:
    completion = await api.chat.completions.create(
        model="newsbot", messages=[{"role": "user", "content": QUESTION}]
    )
    content = completion.choices[0].message.content or ""
    answer, _, listing = content.partition("\n\nSources:\n")
    extra = completion.model_extra["newsbot"]
    sources = {source["marker"]: source for source in extra["sources"]}
    assert markers(answer) and set(markers(answer)) <= set(sources)
    for marker, source in sources.items():
        assert f"[{marker}] {source['title']}" in listing
        assert source["quotes"], "every source carries the sentences the answer relies on"
        for quote in source["quotes"]:
            assert quote["sentence"] in answer
            assert quote["paragraph"] is not None and quote["sentence"] in quote["context"]
    assert extra["refused"] is False and extra["language"] == "en"


async def test_a_streamed_answer_is_the_same_text_and_its_last_chunk_has_the_sources(
    api: openai.AsyncOpenAI,
) -> None:
    whole = await api.chat.completions.create(
        model="newsbot", messages=[{"role": "user", "content": QUESTION}]
    )
    stream = await api.chat.completions.create(
        model="newsbot", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["newsbot"]["sources"] == whole.model_extra["newsbot"]["sources"]
    assert all("newsbot" not in (chunk.model_extra or {}) for chunk in chunks[:-1])


class Recording(Newsbot):
    """A Newsbot that records what each answer was asked with."""

    calls: list[tuple[str, list[Turn]]]

    def answer(self, question: str, history: Sequence[Turn], on_token: TokenSink | None = None) -> Answer:
        self.calls.append((question, list(history)))
        return super().answer(question, history, on_token)


@pytest.fixture
def recording(settings: Settings) -> Iterator[Recording]:
    with Recording(settings, embedder=HashEmbedder()) as bot:
        bot.calls = []
        bot.ensure_index()
        yield bot


async def test_earlier_messages_are_the_history_of_the_last_question(
    settings: Settings, recording: Recording
) -> None:
    async with asgi_client(build_app(settings, recording)) as http:
        api = openai_client(http)
        first = await api.chat.completions.create(
            model="newsbot", messages=[{"role": "user", "content": QUESTION}]
        )
        said = first.choices[0].message.content or ""
        await api.chat.completions.create(
            model="newsbot",
            messages=[
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "content": said},
                {"role": "user", "content": [{"type": "text", "text": "Which jets does it build?"}]},
            ],
        )
    question, history = recording.calls[-1]
    assert question == "Which jets does it build?"
    assert len(history) == 1 and history[0].question == QUESTION
    assert history[0].answer == said.partition("\n\nSources:")[0], (
        "the sources list is not part of the history"
    )


class SlowModel:
    """A chat model that answers only once the test lets it (quotes must be sent before that)."""

    def __init__(self) -> None:
        self.go = threading.Event()

    def complete(self, messages: Sequence[dict[str, str]], **options: Any) -> str:
        assert self.go.wait(10)
        return "NONE"

    def stream(self, messages: Sequence[dict[str, str]], **options: Any) -> Iterator[str]:
        yield self.complete(messages)


async def test_the_quotes_stream_before_the_model_has_answered(settings: Settings, live_server: Any) -> None:
    settings = settings.model_copy(
        update={
            "llm": settings.llm.model_copy(update={"provider": "openai", "base_url": "http://llm.test/v1"})
        }
    )
    model = SlowModel()
    with Newsbot(settings, embedder=HashEmbedder(), generator=model) as bot:
        bot.ensure_index()
        url = live_server(build_app(settings, bot))  # the in-process transport would hold the stream back
        async with httpx.AsyncClient(base_url=url) as http:
            stream = await openai_client(http).chat.completions.create(
                model="newsbot", messages=[{"role": "user", "content": QUESTION}], stream=True
            )
            chunks = aiter(stream)
            first = await anext(chunks)
            assert first.choices[0].delta.role == "assistant"
            quote = await asyncio.wait_for(anext(chunks), 10)
            assert not model.go.is_set() and markers(quote.choices[0].delta.content or "")
            model.go.set()
            rest = [chunk async for chunk in chunks]
    assert rest[-1].choices[0].finish_reason == "stop"


async def test_an_unknown_model_is_not_found_in_openais_shape(api: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        await api.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    assert raised.value.code == "model_not_found" and "newsbot" in raised.value.message


async def test_a_conversation_not_ending_with_a_question_is_a_bad_request(api: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await api.chat.completions.create(
            model="newsbot",
            messages=[{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Komsomolsk."}],
        )
    assert raised.value.code == "invalid_messages"


async def test_a_malformed_request_is_a_bad_request_naming_the_field(
    settings: Settings, newsbot: Newsbot
) -> None:
    async with asgi_client(build_app(settings, newsbot)) as http:
        response = await http.post("/v1/chat/completions", json={"model": "newsbot", "messages": "hello"})
    error = response.json()["error"]
    assert response.status_code == 400
    assert error["type"] == "invalid_request_error" and error["param"] == "messages"


async def test_an_unknown_route_is_not_found_in_openais_shape(settings: Settings, newsbot: Newsbot) -> None:
    async with asgi_client(build_app(settings, newsbot)) as http:
        response = await http.get("/v1/embeddings")
    assert response.status_code == 404 and response.json()["error"]["type"] == "not_found_error"


async def test_a_failing_answer_is_a_server_error_in_openais_shape(settings: Settings) -> None:
    class Broken(Newsbot):
        def answer(self, question: str, history: Sequence[Turn], on_token: TokenSink | None = None) -> Answer:
            raise RuntimeError("boom")

    with Broken(settings, embedder=HashEmbedder()) as bot:
        bot.ensure_index()
        async with asgi_client(build_app(settings, bot)) as http:
            api = openai_client(http)
            with pytest.raises(openai.InternalServerError) as raised:
                await api.chat.completions.create(
                    model="newsbot", messages=[{"role": "user", "content": QUESTION}]
                )
            assert "boom" not in raised.value.message, "internals stay in the log"
            stream = await api.chat.completions.create(
                model="newsbot", messages=[{"role": "user", "content": QUESTION}], stream=True
            )
            with pytest.raises(openai.APIError):
                _ = [chunk async for chunk in stream]


async def test_a_streamed_answer_reaches_a_real_loopback_port(
    settings: Settings, newsbot: Newsbot, live_server: Any
) -> None:
    url = live_server(build_app(settings, newsbot))
    async with httpx.AsyncClient(base_url=url) as http:
        stream = await openai_client(http).chat.completions.create(
            model="newsbot", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream])
    assert markers(text) and "\n\nSources:\n[1] " in text

"""Reply step, HTTP side: the two response forms of an answer, whole or as server-sent events.

OpenAI's chat completion (``chat.completion`` / ``chat.completion.chunk``): the content is the
answer as a person reads it with its "Sources" list, and a ``newsbot`` field (on the response, on
the last chunk) holds the structured sources. The native form (``answer_record``) streams events
``quote``, ``statement`` and ``note`` as the answer is written, then ``done`` with the whole record.
What was streamed is never taken back: the final text only adds to it.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from bot.answering.prompts import Prompts
from bot.server.access import ApiError
from bot.server.answer_view import answer_record as native_record
from bot.server.answer_view import content, extra_field, sources_block, statements
from bot.server.errors import error_object
from bot.server.jobs import Job, Served
from bot.server.schemas import MODEL
from index.errors import NewsbotError

logger = logging.getLogger(__name__)


def answer_record(served: Served) -> dict[str, Any]:
    """The native form of an answer (POST /v1/answers)."""
    return native_record(served.answer, served.sources)


def completion(served: Served, prompts: Prompts) -> dict[str, Any]:
    """The whole OpenAI chat completion."""
    return {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content(served.answer, prompts)},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "newsbot": extra_field(served.answer, served.sources),
    }


def _rest(streamed: str, text: str) -> str:
    """What the final text adds to what was streamed."""
    if text.startswith(streamed):
        return text[len(streamed) :]
    logger.warning("the answer's final text does not continue what was streamed; sending what follows it")
    return text[len(streamed) :] if len(text) > len(streamed) else ""


def _data(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def _failure(exc: Exception) -> dict[str, Any]:
    """The error object a stream ends with (its status line went out with the first chunk)."""
    if isinstance(exc, ApiError):
        return error_object(str(exc), exc.code, exc.status)
    if isinstance(exc, NewsbotError):
        return error_object(str(exc), "newsbot_error", 500)
    logger.exception("streaming failed", exc_info=exc)
    return error_object(
        "newsbot failed while answering; the server log has the details", "internal_error", 500
    )


async def completion_chunks(job: Job, prompts: Prompts, on_first: Callable[[], None]) -> AsyncIterator[str]:
    """OpenAI's ``chat.completion.chunk`` events: the role, the pieces as written, the rest and sources, [DONE]."""
    ident = f"chatcmpl-{secrets.token_hex(12)}"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return _data(
            {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL,
                "choices": [choice],
                **more,
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    streamed = ""
    try:
        async for piece in job.pieces():
            if not streamed:
                on_first()
            streamed += piece
            yield chunk({"content": piece})
        served = await job.result()
    except Exception as exc:
        yield _data(_failure(exc))
        yield "data: [DONE]\n\n"
        return
    rest = _rest(streamed, served.answer.text)
    block = sources_block(served.answer, prompts)
    tail = rest + (f"\n\n{block}" if block else "")
    if tail:
        if not streamed:
            on_first()
        yield chunk({"content": tail})
    yield chunk({}, "stop", newsbot=extra_field(served.answer, served.sources))
    yield "data: [DONE]\n\n"


def _event(name: str, payload: dict[str, Any]) -> str:
    return f"event: {name}\n{_data(payload)}"


async def answer_events(job: Job, on_first: Callable[[], None]) -> AsyncIterator[str]:
    """The native stream: ``quote``, ``statement``, ``note`` as the answer is written, then ``done``."""
    streamed = ""

    def events(text: str) -> list[str]:
        return [
            _event(item.kind, {"text": item.text, "markers": list(item.markers), "delta": item.delta})
            for item in statements(text)
        ]

    try:
        async for piece in job.pieces():
            if not streamed:
                on_first()
            streamed += piece
            for event in events(piece):
                yield event
        served = await job.result()
    except Exception as exc:
        yield _event("error", _failure(exc))
        return
    rest = _rest(streamed, served.answer.text)
    if rest and not streamed:
        on_first()
    for event in events(rest):
        yield event
    yield _event("done", answer_record(served))

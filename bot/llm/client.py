"""The generate step's transport: one client for any OpenAI-compatible ``/chat/completions`` server.

OpenAI, vLLM, Ollama, LM Studio, a llama.cpp server and the bundled local model
(``bot.llm.server``) all speak this protocol; the ``openai`` SDK speaks it for us
(``index.remote.openai_api``: its own retries off, our httpx client, nothing taken from the
environment). Timeouts, refused connections, 429 and 5xx are retried by stamina
(``index.remote.retries``, the only retry layer); everything else is translated
(``index.remote.failures``) into ``LLMUnavailable`` or ``LLMBadResponse`` with one
actionable line. ``timeout`` is a wall-clock deadline for each request, whole or
streamed: a server that trickles bytes or keep-alives is cut off when it passes, and
a ``Retry-After`` longer than ``MAX_RETRY_AFTER`` is not waited for.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from typing import Any, cast

import httpx
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam

from bot.config import LLMSettings
from bot.errors import LLMBadResponse, LLMUnavailable
from index.errors import ConfigError
from index.remote.failures import FAILURE, Failures, translated
from index.remote.openai_api import open_endpoint
from index.remote.retries import Retryable, retrying

logger = logging.getLogger(__name__)

Message = dict[str, str]


class ChatClient:
    """Chat completions, whole or streamed, against one server and one model."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 2,
        max_tokens: int = 320,
        temperature: float = 0.1,
        http_client: httpx.Client | None = None,
        llama_cpp: bool = False,
        repeat_penalty: float = 1.1,
    ) -> None:
        self.model = model
        self.llama_cpp = llama_cpp
        """The server is llama.cpp's (the bundled model): its own sampling fields may be sent."""
        self.base_url = base_url.rstrip("/")
        self._url = f"{self.base_url}/chat/completions"
        self._attempts = 1 + retries
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._repeat_penalty = repeat_penalty
        self._endpoint = open_endpoint(
            self.base_url, api_key=api_key, timeout=timeout, http_client=http_client
        )
        after = f"after {self._attempts} attempts"
        self._failures = Failures(
            unavailable=LLMUnavailable,
            server="LLM server",
            attempts=self._attempts,
            # Still sending, only too slowly: another attempt would be as slow.
            overdue=f"the LLM server at {self.base_url} did not finish within {timeout:g} s; "
            "raise NEWSBOT_LLM__TIMEOUT or use a faster server",
            timeout=f"the LLM server at {self.base_url} did not answer within {timeout:g} s {after}; "
            "raise NEWSBOT_LLM__TIMEOUT or use a smaller model",
            refused=f"no LLM server at {self.base_url} ({FAILURE}); start it or set NEWSBOT_LLM__BASE_URL",
            dropped=f"the LLM server at {self.base_url} kept dropping the connection ({FAILURE}) {after}",
            transport=f"the LLM server at {self.base_url} kept dropping the connection ({FAILURE}) {after}",
            status=self._status_line,
            reported=lambda message: LLMBadResponse(
                f"the LLM server reported an error mid-answer: {message}"
            ),
            secret=api_key,
        )

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        schema: dict[str, Any] | None = None,
    ) -> str:
        """The assistant's whole reply; with ``schema``, JSON the server is asked to hold to it."""
        request = self._request(messages, max_tokens, temperature, schema)
        try:
            for attempt in retrying(self._attempts):
                with attempt, translated(self._failures):
                    try:
                        completion = self._endpoint.client.chat.completions.create(**request, stream=False)
                    except ValueError:  # JSON promised by the content type, something else sent
                        completion = None
        except Retryable as exc:
            raise LLMUnavailable(self._failures.redact(exc.final)) from exc.__cause__
        return self._content(completion)

    def yes_probability(self, messages: Sequence[Message]) -> float | None:
        """P("yes") among yes and no as the first token of the reply, from the server's log-probabilities.

        One token, greedy; ``top_logprobs`` lists the likeliest first tokens, of which every spelling
        of yes and of no counts. None when the server sends no log-probabilities, or neither word.
        """
        request = self._request(messages, 1, 0.0, None)
        request.update(logprobs=True, top_logprobs=10)
        try:
            for attempt in retrying(self._attempts):
                with attempt, translated(self._failures):
                    completion = self._endpoint.client.chat.completions.create(**request, stream=False)
        except Retryable as exc:
            raise LLMUnavailable(self._failures.redact(exc.final)) from exc.__cause__
        return _yes_share(completion)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        schema: dict[str, Any] | None = None,
    ) -> Iterator[str]:
        """The reply as text deltas; retried only while nothing has been yielded yet."""
        request = self._request(messages, max_tokens, temperature, schema)
        started = False
        try:
            for attempt in retrying(self._attempts):
                with attempt:
                    try:
                        for delta in self._stream_once(request):
                            started = True
                            yield delta
                    except Retryable as exc:
                        if started:  # the user has seen part of the answer: a retry would repeat it
                            raise LLMUnavailable(
                                self._failures.redact(
                                    f"the LLM server at {self.base_url} dropped the answer midway"
                                )
                            ) from exc.__cause__
                        raise
                    return
        except Retryable as exc:
            raise LLMUnavailable(self._failures.redact(exc.final)) from exc.__cause__

    def _stream_once(self, request: dict[str, Any]) -> Iterator[str]:
        """One streamed request, without retries; the stream must end with a finish reason."""
        finished = False
        with translated(self._failures):
            events = self._endpoint.client.chat.completions.create(**request, stream=True)
            with events:
                try:
                    for event in events:
                        text, done = _delta(event)
                        finished = finished or done
                        if text:
                            yield text
                except (ValueError, AttributeError, TypeError):
                    raise LLMBadResponse("the LLM server sent a malformed stream event") from None
        if not finished:
            raise LLMBadResponse("the LLM server's stream ended before the answer was finished")

    def close(self) -> None:
        """Release the connection pool if this client created it."""
        self._endpoint.close()

    def _request(
        self,
        messages: Sequence[Message],
        max_tokens: int | None,
        temperature: float | None,
        schema: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """The SDK's arguments for one completion, streamed or not."""
        request: dict[str, Any] = {
            "model": self.model,
            "messages": cast(list[ChatCompletionMessageParam], [dict(m) for m in messages]),
            "max_tokens": self._max_tokens if max_tokens is None else max_tokens,
            "temperature": self._temperature if temperature is None else temperature,
            "extra_headers": self._endpoint.headers,
        }
        if schema is not None:
            # OpenAI's structured-output shape; llama.cpp's server reads the same one and turns the
            # schema into a grammar (it ignores a schema put where it doesn't look: see README).
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": False},
            }
        if self.llama_cpp:
            # llama.cpp's own sampler: a mild penalty on repeats stops the small model's loops.
            request["extra_body"] = {"repeat_penalty": self._repeat_penalty}
        return request

    def _status_line(self, status: int, detail: str) -> str:
        """What the user reads for an HTTP status that is not retried."""
        if status in (401, 403):
            return f"the LLM server refused the API key (HTTP {status}); check NEWSBOT_LLM__API_KEY"
        if status == 404 and "model" in detail.lower():
            return f"model '{self.model}' not found on the server (HTTP 404); check NEWSBOT_LLM__MODEL"
        if status == 404:
            return (
                f"no chat endpoint at {self._url} (HTTP 404); "
                "check NEWSBOT_LLM__BASE_URL (it usually ends in /v1)"
            )
        return f"the LLM server rejected the request (HTTP {status}): {detail or 'no details'}"

    def _content(self, completion: object) -> str:
        """The message text of a non-streamed completion."""
        if not isinstance(completion, ChatCompletion):
            raise LLMBadResponse(f"the LLM server at {self.base_url} sent a reply that is not JSON")
        try:
            choice = completion.choices[0]
            content = choice.message.content
        except (AttributeError, IndexError, TypeError):
            raise LLMBadResponse(f"the LLM server at {self.base_url} sent a reply without choices") from None
        if not isinstance(content, str):
            raise LLMBadResponse(f"the LLM server at {self.base_url} sent a reply without text")
        if choice.finish_reason == "length":
            logger.warning(
                "the answer was cut at max_tokens; raise NEWSBOT_LLM__MAX_TOKENS for longer answers"
            )
        return content


def _yes_share(completion: object) -> float | None:
    """P(yes) / (P(yes) + P(no)) over the first token's alternatives; None without log-probabilities."""
    try:
        alternatives = completion.choices[0].logprobs.content[0].top_logprobs  # type: ignore[attr-defined]
    except (AttributeError, IndexError, TypeError):
        return None
    yes = no = 0.0
    for alternative in alternatives or ():
        word = str(alternative.token).strip().lower()
        if word in _YES:
            yes += math.exp(alternative.logprob)
        elif word in _NO:
            no += math.exp(alternative.logprob)
    return yes / (yes + no) if yes + no > 0 else None


_YES = frozenset({"yes", "да", "так", "ja", "oui", "sí", "si", "tak"})
_NO = frozenset({"no", "нет", "ні", "не", "nein", "non", "nie"})


def _delta(event: ChatCompletionChunk) -> tuple[str | None, bool]:
    """The text a stream event adds, and whether it finishes the answer (usage-only events add nothing)."""
    if not event.choices:
        return None, False
    choice = event.choices[0]
    text = choice.delta.content if choice.delta is not None else None
    return (text if isinstance(text, str) else None), bool(choice.finish_reason)


def make_chat_client(
    settings: LLMSettings,
    *,
    base_url: str | None = None,
    model: str | None = None,
    http_client: httpx.Client | None = None,
    llama_cpp: bool = False,
) -> ChatClient:
    """A client for ``settings``; the local server passes its own ``base_url`` and ``model``."""
    url = base_url or settings.base_url
    if not url:
        raise ConfigError(
            "NEWSBOT_LLM__BASE_URL is not set: provider=openai needs the server's base URL, "
            "e.g. http://127.0.0.1:11434/v1"
        )
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"NEWSBOT_LLM__BASE_URL must start with http:// or https://, got {url!r}")
    return ChatClient(
        base_url=url,
        model=model or settings.model,
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        timeout=settings.timeout,
        retries=settings.retries,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        http_client=http_client,
        llama_cpp=llama_cpp,
        repeat_penalty=settings.repeat_penalty,
    )

"""The generate step's transport: one client for any OpenAI-compatible ``/chat/completions`` server.

OpenAI, vLLM, Ollama, LM Studio, a llama.cpp server and the bundled local model
(``bot.local_llm``) all speak this protocol. Timeouts, refused connections, 429
and 5xx are retried by stamina (the only retry layer); everything else is
translated into ``LLMUnavailable`` or ``LLMBadResponse`` with one actionable line.
``timeout`` is a wall-clock deadline for each request, whole or streamed: a
server that trickles bytes or keep-alives is cut off when it passes, and a
``Retry-After`` longer than ``_MAX_RETRY_AFTER`` is not waited for.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import stamina

from bot.config import LLMSettings
from bot.errors import LLMBadResponse, LLMUnavailable
from index.errors import ConfigError

logger = logging.getLogger(__name__)

Message = dict[str, str]

# A server asking for a longer pause is not waited for: the pipeline answers extractively instead.
_MAX_RETRY_AFTER = 10.0


class _Overdue(Exception):
    """The request ran past its wall-clock deadline while the server was still sending."""


class _Retryable(Exception):
    """A failure worth another attempt; ``final`` is the message shown once attempts run out."""

    def __init__(self, final: str, retry_after: float | None = None) -> None:
        super().__init__(final)
        self.final = final
        self.retry_after = retry_after


def _backoff(exc: Exception) -> bool | float:
    """stamina hook: retry only ``_Retryable``; a server's Retry-After replaces the computed backoff."""
    if not isinstance(exc, _Retryable):
        return False
    if exc.retry_after is not None:
        return exc.retry_after if exc.retry_after <= _MAX_RETRY_AFTER else False
    return True


def log_retry(details: stamina.instrumentation.RetryDetails) -> None:
    """stamina hook: one INFO line per scheduled retry, through our logger (stamina's own says WARNING)."""
    cause = details.caused_by
    reason = cause.final if isinstance(cause, _Retryable) else f"{type(cause).__name__}: {cause}"
    logger.info("LLM request failed (%s); retry %d in %.1f s", reason, details.retry_num, details.wait_for)


def route_retry_logs() -> None:
    """Log retries with ``log_retry`` instead of stamina's default hook; the entry points call it once."""
    stamina.instrumentation.set_on_retry_hooks([log_retry])


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
        self._api_key = api_key
        self._timeout = timeout
        self._attempts = 1 + retries
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._repeat_penalty = repeat_penalty
        self._owns_http = http_client is None
        # A loopback server (the bundled model, Ollama) must not be reached through an HTTP(S)_PROXY.
        local = urlsplit(self.base_url).hostname in ("127.0.0.1", "localhost", "::1")
        self._http = http_client or httpx.Client(timeout=timeout, trust_env=not local)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        schema: dict[str, Any] | None = None,
    ) -> str:
        """The assistant's whole reply; with ``schema``, JSON the server is asked to hold to it."""
        body = self._body(messages, max_tokens, temperature, stream=False, schema=schema)
        try:
            for attempt in self._retrying():
                with attempt, self._translated():
                    response = self._post_within_deadline(body)
                    self._check(response)
        except _Retryable as exc:
            raise LLMUnavailable(self._redact(exc.final)) from exc.__cause__
        return self._content(response)

    def _post_within_deadline(self, body: dict[str, Any]) -> httpx.Response:
        """One POST, its body read while the deadline holds (a per-read timeout alone lets a trickle run on)."""
        deadline = time.monotonic() + self._timeout
        with self._http.stream("POST", self._url, json=body, headers=self._headers) as response:
            content = b"".join(self._before(deadline, response.iter_bytes()))
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=response.request
        )

    def _before(self, deadline: float, parts: Iterable[Any]) -> Iterator[Any]:
        """``parts`` until the wall-clock deadline passes, then ``_Overdue``."""
        for part in parts:
            if time.monotonic() > deadline:
                raise _Overdue
            yield part

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        schema: dict[str, Any] | None = None,
    ) -> Iterator[str]:
        """The reply as text deltas; retried only while nothing has been yielded yet."""
        body = self._body(messages, max_tokens, temperature, stream=True, schema=schema)
        started = False
        try:
            for attempt in self._retrying():
                with attempt:
                    try:
                        for delta in self._stream_once(body):
                            started = True
                            yield delta
                    except _Retryable as exc:
                        if started:  # the user has seen part of the answer: a retry would repeat it
                            raise LLMUnavailable(
                                self._redact(f"the LLM server at {self.base_url} dropped the answer midway")
                            ) from exc.__cause__
                        raise
                    return
        except _Retryable as exc:
            raise LLMUnavailable(self._redact(exc.final)) from exc.__cause__

    def _stream_once(self, body: dict[str, Any]) -> Iterator[str]:
        """One streamed request, without retries."""
        deadline = time.monotonic() + self._timeout
        with (
            self._translated(),
            self._http.stream("POST", self._url, json=body, headers=self._headers) as response,
        ):
            if response.is_error:
                content = b"".join(self._before(deadline, response.iter_bytes()))
                self._check(httpx.Response(response.status_code, headers=response.headers, content=content))
            # Checked per line, so SSE keep-alive comments cannot hold the request open either.
            yield from _sse_deltas(self._before(deadline, response.iter_lines()))

    def close(self) -> None:
        """Release the connection pool if this client created it."""
        if self._owns_http:
            self._http.close()

    def _body(
        self,
        messages: Sequence[Message],
        max_tokens: int | None,
        temperature: float | None,
        *,
        stream: bool,
        schema: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "max_tokens": self._max_tokens if max_tokens is None else max_tokens,
            "temperature": self._temperature if temperature is None else temperature,
            "stream": stream,
        }
        if schema is not None:
            # OpenAI's structured-output shape; llama.cpp's server reads the same one and turns the
            # schema into a grammar (it ignores a schema put where it doesn't look: see README).
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": False},
            }
        if self.llama_cpp:
            # llama.cpp's own sampler: a mild penalty on repeats stops the small model's loops.
            body["repeat_penalty"] = self._repeat_penalty
        return body

    def _retrying(self) -> Any:
        # Bounded by attempts, not by a wall-clock budget: one attempt may legitimately take `timeout` s.
        return stamina.retry_context(on=_backoff, attempts=self._attempts, timeout=None, wait_max=10.0)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn transport failures into retryable errors carrying the message for the user."""
        try:
            yield
        except _Overdue:
            # Still sending, only too slowly: another attempt would be as slow. Not retried.
            raise LLMUnavailable(
                f"the LLM server at {self.base_url} did not finish within {self._timeout:g} s; "
                "raise NEWSBOT_LLM__TIMEOUT or use a faster server"
            ) from None
        except httpx.TimeoutException as exc:
            raise _Retryable(
                f"the LLM server at {self.base_url} did not answer within {self._timeout:g} s "
                f"after {self._attempts} attempts; raise NEWSBOT_LLM__TIMEOUT or use a smaller model"
            ) from exc
        except httpx.ConnectError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else f"cannot connect: {exc}"
            raise _Retryable(
                f"no LLM server at {self.base_url} ({reason}); start it or set NEWSBOT_LLM__BASE_URL"
            ) from exc
        except httpx.TransportError as exc:
            raise _Retryable(
                f"the LLM server at {self.base_url} kept dropping the connection ({type(exc).__name__}) "
                f"after {self._attempts} attempts"
            ) from exc

    def _check(self, response: httpx.Response) -> None:
        """Raise for an error status: retryable for 429/5xx, a one-line ``LLMUnavailable`` otherwise."""
        status = response.status_code
        if status < 400:
            return
        detail = _error_detail(response)
        if status == 429:
            wait = _retry_after(response)
            if wait is not None and wait > _MAX_RETRY_AFTER:
                raise LLMUnavailable(
                    f"the LLM server is rate-limiting (HTTP 429) and asks to wait {wait:.0f} s; not waiting"
                )
            raise _Retryable(
                f"the LLM server kept rate-limiting (HTTP 429) after {self._attempts} attempts",
                retry_after=wait,
            )
        if status >= 500:
            raise _Retryable(f"LLM server kept failing: HTTP {status} after {self._attempts} attempts")
        if status in (401, 403):
            message = f"the LLM server refused the API key (HTTP {status}); check NEWSBOT_LLM__API_KEY"
        elif status == 404 and "model" in detail.lower():
            message = f"model '{self.model}' not found on the server (HTTP 404); check NEWSBOT_LLM__MODEL"
        elif status == 404:
            message = (
                f"no chat endpoint at {self._url} (HTTP 404); "
                "check NEWSBOT_LLM__BASE_URL (it usually ends in /v1)"
            )
        else:
            message = f"the LLM server rejected the request (HTTP {status}): {detail or 'no details'}"
        raise LLMUnavailable(self._redact(message))

    def _content(self, response: httpx.Response) -> str:
        """The message text of a non-streamed completion."""
        try:
            payload = response.json()
        except ValueError:
            raise LLMBadResponse(f"the LLM server at {self.base_url} sent a reply that is not JSON") from None
        try:
            choice = payload["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMBadResponse(f"the LLM server at {self.base_url} sent a reply without choices") from None
        if not isinstance(content, str):
            raise LLMBadResponse(f"the LLM server at {self.base_url} sent a reply without text")
        if choice.get("finish_reason") == "length":
            logger.warning(
                "the answer was cut at max_tokens; raise NEWSBOT_LLM__MAX_TOKENS for longer answers"
            )
        return content

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def _sse_deltas(lines: Iterator[str]) -> Iterator[str]:
    """Text deltas from an OpenAI server-sent-event stream, ending at ``[DONE]`` or a finish reason."""
    finished = False
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, ": keep-alive" comments, "event:" names
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
            if "error" in event:
                raise LLMBadResponse(f"the LLM server reported an error mid-answer: {_message_of(event)}")
            choices = event["choices"]
            if not choices:
                continue  # e.g. a trailing usage-only chunk
            delta = choices[0].get("delta") or {}
            text = delta.get("content")
            finished = finished or bool(choices[0].get("finish_reason"))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise LLMBadResponse("the LLM server sent a malformed stream event") from None
        if isinstance(text, str) and text:
            yield text
    if not finished:
        raise LLMBadResponse("the LLM server's stream ended before the answer was finished")


def _error_detail(response: httpx.Response) -> str:
    """The server's own error message, shortened, for the user-facing line."""
    try:
        return _message_of(response.json())[:200]
    except ValueError:
        return response.text.strip()[:200]


def _message_of(payload: Any) -> str:
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error or payload)


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), if the server sent one."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


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

"""Transport to any OpenAI-compatible server, shared by the embed step (``index.embed.openai_compat``) and the
generate step (``bot.llm.client``): the ``openai`` SDK's client over our own ``httpx.Client``.

- The SDK's retries are off (``max_retries=0``): ``index.remote.retries`` is the one retry layer.
- ``timeout`` bounds each read and is also a wall-clock deadline for the whole response: a
  server that trickles bytes, or SSE keep-alive comments (which the SDK skips without a word),
  is cut off with ``Overdue``.
- What is sent comes from our settings only: the key and the base URL are always passed, the
  organisation and project headers the SDK would take from ``OPENAI_ORG_ID`` /
  ``OPENAI_PROJECT_ID`` are left out, and a server without a key gets no Authorization header.
- The HTTP client is httpx's (openai 3 would otherwise bring its own httpx2): one HTTP stack,
  which respx mocks in tests; a loopback server (the bundled model, Ollama) is never reached
  through a proxy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import openai

_DEADLINE = "newsbot.deadline"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Overdue(Exception):
    """The response was still arriving when its request's wall-clock deadline passed."""


class _BeforeDeadline(httpx.SyncByteStream):
    """A response body that raises ``Overdue`` once the deadline has passed, however steadily bytes arrive."""

    def __init__(self, stream: httpx.SyncByteStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def __iter__(self) -> Iterator[bytes]:
        for part in self._stream:
            if time.monotonic() > self._deadline:
                raise Overdue
            yield part

    def close(self) -> None:
        self._stream.close()


def _stamp_deadline(request: httpx.Request) -> None:
    """Request hook: the read timeout the SDK set is also the deadline for the whole response."""
    seconds = request.extensions.get("timeout", {}).get("read")
    if seconds is not None:
        request.extensions[_DEADLINE] = time.monotonic() + seconds


def _enforce_deadline(response: httpx.Response) -> None:
    """Response hook: the body is read under its request's deadline."""
    deadline = response.request.extensions.get(_DEADLINE)
    if deadline is not None and isinstance(response.stream, httpx.SyncByteStream):
        response.stream = _BeforeDeadline(response.stream, deadline)


@dataclass(frozen=True)
class Endpoint:
    """One OpenAI-compatible server: the SDK client and the headers every request must carry."""

    client: openai.OpenAI
    headers: Mapping[str, str | openai.Omit]
    """Pass as ``extra_headers``: they drop what the SDK would add from the environment."""
    owns_http: bool

    def close(self) -> None:
        """Release the connection pool if the endpoint created it."""
        if self.owns_http:
            self.client.close()


def open_endpoint(
    base_url: str, *, api_key: str | None, timeout: float, http_client: httpx.Client | None = None
) -> Endpoint:
    """The client for one server; a given ``http_client`` gains the deadline hooks."""
    local = urlsplit(base_url).hostname in _LOOPBACK
    http = http_client or httpx.Client(trust_env=not local)
    if _stamp_deadline not in http.event_hooks["request"]:
        http.event_hooks["request"].append(_stamp_deadline)
        http.event_hooks["response"].append(_enforce_deadline)
    client = openai.OpenAI(
        api_key=api_key or "",
        base_url=base_url,
        timeout=timeout,
        max_retries=0,
        http_client=http,  # type: ignore[arg-type]  # openai 3 types it as httpx2's, and takes httpx's too
        _enforce_credentials=False,  # a local server needs no key
    )
    omit = openai.Omit()
    headers: dict[str, str | openai.Omit] = {"OpenAI-Organization": omit, "OpenAI-Project": omit}
    if not api_key:
        headers["Authorization"] = omit
    return Endpoint(client, headers, owns_http=http_client is None)


def error_detail(exc: openai.APIStatusError) -> str:
    """The server's own error message, shortened, for the user-facing line."""
    body = exc.body
    if isinstance(body, dict):
        body = body.get("message") or body
    return str(body or "").strip()[:200]


def transport_failure(exc: openai.APIConnectionError) -> str:
    """What went wrong under an SDK connection error, in a few words ("connection refused", "ReadError")."""
    cause = exc.__cause__
    if isinstance(cause, httpx.ConnectError):
        return "connection refused" if "refused" in str(cause).lower() else f"cannot connect: {cause}"
    return type(cause).__name__ if cause is not None else type(exc).__name__

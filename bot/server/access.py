"""Reply step, HTTP side: who may ask, how often, and how much: API keys, loopback, rate limit, body size.

With no API keys only loopback clients are served (and ``bot.server.run`` refuses to listen
elsewhere). A key is sent as ``Authorization: Bearer KEY``; keys are compared in constant time
and only a short hash of one is ever used as a name (rate-limit bucket, logs).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import ServerSettings


class ApiError(Exception):
    """A request the server refuses or fails; sent as OpenAI's error object with ``status`` and ``code``."""

    def __init__(self, status: int, message: str, code: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True)
class Caller:
    """Who is asking: a key's short hash (or the loopback address) and whether it may administer."""

    name: str
    admin: bool


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _short_hash(key: str) -> str:
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]


class Access:
    """The API keys and the per-caller rate limit of one server."""

    def __init__(self, settings: ServerSettings) -> None:
        self._keys = [key.get_secret_value().encode() for key in settings.api_keys]
        self._admin = [key.get_secret_value().encode() for key in settings.admin_keys]
        self._rate = (
            RateLimitItemPerSecond(settings.rate_limit, settings.rate_window) if settings.rate_limit else None
        )
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @property
    def open_to_loopback_only(self) -> bool:
        return not self._keys and not self._admin

    def caller(self, authorization: str | None, client_host: str | None) -> Caller:
        """The caller of a request, or ``ApiError`` (401 without a valid key, 403 off loopback without keys)."""
        if self.open_to_loopback_only:
            if not is_loopback(client_host):
                raise ApiError(
                    403,
                    "this newsbot serves loopback clients only: set NEWSBOT_SERVER__API_KEYS to serve others",
                    "loopback_only",
                )
            return Caller(f"host-{client_host}", admin=True)
        scheme, _, token = (authorization or "").partition(" ")
        key = token.strip().encode()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(
                401, "missing API key: send the header 'Authorization: Bearer KEY'", "invalid_api_key"
            )
        admin = any(hmac.compare_digest(key, known) for known in self._admin)
        if not admin and not any(hmac.compare_digest(key, known) for known in self._keys):
            raise ApiError(401, "invalid API key", "invalid_api_key")
        return Caller(_short_hash(key.decode(errors="replace")), admin=admin)

    def count(self, caller: Caller) -> None:
        """Count one request of ``caller``; ``ApiError`` (429 with Retry-After) past the rate limit."""
        if self._rate is None or self._limiter.hit(self._rate, caller.name):
            return
        reset = self._limiter.get_window_stats(self._rate, caller.name).reset_time
        wait = max(1.0, reset - time.time())
        raise ApiError(
            429,
            f"rate limit reached: at most {self._rate.amount} requests per {self._rate.multiples} s; "
            f"retry in {wait:.0f} s",
            "rate_limit_exceeded",
            retry_after=wait,
        )


class BodyLimit:
    """ASGI middleware: a request body larger than ``limit`` bytes gets 413 before it is read whole."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        from bot.server.errors import error_body

        body = error_body(f"request body larger than {self.limit} bytes", "request_too_large", 413)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    """The body grew past the limit while it was read (no Content-Length, or a false one)."""

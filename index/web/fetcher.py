"""The fetch step of web articles: one guarded HTTP GET of a page or a feed.

Only http and https; every address a host name resolves to is checked, at
connect time, so a redirect or a DNS answer that changes between check and
connection cannot reach a private, loopback or link-local address (unless
``allow_private``). Bodies are streamed and cut at ``max_bytes``, redirects are
followed by hand (each hop checked), robots.txt is obeyed, and every request
says it comes from newsbot. Failures are ``FetchError`` with a reason.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from index.config import FetchSettings
from index.errors import FetchError

logger = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ROBOTS_BYTES = 500_000
_ROBOTS_SECONDS = 3600.0


@dataclass(frozen=True)
class Fetched:
    """A response worth reading: where it ended up, its status (200, or 304 when not modified), body, headers."""

    url: str
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def refused_address(address: str) -> bool:
    """An address a link may not reach: private, loopback, link-local, multicast, reserved, unspecified."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses that pass the check, to the very address that was checked."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = resolve_checked(host, port, allow_private=self._allow_private)[0]
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses of ``host``; ``FetchError`` when it has none or any of them may not be reached."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        refused = [a for a in addresses if refused_address(a)]
        if refused:
            raise FetchError(
                f"{host} is a private, loopback or link-local address ({refused[0]}): refused "
                "(NEWSBOT_FETCH__ALLOW_PRIVATE=true allows it)"
            )
    if not addresses:
        raise FetchError(f"cannot resolve {host}")
    return addresses


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One context for every fetcher: loading the CA store takes ~50 ms, more than a whole 304 poll."""
    return ssl.create_default_context()


def _transport(settings: FetchSettings) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(verify=_ssl_context(), trust_env=False)
    # httpx has no public way to give its pool a network backend; the pool is rebuilt with ours.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=_ssl_context(),
        network_backend=_GuardedBackend(settings.allow_private),
        max_connections=10,
    )
    return transport


def check_url(url: str) -> str:
    """The URL, if it is an absolute http(s) URL with a host; else ``FetchError``."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(f"{url}: only http and https links can be added")
    if not parts.hostname:
        raise FetchError(f"{url}: no host in the link")
    try:
        parts.port  # noqa: B018  (raises on a port out of range)
    except ValueError as exc:
        raise FetchError(f"{url}: bad port in the link") from exc
    return url.strip()


class Fetcher:
    """A guarded HTTP client for pages, feeds and their robots.txt; close it (or use ``with``)."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        robots: dict[str, tuple[RobotFileParser | None, float]] | None = None,
    ) -> None:
        self.settings = settings
        self._client = httpx.Client(
            transport=transport or _transport(settings),
            timeout=settings.timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": settings.user_agent},
        )
        # Shared between fetchers (a long-running bot polls with a new one each time): kept an hour.
        self._robots = robots if robots is not None else {}
        self.bytes_received = 0
        self.requests = 0

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Fetched:
        """GET ``url`` following redirects; 200 or 304, else ``FetchError`` naming the link and the reason."""
        current = check_url(url)
        for _ in range(self.settings.max_redirects + 1):
            self._check_host(current)
            if self.settings.respect_robots and not self._allowed(current):
                raise FetchError(f"{current}: robots.txt of the site does not allow fetching it")
            status, location, body, response_headers = self._request(current, headers or {})
            if status in _REDIRECTS and location:
                current = check_url(urljoin(current, location))
                continue
            if status not in (200, 304):
                raise FetchError(f"{current}: HTTP {status}")
            return Fetched(current, status, body, response_headers)
        raise FetchError(f"{url}: more than {self.settings.max_redirects} redirects")

    def _check_host(self, url: str) -> None:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        # Also checked at connect time; checking first gives a clear message before any request.
        resolve_checked(parts.hostname or "", port, allow_private=self.settings.allow_private)

    def _request(
        self, url: str, headers: Mapping[str, str], limit: int | None = None
    ) -> tuple[int, str | None, bytes, dict[str, str]]:
        limit = limit or self.settings.max_bytes
        # httpx's timeout bounds each read; a server trickling bytes is stopped by the clock.
        deadline = time.monotonic() + self.settings.timeout
        try:
            with self._client.stream("GET", url, headers=dict(headers)) as response:
                self.requests += 1
                declared = response.headers.get("content-length", "")
                if declared.isdecimal() and int(declared) > limit:
                    raise FetchError(f"{url}: {int(declared):,} bytes is over the {limit:,}-byte limit")
                body = bytearray()
                if response.status_code not in _REDIRECTS:
                    for part in response.iter_raw() if response.status_code == 304 else response.iter_bytes():
                        body += part
                        if time.monotonic() > deadline:
                            raise FetchError(f"{url}: no complete answer within {self.settings.timeout:g} s")
                        if len(body) > limit:
                            raise FetchError(
                                f"{url}: over the {limit:,}-byte limit (NEWSBOT_FETCH__MAX_BYTES)"
                            )
                self.bytes_received += len(body) + sum(
                    len(k) + len(v) + 4 for k, v in response.headers.items()
                )
                return (
                    response.status_code,
                    response.headers.get("location"),
                    bytes(body),
                    {k.lower(): v for k, v in response.headers.items()},
                )
        except FetchError:
            raise
        except httpx.TimeoutException as exc:
            raise FetchError(f"{url}: no answer within {self.settings.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, FetchError):  # raised by the guarded backend
                raise FetchError(f"{url}: {cause}") from exc
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc

    def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._robots.get(origin)
        if cached is None or time.monotonic() - cached[1] > _ROBOTS_SECONDS:
            cached = self._robots[origin] = (self._load_robots(origin), time.monotonic())
        robots = cached[0]
        return robots is None or robots.can_fetch(self.settings.user_agent, url)

    def _load_robots(self, origin: str) -> RobotFileParser | None:
        """The site's robots.txt; None (everything allowed) when it has none."""
        robots_url = f"{origin}/robots.txt"
        try:
            status, _location, body, _ = self._request(robots_url, {}, limit=_ROBOTS_BYTES)
        except FetchError as exc:
            logger.info("no usable robots.txt at %s: %s", robots_url, exc)
            return None
        parser = RobotFileParser(robots_url)
        if status in (401, 403):
            parser.parse(["User-agent: *", "Disallow: /"])  # as urllib.robotparser reads a 401/403
        elif status == 200:
            parser.parse(body.decode("utf-8", errors="replace").splitlines())
        else:  # missing (404), moved, or an error page: no rules
            return None
        return parser

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

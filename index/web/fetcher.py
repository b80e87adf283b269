"""The fetch step of web articles: one guarded HTTP GET of a page or a feed.

Only http and https; every address a host name resolves to is checked, at
connect time, so a redirect or a DNS answer that changes between check and
connection cannot reach a private, loopback or link-local address (unless
``allow_private``), nor one inside NAT64, 6to4 or IPv4-compatible IPv6.
Bodies are streamed, decoded as they arrive and cut at ``max_bytes`` of
decoded bytes (a compressed body cannot grow past it); redirects are followed
by hand (each hop checked); robots.txt is obeyed as RFC 9309 reads it; one
wall-clock deadline covers a link's robots.txt, redirects and body, whatever
the server trickles; every request says it comes from newsbot. Failures are
``FetchError`` with a reason, on one line.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import socket
import ssl
import time
import zlib
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
_ROBOTS_BYTES = 500 * 1024  # RFC 9309: at least the first 500 KiB are parsed, the rest ignored
_ROBOTS_REDIRECTS = 5  # RFC 9309: at least five hops followed
_ROBOTS_SECONDS = 3600.0
_ROBOTS_RETRY_SECONDS = 300.0  # an unreachable robots.txt (5xx, no connection) is asked again sooner
_ACCEPT_ENCODING = "gzip, deflate"  # the codings _Decoder reads; a server that sends another is refused
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# NAT64 (RFC 6052, RFC 8215), 6to4 and IPv4-compatible addresses carry an IPv4 address inside.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use: the IPv4 address is spread over the bits
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


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
    """An address a link may not reach: private, loopback, link-local, multicast, reserved, unspecified.

    An IPv6 address that carries an IPv4 one (mapped, NAT64, 6to4, IPv4-compatible) is judged by
    that IPv4 address too: on a network that routes it, it reaches the IPv4 host. Site-local
    (``fec0::/10``, deprecated) and local-use NAT64 addresses are refused outright.
    """
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local or ip in _NAT64_LOCAL:
            return True
        embedded = _embedded_ipv4(ip)
        if embedded is not None and _refused(embedded):
            return True
    return _refused(ip)


def _refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not ip.is_global or ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


def _clamped(deadline: float | None, timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left before ``deadline``; ``error`` once nothing is left."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the deadline has passed")
    return left if timeout is None else min(timeout, left)


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses that pass the check, to the very address that was checked.

    ``deadline`` (a ``time.monotonic()`` value, set by the fetcher for each link) bounds every
    connect, TLS handshake, write and read, so a server sending a byte just before each read
    timeout still cannot hold a link past it.
    """

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private
        self.deadline: float | None = None

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = resolve_checked(host, port, allow_private=self._allow_private)[0]
        timeout = _clamped(self.deadline, timeout, httpcore.ConnectTimeout)
        stream = super().connect_tcp(address, port, timeout, local_address, socket_options)
        return _DeadlineStream(stream, self)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation ends by the backend's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, backend: _GuardedBackend) -> None:
        self._stream = stream
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _clamped(self._backend.deadline, timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _clamped(self._backend.deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = _clamped(self._backend.deadline, timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout), self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Decoder:
    """A body's Content-Encoding undone as it arrives, never producing more than asked for.

    httpx decodes a whole chunk at once, and every coding listed: 2 kB of ``gzip, gzip`` became
    gigabytes before any size check. Here one coding at most (servers never stack them), and
    zlib's ``max_length`` stops the output at the room left under the limit.
    """

    def __init__(self, url: str, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise FetchError(f"{url}: stacked content encodings ({', '.join(codings)}) are refused")
        self._coding = codings[0] if codings else None
        self._raw_deflate_tried = False
        if self._coding in ("gzip", "x-gzip"):
            self._zlib: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._coding == "deflate":
            self._zlib = zlib.decompressobj()
        elif self._coding is None:
            self._zlib = None
        else:
            raise FetchError(f"{url}: content encoding {self._coding!r} is not supported")
        self._url = url

    def decode(self, data: bytes, room: int) -> bytes:
        """Up to ``room`` (≥ 1) decoded bytes of ``data``; what did not fit is never decoded."""
        if self._zlib is None or not data:
            return data
        try:
            decoded = bytes(self._zlib.decompress(data, room))
        except zlib.error as exc:
            if self._coding == "deflate" and not self._raw_deflate_tried:
                # "deflate" is meant to be zlib-wrapped; some servers send raw deflate (httpx reads both).
                self._raw_deflate_tried = True
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.decode(data, room)
            raise FetchError(f"{self._url}: the {self._coding} body is damaged ({exc})") from exc
        self._raw_deflate_tried = True  # only the start of the body tells zlib from raw deflate
        return decoded


class _TooManyRedirects(FetchError):
    """More redirects than allowed; robots.txt reads that as "no robots.txt"."""


class _RobotsRules(RobotFileParser):
    """A site's robots.txt rules, and what to say when they refuse a link."""

    def __init__(self, url: str, refusal: str = "robots.txt of the site does not allow fetching it") -> None:
        super().__init__(url)
        self.refusal = refusal


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


def _transport(backend: _GuardedBackend) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(verify=_ssl_context(), trust_env=False)
    # httpx has no public way to give its pool a network backend; the pool is rebuilt with ours.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=_ssl_context(), network_backend=backend, max_connections=10
    )
    return transport


def printable(url: str) -> str:
    """The link as it can be shown on one line: control characters escaped."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", url)


def check_url(url: str, *, base: str | None = None) -> str:
    """The URL (joined to ``base``, a redirect's), if it is an absolute http(s) URL with a host; else ``FetchError``."""
    shown = printable(url.strip())
    if _CONTROL.search(url.strip()):
        raise FetchError(f"{shown}: a control character in the link")
    try:
        url = (urljoin(base, url) if base else url).strip()
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise FetchError(f"{shown}: only http and https links can be added")
        if not parts.hostname:
            raise FetchError(f"{shown}: no host in the link")
        try:
            parts.port  # noqa: B018  (raises on a port out of range)
        except ValueError as exc:
            raise FetchError(f"{shown}: bad port in the link") from exc
        httpx.URL(url)  # what httpx itself would refuse (a bad IPv6 literal or IDNA host)
    except FetchError:
        raise
    except (ValueError, UnicodeError, httpx.InvalidURL) as exc:
        raise FetchError(f"{shown}: malformed link ({exc})") from exc
    return url


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
        self._backend = _GuardedBackend(settings.allow_private)
        self._client = httpx.Client(
            transport=transport or _transport(self._backend),
            timeout=settings.timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": _ACCEPT_ENCODING},
        )
        # Shared between fetchers (a long-running bot polls with a new one each time): each site's
        # rules and when they expire, an hour after they were read.
        self._robots = robots if robots is not None else {}
        self._deadline = float("inf")
        self.bytes_received = 0
        self.requests = 0

    def get(
        self, url: str, headers: Mapping[str, str] | None = None, *, deadline: float | None = None
    ) -> Fetched:
        """GET ``url`` following redirects; 200 or 304, else ``FetchError`` naming the link and the reason.

        The link's robots.txt, redirects and body all end within ``NEWSBOT_FETCH__TIMEOUT`` seconds,
        or by ``deadline`` (a ``time.monotonic()`` value, a feed poll's) when that comes first.
        """
        current = check_url(url)
        until = time.monotonic() + self.settings.timeout
        self._deadline = until if deadline is None else min(until, deadline)
        self._backend.deadline = self._deadline
        try:
            fetched = self._follow(
                current,
                headers or {},
                robots=self.settings.respect_robots,
                redirects=self.settings.max_redirects,
            )
        finally:
            self._deadline = float("inf")
            self._backend.deadline = None
        if fetched.status not in (200, 304):
            raise FetchError(f"{fetched.url}: HTTP {fetched.status}")
        return fetched

    def _follow(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        robots: bool,
        redirects: int,
        limit: int | None = None,
        truncate: bool = False,
    ) -> Fetched:
        """The answer at the end of ``url``'s redirects (each hop checked); any status."""
        current = url
        for _ in range(redirects + 1):
            self._check_host(current)
            if robots:
                self._check_robots(current)
            answer = self._request(current, headers, limit or self.settings.max_bytes, truncate=truncate)
            location = answer.headers.get("location")
            if answer.status in _REDIRECTS and location:
                current = check_url(location, base=current)
                continue
            return answer
        raise _TooManyRedirects(f"{url}: more than {redirects} redirects")

    def _check_host(self, url: str) -> None:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        # Also checked at connect time; checking first gives a clear message before any request.
        resolve_checked(parts.hostname or "", port, allow_private=self.settings.allow_private)

    def _out_of_time(self, url: str) -> FetchError:
        return FetchError(
            f"{url}: no complete answer in time (NEWSBOT_FETCH__TIMEOUT={self.settings.timeout:g} s "
            "for a link, with its robots.txt and redirects)"
        )

    def _request(
        self, url: str, headers: Mapping[str, str], limit: int, *, truncate: bool = False
    ) -> Fetched:
        """One GET, its body decoded and cut at ``limit`` bytes (``truncate``: kept, else ``FetchError``)."""
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise self._out_of_time(url)
        try:
            with self._client.stream(
                "GET", url, headers=dict(headers), timeout=min(self.settings.timeout, left)
            ) as response:
                self.requests += 1
                declared = response.headers.get("content-length", "")
                if declared.isdecimal() and int(declared) > limit and not truncate:
                    raise FetchError(f"{url}: {int(declared):,} bytes is over the {limit:,}-byte limit")
                body = bytearray()
                received = 0
                if response.status_code not in _REDIRECTS:
                    decoder = _Decoder(url, response.headers.get("content-encoding", ""))
                    for part in response.iter_raw():
                        received += len(part)
                        body += decoder.decode(part, limit + 1 - len(body))
                        if time.monotonic() > self._deadline:
                            raise self._out_of_time(url)
                        if len(body) > limit:
                            if truncate:
                                del body[limit:]
                                break
                            raise FetchError(
                                f"{url}: over the {limit:,}-byte limit (NEWSBOT_FETCH__MAX_BYTES)"
                            )
                self.bytes_received += received + sum(
                    len(k) + len(v) + 4 for k, v in response.headers.items()
                )
                return Fetched(
                    url,
                    response.status_code,
                    bytes(body),
                    {k.lower(): v for k, v in response.headers.items()},
                )
        except FetchError:
            raise
        except httpx.TimeoutException as exc:
            raise self._out_of_time(url) from exc
        except httpx.HTTPError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, FetchError):  # raised by the guarded backend
                raise FetchError(f"{url}: {cause}") from exc
            raise FetchError(f"{url}: {type(exc).__name__}: {' '.join(str(exc).split())}") from exc
        except httpx.InvalidURL as exc:
            # The link itself passed check_url: httpx choked on the Location of a redirect (data:, mailto:).
            raise FetchError(f"{url}: redirects to a link that is not a web page ({exc})") from exc
        except (ValueError, UnicodeError) as exc:  # a header httpx cannot read, say
            raise FetchError(f"{url}: {type(exc).__name__}: {' '.join(str(exc).split())}") from exc

    def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._robots.get(origin)
        if cached is None or time.monotonic() > cached[1]:
            rules, seconds = self._load_robots(origin)
            cached = self._robots[origin] = (rules, time.monotonic() + seconds)
        rules = cached[0]
        if rules is not None and not rules.can_fetch(self.settings.user_agent, url):
            refusal = (
                rules.refusal
                if isinstance(rules, _RobotsRules)
                else "robots.txt of the site does not allow fetching it"
            )
            raise FetchError(f"{url}: {refusal}")

    def _load_robots(self, origin: str) -> tuple[RobotFileParser | None, float]:
        """The site's robots.txt rules, read as RFC 9309 says, and for how many seconds to keep them.

        None (everything allowed) when it has none (4xx, or redirects past five); everything
        disallowed while it is unreachable (5xx, 429, no connection) or says 401/403.
        """
        robots_url = f"{origin}/robots.txt"
        rules = _RobotsRules(robots_url)
        try:
            answer = self._follow(
                robots_url, {}, robots=False, redirects=_ROBOTS_REDIRECTS, limit=_ROBOTS_BYTES, truncate=True
            )
        except FetchError as exc:
            if time.monotonic() >= self._deadline:
                raise FetchError(f"{robots_url}: no answer in time; the link was not fetched") from exc
            if isinstance(exc, _TooManyRedirects):
                logger.info("robots.txt at %s: %s; taken as none", origin, exc)
                return None, _ROBOTS_SECONDS
            logger.info("robots.txt at %s unreachable: %s", origin, exc)
            rules.refusal = (
                f"the site's robots.txt is unreachable ({exc}); nothing is fetched from it for now"
            )
            rules.parse(["User-agent: *", "Disallow: /"])
            return rules, _ROBOTS_RETRY_SECONDS
        status = answer.status
        if status in (401, 403):
            rules.parse(["User-agent: *", "Disallow: /"])  # as urllib.robotparser reads a 401/403
        elif status == 429 or status >= 500:
            rules.refusal = (
                f"the site's robots.txt answered HTTP {status}: nothing is fetched from it until it answers"
            )
            rules.parse(["User-agent: *", "Disallow: /"])
            return rules, _ROBOTS_RETRY_SECONDS
        elif 200 <= status < 300:
            rules.parse(answer.body.decode("utf-8", errors="replace").splitlines())
        else:  # missing (404) or another 4xx: no rules
            return None, _ROBOTS_SECONDS
        return rules, _ROBOTS_SECONDS

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

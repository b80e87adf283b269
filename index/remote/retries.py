"""The one retry layer around remote model calls (the embed step's and the generate step's servers).

stamina retries, bounded by a number of attempts, what a client marks
``Retryable`` (a timeout, a refused or dropped connection, 429, 5xx); the SDK
under it never retries on its own. A server's ``Retry-After`` replaces the
computed backoff up to ``MAX_RETRY_AFTER``; a longer one is not waited for.
Tests switch the waits off with ``stamina.set_testing``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import stamina

logger = logging.getLogger(__name__)

MAX_RETRY_AFTER = 10.0
"""Seconds: a server asking for a longer pause is not waited for (the answer falls back, the user is told)."""


class Retryable(Exception):
    """A failure worth another attempt; ``final`` is the message shown once attempts run out."""

    def __init__(self, final: str, retry_after: float | None = None) -> None:
        super().__init__(final)
        self.final = final
        self.retry_after = retry_after


def backoff(exc: Exception) -> bool | float:
    """stamina hook: retry only ``Retryable``; a server's Retry-After replaces the computed backoff."""
    if not isinstance(exc, Retryable):
        return False
    if exc.retry_after is not None:
        return exc.retry_after if exc.retry_after <= MAX_RETRY_AFTER else False
    return True


def retrying(attempts: int) -> Any:
    """stamina's attempts for one request; bounded by count, not by a wall-clock budget (one attempt may
    legitimately take the whole timeout)."""
    return stamina.retry_context(on=backoff, attempts=attempts, timeout=None, wait_max=MAX_RETRY_AFTER)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), if the server sent one."""
    value = headers.get("retry-after")
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


def log_retry(details: stamina.instrumentation.RetryDetails) -> None:
    """stamina hook: one INFO line per scheduled retry, through our logger (stamina's own says WARNING)."""
    cause = details.caused_by
    reason = cause.final if isinstance(cause, Retryable) else f"{type(cause).__name__}: {cause}"
    logger.info("request failed (%s); retry %d in %.1f s", reason, details.retry_num, details.wait_for)


def route_retry_logs() -> None:
    """Log retries with ``log_retry`` instead of stamina's default hook; the entry points call it once."""
    stamina.instrumentation.set_on_retry_hooks([log_retry])


def retry_on_status(
    status: int, headers: Mapping[str, str], *, server: str, attempts: int, unavailable: type[Exception]
) -> None:
    """The retry policy for an HTTP error status: ``Retryable`` for 429 and 5xx, and returns for the others.

    A 429 asking for a longer pause than ``MAX_RETRY_AFTER`` raises ``unavailable`` at once. ``server``
    opens each message ("LLM server", "embeddings server at …"). Never chained: a body may echo the key.
    """
    if status == 429:
        wait = retry_after(headers)
        if wait is not None and wait > MAX_RETRY_AFTER:
            raise unavailable(
                f"{server} is rate-limiting (HTTP 429) and asks to wait {wait:.0f} s; not waiting"
            ) from None
        raise Retryable(
            f"{server} kept rate-limiting (HTTP 429) after {attempts} attempts", retry_after=wait
        ) from None
    if status >= 500:
        raise Retryable(f"{server} kept failing: HTTP {status} after {attempts} attempts") from None

"""Reply step, Telegram side: the per-user rate limiter that keeps one person from flooding the answerer."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` events per key in any ``window`` seconds (a sliding window)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._hits: dict[int, deque[float]] = {}

    def acquire(self, key: int) -> float:
        """Record one event and return 0, or return the seconds to wait when over the limit."""
        now = self._clock()
        if len(self._hits) > 10_000:  # forget idle users now and then so memory stays bounded
            self._hits = {k: q for k, q in self._hits.items() if q and q[-1] > now - self._window}
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self._window:
            hits.popleft()
        if len(hits) >= self._limit:
            return hits[0] + self._window - now
        hits.append(now)
        return 0.0

"""Reply step, HTTP side: answer slots, the bounded queue in front of them, and the kept answers.

Answers are written in worker threads, at most ``concurrency`` at once (one with the bundled
model, which serves one request at a time). A request that finds every slot taken waits in a
queue; past ``queue_size`` waiting, or after ``queue_timeout`` seconds, it gets 503 with a
Retry-After estimated from recent answer times, so no request hangs. Finished answers are kept a
short while (``AnswerCache``), keyed by the whole conversation, so the same question asked again
costs no slot; a reindex forgets them.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from bot.config import Settings
from bot.server.access import ApiError

LOCAL_CONCURRENCY = 1
REMOTE_CONCURRENCY = 8
"""With provider=openai an answer mostly waits for the LLM server: several at once keep it busy."""
LOCAL_QUEUE = 4

T = TypeVar("T")


class Gate:
    """At most ``concurrency`` answers at once and ``queue_size`` (None: any number) waiting for one."""

    def __init__(self, concurrency: int, queue_size: int | None, timeout: float) -> None:
        self.concurrency = concurrency
        self.queue_size = queue_size
        self._timeout = timeout
        self._slots = asyncio.Semaphore(concurrency)
        self.waiting = 0
        self.running = 0
        self._admitted = 0  # running or waiting
        self._seconds = 5.0  # a first guess of one answer's time, refined by every answer
        self._measured = False

    @classmethod
    def for_settings(cls, settings: Settings) -> Gate:
        local = settings.llm.provider == "local"
        server = settings.server
        if server.concurrency:
            concurrency = server.concurrency
        elif local:
            concurrency = LOCAL_CONCURRENCY
        elif settings.llm.provider == "openai":
            concurrency = REMOTE_CONCURRENCY
        else:  # extractive answers are CPU work: more threads than cores only fight over them
            concurrency = os.cpu_count() or 1
        queue = server.queue_size if server.queue_size is not None else (LOCAL_QUEUE if local else None)
        return cls(concurrency, queue, server.queue_timeout)

    def retry_after(self) -> float:
        """Seconds until a slot is likely free for a new request: the queue ahead of it, answer by answer."""
        return max(1.0, (self.waiting + 1) * self._seconds / self.concurrency)

    def _busy(self, why: str) -> ApiError:
        return ApiError(
            503, f"newsbot is busy ({why}); retry later", "server_busy", retry_after=self.retry_after()
        )

    async def enter(self) -> None:
        """Take a slot, waiting in the queue; ``ApiError`` (503 with Retry-After) when it is full or too slow."""
        # Counted before the first await: a burst of requests sees each other, not a queue still empty.
        if self.queue_size is not None and self._admitted >= self.concurrency + self.queue_size:
            raise self._busy(f"{self.waiting} requests already waiting")
        self._admitted += 1
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self._timeout)
        except TimeoutError:
            self._admitted -= 1
            raise self._busy(f"no answer slot within {self._timeout:g} s") from None
        except BaseException:  # the client went away while waiting
            self._admitted -= 1
            raise
        finally:
            self.waiting -= 1
        self.running += 1

    def leave(self, seconds: float) -> None:
        """Give the slot back after an answer that took ``seconds``."""
        self.running -= 1
        self._admitted -= 1
        self._slots.release()
        # A moving average: Retry-After follows the answer times of the last few minutes.
        self._seconds = seconds if not self._measured else 0.8 * self._seconds + 0.2 * seconds
        self._measured = True


class AnswerCache(Generic[T]):
    """Finished answers by conversation, each reused for ``seconds`` (least recently used dropped first)."""

    def __init__(self, size: int, seconds: float) -> None:
        self._size = size
        self._seconds = seconds
        self._kept: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()

    def get(self, key: Hashable) -> T | None:
        found = self._kept.get(key)
        if found is None:
            return None
        if time.monotonic() - found[0] > self._seconds:
            del self._kept[key]
            return None
        self._kept.move_to_end(key)
        return found[1]

    def put(self, key: Hashable, answer: T) -> None:
        if self._size == 0 or self._seconds == 0:
            return
        self._kept[key] = (time.monotonic(), answer)
        self._kept.move_to_end(key)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()

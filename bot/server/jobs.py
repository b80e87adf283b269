"""Reply step, HTTP side: one answer being written for a request, its pieces streamed back to the event loop.

``Answerer.start`` looks the conversation up among the kept answers, else takes an answer slot
(``bot.server.gate``; 503 when busy) and runs ``Newsbot.answer`` in a worker thread, whose
``on_token`` pieces hop to the event loop with ``call_soon_threadsafe``. A request for a conversation
already being answered shares that answer (it gets it whole when it is done) rather than writing it
again. The slot is given back when the thread ends, also when the client has gone away meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from bot.models import Answer, Turn
from bot.server.access import ApiError
from bot.server.answer_view import fell_back, source_records
from bot.server.gate import AnswerCache, Gate
from bot.server.metrics import Metrics
from index.errors import NewsbotError

if TYPE_CHECKING:
    from bot.service import Newsbot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    """A finished answer and its sources' records (quotes placed in their articles), as the API sends them."""

    answer: Answer
    sources: tuple[dict[str, Any], ...]


class Job:
    """The pieces of one answer as they are written, then the answer; or a kept answer at once."""

    def __init__(self, task: asyncio.Future[Served], pieces: asyncio.Queue[str]) -> None:
        self._task = task
        self._pieces = pieces

    async def pieces(self) -> AsyncIterator[str]:
        """The text streamed by the answer path, piece by piece, until the answer is done."""
        while not self._task.done() or not self._pieces.empty():
            if not self._pieces.empty():
                yield self._pieces.get_nowait()
                continue
            waiting: asyncio.Future[Any] = asyncio.ensure_future(self._pieces.get())
            finished: asyncio.Future[Any] = self._task
            done, _ = await asyncio.wait({finished, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if waiting in done:
                yield waiting.result()
            else:
                waiting.cancel()

    async def result(self) -> Served:
        """The finished answer (a client that goes away does not cancel it: its slot is freed when it ends)."""
        try:
            return await asyncio.shield(self._task)
        except (NewsbotError, ApiError):
            raise
        except Exception as exc:  # a defect: its traceback goes to the log, not to the client
            logger.exception("answering failed")
            raise ApiError(
                500, "newsbot failed while answering; the server log has the details", "internal_error"
            ) from exc


class Answerer:
    """Answers conversations for the routes: kept answers, slots and queue, worker threads, metrics."""

    def __init__(self, bot: Newsbot, gate: Gate, cache: AnswerCache[Served], metrics: Metrics) -> None:
        self._bot = bot
        self._gate = gate
        self._cache = cache
        self._metrics = metrics
        self._threads = anyio.CapacityLimiter(gate.concurrency)
        self._writing: dict[Hashable, asyncio.Future[Served]] = {}

    def forget(self) -> None:
        """Drop the kept answers (the index changed)."""
        self._cache.clear()

    async def start(self, question: str, history: Sequence[Turn]) -> Job:
        """Begin answering; ``ApiError`` (503 with Retry-After) when every slot is taken and the queue is full."""
        key: Hashable = (question, tuple(history))
        kept = self._cache.get(key)
        if kept is None and key in self._writing:  # the same conversation is being answered: share it
            self._metrics.cached.inc()
            return Job(self._writing[key], asyncio.Queue())
        if kept is not None:
            self._metrics.cached.inc()
            done: asyncio.Future[Served] = asyncio.get_running_loop().create_future()
            done.set_result(kept)
            return Job(done, asyncio.Queue())
        try:
            await self._gate.enter()
        except Exception:
            self._metrics.rejected.labels("busy").inc()
            raise
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str] = asyncio.Queue()

        def on_token(piece: str) -> None:  # runs in the worker thread
            loop.call_soon_threadsafe(pieces.put_nowait, piece)

        task = asyncio.ensure_future(self._run(key, question, list(history), on_token))
        self._writing[key] = task
        task.add_done_callback(lambda _: self._writing.pop(key, None))
        return Job(task, pieces)

    async def _run(self, key: Hashable, question: str, history: list[Turn], on_token: Any) -> Served:
        started = time.perf_counter()
        self._metrics.running.inc()
        try:
            served = await anyio.to_thread.run_sync(
                self._write, question, history, on_token, limiter=self._threads
            )
        finally:
            seconds = time.perf_counter() - started
            self._metrics.running.dec()
            self._gate.leave(seconds)
        self._metrics.answer_latency.observe(seconds)
        self._count(served.answer)
        if not fell_back(served.answer, self._bot.mode):  # the model may be back for the next asker
            self._cache.put(key, served)
        return served

    def _write(self, question: str, history: list[Turn], on_token: Any) -> Served:
        answer = self._bot.answer(question, history, on_token=on_token)
        records = source_records(answer, self._article_text)
        return Served(answer, records)

    def _article_text(self, article_id: str) -> str | None:
        try:
            return self._bot.article_text(article_id)
        except NewsbotError as exc:  # the quotes are still worth sending without their paragraphs
            logger.warning("could not read article %s to place its quotes: %s", article_id, exc)
            return None

    def _count(self, answer: Answer) -> None:
        self._metrics.answers.labels(answer.mode).inc()
        if answer.refused:
            self._metrics.refusals.inc()
        if fell_back(answer, self._bot.mode):
            self._metrics.fallbacks.inc()

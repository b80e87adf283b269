"""Reply step, HTTP side: the ASGI application: routes over one ``Newsbot``, access rules, metrics.

``build_app(settings, bot)`` is the factory ``newsbot serve`` and the tests call. Routes: the
page ``/``; OpenAI's ``GET /v1/models`` and ``POST /v1/chat/completions``; the native
``POST /v1/answers``; ``POST /v1/reindex`` (admins); ``GET /healthz`` and ``GET /metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from importlib import resources
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import Settings
from bot.server.access import Access, ApiError, BodyLimit, Caller
from bot.server.errors import error_response
from bot.server.gate import AnswerCache, Gate
from bot.server.jobs import Answerer, Served
from bot.server.metrics import Metrics
from bot.server.schemas import MODEL, AnswerRequest, ChatRequest, chat_conversation, native_conversation
from bot.server.streams import answer_events, answer_record, completion, completion_chunks
from index.errors import IndexMissing, NewsbotError, StoreUnavailable

if TYPE_CHECKING:
    from bot.service import Newsbot

logger = logging.getLogger(__name__)

HEALTH_TIMEOUT = 5.0
"""Seconds each health check (index, LLM server) may take."""
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering of the stream


class Observed:
    """ASGI middleware: count every request and time it to its last byte, by route (not by raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            route = getattr(scope.get("route"), "path", "other")
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)


def build_app(settings: Settings, bot: Newsbot) -> FastAPI:
    """The HTTP API and page over ``bot`` (its index open: the caller ran ``ensure_index``)."""
    server = settings.server
    metrics = Metrics()
    gate = Gate.for_settings(settings)
    answerer = Answerer(
        bot, gate, AnswerCache[Served](server.answer_cache_size, server.answer_cache_seconds), metrics
    )
    access = Access(server)
    metrics.queue.set_function(lambda: gate.waiting)
    reindexing = asyncio.Lock()
    created = int(time.time())

    app = FastAPI(title="newsbot", docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimit, limit=server.max_body_bytes)
    if server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=server.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(Observed, metrics=metrics)

    @app.exception_handler(ApiError)
    async def denied(request: Request, exc: ApiError) -> Response:
        if exc.status == 429:
            metrics.rejected.labels("rate_limit").inc()
        return error_response(exc.status, str(exc), exc.code, retry_after=exc.retry_after)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"] if part != "body")
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return error_response(400, message, "invalid_request", param=where or None)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return error_response(
            exc.status_code, str(exc.detail), "not_found" if exc.status_code == 404 else "http_error"
        )

    @app.exception_handler(NewsbotError)
    async def newsbot_error(request: Request, exc: NewsbotError) -> Response:
        logger.warning("request failed: %s", exc)
        status = 503 if isinstance(exc, IndexMissing | StoreUnavailable) else 500
        return error_response(status, str(exc), "newsbot_error")

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:
        logger.exception("request failed", exc_info=exc)
        return error_response(500, "newsbot failed; the server log has the details", "internal_error")

    def admit(request: Request, *, counted: bool = True) -> Caller:
        """The caller, once its key (or loopback address) is checked and, if ``counted``, its rate limit."""
        who = access.caller(
            request.headers.get("authorization"), request.client.host if request.client else None
        )
        if counted:
            access.count(who)
        return who

    keep = settings.chat.history_turns

    # -- the page ---------------------------------------------------------------------------------

    page = resources.files("bot.server").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    # -- OpenAI-compatible --------------------------------------------------------------------------

    model_card = {"id": MODEL, "object": "model", "created": created, "owned_by": "newsbot"}

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        admit(request)
        return {"object": "list", "data": [model_card]}

    @app.get("/v1/models/{name}")
    async def model(name: str, request: Request) -> dict[str, Any]:
        admit(request)
        if name != MODEL:
            raise ApiError(
                404, f"the model {name!r} does not exist: this server has {MODEL!r}", "model_not_found"
            )
        return model_card

    def first_text(started: float) -> Any:
        return lambda: metrics.first_text.observe(time.perf_counter() - started)

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatRequest, request: Request) -> Response:
        admit(request)
        started = time.perf_counter()
        if body.model != MODEL:
            raise ApiError(404, f"the model {body.model!r} does not exist: use {MODEL!r}", "model_not_found")
        if body.n != 1:
            raise ApiError(400, "only n=1 is supported", "unsupported_parameter")
        question, history = chat_conversation(body, limit=server.max_question_chars, keep=keep)
        job = await answerer.start(question, history)
        if body.stream:
            chunks = completion_chunks(job, bot.prompts, first_text(started))
            return StreamingResponse(chunks, media_type="text/event-stream", headers=SSE_HEADERS)
        return JSONResponse(completion(await job.result(), bot.prompts))

    # -- native ------------------------------------------------------------------------------------

    @app.post("/v1/answers")
    async def answers(body: AnswerRequest, request: Request) -> Response:
        admit(request)
        started = time.perf_counter()
        question, history = native_conversation(body, limit=server.max_question_chars, keep=keep)
        job = await answerer.start(question, history)
        if body.stream:
            events = answer_events(job, first_text(started))
            return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
        return JSONResponse(answer_record(await job.result()))

    @app.post("/v1/reindex")
    async def reindex(request: Request) -> dict[str, Any]:
        who = admit(request)
        if not who.admin:
            raise ApiError(403, "only admin keys (NEWSBOT_SERVER__ADMIN_KEYS) may reindex", "not_admin")
        if reindexing.locked():
            raise ApiError(409, "a reindex is already running", "reindex_running")
        async with reindexing:
            report = await anyio.to_thread.run_sync(bot.reindex)
        answerer.forget()
        return {
            "summary": report.summary(),
            "added": list(report.added),
            "updated": list(report.updated),
            "removed": list(report.removed),
            "skipped": [str(item.path) for item in report.skipped],
            "seconds": round(report.seconds, 2),
        }

    # -- operations --------------------------------------------------------------------------------

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        checks = {"index": await _index_check(bot), "model": await _model_check(bot, settings)}
        healthy = all(check["ok"] for check in checks.values())
        return JSONResponse({"ok": healthy, **checks}, status_code=200 if healthy else 503)

    @app.get("/metrics")
    async def metrics_page(request: Request) -> Response:
        admit(request, counted=False)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def _index_check(bot: Newsbot) -> dict[str, Any]:
    try:
        with anyio.fail_after(HEALTH_TIMEOUT):
            chunks = await anyio.to_thread.run_sync(lambda: bot.store.count(), abandon_on_cancel=True)
    except TimeoutError:
        return {"ok": False, "error": f"the index did not answer within {HEALTH_TIMEOUT:g} s"}
    except NewsbotError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": chunks > 0, "chunks": chunks} | ({} if chunks else {"error": "the index is empty"})


async def _model_check(bot: Newsbot, settings: Settings) -> dict[str, Any]:
    """Extractive: nothing to check; else the LLM server (the bundled model's own, or NEWSBOT_LLM__BASE_URL) answers."""
    if settings.llm.provider == "extractive":
        return {"ok": True, "provider": "extractive"}
    try:
        generator = await anyio.to_thread.run_sync(bot.start_generator)
    except NewsbotError as exc:
        return {"ok": False, "provider": settings.llm.provider, "error": str(exc)}
    base_url = getattr(generator, "base_url", None)
    if base_url is None:
        return {"ok": True, "provider": settings.llm.provider}
    key = (
        settings.llm.api_key.get_secret_value()
        if settings.llm.api_key and settings.llm.provider == "openai"
        else None
    )
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT) as client:
            response = await client.get(f"{base_url}/models", headers=headers)
    except httpx.HTTPError as exc:
        return {
            "ok": False,
            "provider": settings.llm.provider,
            "error": f"no LLM server at {base_url} ({type(exc).__name__})",
        }
    if response.status_code != 200:
        failure = f"the LLM server at {base_url} answered {response.status_code}"
        return {
            "ok": False,
            "provider": settings.llm.provider,
            "error": failure,
        }
    return {"ok": True, "provider": settings.llm.provider}

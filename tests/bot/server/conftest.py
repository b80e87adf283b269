"""Server fixtures: a real ``Newsbot`` (extractive, hash embedder, real Chroma in tmp_path) behind the app."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from fastapi import FastAPI

from bot.config import Settings
from bot.server.app import build_app
from bot.service import Newsbot
from tests.fakes import HashEmbedder

QUESTION = "Which aircraft plant did Kim Jong Un visit?"
LOOPBACK = ("127.0.0.1", 50000)


def with_server(settings: Settings, **server: Any) -> Settings:
    """``settings`` with its server section changed."""
    changed = type(settings.server).model_validate({**settings.server.model_dump(), **server})
    return settings.model_copy(update={"server": changed})


@pytest.fixture
def newsbot(settings: Settings) -> Iterator[Newsbot]:
    with Newsbot(settings, embedder=HashEmbedder()) as bot:
        bot.ensure_index()
        yield bot


def asgi_client(app: FastAPI, *, client: tuple[str, int] = LOOPBACK, **headers: str) -> httpx.AsyncClient:
    """An HTTP client calling ``app`` in process, as if from ``client``'s address."""
    transport = httpx.ASGITransport(app=app, client=client)
    return httpx.AsyncClient(transport=transport, base_url="http://newsbot.test", headers=headers)


def openai_client(http: httpx.AsyncClient, api_key: str = "none") -> openai.AsyncOpenAI:
    """The OpenAI SDK over ``http``, its own retries off (a 429 or 503 must reach the test)."""
    return openai.AsyncOpenAI(
        base_url=str(http.base_url.join("/v1")), api_key=api_key, http_client=http, max_retries=0
    )


@pytest.fixture
async def api(settings: Settings, newsbot: Newsbot) -> AsyncIterator[openai.AsyncOpenAI]:
    """The OpenAI SDK against the app, from a loopback address, no keys configured."""
    async with asgi_client(build_app(settings, newsbot)) as http:
        yield openai_client(http)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server() -> Iterator[Callable[[FastAPI], str]]:
    """Serve an app with uvicorn on a free loopback port in a thread; gives its base URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: FastAPI) -> str:
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)

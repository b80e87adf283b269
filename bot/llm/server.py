"""The generate step's local backend: a GGUF served by llama.cpp in this process, on loopback.

``LocalModelServer`` runs llama.cpp's OpenAI-compatible server in-process
(``xllamacpp``) on 127.0.0.1, serving the model :mod:`bot.llm.bundled`
assembles (or NEWSBOT_LLM__MODEL_PATH), and ``bot.llm.client.ChatClient`` talks to it
like to any other server.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import logging
import os
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.config import LLMSettings
from bot.errors import LLMUnavailable
from bot.llm.bundled import BUNDLED_MODEL, Progress, resolve_model
from index.errors import ConfigError

logger = logging.getLogger(__name__)

_LOOPBACK = "127.0.0.1"


class LocalModelServer:
    """A GGUF behind llama.cpp's OpenAI-compatible server, in this process, on 127.0.0.1 only."""

    def __init__(self, settings: LLMSettings, *, progress: Progress | None = None) -> None:
        self._settings = settings
        self._progress = progress
        self._server: Any = None
        self._base_url: str | None = None
        self._lock = threading.Lock()
        self.model = settings.model_path.stem if settings.model_path else BUNDLED_MODEL.name

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``http://127.0.0.1:PORT/v1``) of the running server."""
        if self._base_url is None:
            raise LLMUnavailable("the local model server is not running; start it first")
        return self._base_url

    def start(self) -> None:
        """Load the model and wait until the server answers ``/health``; does nothing if already running."""
        with self._lock:
            if self._server is not None:
                return
            path = resolve_model(self._settings, self._progress)
            _check_port_free(self._settings.port)
            import xllamacpp

            started = time.monotonic()
            # The constructor loads the model while holding the GIL, so the startup timeout can only
            # bound the health wait that follows, not the load itself.
            try:
                server = xllamacpp.Server(self._params(xllamacpp, path))
            except RuntimeError as exc:
                raise LLMUnavailable(
                    f"the local model server could not load {path} ({exc}); is it a GGUF file?"
                ) from exc
            address = str(server.listening_address).rstrip("/")
            host = urlsplit(address).hostname or ""
            if not _is_loopback(host):
                del server
                raise LLMUnavailable(
                    f"the local model server bound {address}, not a loopback address; refusing"
                )
            self._server = server
            self._base_url = f"{address}/v1"
            atexit.register(self.stop)
        try:
            _wait_healthy(address, deadline=started + self._settings.startup_timeout)
        except BaseException:
            self.stop()
            raise
        logger.info("local model %s serving at %s (%.1f s)", self.model, address, time.monotonic() - started)

    def _params(self, xllamacpp: Any, path: Path) -> Any:
        """llama.cpp server parameters from the settings: loopback, one slot, the GGUF's chat template."""
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.model_alias = {self.model}
        params.hostnames = [_LOOPBACK]
        params.port = self._settings.port
        params.n_ctx = self._settings.context_size
        params.n_parallel = 1
        threads = self._settings.threads or os.cpu_count() or 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.use_jinja = True
        params.ui = False
        params.verbosity = 3 if logger.isEnabledFor(logging.DEBUG) else 0
        return params

    def stop(self) -> None:
        """Shut the server down and free the model; safe to call twice and at exit."""
        with self._lock:
            server, self._server, self._base_url = self._server, None, None
            atexit.unregister(self.stop)
        if server is not None:
            # Dropping the last reference runs the C++ destructor, which stops the HTTP thread.
            del server
            logger.info("local model server stopped")

    def __enter__(self) -> LocalModelServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _check_port_free(port: int) -> None:
    """Fail clearly on a taken port; llama.cpp would only say "failed to init server"."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself binds
        try:
            probe.bind((_LOOPBACK, port))
        except OSError as exc:
            raise ConfigError(
                f"port {port} on {_LOOPBACK} is taken ({exc.strerror}); "
                "set NEWSBOT_LLM__PORT to a free port or 0 to pick one"
            ) from exc


def _is_loopback(host: str) -> bool:
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return False


def _wait_healthy(address: str, *, deadline: float) -> None:
    """Poll ``/health`` until it answers 200 or the deadline passes (checked at least once)."""
    last = "no answer"
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            try:
                response = client.get(f"{address}/health")
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            if time.monotonic() >= deadline:
                raise LLMUnavailable(
                    f"the local model server at {address} was not ready in time ({last}); "
                    "raise NEWSBOT_LLM__STARTUP_TIMEOUT"
                )
            time.sleep(0.2)

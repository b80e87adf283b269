"""The embed step's remote backend: any OpenAI-compatible ``/v1/embeddings`` server (a GPU box, vLLM,
Ollama, OpenAI), through the ``openai`` SDK (``index.remote.openai_api``).

Timeouts, refused or dropped connections, 429 and 5xx are retried by stamina
(``index.remote.retries``, the same bounded layer as the chat client's,
``NEWSBOT_EMBEDDING__RETRIES``); everything else is one ``EmbeddingUnavailable``
line naming the server (``index.remote.failures``, the chat client's translation too).
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from openai.types import CreateEmbeddingResponse

from index.config import EmbeddingSettings
from index.embed.base import Vector
from index.errors import ConfigError, EmbeddingUnavailable
from index.remote.failures import FAILURE, Failures, translated
from index.remote.openai_api import open_endpoint
from index.remote.retries import Retryable, retrying


class OpenAIEmbedder:
    """Vectors from an OpenAI-compatible ``/v1/embeddings`` server; the same model for passages and questions."""

    def __init__(self, settings: EmbeddingSettings, http_client: httpx.Client | None = None) -> None:
        if not settings.base_url:
            raise ConfigError(
                "NEWSBOT_EMBEDDING__BASE_URL is not set: the openai embedding backend needs the server's base URL"
            )
        self._settings = settings
        self._key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        base_url = settings.base_url.rstrip("/")
        self._url = base_url + "/embeddings"
        self._attempts = 1 + settings.retries
        self._endpoint = open_endpoint(
            base_url, api_key=self._key, timeout=settings.timeout, http_client=http_client
        )
        self._dim: int | None = None
        server = f"embeddings server at {self._url}"
        unreachable = f"{server} is unreachable ({FAILURE}) after {self._attempts} attempts"
        self._failures = Failures(
            unavailable=EmbeddingUnavailable,
            server=server,
            attempts=self._attempts,
            overdue=f"{server} did not finish within {settings.timeout:g} s; raise NEWSBOT_EMBEDDING__TIMEOUT",
            timeout=f"{server} did not answer within {settings.timeout:g} s after {self._attempts} attempts; "
            "raise NEWSBOT_EMBEDDING__TIMEOUT",
            refused=f"{unreachable}; start it or set NEWSBOT_EMBEDDING__BASE_URL",
            dropped=f"{unreachable}; start it or set NEWSBOT_EMBEDDING__BASE_URL",
            transport=unreachable,
            status=self._status_line,
            secret=self._key,
        )

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
            for attempt in retrying(self._attempts):
                with attempt, translated(self._failures):
                    try:
                        response = self._endpoint.client.embeddings.create(
                            model=self._settings.model,
                            input=list(texts),
                            # The SDK would ask for base64, which not every compatible server speaks.
                            encoding_format="float",
                            extra_headers=self._endpoint.headers,
                        )
                    except ValueError:  # JSON promised by the content type, something else sent
                        response = None
        except Retryable as exc:
            raise EmbeddingUnavailable(self._failures.redact(exc.final)) from exc.__cause__
        vectors = self._vectors(response)
        if len(vectors) != len(texts):
            raise EmbeddingUnavailable(
                f"embeddings server at {self._url} returned {len(vectors)} vectors for {len(texts)} texts"
            )
        self._dim = len(vectors[0])
        return vectors

    embed_passages = _request
    embed_queries = _request

    def _vectors(self, response: object) -> list[Vector]:
        """The vectors of a response, in the order of the texts sent."""
        try:
            if not isinstance(response, CreateEmbeddingResponse):
                raise TypeError(type(response).__name__)
            data = sorted(response.data, key=lambda item: item.index)
            return [[float(x) for x in item.embedding] for item in data]
        except (ValueError, AttributeError, TypeError) as exc:
            raise EmbeddingUnavailable(f"embeddings server at {self._url} sent a malformed response") from exc

    def _status_line(self, status: int, detail: str) -> str:
        """What the user reads for an HTTP status that is not retried."""
        if status in (401, 403):
            return f"embeddings server at {self._url} refused the key (HTTP {status}); check NEWSBOT_EMBEDDING__API_KEY"
        return f"embeddings server at {self._url} answered HTTP {status}"

"""The embed step's remote backend: any OpenAI-compatible ``/v1/embeddings`` server (a GPU box, vLLM,
Ollama, OpenAI), through the ``openai`` SDK (``index.remote.openai_api``).

Timeouts, refused or dropped connections, 429 and 5xx are retried by stamina
(``index.remote.retries``, the same bounded layer as the chat client's,
``NEWSBOT_EMBEDDING__RETRIES``); everything else is one ``EmbeddingUnavailable``
line naming the server.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

import httpx
import openai
from openai.types import CreateEmbeddingResponse

from index.config import EmbeddingSettings
from index.embed.base import Vector
from index.errors import ConfigError, EmbeddingUnavailable
from index.remote.openai_api import Overdue, open_endpoint, transport_failure
from index.remote.retries import Retryable, retry_on_status, retrying


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
                with attempt, self._translated():
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
            raise EmbeddingUnavailable(self._redact(exc.final)) from exc.__cause__
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

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn the SDK's and the transport's failures into retryable errors or one line for the user."""
        try:
            yield
        except Overdue:
            raise EmbeddingUnavailable(
                f"embeddings server at {self._url} did not finish within {self._settings.timeout:g} s; "
                "raise NEWSBOT_EMBEDDING__TIMEOUT"
            ) from None
        except (openai.APITimeoutError, httpx.TimeoutException) as exc:
            raise Retryable(
                f"embeddings server at {self._url} did not answer within {self._settings.timeout:g} s "
                f"after {self._attempts} attempts; raise NEWSBOT_EMBEDDING__TIMEOUT"
            ) from (exc.__cause__ or exc)
        except openai.APIConnectionError as exc:
            raise Retryable(
                f"embeddings server at {self._url} is unreachable ({transport_failure(exc)}) "
                f"after {self._attempts} attempts; start it or set NEWSBOT_EMBEDDING__BASE_URL"
            ) from exc.__cause__
        except httpx.TransportError as exc:  # reading an error's body, outside the SDK's own translation
            raise Retryable(
                f"embeddings server at {self._url} is unreachable ({type(exc).__name__}) "
                f"after {self._attempts} attempts"
            ) from exc
        except openai.APIStatusError as exc:
            self._status_failure(exc)

    def _status_failure(self, exc: openai.APIStatusError) -> NoReturn:
        """Retryable for 429/5xx, one line otherwise; never chained (the body may echo the key)."""
        status = exc.status_code
        retry_on_status(
            status,
            exc.response.headers,
            server=f"embeddings server at {self._url}",
            attempts=self._attempts,
            unavailable=EmbeddingUnavailable,
        )
        if status in (401, 403):
            raise EmbeddingUnavailable(
                f"embeddings server at {self._url} refused the key (HTTP {status}); check NEWSBOT_EMBEDDING__API_KEY"
            ) from None
        raise EmbeddingUnavailable(f"embeddings server at {self._url} answered HTTP {status}") from None

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

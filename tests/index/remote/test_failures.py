"""One translation of a remote server's failures: each kind becomes its client's line, or a retry."""

from __future__ import annotations

from dataclasses import replace

import httpx
import openai
import pytest

from index.errors import EmbeddingUnavailable
from index.remote.failures import FAILURE, Failures, translated
from index.remote.openai_api import Overdue
from index.remote.retries import Retryable

KEY = "sk-secret-key"
REQUEST = httpx.Request("POST", "http://127.0.0.1:9/v1/embeddings")
TABLE = Failures(
    unavailable=EmbeddingUnavailable,
    server="the server",
    attempts=3,
    overdue="too slow",
    timeout="no answer in time",
    refused=f"nobody there ({FAILURE})",
    dropped=f"connection dropped ({FAILURE})",
    transport=f"body lost ({FAILURE})",
    status=lambda status, detail: f"HTTP {status}: {detail}",
    secret=KEY,
)


def _connection_error(cause: Exception) -> openai.APIConnectionError:
    error = openai.APIConnectionError(request=REQUEST)
    error.__cause__ = cause
    return error


def _status_error(status: int) -> openai.APIStatusError:
    body = {"message": f"key {KEY} is wrong"}
    response = httpx.Response(status, request=REQUEST, json={"error": body})
    return openai.APIStatusError("failed", response=response, body=body)


@pytest.mark.parametrize(
    ("failure", "error", "line"),
    [
        (Overdue(), EmbeddingUnavailable, "too slow"),
        (httpx.ReadTimeout("slow", request=REQUEST), Retryable, "no answer in time"),
        (
            _connection_error(httpx.ConnectError("[Errno 111] Connection refused")),
            Retryable,
            "nobody there (connection refused)",
        ),
        (_connection_error(httpx.ReadError("reset")), Retryable, "connection dropped (ReadError)"),
        (httpx.RemoteProtocolError("cut"), Retryable, "body lost (RemoteProtocolError)"),
        (_status_error(503), Retryable, "the server kept failing: HTTP 503 after 3 attempts"),
        (_status_error(400), EmbeddingUnavailable, "HTTP 400: key *** is wrong"),
    ],
)
def test_each_kind_of_failure_becomes_its_line_or_a_retry(
    failure: Exception, error: type[Exception], line: str
) -> None:
    with pytest.raises(error) as caught, translated(TABLE):
        raise failure
    assert str(caught.value) == line
    assert KEY not in str(caught.value)


def test_an_error_event_without_a_line_for_it_is_left_as_it_is() -> None:
    event = openai.APIError("slot crashed", REQUEST, body=None)
    with pytest.raises(openai.APIError) as caught, translated(TABLE):
        raise event
    assert caught.value is event


def test_an_error_event_with_a_line_for_it_is_the_clients_error_without_the_key() -> None:
    table = replace(TABLE, reported=lambda message: EmbeddingUnavailable(f"mid-answer: {message}"))
    with pytest.raises(EmbeddingUnavailable, match=r"^mid-answer: bad \*\*\*$"), translated(table):
        raise openai.APIError(f"bad {KEY}", REQUEST, body=None)

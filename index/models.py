"""Data that crosses module boundaries on the indexing side: articles, removed furniture, chunks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Removal:
    """A piece of page furniture cut from an article before chunking, and why."""

    reason: str
    text: str


@dataclass(frozen=True)
class Article:
    """One corpus file, decoded, cleaned and ready to chunk.

    ``text`` is the cleaned body that chunks and citations point into;
    ``fingerprint`` changes whenever the file or anything that shapes its
    chunks changes, and is what ``reindex`` compares.
    """

    id: str
    path: Path
    title: str
    text: str
    language: str
    fingerprint: str
    url: str | None = None
    date: str | None = None
    source: str | None = None
    encoding: str = "utf-8"
    removed: tuple[Removal, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Skipped:
    """A corpus file that could not be indexed, with a reason a person can act on.

    ``keeps_index``: the file could not be read (an I/O error), so whatever the index
    holds for it stays; a file that was read and found unusable is removed from the index.
    """

    path: Path
    reason: str
    keeps_index: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Chunk:
    """A sentence-aligned piece of an article's cleaned text, with its span in that text."""

    article_id: str
    position: int
    text: str
    start: int
    end: int
    title: str
    language: str

    @property
    def id(self) -> str:
        return f"{self.article_id}#{self.position}"


@dataclass(frozen=True)
class ArticleInfo:
    """What the index knows about one article (for `stats`, `/sources`, citations)."""

    id: str
    title: str
    language: str
    chunks: int
    url: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class IndexStats:
    """A summary of the index, for `newsbot stats` and the bot's `/help`."""

    articles: int
    chunks: int
    languages: dict[str, int]
    embedding_model: str
    embedding_dim: int
    location: str
    size_bytes: int | None
    date_min: str | None = None
    date_max: str | None = None


@dataclass(frozen=True)
class ReindexReport:
    """What one `reindex` run did, and how long it took."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    chunks_embedded: int = 0
    seconds: float = 0.0
    set_aside: Path | None = None
    """Where ``--rebuild`` moved a damaged index, kept for inspection."""

    def summary(self) -> str:
        """The one line printed at the end of a reindex."""
        line = (
            f"added {len(self.added)} / updated {len(self.updated)} / removed {len(self.removed)}"
            f" / unchanged {len(self.unchanged)} / skipped {len(self.skipped)}"
        )
        if self.skipped:
            line += " (" + "; ".join(f"{s.path.name}: {s.reason}" for s in self.skipped) + ")"
        line = f"{line} — {self.chunks_embedded} chunks embedded in {self.seconds:.1f}s"
        if self.set_aside is not None:
            line += f" (the damaged index was moved to {self.set_aside})"
        return line

"""Data that crosses module boundaries on the indexing side: articles, chunks, what the index stores, and reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
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
class ChunkMetadata:
    """What the index stores beside each chunk's text and vector: its place in its article, and the article.

    ``fingerprint`` and ``n_chunks`` let a reindex tell a whole article from a half-written one.
    Written by ``index.store.chroma`` and read back there and by retrieval, always through this class.
    """

    article_id: str
    fingerprint: str
    n_chunks: int
    position: int
    start: int
    end: int
    title: str
    language: str
    url: str | None = None
    date: str | None = None
    source: str | None = None

    @classmethod
    def of(cls, article: Article, chunk: Chunk, n_chunks: int) -> ChunkMetadata:
        """The metadata of one of an article's ``n_chunks`` chunks."""
        return cls(
            article_id=article.id,
            fingerprint=article.fingerprint,
            n_chunks=n_chunks,
            position=chunk.position,
            start=chunk.start,
            end=chunk.end,
            title=article.title,
            language=article.language,
            url=article.url,
            date=article.date,
            source=article.source,
        )

    def to_dict(self) -> dict[str, str | int]:
        """The flat dict the store keeps; absent values left out (Chroma takes no None)."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ChunkMetadata:
        """Read back what ``to_dict`` wrote; other keys (an older index's) are ignored, empty texts are absent."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value not in (None, "") else None

        return cls(
            article_id=str(data["article_id"]),
            fingerprint=str(data["fingerprint"]),
            n_chunks=int(str(data["n_chunks"])),
            position=int(str(data["position"])),
            start=int(str(data["start"])),
            end=int(str(data["end"])),
            title=text("title") or "",
            language=text("language") or "",
            url=text("url"),
            date=text("date"),
            source=text("source"),
        )


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


@dataclass(frozen=True)
class Saved:
    """One article saved from the web: its URL, title, file and whether it was new, changed or the same."""

    url: str
    title: str
    path: Path
    status: str  # "added", "updated" or "unchanged"


@dataclass
class WebReport:
    """What one `add` or feed poll did: articles saved, links that failed and why, feeds unchanged."""

    saved: list[Saved] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    feeds_unchanged: int = 0

    def include(self, other: WebReport) -> None:
        """Add what ``other`` did to this report."""
        self.saved.extend(other.saved)
        self.failed.extend(other.failed)
        self.feeds_unchanged += other.feeds_unchanged

    @property
    def changed(self) -> bool:
        return any(s.status != "unchanged" for s in self.saved)

    def summary(self) -> str:
        counts = {
            status: sum(s.status == status for s in self.saved)
            for status in ("added", "updated", "unchanged")
        }
        line = (
            f"web: {counts['added']} new / {counts['updated']} updated / {counts['unchanged']} unchanged articles"
            f" / {len(self.failed)} failed"
        )
        if self.feeds_unchanged:
            line += f" / {self.feeds_unchanged} feeds not modified"
        return line

"""The store step: Chroma (embedded or a server), one collection of article chunks.

The collection records the embedding model and dimension; opening it with
another embedder raises ``IndexMismatch``. Each chunk carries a
``ChunkMetadata``: its article's id and fingerprint, and the number of chunks
that article has, so a half-written article (a reindex killed mid-way) is
recognisable and finished next time.

Readers see one generation at a time, the last one a reindex finished
(:mod:`index.store.generations`).

One interface, Chroma's own collection API, for every operation. llama-index's
``ChromaVectorStore`` covers only adding nodes and a top-k query; everything
else the index does (deleting by fingerprint, reading pages of chunks with
their embeddings, the generation counter, creating the collection with its
model) needs the collection anyway, and its query reports ``exp(-distance)``,
which had to be turned back into a cosine similarity. Chroma answers cosine
distance, and similarity is ``1 - distance``. (llama-index stays where it does
real work: sentence splitting, ``index.load.chunking``.) Indexes written through
llama-index read the same: their extra metadata keys are ignored.

Connecting to Chroma, and turning its failures into errors a person can act
on, is :mod:`index.store.client`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from index.config import IndexSettings
from index.embed.base import Embedder, Vector
from index.errors import IndexBusy, IndexCorrupt, IndexMismatch, IndexMissing, NewsbotError, StoreUnavailable
from index.models import Article, ArticleInfo, Chunk, ChunkMetadata, IndexStats
from index.store.client import connect, data_dir_fault, forget_client, local_client, storage_errors
from index.store.generations import PENDING, REMOVED_IN, WRITTEN_IN, Snapshot, read_visible

logger = logging.getLogger(__name__)

_GET_PAGE = 2000
_SNAPSHOT_ATTEMPTS = 6
_RETIRE_BATCH = 500
_WRITING: set[Path] = set()
"""Data dirs this process holds the write lock of."""


@dataclass(frozen=True)
class Hit:
    """A chunk found by a vector query, with its cosine similarity to the query."""

    chunk_id: str
    text: str
    metadata: ChunkMetadata
    similarity: float


@dataclass
class ArticleState:
    """What the index holds of one article: chunk counts per fingerprint and the expected count."""

    counts: Counter[str] = field(default_factory=Counter)
    expected: dict[str, int] = field(default_factory=dict)

    def is_complete(self, fingerprint: str) -> bool:
        """True when exactly this fingerprint is stored, with all of its chunks."""
        return set(self.counts) == {fingerprint} and self.counts[fingerprint] == self.expected.get(
            fingerprint
        )


class Store:
    """One Chroma collection of article chunks."""

    def __init__(
        self, client: Any, collection: Any, embedder: Embedder, location: str, data_dir: Path | None
    ):
        self.client = client
        self.collection = collection
        self.embedder = embedder
        self.location = location
        self.data_dir = data_dir

    # -- reading -------------------------------------------------------------------------------

    def _guard(self) -> Any:
        return storage_errors(self.location, self.data_dir)

    def count(self) -> int:
        with self._guard():
            return int(self.collection.count())

    def _metadata(self) -> dict[str, Any]:
        try:
            return dict(self.client.get_collection(self.collection.name).metadata or {})
        except Exception as exc:  # the server went away between calls
            raise StoreUnavailable(f"cannot read the index at {self.location}: {exc}") from exc

    @property
    def generation(self) -> int:
        """The generation readers see: moves on when a reindex that changed something finishes; cheap to poll."""
        return int(self._metadata().get("generation", 0))

    @property
    def pending(self) -> int:
        """The generation a reindex is writing, 0 when none is (a killed reindex leaves it set)."""
        return int(self._metadata().get(PENDING, 0))

    def _pages(self, include: list[str]) -> Iterator[dict[str, Any]]:
        """The collection read a page at a time, so a large index is not held in memory at once."""
        offset = 0
        while True:
            with self._guard():
                page = self.collection.get(include=include, limit=_GET_PAGE, offset=offset)
            if not page["ids"]:
                return
            yield page
            offset += len(page["ids"])

    def iter_chunks(self) -> Iterator[tuple[str, str, ChunkMetadata]]:
        """Every chunk of the index as it stands (its current generation) as (id, text, metadata)."""
        for chunk_id, (text, metadata) in self.snapshot().chunks.items():
            yield chunk_id, text, metadata

    def iter_vectors(self) -> Iterator[tuple[str, Sequence[float]]]:
        """Every chunk's id and embedding as Chroma returns it (for an exact in-memory search)."""
        yield from (self.snapshot(vectors=True).vectors or {}).items()

    def snapshot(self, *, vectors: bool = False) -> Snapshot:
        """The chunks (and, with ``vectors``, their embeddings) visible at the current generation, read whole.

        Read by ids, so a reindex writing meanwhile neither shifts the pages nor shows its new chunks;
        read again when the generation moved on meanwhile, or when Chroma, reading while another
        process writes, cannot find a vector it has just listed (with a fresh client: its own is stale).
        """
        for attempt in range(_SNAPSHOT_ATTEMPTS):
            generation = self.generation
            try:
                with self._guard():
                    found = read_visible(self.collection, generation, vectors=vectors)
            except NewsbotError:
                raise
            except Exception as exc:
                if attempt == _SNAPSHOT_ATTEMPTS - 1:
                    raise StoreUnavailable(
                        f"cannot read the index at {self.location} while it is being written ({exc}); "
                        "try again when the reindex finishes"
                    ) from exc
                logger.info("reading the index again (%s: %s)", exc.__class__.__name__, exc)
                self._reconnect()
                time.sleep(0.05 * 2**attempt)
                continue
            if self.generation == generation:
                return found
            logger.info(
                "the index moved on from generation %d while it was read: reading it again", generation
            )
        raise StoreUnavailable(
            f"the index at {self.location} kept changing while it was read; try again when the reindex finishes"
        )

    def _reconnect(self) -> None:
        """A fresh client and collection: Chroma's in-process copy of the index can fall behind another writer."""
        if self.data_dir is None or self.data_dir.resolve() in _WRITING:
            return  # a server, or this very process writing: its client is never behind
        forget_client(Path(self.location))
        try:
            client = local_client(Path(self.location))
            self.client = client
            self.collection = client.get_collection(self.collection.name, embedding_function=None)
        except Exception as exc:  # the next attempt says what is wrong
            logger.info("could not reconnect to %s: %s", self.location, exc)

    def article_states(self) -> dict[str, ArticleState]:
        """Fingerprints and chunk counts per article id, read from the chunks' metadata only."""
        states: dict[str, ArticleState] = {}
        for page in self._pages(["metadatas"]):
            for raw in page["metadatas"] or []:
                metadata = ChunkMetadata.from_dict(raw)
                state = states.setdefault(metadata.article_id, ArticleState())
                state.counts[metadata.fingerprint] += 1
                state.expected[metadata.fingerprint] = metadata.n_chunks
        return states

    def articles(self) -> list[ArticleInfo]:
        """One entry per indexed article, sorted by id."""
        seen: dict[str, ArticleInfo] = {}
        chunks: Counter[str] = Counter()
        for _, _, metadata in self.iter_chunks():
            article_id = metadata.article_id
            chunks[article_id] += 1
            if article_id not in seen:
                seen[article_id] = ArticleInfo(
                    id=article_id,
                    title=metadata.title or article_id,
                    language=metadata.language,
                    chunks=0,
                    url=metadata.url,
                    date=metadata.date,
                )
        return [replace(info, chunks=chunks[article_id]) for article_id, info in sorted(seen.items())]

    def stats(self) -> IndexStats:
        articles = self.articles()
        dates = sorted(a.date for a in articles if a.date)
        size = None
        if self.data_dir is not None and self.data_dir.exists():
            size = sum(p.stat().st_size for p in self.data_dir.rglob("*") if p.is_file())
        return IndexStats(
            articles=len(articles),
            chunks=sum(a.chunks for a in articles),
            languages=dict(Counter(a.language for a in articles).most_common()),
            embedding_model=self.embedder.model_name,
            embedding_dim=self.embedder.dim,
            location=self.location,
            size_bytes=size,
            date_min=dates[0] if dates else None,
            date_max=dates[-1] if dates else None,
        )

    def query(self, vector: Vector, k: int) -> list[Hit]:
        """The ``k`` chunks nearest to ``vector`` by cosine similarity (Chroma's HNSW index)."""
        count = self.count()
        if count == 0:
            return []
        with self._guard():
            result = self.collection.query(
                query_embeddings=[list(vector)],
                n_results=min(k, count),
                include=["documents", "metadatas", "distances"],
            )
        rows = zip(
            result["ids"][0],
            result["documents"][0],
            result["metadatas"][0],
            result["distances"][0],
            strict=True,
        )
        # The collection's space is cosine: its distance is 1 - cosine similarity.
        return [
            Hit(chunk_id, text or "", ChunkMetadata.from_dict(metadata), 1.0 - float(distance))
            for chunk_id, text, metadata, distance in rows
        ]

    # -- writing (one process at a time, under ``write_lock``) ----------------------------------

    def begin(self) -> int:
        """Start writing the next generation and return it; marks a killed reindex left are undone first."""
        generation = self.generation
        with self._guard():
            unfinished = self._ids_where({REMOVED_IN: {"$gt": generation}})
            if unfinished:
                self.collection.update(ids=unfinished, metadatas=[{REMOVED_IN: None} for _ in unfinished])
            self._set_metadata({PENDING: generation + 1})
        return generation + 1

    def discard_version(self, article_id: str, fingerprint: str) -> None:
        """Delete the chunks of one version of an article (a half-written earlier attempt at it)."""
        with self._guard():
            self.collection.delete(where={"$and": [{"article_id": article_id}, {"fingerprint": fingerprint}]})

    def add_chunks(
        self, rows: Sequence[tuple[Article, Chunk, int]], vectors: Sequence[Vector], generation: int
    ) -> None:
        """Store chunks of several articles (each row: article, chunk, the article's chunk count) in one write.

        They stay out of readers' sight until ``commit(generation)``.
        """
        if not rows:
            return
        with self._guard():
            self.collection.add(
                ids=[
                    f"{article.id}#{article.fingerprint[:12]}#{chunk.position}" for article, chunk, _ in rows
                ],
                embeddings=[list(vector) for vector in vectors],
                documents=[chunk.text for _, chunk, _ in rows],
                metadatas=[
                    ChunkMetadata.of(article, chunk, n_chunks).to_dict() | {WRITTEN_IN: generation}
                    for article, chunk, n_chunks in rows
                ],
            )

    def retire(self, keep: Mapping[str, str | None], generation: int) -> None:
        """Mark, from ``generation`` on, every chunk of these articles but those of the fingerprint kept (None: all)."""
        articles = list(keep)
        with self._guard():
            for start in range(0, len(articles), _RETIRE_BATCH):
                batch = articles[start : start + _RETIRE_BATCH]
                page = self.collection.get(where={"article_id": {"$in": batch}}, include=["metadatas"])
                ids = [
                    chunk_id
                    for chunk_id, metadata in zip(page["ids"], page["metadatas"] or [], strict=False)
                    if metadata.get("fingerprint") != keep[str(metadata.get("article_id"))]
                ]
                if ids:
                    self.collection.update(ids=ids, metadatas=[{REMOVED_IN: generation} for _ in ids])

    def commit(self, generation: int) -> None:
        """Put ``generation`` in force: one metadata write, after which readers see it whole."""
        with self._guard():
            self._set_metadata({"generation": generation, PENDING: 0})

    def purge(self) -> None:
        """Delete the chunks replaced or removed by a generation in force (no reader sees them any more)."""
        generation = self.generation
        with self._guard():
            self.collection.delete(
                where={"$and": [{REMOVED_IN: {"$gt": 0}}, {REMOVED_IN: {"$lte": generation}}]}
            )

    def delete_article(self, article_id: str) -> None:
        """Delete an article's chunks at once (readers see it go at their next read)."""
        with self._guard():
            self.collection.delete(where={"article_id": article_id})

    def _ids_where(self, where: dict[str, Any]) -> list[str]:
        return list(self.collection.get(where=where, include=[])["ids"])

    def _set_metadata(self, values: dict[str, Any]) -> None:
        metadata = self._metadata() | values
        metadata.pop("hnsw:space", None)  # fixed at creation; Chroma refuses to modify it
        self.collection.modify(metadata=metadata)


def open_store(settings: IndexSettings, embedder: Embedder, *, create: bool = False) -> Store:
    """Open the collection; with ``create`` make it when missing. Refuses an index of another model."""
    client, location, data_dir = connect(settings)
    with storage_errors(location, data_dir):
        return _open_collection(settings, embedder, client, location, data_dir, create=create)


def _open_collection(
    settings: IndexSettings,
    embedder: Embedder,
    client: Any,
    location: str,
    data_dir: Path | None,
    *,
    create: bool,
) -> Store:
    existing = {c if isinstance(c, str) else c.name for c in client.list_collections()}
    if settings.collection not in existing:
        if not create:
            raise IndexMissing(f"no index at {location}: run `newsbot reindex` first")
        collection = client.create_collection(
            settings.collection,
            metadata={
                "hnsw:space": "cosine",
                "embedding_model": embedder.model_name,
                "embedding_dim": embedder.dim,
                "generation": 0,
            },
            embedding_function=None,
        )
        return Store(client, collection, embedder, location, data_dir)
    collection = client.get_collection(settings.collection, embedding_function=None)
    metadata = collection.metadata or {}
    model, dim = metadata.get("embedding_model"), metadata.get("embedding_dim")
    if model != embedder.model_name or (dim is not None and int(dim) != embedder.dim):
        raise IndexMismatch(
            f"the index at {location} was built with {model} ({dim}-d) but the embedder is "
            f"{embedder.model_name} ({embedder.dim}-d): run `newsbot reindex --rebuild`"
        )
    return Store(client, collection, embedder, location, data_dir)


def drop_collection(settings: IndexSettings) -> Path | None:
    """Delete the collection (for ``reindex --rebuild``); a missing one is fine.

    A local store that cannot even be opened or dropped (a damaged database) is moved
    aside whole, kept for inspection; the new place is returned so the user can be told.
    """
    try:
        client, location, data_dir = connect(settings)
        with storage_errors(location, data_dir):
            existing = {c if isinstance(c, str) else c.name for c in client.list_collections()}
            if settings.collection in existing:
                client.delete_collection(settings.collection)
        return None
    except NewsbotError as exc:
        if settings.chroma_host or not isinstance(exc, IndexCorrupt):
            raise
        return _set_aside(settings, exc)
    except Exception as exc:
        if settings.chroma_host:
            raise
        return _set_aside(settings, exc)


def _set_aside(settings: IndexSettings, exc: Exception) -> Path:
    """Move the damaged local store out of the way so a rebuild starts from nothing."""
    store = settings.data_dir / "chroma"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = settings.data_dir / f"chroma.damaged-{stamp}"
    counter = 1
    while target.exists():
        counter += 1
        target = settings.data_dir / f"chroma.damaged-{stamp}-{counter}"
    try:
        store.rename(target)
    except OSError as err:
        raise StoreUnavailable(
            f"the index at {store} is damaged and could not be moved aside ({err.strerror}): "
            f"move or delete {store} yourself, then run `newsbot reindex --rebuild`"
        ) from exc
    forget_client(store)
    logger.warning("the index at %s was damaged (%s); moved it to %s", store, exc.__cause__ or exc, target)
    return target


@contextmanager
def write_lock(settings: IndexSettings) -> Iterator[None]:
    """Only one process writes the index at a time; readers are never blocked."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise data_dir_fault(settings.data_dir, exc) from exc
    lock = FileLock(str(settings.data_dir / "write.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout as exc:
        raise IndexBusy(
            f"another process is writing the index ({settings.data_dir / 'write.lock'}); try again when it finishes"
        ) from exc
    except OSError as exc:
        raise data_dir_fault(settings.data_dir, exc) from exc
    _WRITING.add(settings.data_dir.resolve())
    try:
        yield
    finally:
        _WRITING.discard(settings.data_dir.resolve())
        lock.release()

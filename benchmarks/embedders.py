"""Embedding backends side by side: load time, indexing throughput, query latency, resident memory.

Run: .venv/bin/python benchmarks/embedders.py [--backends gguf,e5,use] [--chunks 64] [--ask]
Each backend runs in a fresh child process (so its memory is its own) over the
same chunks: the corpus articles cleaned and chunked as `reindex` does. Prints
chunks/s of embedding (what bounds a rebuild), query-embedding latency p50/p90,
model load time and peak resident memory. With --ask it also runs `newsbot ask`
(the bundled LLM and the embedder in one process) and reports its peak memory.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = [
    "Where did Putin and Kim Jong Un meet?",
    "Сколько часов длились переговоры?",
    "Хто супроводжував Кім Чен Ина на заводі?",
    "Кой руски министър ще посети Северна Корея?",
    "Womit ist Kim nach Russland gereist?",
    "Quels avions sont fabriqués à Komsomolsk-sur-l'Amour ?",
    "What did the White House say about arms deals?",
    "Какие подарки получил Ким?",
]


def _chunks(limit: int) -> list[str]:
    from index.config import IndexSettings
    from index.load.articles import load_corpus
    from index.load.chunking import chunk_article, passage_text

    settings = IndexSettings(corpus_dir=ROOT / "corpus")
    articles, _ = load_corpus(settings.corpus_dir, max_file_bytes=settings.max_file_bytes)
    texts: list[str] = []
    for article in articles:
        chunks = chunk_article(article, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)
        texts.extend(passage_text(chunk) for chunk in chunks)
    return (texts * (limit // max(len(texts), 1) + 1))[:limit]


def child(backend: str, limit: int) -> None:
    from index.config import EmbeddingSettings
    from index.embed.embeddings import make_embedder

    texts = _chunks(limit)
    started = time.perf_counter()
    embedder = make_embedder(EmbeddingSettings(backend=backend))  # type: ignore[arg-type]
    embedder.embed_queries(["warm-up"])
    load = time.perf_counter() - started
    latencies = []
    for _ in range(3):
        for query in QUERIES:
            began = time.perf_counter()
            embedder.embed_queries([query])
            latencies.append((time.perf_counter() - began) * 1000)
    began = time.perf_counter()
    for start in range(0, len(texts), 16):
        embedder.embed_passages(texts[start : start + 16])
    seconds = time.perf_counter() - began
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "backend": backend,
                "model": embedder.model_name,
                "dim": embedder.dim,
                "load_s": round(load, 2),
                "chunks": len(texts),
                "chunks_per_s": round(len(texts) / seconds, 2),
                "query_p50_ms": round(statistics.median(latencies), 1),
                "query_p90_ms": round(statistics.quantiles(latencies, n=10)[-1], 1),
                "peak_rss_mib": round(peak_mib),
            }
        )
    )


def _ask_peak_mib(backend: str) -> float:
    """Peak memory of one `newsbot ask` with the bundled LLM and the given embedder, in a scratch data dir."""
    env = {
        **os.environ,
        "NEWSBOT_EMBEDDING__BACKEND": backend,
        "NEWSBOT_INDEX__DATA_DIR": str(ROOT / ".newsbot-bench" / backend),
    }
    newsbot = str(Path(sys.executable).with_name("newsbot"))
    subprocess.run([newsbot, "reindex"], env=env, check=True, capture_output=True)
    # A fresh parent per measurement: RUSAGE_CHILDREN keeps the largest child this process ever had.
    probe = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    question = "Where did Putin and Kim Jong Un meet?"
    result = subprocess.run(
        [sys.executable, "-c", probe, newsbot, "ask", question],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return int(result.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="gguf,e5,use")
    parser.add_argument("--chunks", type=int, default=64)
    parser.add_argument("--ask", action="store_true", help="also measure `newsbot ask` with the local LLM")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.chunks)
        return
    print(f"== embedding backends ({os.cpu_count()} cores, {args.chunks} corpus chunks each) ==")
    for backend in args.backends.split(","):
        result = subprocess.run(
            [sys.executable, __file__, "--child", backend, "--chunks", str(args.chunks)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            print(f"{backend}: failed: {result.stderr.strip().splitlines()[-1:]}")
            continue
        row = json.loads(result.stdout.strip().splitlines()[-1])
        print(
            f"{row['backend']:5} {row['model']:40} dim {row['dim']:4}  load {row['load_s']:5.1f} s  "
            f"index {row['chunks_per_s']:6.2f} chunks/s  query p50 {row['query_p50_ms']:6.1f} ms "
            f"p90 {row['query_p90_ms']:6.1f} ms  peak RSS {row['peak_rss_mib']} MiB"
        )
        if args.ask:
            print(f"      `newsbot ask` (bundled LLM + {backend}): peak RSS {_ask_peak_mib(backend):.0f} MiB")


if __name__ == "__main__":
    main()

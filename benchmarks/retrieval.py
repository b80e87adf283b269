"""Retrieval benchmark and threshold calibration: question → ranked articles, on the index the settings name.

Run: .venv/bin/python benchmarks/retrieval.py [QUESTIONS.jsonl] [--repeat 5]
Uses NEWSBOT_* settings (e.g. NEWSBOT_INDEX__CORPUS_DIR / DATA_DIR for a scratch corpus with the
distractors). Prints latency p50/p90 of retrieval alone (embedding the question + dense + BM25 +
fusion), hit@1 / MRR, and the best cosine similarity of answerable vs unanswerable questions, which
is what `NEWSBOT_RETRIEVAL__MIN_SCORE` is calibrated on. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.answering.conversation import rule_condense  # noqa: E402
from bot.answering.retrieval import Retriever, asks_for_recent  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.evaluation import Question, load_questions  # noqa: E402
from bot.models import Turn  # noqa: E402
from index.embed.embeddings import make_embedder  # noqa: E402
from index.store.chroma import open_store  # noqa: E402

# Questions no news corpus about one summit answers, in several languages: where the off-topic
# similarity sits. Written for calibration, not taken from any evaluation set.
OFF_TOPIC = [
    "What is the capital of Australia?",
    "How do I bake sourdough bread at home?",
    "Какая погода будет завтра в Санкт-Петербурге?",
    "Хто виграв чемпіонат світу з футболу у 2018 році?",
    "Колко струва литър мляко в София?",
    "Wie funktioniert eine Wärmepumpe?",
    "Quel est le meilleur fromage de Normandie?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "questions", nargs="?", default=str(ROOT.parent / "shared" / "eval" / "questions.jsonl")
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--sweep-min-score",
        help="comma-separated thresholds: print refusal accuracy for each (questions embedded once)",
    )
    parser.add_argument(
        "--sweep-keyword-weight",
        help="comma-separated keyword weights: print hit@1 / MRR for each (questions embedded once)",
    )
    args = parser.parse_args()

    settings = Settings()  # type: ignore[call-arg]
    retriever = Retriever(open_store(settings.index, make_embedder(settings.embedding)), settings.retrieval)
    retriever.retrieve("warm-up")  # model load and BM25 build are not per-question work
    questions = load_questions(Path(args.questions))
    if args.sweep_keyword_weight:
        sweep(retriever, questions, [float(w) for w in args.sweep_keyword_weight.split(",")])
        return
    if args.sweep_min_score:
        sweep_min_score(retriever, questions, [float(t) for t in args.sweep_min_score.split(",")])
        return

    latencies: list[float] = []
    ranks: list[int | None] = []
    answerable: list[float] = []
    unanswerable: list[float] = []
    for question in questions:
        history = [Turn(t, "") for t in question.turns[:-1]]
        text = rule_condense(question.turns[-1], history)
        for _ in range(args.repeat):
            started = time.perf_counter()
            found = retriever.candidates(text)
            result = retriever.fuse(found, recent=asks_for_recent(text))
            latencies.append((time.perf_counter() - started) * 1000)
        if question.answerable:
            ranks.append(next((i for i, a in enumerate(result.articles) if a in question.articles), None))
            answerable.append(found.best_similarity)
        else:
            unanswerable.append(found.best_similarity)
    off_topic = [retriever.candidates(q).best_similarity for q in OFF_TOPIC]

    stats = open_store(settings.index, retriever.embedder).stats()
    print(f"== retrieval ({stats.articles} articles, {stats.chunks} chunks, {stats.embedding_model}) ==")
    cuts = statistics.quantiles(latencies, n=10)
    print(
        f"latency: p50 {statistics.median(latencies):.1f} ms, p90 {cuts[-1]:.1f} ms over {len(latencies)} runs"
    )
    found = [r for r in ranks if r is not None]
    print(
        f"hit@1 {sum(r == 0 for r in found) / len(ranks):.3f}, hit@5 {sum(r < 5 for r in found) / len(ranks):.3f}, "
        f"MRR {sum(1 / (r + 1) for r in found) / len(ranks):.3f} ({len(ranks)} answerable)"
    )
    print("best cosine similarity (what min_score is compared with):")
    print(f"  answerable:   min {min(answerable):.3f}, median {statistics.median(answerable):.3f}")
    if unanswerable:
        print(f"  unanswerable: {', '.join(f'{s:.3f}' for s in unanswerable)}")
    print(f"  off-topic:    max {max(off_topic):.3f}, median {statistics.median(off_topic):.3f}")
    print(f"  current min_score: {retriever.min_score}")


def sweep(retriever: Retriever, questions: list[Question], weights: list[float]) -> None:
    """hit@1 and MRR of the answerable questions for each keyword weight, over the same dense hits."""
    answerable = [q for q in questions if q.answerable]
    prepared = []
    for question in answerable:
        text = rule_condense(question.turns[-1], [Turn(t, "") for t in question.turns[:-1]])
        prepared.append((question, retriever.candidates(text)))
    base = retriever.settings
    for weight in weights:
        retriever.settings = base.model_copy(update={"keyword_weight": weight})
        ranks = []
        for question, found in prepared:
            articles = retriever.fuse(found).articles
            ranks.append(next((i for i, a in enumerate(articles) if a in question.articles), None))
        hit1 = sum(r == 0 for r in ranks) / len(ranks)
        mrr = sum(1 / (r + 1) for r in ranks if r is not None) / len(ranks)
        print(f"keyword_weight {weight:.2f}: hit@1 {hit1:.3f}, MRR {mrr:.3f} ({len(ranks)} answerable)")
    retriever.settings = base


def sweep_min_score(retriever: Retriever, questions: list[Question], thresholds: list[float]) -> None:
    """Refusal accuracy (answerable kept, unanswerable refused) for each relevance threshold."""
    base = retriever.settings
    rows = []
    for question in questions:
        text = rule_condense(question.turns[-1], [Turn(t, "") for t in question.turns[:-1]])
        retriever.settings = base.model_copy(update={"min_score": 1.0})
        found = retriever.candidates(text)
        kept = retriever.fuse(found).relevant  # at 1.0 only the keyword rule can keep it
        rows.append((question, found.best_similarity, not kept))
    retriever.settings = base
    for threshold in thresholds:
        right = sum(
            (best >= threshold or not refused) == question.answerable for question, best, refused in rows
        )
        wrong = [q.id for q, best, refused in rows if (best >= threshold or not refused) != q.answerable]
        print(
            f"min_score {threshold:.3f}: refusal accuracy {right / len(rows):.3f}  wrong: {' '.join(wrong)}"
        )


if __name__ == "__main__":
    main()

"""Evidence benchmark: do the quotes shown first hold the answer, and does the answer gate refuse rightly?

Run: .venv/bin/python benchmarks/evidence.py QUESTIONS.jsonl [...]
Uses NEWSBOT_* settings (index, embedder, retrieval). For each question: retrieval → select_evidence →
the answering quotes, best first (what the user sees within a second). Prints, per file, evidence
recall@1 / @3 (answerable questions whose first / first three quotes hold a gold fact, in any spelling,
scripts folded) and how often "no evidence answers" agrees with the gold ``answerable``, with one line
per question. Asserts nothing; no LLM.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.answering.conversation import rule_condense  # noqa: E402
from bot.answering.evidence import ranked_quotes, select_evidence  # noqa: E402
from bot.answering.retrieval import Retriever  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.evaluation import holds_fact, load_questions  # noqa: E402
from bot.models import Turn  # noqa: E402
from index.embed.embeddings import make_embedder  # noqa: E402
from index.store.chroma import open_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="+", type=Path)
    args = parser.parse_args()
    settings = Settings()
    embedder = make_embedder(settings.embedding)
    retriever = Retriever(open_store(settings.index, embedder), settings.retrieval)
    for path in args.questions:
        at1 = at3 = answerable = gate_right = 0
        questions = load_questions(path)
        for question in questions:
            history = [Turn(turn, "", question.lang) for turn in question.turns[:-1]]
            asked = rule_condense(question.turns[-1], history) if history else question.turns[-1]
            retrieval = retriever.retrieve(asked)
            quotes = []
            if retrieval.relevant:
                evidence = select_evidence(
                    asked,
                    retrieval.passages,
                    limit=settings.retrieval.evidence_sentences,
                    query_vector=retrieval.query_vector or None,
                    embedder=embedder,
                    min_answer_score=settings.retrieval.min_answer_score,
                )
                quotes = ranked_quotes(evidence)
            gate_right += bool(quotes) == question.answerable
            hits = [any(holds_fact(q.sentence, f, folded=True) for f in question.facts) for q in quotes]
            if question.answerable:
                answerable += 1
                at1 += any(hits[:1])
                at3 += any(hits[:3])
            first = f"{quotes[0].score:.2f} {quotes[0].sentence[:90]!r}" if quotes else "-"
            print(
                f"{question.id} answerable={question.answerable} quotes={len(quotes)} hits={hits[:3]} {first}"
            )
        print(
            f"{path.name}: evidence recall@1 {at1 / max(answerable, 1):.3f}, @3 {at3 / max(answerable, 1):.3f} "
            f"({answerable} answerable); gate agrees with answerable {gate_right}/{len(questions)}"
        )


if __name__ == "__main__":
    main()

"""Collect the candidate sentences the answer path considers, with their answerability features, for labelling.

Run: .venv/bin/python benchmarks/answerability_collect.py QUESTIONS.jsonl [...] --out candidates.jsonl [--top 12]

For each question (the follow-up condensed by rule, as without a model) it retrieves, splits the
passages into candidate sentences (``bot.answering.evidence.considered``) and writes the ``--top``
best by the heuristic pre-score, one line each: question id, set (the file's stem), language, the
standalone question, whether it is answerable, its gold articles, the sentence, its article, whether
that article is gold, and the features. Labels are added by hand (``benchmarks/data/README.md`` gives
the rules) as ``label``: 2 answers, 1 partly, 0 doesn't.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.answering.conversation import rule_condense  # noqa: E402
from bot.answering.evidence import considered  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.evaluation import load_questions  # noqa: E402
from bot.models import Turn  # noqa: E402
from bot.service import Newsbot  # noqa: E402
from index.text.language import detect_language  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("questions", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    settings = Settings()
    settings.llm.provider = "extractive"
    with Newsbot(settings) as bot, args.out.open("w", encoding="utf-8") as out:
        bot.ensure_index()
        pipeline = bot.pipeline()
        for path in args.questions:
            for question in load_questions(path):
                history = [Turn(turn, "") for turn in question.turns[:-1]]
                standalone = rule_condense(question.turns[-1], history)
                retrieval = pipeline.retriever.retrieve(standalone)
                rows = considered(
                    standalone,
                    retrieval.passages,
                    query_vector=retrieval.query_vector or None,
                    embedder=pipeline.sentence_embedder,
                )
                for rank, (candidate, values) in enumerate(rows[: args.top]):
                    record = {
                        "qid": question.id,
                        "set": path.stem,
                        "lang": detect_language(question.turns[-1], default="en"),
                        "question": standalone,
                        "answerable": question.answerable,
                        "facts": question.facts,
                        "article_id": candidate.passage.article_id,
                        "gold_article": candidate.passage.article_id in question.articles,
                        "rank": rank,
                        "sentence": candidate.sentence,
                        "features": {k: round(v, 5) for k, v in values.items()},
                    }
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                print(f"{path.stem} {question.id}: {min(len(rows), args.top)} candidates", file=sys.stderr)


if __name__ == "__main__":
    main()

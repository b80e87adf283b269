"""Answer-quality figures from saved `newsbot eval --json` output, also for a run cut short.

Run: .venv/bin/python benchmarks/answers.py QUESTIONS.jsonl ANSWERS.jsonl [QUESTIONS2 ANSWERS2 ...]
For each pair: fact recall (raw spellings, as eval scores it, and with scripts folded), refusal
accuracy (answerable / on-topic unanswerable split), language match, repeated sentences, bare marker
runs, fallback share (answers with no model sentence: mode "extractive") and latency p50, over the
questions the answers file holds. Asserts nothing; no model is run.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.checks.citations import answer_language  # noqa: E402
from bot.checks.markers import strip_markers  # noqa: E402
from bot.evaluation import holds_fact, load_questions, marker_runs, repeated_sentences  # noqa: E402


def figures(questions_path: Path, answers_path: Path) -> dict[str, object]:
    questions = {q.id: q for q in load_questions(questions_path)}
    records = [json.loads(line) for line in answers_path.read_text(encoding="utf-8").splitlines() if line]
    facts = found = found_folded = refusals_right = language_ok = repeats = runs = answered = fallbacks = 0
    unanswerable = unanswerable_right = 0
    latencies = []
    for record in records:
        question = questions[record["id"]]
        text = record["answer"]
        latencies.append(record["latency_ms"])
        if question.answerable:
            for fact in question.facts:
                facts += 1
                found += holds_fact(text, fact)
                found_folded += holds_fact(text, fact, folded=True)
        else:
            unanswerable += 1
            unanswerable_right += record["refused"]
        refusals_right += record["refused"] == (not question.answerable)
        detected = answer_language(strip_markers(text), question.lang) or record["language"]
        language_ok += detected == question.lang
        repeats += repeated_sentences(text)
        runs += marker_runs(text)
        if not record["refused"]:
            answered += 1
            fallbacks += record["mode"] == "extractive"
    n = len(records)
    return {
        "questions": n,
        "fact_recall": round(found / facts, 3) if facts else None,
        "fact_recall_folded": round(found_folded / facts, 3) if facts else None,
        "refusal_accuracy": round(refusals_right / n, 3) if n else None,
        "unanswerable_refused": f"{unanswerable_right}/{unanswerable}",
        "language_match": round(language_ok / n, 3) if n else None,
        "repeated_sentences": repeats,
        "marker_runs": runs,
        "fallback_share": round(fallbacks / answered, 3) if answered else None,
        "latency_p50_s": round(statistics.median(latencies) / 1000, 1) if latencies else None,
    }


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]]
    if not paths or len(paths) % 2:
        sys.exit(__doc__)
    for questions_path, answers_path in zip(paths[::2], paths[1::2], strict=True):
        print(answers_path.name, json.dumps(figures(questions_path, answers_path), ensure_ascii=False))


if __name__ == "__main__":
    main()

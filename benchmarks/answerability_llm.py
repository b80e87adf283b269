"""The bundled model's yes/no judgment on labelled candidate sentences: how well P(yes) separates them.

Run: .venv/bin/python benchmarks/answerability_llm.py benchmarks/data/answerability_labelled.jsonl
     --out benchmarks/data/answerability_llm.jsonl [--top 2]

For each question it takes the ``--top`` candidates the shipped answerability model scores best and
asks the model (``bot.answering.judgment``, the product's own prompt) whether each answers; it writes
one line per judgment (set, qid, sentence, label, p_yes, seconds) and prints per set the AUC of
P(yes) alone and of the answerability score, on the same sentences, and the time per judgment.
Lines already in ``--out`` are not asked again.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.answering.answerability import load_model  # noqa: E402
from bot.answering.judgment import yes_probability  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.service import Newsbot  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("labelled", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--top", type=int, default=2)
    args = parser.parse_args()
    model = load_model()
    rows = [json.loads(line) for line in args.labelled.read_text(encoding="utf-8").splitlines() if line]
    by_question: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        row["p"] = model.probability(row["features"])
        by_question[(row["set"], row["qid"])].append(row)
    done = {}
    if args.out.exists():
        for line in args.out.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            done[(item["set"], item["qid"], item["sentence"])] = item
    settings = Settings()
    settings.llm.provider = "local"
    with Newsbot(settings) as bot, args.out.open("a", encoding="utf-8") as out:
        generator = bot.start_generator()
        for (name, qid), items in by_question.items():
            for row in sorted(items, key=lambda r: -r["p"])[: args.top]:
                key = (name, qid, row["sentence"])
                if key in done:
                    continue
                started = time.perf_counter()
                p_yes = yes_probability(generator, bot.prompts, row["question"], row["sentence"])
                item = {
                    "set": name,
                    "qid": qid,
                    "sentence": row["sentence"],
                    "label": row["label"],
                    "answerable": row["answerable"],
                    "p": round(row["p"], 4),
                    "p_yes": None if p_yes is None else round(p_yes, 4),
                    "seconds": round(time.perf_counter() - started, 2),
                }
                done[key] = item
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
                out.flush()
                print(f"{name} {qid}: P(yes) {item['p_yes']} label {row['label']} ({item['seconds']} s)", file=sys.stderr)
    judged = [item for item in done.values() if item["p_yes"] is not None]
    for name in sorted({item["set"] for item in judged}):
        part = [item for item in judged if item["set"] == name]
        answers = [item["label"] == 2 for item in part]
        if 0 < sum(answers) < len(answers):
            auc_yes = roc_auc_score(answers, [item["p_yes"] for item in part])
            auc_p = roc_auc_score(answers, [item["p"] for item in part])
            print(f"{name:20} n={len(part):3} AUC P(yes) {auc_yes:.3f}  AUC answerability {auc_p:.3f}")
    seconds = [item["seconds"] for item in judged]
    if seconds:
        print(f"judgment: p50 {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s ({len(seconds)} judged)")


if __name__ == "__main__":
    main()

"""Fit and measure the answerability model on labelled candidate sentences.

Run: .venv/bin/python benchmarks/answerability.py benchmarks/data/answerability_labelled.jsonl [--write]

Fits a logistic regression (scikit-learn, standardised features, L2) on the development set's lines
only (``set`` = ``questions``), target "answers" (label 2). Chooses the two bars on the development
lines: ``answer`` (quoted as the answer), the lowest probability with precision ≥ ``--precision`` on
"answers"; ``related`` (below it: not covered), the highest probability that still keeps recall ≥
``--recall`` of sentences labelled answers or partly. Prints, per set, AUC (answers vs the rest, and
answers-or-partly vs doesn't), precision and recall at both bars, and how often the best-scored
candidate of an answerable question answers (the first quote) and an unanswerable question's best
candidate stays under the related bar (refusal). ``--write`` stores the model in
``prompts/answerability.toml``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.answering.answerability import FEATURES, MODEL_FILE, AnswerabilityModel  # noqa: E402

DEV = "questions"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def matrix(rows: list[dict]) -> np.ndarray:
    return np.array([[row["features"][name] for name in FEATURES] for row in rows], dtype=float)


def fit(rows: list[dict], c: float) -> AnswerabilityModel:
    x = matrix(rows)
    y = np.array([row["label"] == 2 for row in rows], dtype=int)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=1000).fit((x - mean) / scale, y)
    return AnswerabilityModel(
        weights={name: float(w) for name, w in zip(FEATURES, model.coef_[0], strict=True)},
        intercept=float(model.intercept_[0]),
        mean={name: float(m) for name, m in zip(FEATURES, mean, strict=True)},
        scale={name: float(s) for name, s in zip(FEATURES, scale, strict=True)},
        answer_bar=0.5,
        related_bar=0.2,
    )


def bars(model: AnswerabilityModel, rows: list[dict], precision: float, recall: float) -> tuple[float, float]:
    scored = sorted(((model.probability(r["features"]), r["label"]) for r in rows), reverse=True)
    answer_bar, best_count = 0.5, 0
    hits = 0
    for index, (p, label) in enumerate(scored, start=1):
        hits += label == 2
        if hits / index >= precision and hits > best_count:
            answer_bar, best_count = p, hits
    useful = sum(1 for _, label in scored if label >= 1) or 1
    kept = 0
    related_bar = scored[-1][0] if scored else 0.0
    for p, label in scored:
        kept += label >= 1
        if kept / useful >= recall:
            related_bar = p
            break
    # A question's best candidate decides refusal: the related bar must also let most answerable ones through.
    return round(answer_bar, 4), round(min(related_bar, answer_bar), 4)


def report(model: AnswerabilityModel, rows: list[dict], name: str) -> None:
    p = np.array([model.probability(r["features"]) for r in rows])
    labels = np.array([r["label"] for r in rows])
    answers, useful = labels == 2, labels >= 1
    auc = roc_auc_score(answers, p) if 0 < answers.sum() < len(answers) else float("nan")
    auc_useful = roc_auc_score(useful, p) if 0 < useful.sum() < len(useful) else float("nan")
    above = p >= model.answer_bar
    precision = (answers & above).sum() / max(above.sum(), 1)
    recall = (answers & above).sum() / max(answers.sum(), 1)
    related = p >= model.related_bar
    recall_related = (useful & related).sum() / max(useful.sum(), 1)
    by_question: dict[str, list[tuple[float, int, bool]]] = defaultdict(list)
    for row, prob in zip(rows, p, strict=True):
        by_question[row["qid"]].append((prob, row["label"], row["answerable"]))
    first_answers = first_n = refusals = refusal_n = 0
    at3 = 0
    for items in by_question.values():
        items.sort(reverse=True)
        if items[0][2]:
            first_n += 1
            first_answers += items[0][1] == 2
            at3 += any(label == 2 for _, label, _ in items[:3])
        else:
            refusal_n += 1
            refusals += items[0][0] < model.related_bar
    print(
        f"{name:22} n={len(rows):4} AUC answers {auc:.3f} useful {auc_useful:.3f} | answer bar: "
        f"P {precision:.2f} R {recall:.2f} | related bar: R(useful) {recall_related:.2f} | "
        f"best answers @1 {first_answers}/{first_n} @3 {at3}/{first_n} | "
        f"unanswerable under related bar {refusals}/{refusal_n}"
    )


def to_toml(model: AnswerabilityModel) -> str:
    lines = [
        "# The answerability model (bot/answering/answerability.py): a logistic regression over standardised",
        "# features, fitted by benchmarks/answerability.py on the development set's labelled sentences.",
        "# Don't edit by hand: refit.",
        f"intercept = {model.intercept!r}",
        "",
        "[bars]",
        f"answer = {model.answer_bar!r}",
        f"related = {model.related_bar!r}",
    ]
    for table in ("weights", "mean", "scale"):
        lines += ["", f"[{table}]"]
        values = getattr(model, table)
        lines += [f"{name} = {values[name]!r}" for name in FEATURES]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("labelled", type=Path)
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength")
    parser.add_argument("--precision", type=float, default=0.8)
    parser.add_argument("--recall", type=float, default=0.9)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = load(args.labelled)
    dev = [r for r in rows if r["set"] == DEV]
    model = fit(dev, args.c)
    answer_bar, related_bar = bars(model, dev, args.precision, args.recall)
    model = AnswerabilityModel(
        model.weights, model.intercept, model.mean, model.scale, answer_bar, related_bar
    )
    print(f"bars: answer {answer_bar}, related {related_bar}")
    print("weights: " + ", ".join(f"{k} {v:+.2f}" for k, v in model.weights.items()))
    for name in sorted({r["set"] for r in rows}, key=lambda s: (s != DEV, s)):
        report(model, [r for r in rows if r["set"] == name], name + (" (fit)" if name == DEV else ""))
    report(model, [r for r in rows if r["set"] != DEV], "all held-out")
    if args.write:
        (ROOT / "prompts" / MODEL_FILE).write_text(to_toml(model), encoding="utf-8")
        print(f"wrote prompts/{MODEL_FILE}")


if __name__ == "__main__":
    main()

"""Support-checker benchmark: how many unsupported answer statements it catches, how many good ones it rejects.

Run: .venv/bin/python benchmarks/support.py [--embedder e5|use|gguf|none] [--data FILE] [--threshold X]

Reads the hand-labelled statements (benchmarks/data/statements_labelled.jsonl, rules in
benchmarks/data/README.md). Each statement is checked against the sentences it cites, with each cited
article's title (the prompt shows the model the title too). Reports, for the dev half (statements
answering the development questions) and the held-out half (the held-out questions) side by side:

- caught: share of unsupported statements the checker rejects (target >= 0.90);
- rejected: share of supported statements it rejects (target <= 0.10);

overall, per language, and per check (number, name, meaning: what each check rejects on its own,
in the order the checker runs them). The meaning threshold is tuned on the dev half only (the most
caught with at most 10 % rejected there; ties to the lowest threshold) and then applied unchanged to
the held-out half; the model's calibrated default (bot.checks.support.DEFAULT_SIMILARITY) is reported too.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.checks.support import SupportChecker, malformed  # noqa: E402
from index.config import EmbeddingSettings  # noqa: E402
from index.embed.base import Embedder  # noqa: E402
from index.embed.embeddings import make_embedder  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "statements_labelled.jsonl"
PERTURBED = ROOT / "benchmarks" / "data" / "statements_perturbed.jsonl"
HALVES = {"questions": "dev", "questions_heldout": "held-out", "perturbed": "pairs"}
MAX_REJECTED = 0.10
_SCORE = re.compile(r"best similarity (-?\d+\.\d+)")


def load(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        row["half"] = HALVES.get(row["set"], row["set"])
        row["unsupported"] = row["label"] == "unsupported"
    return rows


def evidence_of(row: dict[str, Any]) -> list[str]:
    """What the statement cites: each cited article's title, then its evidence sentences."""
    found: list[str] = []
    for group in row["cited"]:
        found.append(group["title"])
        found.extend(group["sentences"])
    return found


def lexical_verdicts(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Per statement: "" when the form, number and name checks pass, else "form", "number", "name" or "evidence".

    The form check (bot.checks.support.malformed: mixed scripts, letters the answer's language lacks) runs
    first, as in the answer path.
    """
    checker = SupportChecker(None)
    kinds = []
    verdicts = checker.check_many([(row["statement"], evidence_of(row)) for row in rows])
    for row, verdict in zip(rows, verdicts, strict=True):
        if malformed(row["statement"], row["lang"], evidence_of(row)):
            kinds.append("form")
        elif verdict.supported:
            kinds.append("")
        elif verdict.reason.startswith("number"):
            kinds.append("number")
        elif verdict.reason.startswith("name"):
            kinds.append("name")
        else:
            kinds.append("evidence")
    return kinds


def similarities(rows: Sequence[dict[str, Any]], embedder: Embedder) -> list[float | None]:
    """Per statement the checker's best similarity (None when a lexical check already rejects it).

    Read from the verdict's reason with an unreachable threshold, so the number is exactly what the
    checker compares, through its public interface.
    """
    checker = SupportChecker(embedder, min_similarity=2.0)
    scores: list[float | None] = []
    for verdict in checker.check_many([(row["statement"], evidence_of(row)) for row in rows]):
        match = _SCORE.search(verdict.reason)
        scores.append(float(match.group(1)) if match else None)
    return scores


def rates(rows: Sequence[dict[str, Any]], rejected: Sequence[bool]) -> tuple[str, str]:
    bad = [r for r, row in zip(rejected, rows, strict=True) if row["unsupported"]]
    good = [r for r, row in zip(rejected, rows, strict=True) if not row["unsupported"]]
    caught = f"{sum(bad) / len(bad):.2f} ({sum(bad)}/{len(bad)})" if bad else "-"
    wrong = f"{sum(good) / len(good):.2f} ({sum(good)}/{len(good)})" if good else "-"
    return caught, wrong


def tune(rows: Sequence[dict[str, Any]], kinds: Sequence[str], scores: Sequence[float | None]) -> float:
    """The meaning threshold that catches most on ``rows`` with at most MAX_REJECTED supported rejected."""
    best = (-1.0, 0.0)
    candidates = sorted({s for s in scores if s is not None} | {0.0})
    for threshold in [*candidates, max(candidates) + 0.01]:
        rejected = [bool(k) or (s is not None and s < threshold) for k, s in zip(kinds, scores, strict=True)]
        bad = [r for r, row in zip(rejected, rows, strict=True) if row["unsupported"]]
        good = [r for r, row in zip(rejected, rows, strict=True) if not row["unsupported"]]
        if good and sum(good) / len(good) > MAX_REJECTED:
            break
        caught = sum(bad) / len(bad) if bad else 0.0
        if caught > best[0]:
            best = (caught, threshold)
    return round(best[1], 2)


def report(
    rows: list[dict[str, Any]],
    kinds: list[str],
    scores: list[float | None],
    threshold: float | None,
    label: str,
) -> None:
    halves = list(dict.fromkeys(row["half"] for row in rows))
    print(f"\n== {label}")
    print(f"{'':28}" + "".join(f"{h + ' caught':>22}{h + ' rejected':>22}" for h in halves))

    def line(name: str, keep: Any, reject: Any) -> None:
        cells = []
        for half in halves:
            picked = [(row, reject(i)) for i, row in enumerate(rows) if row["half"] == half and keep(row)]
            caught, wrong = rates([p[0] for p in picked], [p[1] for p in picked])
            cells.append(f"{caught:>22}{wrong:>22}")
        print(f"{name:28}" + "".join(cells))

    def rejected(i: int) -> bool:
        score = scores[i]
        return bool(kinds[i]) or (threshold is not None and score is not None and score < threshold)

    line("all checks", lambda row: True, rejected)
    line("  form", lambda row: True, lambda i: kinds[i] == "form")
    line("  number", lambda row: True, lambda i: kinds[i] == "number")
    line("  name", lambda row: True, lambda i: kinds[i] == "name")
    line("  no evidence", lambda row: True, lambda i: kinds[i] == "evidence")
    if threshold is not None:
        line(
            f"  meaning (< {threshold:.2f})",
            lambda row: True,
            lambda i: scores[i] is not None and scores[i] < threshold,  # type: ignore[operator]
        )
    for language in sorted({row["lang"] for row in rows}):
        line(f"  lang {language}", lambda row, lang=language: row["lang"] == lang, rejected)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--perturbed", default=str(PERTURBED), help="hand-written pairs, reported apart")
    parser.add_argument(
        "--embedder", default="e5", help="e5, use, gguf (any EmbeddingSettings backend) or none"
    )
    parser.add_argument("--threshold", type=float, help="use this meaning threshold instead of tuning one")
    parser.add_argument("--show", action="store_true", help="list every statement the checker gets wrong")
    args = parser.parse_args()

    rows = load(Path(args.data))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        counts[row["half"]][row["label"]] += 1
    print(
        f"{len(rows)} statements: "
        + "; ".join(f"{half}: {dict(labels)}" for half, labels in sorted(counts.items()))
        + f"; languages: {dict(sorted(_count(row['lang'] for row in rows).items()))}"
    )
    kinds = lexical_verdicts(rows)
    if args.embedder == "none":
        report(rows, kinds, [None] * len(rows), None, "form + number + name checks only (no embedder)")
        return

    embedder = make_embedder(EmbeddingSettings.model_validate({"backend": args.embedder}))
    started = time.perf_counter()
    scores = similarities(rows, embedder)
    elapsed = time.perf_counter() - started
    embedded = sum(1 for s in scores if s is not None)
    print(f"embedder {embedder.model_name}: {embedded} statements embedded in {elapsed:.1f} s")
    report(rows, kinds, [None] * len(rows), None, "form + number + name checks only")
    default = SupportChecker(embedder).min_similarity
    report(rows, kinds, scores, default, f"with meaning, the default threshold for {embedder.model_name}")
    dev = [i for i, row in enumerate(rows) if row["half"] == "dev"]
    tuned = args.threshold
    if tuned is None:
        tuned = tune([rows[i] for i in dev], [kinds[i] for i in dev], [scores[i] for i in dev])
    report(rows, kinds, scores, tuned, f"with meaning, threshold {tuned:.2f} (tuned on the dev half only)")
    perturbed = load(Path(args.perturbed)) if Path(args.perturbed).is_file() else []
    if perturbed:
        p_kinds = lexical_verdicts(perturbed)
        p_scores = similarities(perturbed, embedder)
        report(
            perturbed,
            p_kinds,
            p_scores,
            tuned,
            f"hand-written pairs (not model output), threshold {tuned:.2f}",
        )
        if args.show:
            _show(perturbed, p_kinds, p_scores, tuned)
    if args.show:
        _show(rows, kinds, scores, tuned)


def _show(rows: list[dict[str, Any]], kinds: list[str], scores: list[float | None], threshold: float) -> None:
    print(f"\nwrong verdicts at threshold {threshold:.2f}:")
    for i, row in enumerate(rows):
        score = scores[i]
        rejected = bool(kinds[i]) or (score is not None and score < threshold)
        if rejected != row["unsupported"]:
            what = "missed" if row["unsupported"] else "rejected"
            print(f"  {what} {row['id']} [{kinds[i] or score}] {row['statement']}  -- {row['why']}")


def _count(values: Any) -> dict[str, int]:
    counted: dict[str, int] = defaultdict(int)
    for value in values:
        counted[value] += 1
    return counted


if __name__ == "__main__":
    main()

"""The reply step's machine-readable form: one answered question as a JSON object.

What `newsbot ask --json` prints and `newsbot eval --json` prints per question;
the fields are the contract in ``shared/eval/README.md``.
"""

from __future__ import annotations

from typing import Any

from bot.checks.markers import markers
from bot.models import Answer


def answer_record(question_id: str, question: str, result: Answer) -> dict[str, Any]:
    """The JSON object of one answered question: its text, language, refusal, cited sources, ranking, mode, latency."""
    by_marker = {s.marker: s for s in result.sources}
    used = sorted(set(markers(result.text)))
    return {
        "id": question_id,
        "question": question,
        "answer": result.text,
        "language": result.language,
        "refused": result.refused,
        "citations": [
            {"marker": m, "article_id": by_marker[m].article_id, "title": by_marker[m].title}
            for m in used
            if m in by_marker
        ],
        "retrieved": list(result.retrieved),
        "mode": result.mode,
        "latency_ms": round(result.latency_ms, 1),
    }

"""`newsbot eval`: run a questions file through the pipeline and score retrieval, citations and answers.

The file format is the contract in ``shared/eval/README.md``: every turn but
the last is asked first in one session; the last is the one scored. Each
answer is handed on as the JSON record of :mod:`bot.answering.answer_record`.
"""

from __future__ import annotations

import functools
import json
import re
import statistics
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.answering.answer_record import answer_record
from bot.answering.questions import answer_kind
from bot.answering.selection import is_broad
from bot.checks.citations import answer_language, statement_sentences
from bot.checks.markers import GROUP, markers, strip_markers
from bot.models import Answer, Backend, Turn
from index.errors import ConfigError
from index.text.lexicon import fold
from index.text.words import ALPHANUMERIC

_MARKER_RUN = re.compile(
    rf"\]\s*[.!?…]+[ \t]*(?:{GROUP}[ \t]*)+(?:\n|$)|^[ \t]*(?:{GROUP}[ \t]*)+$", re.MULTILINE
)
"""Markers left with no words of their own: after a cited sentence's full stop ("… [1]. [1][2]"), or a line of them."""


def holds_fact(text: str, fact: Sequence[str], *, folded: bool = False) -> bool:
    """Whether ``text`` holds one spelling of ``fact``; ``folded`` also matches across scripts (Восточный/Vostochny)."""
    lowered = text.lower()
    if any(spelling.lower() in lowered for spelling in fact):
        return True
    return folded and any(fold(spelling) in fold(text) for spelling in fact)


def repeated_sentences(text: str) -> int:
    """Statement sentences that say again, word for word, what an earlier one said."""
    seen: set[str] = set()
    repeats = 0
    for sentence in statement_sentences(text):
        key = " ".join(ALPHANUMERIC.findall(strip_markers(sentence).lower()))
        repeats += key in seen
        seen.add(key)
    return repeats


def marker_runs(text: str) -> int:
    """Bare runs of markers: "[1][2]" with nothing between, or markers left after the final full stop."""
    return len(_MARKER_RUN.findall(text))


@dataclass(frozen=True)
class Question:
    """One line of a questions file."""

    id: str
    lang: str
    turns: tuple[str, ...]
    articles: tuple[str, ...]
    facts: tuple[tuple[str, ...], ...]
    answerable: bool
    kind: str = ""
    """broad, factoid or unanswerable when the file says; else read from the question."""
    off_topic: bool = False
    """An unanswerable question on another subject than the articles' (``"topic": "off"``)."""

    @property
    def broad(self) -> bool:
        return self.kind == "broad" if self.kind else self.answerable and is_broad(self.turns[-1])

    @property
    def factoid(self) -> bool:
        """An answerable question asking for one figure, date, name or place."""
        if self.kind:
            return self.kind == "factoid"
        return self.answerable and not self.broad and answer_kind(self.turns[-1]) is not None


def load_questions(path: Path) -> list[Question]:
    """Parse a questions file; a malformed line is an error naming the file and line."""
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the questions file {path}: {exc.strerror}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            turns = tuple(str(t) for t in raw["turns"])
            if not turns:
                raise ValueError("no turns")
            questions.append(
                Question(
                    id=str(raw.get("id", number)),
                    lang=str(raw.get("lang", "")),
                    turns=turns,
                    articles=tuple(raw.get("articles", ())),
                    facts=tuple(tuple(f) for f in raw.get("facts", ())),
                    answerable=bool(raw.get("answerable", True)),
                    kind=str(raw.get("kind", "")),
                    off_topic=raw.get("topic") == "off",
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{number}: not a valid question line ({exc})") from exc
    return questions


@dataclass
class Scores:
    """Running totals of every metric in the summary."""

    ranks: list[int | None] = field(default_factory=list)
    sentences: int = 0
    cited_sentences: int = 0
    cited_articles: int = 0
    cited_gold: int = 0
    dangling: int = 0
    language_checked: int = 0
    language_ok: int = 0
    refusals_right: int = 0
    questions: int = 0
    facts: int = 0
    facts_found: int = 0
    latencies: list[float] = field(default_factory=list)
    first_tokens: list[float] = field(default_factory=list)
    first_useful: list[float] = field(default_factory=list)
    answerable: int = 0
    evidence_at_1: int = 0
    evidence_at_3: int = 0
    repeated: int = 0
    runs: int = 0
    answered: int = 0
    fallbacks: int = 0
    modes: dict[str, int] = field(default_factory=dict)
    by_language: dict[str, list[int]] = field(default_factory=dict)
    broad_facts: int = 0
    broad_found: int = 0
    factoids: int = 0
    typed: int = 0
    typed_right: int = 0
    model_statements: int = 0
    refusal_split: dict[str, list[int]] = field(default_factory=dict)
    """on-topic / off-topic unanswerable, answerable: [right, questions]."""

    def add(self, question: Question, result: Answer) -> None:
        self.questions += 1
        self.latencies.append(result.latency_ms)
        if result.first_token_ms is not None:
            self.first_tokens.append(result.first_token_ms)
        if result.first_useful_ms is not None:
            self.first_useful.append(result.first_useful_ms)
        self.repeated += repeated_sentences(result.text)
        self.runs += marker_runs(result.text)
        if not result.refused:
            self.answered += 1
            self.fallbacks += result.mode == "extractive" or result.note is not None
        self.modes[result.mode] = self.modes.get(result.mode, 0) + 1
        gold = set(question.articles)
        if question.answerable:
            rank = next((i for i, a in enumerate(result.retrieved) if a in gold), None)
            self.ranks.append(rank)
            self.answerable += 1
            # The quotes are verbatim, often in another script than the gold spellings: folded too.
            self.evidence_at_1 += any(
                holds_fact(q, f, folded=True) for q in result.quotes[:1] for f in question.facts
            )
            self.evidence_at_3 += any(
                holds_fact(q, f, folded=True) for q in result.quotes[:3] for f in question.facts
            )
            for fact in question.facts:
                self.facts += 1
                lowered = result.text.lower()
                found = any(spelling.lower() in lowered for spelling in fact)
                self.facts_found += found
                if question.broad:
                    self.broad_facts += 1
                    self.broad_found += found
            if question.factoid:
                self.factoids += 1
                self.typed += result.typed is not None
                self.typed_right += result.typed is not None and any(
                    holds_fact(result.typed, f, folded=True) for f in question.facts
                )
        if not result.refused and result.mode not in ("extractive", "refusal"):
            self.model_statements += 1
        self.refusals_right += result.refused == (not question.answerable)
        group = "answerable" if question.answerable else "off-topic" if question.off_topic else "on-topic"
        tally = self.refusal_split.setdefault(group, [0, 0])
        tally[0] += result.refused == (not question.answerable)
        tally[1] += 1
        known = {s.marker for s in result.sources}
        for marker in markers(result.text):
            self.dangling += marker not in known
        if not result.refused:
            for sentence in statement_sentences(_without_notes(result.text)):
                self.sentences += 1
                self.cited_sentences += bool(markers(sentence))
            used = set(markers(result.text))
            cited = {s.article_id for s in result.sources if s.marker in used}
            self.cited_articles += len(cited)
            self.cited_gold += len(cited & gold)
        detected = answer_language(strip_markers(result.text), question.lang) or result.language
        right_language = detected == question.lang
        self.language_checked += 1
        self.language_ok += right_language
        per = self.by_language.setdefault(question.lang, [0, 0, 0])
        per[0] += 1
        per[1] += right_language
        per[2] += result.note is not None

    def summary(self) -> dict[str, Any]:
        ranks = self.ranks

        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 3) if whole else None

        return {
            "questions": self.questions,
            "hit@1": share(sum(r == 0 for r in ranks), len(ranks)),
            "hit@5": share(sum(r is not None and r < 5 for r in ranks), len(ranks)),
            "mrr": round(sum(1 / (r + 1) for r in ranks if r is not None) / len(ranks), 3) if ranks else None,
            "cited_sentence_share": share(self.cited_sentences, self.sentences),
            "cited_gold_share": share(self.cited_gold, self.cited_articles),
            "markers_without_source": self.dangling,
            "language_match": share(self.language_ok, self.language_checked),
            "refusal_accuracy": share(self.refusals_right, self.questions),
            "fact_recall": share(self.facts_found, self.facts),
            "broad_fact_recall": share(self.broad_found, self.broad_facts),
            "typed_answer_share": share(self.typed, self.factoids),
            "typed_answer_right": share(self.typed_right, self.typed),
            "answers_with_model_statements": self.model_statements,
            "refusal_by_group": {k: share(ok, n) for k, (ok, n) in sorted(self.refusal_split.items())},
            "evidence_recall@1": share(self.evidence_at_1, self.answerable),
            "evidence_recall@3": share(self.evidence_at_3, self.answerable),
            "repeated_sentences": self.repeated,
            "marker_runs": self.runs,
            "fallback_share": share(self.fallbacks, self.answered),
            "latency_p50_ms": round(statistics.median(self.latencies), 1) if self.latencies else None,
            "first_token_p50_ms": round(statistics.median(self.first_tokens), 1)
            if self.first_tokens
            else None,
            "first_useful_p50_ms": round(statistics.median(self.first_useful), 1)
            if self.first_useful
            else None,
            "modes": self.modes,
            "per_language": {
                lang: {"questions": n, "language_match": share(ok, n), "fallback_share": share(fb, n)}
                for lang, (n, ok, fb) in sorted(self.by_language.items())
            },
        }


def run_eval(
    questions: Iterable[Question],
    backend: Backend,
    *,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    history_turns: int = 6,
) -> dict[str, Any]:
    """Ask every question (earlier turns first, in one session) and return the summary."""
    scores = Scores()
    for question in questions:
        history: list[Turn] = []
        result: Answer | None = None
        for turn in question.turns:
            # Streamed (into nothing) so the time to the first token is measured as a user would see it.
            result = backend.answer(turn, history[-history_turns:] if history_turns else [], _ignore)
            history.append(Turn(turn, result.text, result.language))
        assert result is not None
        scores.add(question, result)
        if on_result is not None:
            on_result(answer_record(question.id, question.turns[-1], result))
    return scores.summary()


NOTE_KEYS = ("hedge_note", "closest_passage_note", "fallback_note", "llm_unavailable_note")
"""Fixed notes about the quotes, not statements about the news: no marker is owed."""


@functools.cache
def _notes() -> frozenset[str]:
    from bot.answering.prompts import load_prompts

    prompts = load_prompts()
    return frozenset(prompts.phrase(key, lang) for key in NOTE_KEYS for lang in prompts.languages())


def _without_notes(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.strip() not in _notes())


def _ignore(_: str) -> None:
    return None


def format_summary(summary: dict[str, Any]) -> Iterator[str]:
    """The human-readable summary lines printed on standard error."""
    for key, value in summary.items():
        if isinstance(value, dict):
            yield f"{key}: {json.dumps(value, ensure_ascii=False)}"
        else:
            yield f"{key}: {value}"

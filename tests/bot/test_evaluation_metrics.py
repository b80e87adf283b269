"""The answer-quality counts of `newsbot eval`'s summary: repeats, marker runs, evidence recall."""

from __future__ import annotations

from bot.evaluation import Question, Scores, holds_fact, marker_runs, repeated_sentences
from bot.models import Answer


def test_a_bare_run_of_markers_after_the_last_sentence_is_counted() -> None:
    assert marker_runs("Kim went to the plant [1]. [1][2]") == 1
    assert marker_runs("Kim went [1].\n[2]") == 1
    assert marker_runs("Kim went to the plant [1][2]. He met the mayor [1].") == 0
    assert marker_runs("• “Ким приехал.” [1]\n\nKim came [1].") == 0


def test_a_sentence_said_again_word_for_word_is_a_repeat() -> None:
    assert repeated_sentences("Kim came [1]. Kim came [1]. Kim came [2]. He left [1].") == 2
    assert repeated_sentences("Kim came [1]. He left [1].") == 0


def test_facts_in_quotes_match_across_scripts() -> None:
    assert holds_fact("на космодроме «Восточный»", ("Vostochny",), folded=True)
    assert not holds_fact("на космодроме «Восточный»", ("Vostochny",))


def test_evidence_recall_counts_the_first_and_first_three_quotes() -> None:
    question = Question("q1", "en", ("Where?",), ("a",), (("Vostochny",),), True)
    scores = Scores()
    quotes = ("They met in Moscow.", "Talks were held at Vostochny.", "Other.")
    scores.add(question, Answer("They met at Vostochny [1].", "en", (), False, "local", quotes=quotes))
    summary = scores.summary()
    assert summary["evidence_recall@1"] == 0.0
    assert summary["evidence_recall@3"] == 1.0
    assert summary["repeated_sentences"] == 0
    assert summary["fallback_share"] == 0.0

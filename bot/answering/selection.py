"""Quote selection step: which scored sentences the reply shows, in which order.

A question that asks one thing gets its best answering sentences (up to ``FOCUSED_QUOTES``). A broad
one (what someone said, did or promised; what is known; several things at once) gets up to
``BROAD_QUOTES``, chosen by maximal marginal relevance: each next quote is the one whose answerability,
less its overlap with the quotes already chosen, is highest, so each adds a fact not yet shown; and
every article that holds an answering sentence contributes one.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.answering.answerability import AnswerabilityModel
from bot.answering.evidence import Evidence
from bot.answering.questions import STOPWORDS, answer_kind, words
from bot.checks.claims import name_words, word_number
from index.text import lexicon
from index.text.lexicon import fold_word

FOCUSED_QUOTES = 3
BROAD_QUOTES = 5
FOCUSED_MIN_RELATIVE = 0.6
"""A focused question's further quotes score at least this share of the best one."""
REPEAT = 0.8
"""A sentence sharing this share of its content words with a chosen quote repeats it: never quoted too."""
DIVERSITY = 0.35
"""Weight of the overlap with quotes already chosen, against answerability (MMR's 1 - λ)."""

_BROAD = tuple(sorted(lexicon.words("question_words", "broad")))
_MONTH_WORDS = frozenset(
    name.lower() for months in lexicon.phrases("dates", "months").values() for forms in months for name in forms.split()
)
_KINDS = {
    kind: lexicon.words("question_words", kind) for kind in ("who", "where", "when", "how_many")
}


def is_broad(question: str) -> bool:
    """Whether ``question`` asks for several facts: said/did/promised/known, or two kinds of thing at once."""
    lowered = [word.lower() for word in words(question)]
    kinds = {kind for kind, cues in _KINDS.items() if any(word in cues for word in lowered)}
    if len(kinds) >= 2 or question.count("?") >= 2:
        return True
    if answer_kind(question) is not None:
        return False
    return any(word.startswith(_BROAD) for word in lowered)


def _content(sentence: str) -> frozenset[str]:
    return frozenset(fold_word(w) for w in words(sentence) if w.lower() not in STOPWORDS and len(w) > 2)


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / (min(len(a), len(b)) or 1)


def choose_quotes(question: str, evidence: Sequence[Evidence], model: AnswerabilityModel) -> list[Evidence]:
    """The quotes to show, best first (``evidence`` comes scored, best first)."""
    pool = [item for item in evidence if item.score >= model.related_bar]
    if not pool:
        return []
    contents = {id(item): _content(item.sentence) for item in pool}
    if not is_broad(question):
        floor = FOCUSED_MIN_RELATIVE * pool[0].score
        chosen: list[Evidence] = []
        for item in pool:
            if len(chosen) == FOCUSED_QUOTES or item.score < floor:
                break
            if all(_overlap(contents[id(item)], contents[id(c)]) < REPEAT for c in chosen):
                chosen.append(item)
        return chosen
    return _diverse(pool, model, contents)


def _diverse(
    pool: Sequence[Evidence], model: AnswerabilityModel, contents: dict[int, frozenset[str]]
) -> list[Evidence]:
    chosen = [pool[0]]
    rest = list(pool[1:])
    while rest and len(chosen) < BROAD_QUOTES:
        def gain(item: Evidence) -> float:
            seen = max(_overlap(contents[id(item)], contents[id(c)]) for c in chosen)
            return (1 - DIVERSITY) * item.score - DIVERSITY * seen

        rest = [item for item in rest if _overlap(contents[id(item)], contents[id(chosen[-1])]) < REPEAT]
        if not rest:
            break
        best = max(rest, key=gain)
        if gain(best) <= 0:
            break
        chosen.append(best)
        rest.remove(best)
    # Every article holding an answering sentence speaks once, in place of the weakest other quote.
    shown = {item.article_id for item in chosen}
    for item in pool:
        if item.article_id not in shown and item.score >= model.answer_bar:
            if len(chosen) == BROAD_QUOTES:
                counts = {a: sum(c.article_id == a for c in chosen) for a in shown}
                weakest = min(
                    (c for c in chosen[1:] if counts[c.article_id] > 1), key=lambda c: c.score, default=None
                )
                if weakest is None:
                    break
                chosen.remove(weakest)
            chosen.append(item)
            shown.add(item.article_id)
    return chosen


def answering_words(question: str, quotes: Sequence[Evidence]) -> list[str]:
    """The words of the quotes that hold what a who/where/when/how-many question asks for, to mark.

    Figures (digits, number words, compounds such as "чотиригодинна") for how many / how long / when,
    with month names for when; names the question doesn't already hold for who / where. A question
    without a kind marks nothing: the whole quote is the answer.
    """
    kind = answer_kind(question)
    if kind is None:
        return []
    asked = [fold_word(w) for w in words(question)]
    found: list[str] = []
    for item in quotes:
        if kind in ("number", "when"):
            found += [w for w in words(item.sentence) if w[0].isdigit() or word_number(w) is not None]
            if kind == "when":
                found += [w for w in words(item.sentence) if w.lower() in _MONTH_WORDS]
        else:
            found += [
                w for w in name_words(item.sentence) if not any(lexicon.same_word(fold_word(w), a) for a in asked)
            ]
    return found

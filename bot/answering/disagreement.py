"""Check step, across articles: find where the cited articles give different figures for one thing.

``disagreements(groups)`` reads the evidence groups of one answer (the ``EvidenceGroup`` blocks the
prompt shows) and returns, per measured thing, the figure each article gives, when they are not all
the same: a four-hour meeting in one article ("чотиригодинна зустріч") and a five-hour one in another
("петчасовата среща") give ``Disagreement("hours", ((1, "4"), (2, "5")))``.

How to use it when composing an answer: call it on the groups the answer cites; for each
disagreement whose ``thing`` the question or the answer is about (a statement stating one of the
figures, say), write the fixed "sources differ" phrase and cite each side with its own marker
("4 hours [1], 5 hours [2]") instead of picking one. A "thing" is a unit of measure (hours, days,
minutes, years, percent), recognised in ru/uk/bg/en (and de/fr/es/it/pl by word), with the
figure in digits, as a number word ("п'ять", "five") or glued into a compound ("четырёхчасовой").
The function only compares figures with the same unit; two articles measuring different events in
the same unit are a false alarm, so keep the question in the decision. Pure: no I/O, no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from bot.answering.evidence import Evidence, EvidenceGroup, number_evidence
from bot.checks.claims import word_number
from index.text.language import detect_language
from index.text.lexicon import fold
from index.text.words import MEASURE_TOKEN, NUMBER

# Folded stems of unit words (index.text.lexicon.fold transliterates Cyrillic), per canonical unit.
# Ukrainian "година" is an hour, Bulgarian "година" a year: decided by the sentence's language.
_UNITS: dict[str, tuple[str, ...]] = {
    "hours": ("hour", "chas", "stund", "heure", "hora", "ore", "godzin"),
    "minutes": ("minut",),
    "days": ("day", "den", "dni", "dnia", "dnei", "dniv", "dnev", "denn", "tag", "jour", "dia", "giorn", "dzien"),
    "years": ("year", "god", "let", "lit", "rik", "rok", "richn", "jahr", "ans", "anno", "anni", "años"),
    "percent": ("percent", "per cent", "protsent", "vidsot", "prozent", "pour", "porcent", "procent"),
}  # fmt: skip
_GODIN = "godin"


class Disagreement(NamedTuple):
    """One measured thing and the figure each article (by marker) gives for it, in marker order."""

    thing: str
    figures: tuple[tuple[int, str], ...]


def _unit(word: str, language: str) -> str | None:
    folded = fold(word).replace("'", "").replace("’", "")
    if folded.startswith(_GODIN):
        return "hours" if language == "uk" else "years" if language == "bg" else None
    for unit, stems in _UNITS.items():
        if folded.startswith(tuple(fold(stem) for stem in stems)):
            return unit
    return None


def _compound_unit(word: str, language: str) -> str | None:
    """The unit glued after a number stem: "четырёхчасовой" → hours, "five-hour" is two tokens."""
    folded = fold(word)
    for unit_stem, unit in (("chas", "hours"), ("godin", "hours"), ("dnev", "days"), ("denn", "days"),
                            ("minut", "minutes"), ("letn", "years"), ("richn", "years"), ("godishn", "years")):  # fmt: skip
        position = folded.find(unit_stem, 2)
        if position > 0:
            if unit_stem == _GODIN and language == "bg":
                return "years"
            return unit
    return None


def measures(sentence: str) -> list[tuple[str, str]]:
    """(unit, figure) pairs stated in one sentence: "5 часов", "п'ять годин", "петчасовата", "4-hour"."""
    language = detect_language(sentence, default="ru")
    tokens = MEASURE_TOKEN.findall(sentence)
    found: list[tuple[str, str]] = []
    for index, token in enumerate(tokens):
        if token.endswith("%"):
            found.append(("percent", token[:-1].replace(",", ".")))
            continue
        if NUMBER.fullmatch(token):
            value = token.replace(",", ".")
            if len(token) == 4 and token.isdigit() and 1000 <= int(token) <= 2100:
                continue  # a year as a date: "2023 года"
        else:
            number = word_number(token)
            if number is None:
                continue
            compound = _compound_unit(token, language)
            if compound is not None:
                found.append((compound, str(number)))
                continue
            value = str(number)
        following = tokens[index + 1 : index + 3]  # "5 часов", "5 полных часов"
        for word in following:
            unit = _unit(word, language)
            if unit is not None:
                found.append((unit, value))
                break
    return found


def disagreements(groups: Sequence[EvidenceGroup]) -> list[Disagreement]:
    """Things two or more articles give different figures for (see the module docstring for use)."""
    by_thing: dict[str, dict[int, str]] = {}
    for group in groups:
        for sentence in (group.title, *group.sentences):
            for thing, figure in measures(sentence):
                by_thing.setdefault(thing, {}).setdefault(group.marker, figure)
    found = []
    for thing, figures in by_thing.items():
        if len(figures) >= 2 and len(set(figures.values())) >= 2:
            found.append(Disagreement(thing, tuple(sorted(figures.items()))))
    return found


class Side(NamedTuple):
    """One article's figure for a disputed thing, with the quote that states it."""

    quote: Evidence
    figure: str


DISPUTED_QUOTES = 4
"""How many of the best answering quotes are compared for differing figures."""


def disputed(quotes: Sequence[Evidence]) -> list[tuple[str, list[Side]]]:
    """Things the best answering quotes (best first) give different figures for, each side with its quote.

    Only the quotes' own sentences count (not titles), so every side can be shown and cited. The caller
    decides whether the question is about a figure at all (two articles measuring different events in
    hours are a false alarm otherwise).
    """
    top = list(quotes[:DISPUTED_QUOTES])
    groups, _ = number_evidence(top)
    article_of = {group.marker: group.article_id for group in groups}
    found = []
    for thing, figures in ((d.thing, d.figures) for d in disagreements(groups)):
        sides = []
        for marker, figure in figures:
            quote = next(
                (
                    q
                    for q in top
                    if q.article_id == article_of[marker] and (thing, figure) in measures(q.sentence)
                ),
                None,
            )
            if quote is not None:
                sides.append(Side(quote, figure))
        if len({side.figure for side in sides}) >= 2:
            found.append((thing, sides))
    return found

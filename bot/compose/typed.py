"""Generate step, typed composition: the only thing the bundled model writes is a short typed answer.

For a question asking a figure, a date, a person or a place, and only when the best quote clears the
answer bar, the model copies the words of that quote that answer (``prompts/typed*.j2``: a short
extraction, which a 1.5B model does reliably). The copy must stand in the quote verbatim and hold
the kind of thing asked for; the model's own P(yes) that the quote says it is the answer must clear
``CONFIRM_BAR``. What is shown is built by rule, not by the model: the figure exactly as the quote
writes it (a number word as digits) with its unit in the asker's language, a date with the asker's
month name, a name or place transliterated into the asker's script. A why/what/how question gets
no typed answer: the quotes are the answer.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import TYPE_CHECKING

import cyrtranslit

from bot.answering.context import source_of
from bot.answering.disagreement import measures
from bot.answering.judgment import yes_probability
from bot.answering.questions import answer_kind, words
from bot.checks.claims import figures, name_words, word_number
from index.text import lexicon
from index.text.lexicon import fold_word
from index.text.words import NUMBER

if TYPE_CHECKING:
    from bot.answering.context import AnswerContext
    from bot.answering.evidence import Evidence
    from bot.answering.pipeline import Message
    from bot.answering.prompts import Prompts

logger = logging.getLogger(__name__)

TYPED_EXAMPLES = "typed_examples.toml"
TYPED_MAX_TOKENS = 24
_JOINER_LETTERS = 3
"""A lower-case word this short between two names joins them into one place ("на", "on", "am", "sur")."""
SHORT_SPAN = 4
"""Most words of a figure the model copies in other words than the quote's."""
CONFIRM_BAR = 0.5
"""The model's P(yes) that the quote gives this answer, needed to show it."""

KINDS = {"who": "name", "where": "place", "number": "number", "when": "date"}
"""The typed answer each kind of question gets."""

_NONE = re.compile(r"^\W*none\W*$", re.IGNORECASE)
_CYRILLIC_LANGUAGES = {"ru": "ru", "uk": "ua", "bg": "bg"}
"""Languages written in Cyrillic, with cyrtranslit's code for each."""
_ENGLISH_DIGRAPHS = (
    ("shch", "щ"), ("zh", "ж"), ("kh", "х"), ("ch", "ч"), ("sh", "ш"), ("ts", "ц"), ("yu", "ю"),
    ("ya", "я"), ("yo", "ё"), ("x", "кс"), ("w", "в"), ("q", "к"),
)  # fmt: skip
"""English romanisation's letter groups, each one Cyrillic letter (ё is е outside Russian)."""
_PLAIN_LATIN = str.maketrans("ăĂčČšŠžŽ", "aAcCsSzZ")
"""Scholarly marks the asker's spelling doesn't use ("Aleksandăr" → "Aleksandar")."""
_GENITIVE_MONTHS = {"ru", "uk"}
"""Languages whose month list gives the genitive ("сентября") second: the form a date takes."""


class TypedAnswer:
    """A typed answer from the best quote, confirmed by the model's yes/no, under the quotes."""

    def compose(self, context: AnswerContext) -> None:
        """Write "Answer: <value> [n]" when every check holds; otherwise write nothing."""
        kind = KINDS.get(answer_kind(context.question) or "")
        if kind is None or context.verdict != "answer" or not context.quotes:
            return
        best = context.quotes[0]
        if best.score < context.pipeline.answerability.answer_bar:
            return
        span = self._extract(context, best)
        if span is None:
            return
        value = render(kind, span, context.language, context.pipeline.prompts, context.question)
        if value is None:
            logger.info("typed answer %r holds no %s", span, kind)
            return
        prompts = context.pipeline.prompts
        confirmed = yes_probability(context.pipeline.generator, prompts, context.question, best.sentence, span)
        logger.info("typed answer %r (%s): P(yes) %s", value, kind, confirmed)
        if confirmed is None or confirmed < CONFIRM_BAR:
            return
        assert context.writer is not None
        context.writer.typed_answer(context.phrase("typed_answer_label"), value, source_of(best), best.sentence)
        context.typed = value
        if _folded(span) in _folded(best.sentence):
            context.marked.insert(0, span)

    def _extract(self, context: AnswerContext, best: Evidence) -> str | None:
        """The words of the best quote the model copies as the answer; None when it copies nothing true."""
        messages = typed_messages(context.pipeline.prompts, context.question, best.sentence)
        reply = ""
        for delta in context.pipeline.model().stream(messages, max_tokens=TYPED_MAX_TOKENS, temperature=0.0):
            context.attempt.heard()
            reply += delta
        span = reply.strip().split("\n")[0].strip().strip("\"'«»“”.")
        if not span or _NONE.match(span):
            context.attempt.said_none = True
            return None
        if _folded(span) not in _folded(best.sentence) and not _same_figures(span, best.sentence):
            logger.info("typed answer %r is not in the quote: dropped", span)
            return None
        return span


def typed_messages(prompts: Prompts, question: str, sentence: str) -> list[Message]:
    """The extraction chat: the instruction, the worked examples as earlier turns, the quote and question."""
    messages: list[Message] = [{"role": "system", "content": prompts.render("typed_system")}]
    for example in prompts.table(TYPED_EXAMPLES).get("example", []):
        user = prompts.render("typed", sentence=example["sentence"], question=example["question"])
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": example["answer"]}]
    messages.append({"role": "user", "content": prompts.render("typed", sentence=sentence, question=question)})
    return messages


def _same_figures(span: str, sentence: str) -> bool:
    """A figure copied in other words ("7" for "семь"): a few words, one figure, which the quote states."""
    stated = figures(span)
    return len(span.split()) <= SHORT_SPAN and len(stated) == 1 and stated <= figures(sentence)


def _folded(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def render(kind: str, span: str, language: str, prompts: Prompts, question: str = "") -> str | None:
    """The typed answer shown for ``span`` (copied from the quote) in ``language``; None if it holds none."""
    if kind == "number":
        return _figure(span, language, prompts)
    if kind == "date":
        return _date(span, language)
    return _name(span, language, question)


def _figure(span: str, language: str, prompts: Prompts) -> str | None:
    """ "4 h" for "четыре часа", "3,5 h" for "3,5 часа", "7" for "семь поездок": the figure kept as written."""
    if len(figures(span)) != 1:
        return None  # several figures: which one answers is not for a rule to guess
    digits: list[str] = NUMBER.findall(span)
    measured = measures(span)
    if measured:
        unit, figure = measured[0]
        figure = digits[0] if digits else figure
        return f"{figure} {prompts.phrase(f'unit_{unit}', language)}"
    if digits:
        return digits[0]
    for token in words(span):
        value = word_number(token)
        if value is not None:
            return str(value)
    return None


@functools.cache
def _months() -> dict[str, tuple[int, str]]:
    """Every month form of every language → (month number, language)."""
    forms: dict[str, tuple[int, str]] = {}
    for lang, months in lexicon.phrases("dates", "months").items():
        for number, names in enumerate(months, start=1):
            for name in names.split():
                forms.setdefault(name.lower(), (number, lang))
    return forms


def _month_name(number: int, language: str) -> str | None:
    months = lexicon.phrases("dates", "months").get(language)
    if not months:
        return None
    names = months[number - 1].split()
    return names[1] if language in _GENITIVE_MONTHS and len(names) > 1 else names[0]


def _date(span: str, language: str) -> str | None:
    """ "13 September 2023" for "13 сентября 2023 года", in ``language``'s month name."""
    forms = _months()
    month = next((forms[w.lower()][0] for w in words(span) if w.lower() in forms), None)
    day = next((int(d) for d in NUMBER.findall(span) if d.isdigit() and 1 <= int(d) <= 31), None)
    year = next((d for d in NUMBER.findall(span) if len(d) == 4 and d.isdigit()), None)
    if month is None:
        return year
    name = _month_name(month, language) or _month_name(month, "en")
    if language == "en" and name:
        name = name.capitalize()
    return " ".join(part for part in (str(day) if day else "", name or "", year or "") if part)


def _name(span: str, language: str, question: str) -> str | None:
    """The names in ``span`` (titles, prepositions and the question's own names dropped), in ``language``'s script.

    A name is what ``name_words`` reads as one, the span read as the middle of a sentence (its first
    word is no sentence opening: "Комсомолск на Амур"); a run of three capitalised words opening the
    span is a title and a name ("Кметът Александър Жорник": the title goes). Names joined by a short
    lower-case word are one place ("Комсомолск на Амур"). A name the question holds is no answer.
    """
    cleaned = span.replace("«", " ").replace("»", " ").replace('"', " ")
    words = [w.strip(",.;:") for w in cleaned.split()]
    names = {w.strip(",.;:") for w in name_words("и " + cleaned)}
    asked = [fold_word(w) for w in question.split()]
    kept = {n for n in names if not any(lexicon.same_word(fold_word(n), a) for a in asked)}
    runs: list[list[str]] = [[]]
    for index, word in enumerate(words):
        joins = (
            runs[-1] and word.islower() and len(word) <= _JOINER_LETTERS
            and index + 1 < len(words) and words[index + 1] in kept
        )
        if word in kept or joins:
            runs[-1].append(word)
        elif runs[-1]:
            runs.append([])
    found = [run[1:] if i == 0 and len(run) >= 3 and words and run[0] == words[0] and all(
        w[:1].isupper() for w in run) else run for i, run in enumerate(r for r in runs if r)]
    return ", ".join(transliterate(" ".join(run), language) for run in found if run) or None


def transliterate(name: str, language: str) -> str:
    """``name`` in the script ``language`` is written in (Cyrillic for ru/uk/bg, else Latin)."""
    cyrillic = any("\u0400" <= char <= "\u04ff" for char in name)
    target = _CYRILLIC_LANGUAGES.get(language)
    if cyrillic and target is None:
        source = _source_language(name)
        latin = _recase(name, cyrtranslit.to_latin(name, source)).replace("'", "")
        return latin.translate(_PLAIN_LATIN)
    if not cyrillic and target is not None:
        # English spellings write one Cyrillic letter with two ("Zhornik"); cyrtranslit reads its own scheme.
        lowered = name.lower()
        for latin, cyrillic_letter in _ENGLISH_DIGRAPHS:
            lowered = lowered.replace(latin, cyrillic_letter)
        return _recase(name, cyrtranslit.to_cyrillic(lowered, target))
    return name


def _source_language(name: str) -> str:
    """cyrtranslit's code for a Cyrillic name: Ukrainian and Bulgarian letters tell them from Russian."""
    if any(char in "іїєґІЇЄҐ" for char in name):
        return "ua"
    if any(char in "ъЪ" for char in name) and not any(char in "ыэЫЭ" for char in name):
        return "bg"
    return "ru"


def _recase(original: str, converted: str) -> str:
    """Each word capitalised as the original's ("ZHornik" → "Zhornik")."""
    out = []
    for before, after in zip(original.split(), converted.split(), strict=False):
        out.append(after[:1].upper() + after[1:].lower() if before[:1].isupper() else after)
    return " ".join(out) if len(out) == len(converted.split()) else converted

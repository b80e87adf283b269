"""Check-citations step: read an answer's sentences (``bot.checks.sentences``) and ``[n]`` markers (their
grammar is ``bot.checks.markers``), and judge it.

The promise checked here: every statement carries a marker that points at one
of the answer's numbered sources, and the answer is in the asker's language.
Markers that point nowhere are removed; uncited sentences and a wrong language
are reported so the caller can retry or fall back to quoting the articles.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bot.checks.markers import MARKER, MARKER_RUN, marker_numbers, markers, strip_markers
from bot.checks.sentences import sentence_spans, split_sentences
from bot.models import Source
from index.text import lexicon
from index.text.language import detect_language
from index.text.words import WORD

if TYPE_CHECKING:
    from bot.answering.prompts import Prompts

logger = logging.getLogger(__name__)


_QUOTED = re.compile(r"«[^«»]*»|„[^„“”]*[“”]|“[^“”]*”|\"[^\"\n]*\"")
_URL = re.compile(r"https?://\S+")

_CYRILLIC_LANGUAGES = frozenset("ru uk bg be sr mk kk ky tg mn".split())
_LATIN_LANGUAGES = frozenset("en de fr es it pl pt nl cs sk sl hr ro hu sv da no fi et lv lt tr".split())
_MIN_WORDS_FOR_LANGUAGE = 4
_MIN_WORDS_WITHOUT_FUNCTION_WORDS = 8
# Function words of the Latin-script languages, which confirm or overrule lingua on short answers.
_FUNCTION_WORDS = lexicon.by_language("language_words", "answer")
_MAX_LABEL_WORDS = 3


def _has_letters(text: str) -> bool:
    return any(char.isalpha() for char in text)


def _normalized(text: str) -> str:
    """Lower-case words only: for comparing a sentence with a fixed phrase."""
    return " ".join(WORD.findall(unicodedata.normalize("NFC", strip_markers(text)).casefold()))


def _rewrite_markers(text: str, mapping: dict[int, int]) -> tuple[str, list[int]]:
    """Map each marker number through ``mapping``, dropping unmapped ones; return text and dropped."""
    dropped: list[int] = []

    def substitute(match: re.Match[str]) -> str:
        kept: list[int] = []
        for number in marker_numbers(match.group()):
            if number in mapping:
                if mapping[number] not in kept:
                    kept.append(mapping[number])
            else:
                dropped.append(number)
        if not kept:
            return ""
        lead = " " if match.group()[0] in " \t" else ""
        return lead + "".join(f"[{n}]" for n in sorted(kept))

    return MARKER_RUN.sub(substitute, text), dropped


def _tidy(text: str) -> str:
    text = re.sub(r"(?<=\w)[ \t]+(?=[.,](?:\s|$))", "", text)  # "opened [5] ." → "opened."
    text = re.sub(r"(?<=\S)[ \t]{2,}", " ", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


@functools.cache
def _lead_ins() -> frozenset[str]:
    """Our own fixed phrases in every language (prompts/phrases), normalised: lead-ins we may write uncited."""
    from bot.answering.prompts import load_prompts

    prompts = load_prompts()
    return frozenset(
        _normalized(text) for lang in prompts.languages() for text in prompts.phrases(lang).values()
    )


def is_label(line: str) -> bool:
    """Whether a line ending with ':' only frames what follows, so it needs no citation.

    One of our fixed lead-ins ("Here is what the articles say:"), or a short label: at most three
    words, no figure, no name after the first word ("Sources differ:", "Детали:"). A line that says
    something ("Kim secretly met Shoigu and signed a deal:") is a statement and needs its marker.
    """
    bare = strip_markers(line).strip().rstrip(":").strip()
    # Our own phrases, one or several ("The model can't be reached. Here is what the articles say:").
    if all(_normalized(sentence) in _lead_ins() for sentence in split_sentences(bare)):
        return True
    words = WORD.findall(bare)
    return (
        len(words) <= _MAX_LABEL_WORDS
        and not any(char.isdigit() for char in bare)
        and not any(word[0].isupper() for word in words[1:])
    )


def _heading_spans(text: str) -> list[tuple[int, int]]:
    """Label lines (see ``is_label``) that end with ':' and carry no marker: they need no citation."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        stripped = line.strip()
        if stripped.endswith(":") and not MARKER.search(stripped) and is_label(stripped):
            spans.append((start, end))
    return spans


def _script_share(text: str) -> tuple[float, float]:
    """Shares of Cyrillic and Latin among the letters of ``text``."""
    cyrillic = latin = 0
    for char in text:
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        if name.startswith("CYRILLIC"):
            cyrillic += 1
        elif name.startswith("LATIN"):
            latin += 1
    letters = sum(1 for char in text if char.isalpha()) or 1
    return cyrillic / letters, latin / letters


def answer_language(text: str, expected: str) -> str | None:
    """The language ``text`` is confidently in, judged without markers, quotations, links or foreign names.

    ``None`` when there is too little text to say; ``expected`` when unsure.
    """
    body = _URL.sub(" ", strip_markers(text))
    for _ in range(3):  # nested quotations, innermost first
        body = _QUOTED.sub(" ", body)
    words = WORD.findall(body)
    if len(words) < _MIN_WORDS_FOR_LANGUAGE:
        return None
    cyrillic, latin = _script_share(" ".join(words))
    if (expected in _CYRILLIC_LANGUAGES and latin > 0.7) or (expected in _LATIN_LANGUAGES and cyrillic > 0.7):
        return detect_language(" ".join(words), default="?")
    # Names in the other script ("Kim Jong Un" in a Russian answer) say nothing about the language.
    if expected in _CYRILLIC_LANGUAGES:
        words = [word for word in words if _script_share(word)[0] > 0.5]
    elif expected in _LATIN_LANGUAGES:
        words = [word for word in words if _script_share(word)[1] > 0.5]
    if len(words) < _MIN_WORDS_FOR_LANGUAGE:
        return None
    detected = detect_language(" ".join(words), default=expected)
    if detected == expected or expected not in _FUNCTION_WORDS:
        return detected
    lowered = [word.lower() for word in words]
    expected_hits = sum(1 for word in lowered if word in _FUNCTION_WORDS[expected])
    detected_hits = sum(1 for word in lowered if word in _FUNCTION_WORDS.get(detected, frozenset()))
    if detected_hits > expected_hits or (
        expected_hits == 0 and len(words) >= _MIN_WORDS_WITHOUT_FUNCTION_WORDS
    ):
        return detected
    return expected


@dataclass(frozen=True)
class CitationCheck:
    """What ``check_answer`` found: the repaired text and what is still wrong with it."""

    text: str
    language: str
    dangling: tuple[int, ...] = ()
    uncited: tuple[str, ...] = ()
    wrong_language: bool = False
    empty: bool = False
    not_covered: bool = False

    @property
    def ok(self) -> bool:
        """Nothing left to fix: dangling markers are already gone from ``text``."""
        return not (self.empty or self.uncited or self.wrong_language)

    @property
    def problems(self) -> tuple[str, ...]:
        """What was wrong, in English, for the stricter retry prompt."""
        found: list[str] = []
        if self.empty:
            found.append("The answer was empty.")
        if self.dangling:
            numbers = ", ".join(f"[{n}]" for n in self.dangling)
            found.append(f"It cited {numbers}, which is not an article in the evidence.")
        for sentence in self.uncited[:3]:
            found.append(f"This sentence has no article number: {strip_markers(sentence).strip()}")
        if self.wrong_language:
            found.append(f"It was not written in the requested language ({self.language}).")
        return tuple(found)


def statement_sentences(text: str) -> list[str]:
    """The sentences of ``text`` that state something: framing headings and letter-less pieces left out."""
    headings = _heading_spans(text)
    found = []
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        bare = strip_markers(sentence).strip()
        if not _has_letters(bare) or (bare.endswith(":") and is_label(bare)):  # a label, even with markers
            continue
        if any(h_start <= start and end <= h_end for h_start, h_end in headings):
            continue
        found.append(sentence)
    return found


def check_answer(
    text: str, n_sources: int, language: str, *, not_covered: str | Iterable[str] = ()
) -> CitationCheck:
    """Remove markers that point at no source, then report uncited sentences, wrong language, emptiness.

    Sentences equal to one of the ``not_covered`` phrases, label lines ending with ':'
    (our fixed lead-ins such as "Here is what the articles say:", or at most three words
    without names or figures, see ``is_label``) and pieces without letters need no marker.
    """
    fixed, dangling = _rewrite_markers(text, {n: n for n in range(1, n_sources + 1)})
    fixed = _tidy(fixed)
    if not _has_letters(strip_markers(fixed)):
        return CitationCheck(text=fixed, language=language, dangling=tuple(dangling), empty=True)

    phrases = [not_covered] if isinstance(not_covered, str) else list(not_covered)
    exempt = {_normalized(phrase) for phrase in phrases}
    uncited: list[str] = []
    statements = refusals = 0
    for sentence in statement_sentences(fixed):
        statements += 1
        if _normalized(sentence) in exempt:
            refusals += 1
        elif not MARKER.search(sentence):
            uncited.append(sentence)

    if statements == 0:
        # Only headings and markers ("Answer: [1][2]"): nothing was said, so nothing is cited.
        return CitationCheck(text=fixed, language=language, dangling=tuple(dangling), empty=True)

    detected = answer_language(fixed, language)
    wrong = detected is not None and detected != language
    if dangling or uncited or wrong:
        logger.info(
            "answer check: dangling=%s uncited=%d wrong_language=%s (%s)",
            dangling,
            len(uncited),
            wrong,
            detected,
        )
    return CitationCheck(
        text=fixed,
        language=language,
        dangling=tuple(dangling),
        uncited=tuple(uncited),
        wrong_language=wrong,
        not_covered=statements > 0 and refusals == statements,
    )


def renumber(text: str, sources: Sequence[Source]) -> tuple[str, tuple[Source, ...]]:
    """Keep only the sources the text cites, numbered 1..k by first appearance; markers rewritten."""
    by_marker = {source.marker: source for source in sources}
    new_number: dict[int, int] = {}
    by_article: dict[str, int] = {}
    kept: list[Source] = []
    for number in markers(text):
        source = by_marker.get(number)
        if source is None or number in new_number:
            continue
        if source.article_id in by_article:  # two numbers for one article become one
            new_number[number] = by_article[source.article_id]
            continue
        new_number[number] = by_article[source.article_id] = len(kept) + 1
        kept.append(replace(source, marker=len(kept) + 1))
    rewritten, _ = _rewrite_markers(text, new_number)
    return _tidy(rewritten), tuple(kept)


def format_sources(sources: Sequence[Source], lang: str, prompts: Prompts) -> str:
    """The plain-text list of sources: a header, then ``[n] Title — url-or-id, date`` per line."""
    if not sources:
        return ""
    lines = [f"{prompts.phrase('sources', lang)}:"]
    for source in sorted(sources, key=lambda s: s.marker):
        line = f"[{source.marker}] {' '.join(source.title.split())} — {source.url or source.article_id}"
        if source.date:
            line += f", {source.date}"
        lines.append(line)
    return "\n".join(lines)

"""Sentence splitting, for the evidence and check steps: where each sentence of a text begins and ends.

Latin and Cyrillic text alike, each sentence exactly as it stands: a run of terminators ends one
unless what follows can't start a sentence, or the word before is an abbreviation (per language,
``prompts/lexicon/abbreviations.toml``), an initial ("В. Путин"), a list number at the start of a
line or a German ordinal date ("am 13. September"); ``[n]`` markers after the period stay with
their sentence, and a line that only continues the one before (wrapped text, a lone marker) joins it.
``bot.answering.evidence`` picks article sentences with it, ``bot.checks.citations`` checks answers sentence by
sentence, ``bot.answering.reply`` writes them.
"""

from __future__ import annotations

import re

from bot.checks.markers import GROUP, strip_markers
from index.text import lexicon
from index.text.words import WORD

# A sentence ends at a run of terminators, then closing quotes/brackets, then any markers that belong to it.
_END = re.compile(rf"[.!?…]+[\"'»”’)]*(?:\s*{GROUP})*")
_TOKEN_BEFORE = re.compile(r"[\w\-.]+$")
_OPENERS = "\"'«“„‘([¿¡"

# Sentence splitting's abbreviations (prompts/lexicon/abbreviations.toml says which is which).
_ABBREVIATIONS = lexicon.words("abbreviations", "inside")
_FINAL_ABBREVIATIONS = lexicon.words("abbreviations", "final")
_YEAR_ABBREVIATIONS = lexicon.words("abbreviations", "year")
_GERMAN_MONTHS = frozenset().union(*lexicon.month_forms()["de"])


def _is_lower(char: str) -> bool:
    return char.isalpha() and char.islower()


def _starts_sentence(char: str) -> bool:
    return char.isupper() or char.isdigit() or char in _OPENERS


def _line_units(text: str) -> list[tuple[int, int]]:
    """Spans of lines, joining a line that merely continues the previous one (wrapped text, a lone marker)."""
    units: list[tuple[int, int]] = []
    pos = 0
    after_blank = True
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        stripped = line.strip()
        if not stripped:
            after_blank = True
            continue
        if units and not after_blank:
            previous = text[units[-1][0] : units[-1][1]].rstrip()
            only_markers = not strip_markers(stripped).strip(" .")
            continues = _is_lower(stripped[0]) and previous[-1] not in ".!?…:]"
            if only_markers or continues:
                units[-1] = (units[-1][0], end)
                continue
        units.append((start, end))
        after_blank = False
    return units


def _is_boundary(text: str, unit_start: int, match: re.Match[str], unit_end: int) -> bool:
    """Whether the terminator ``match`` ends a sentence, given what precedes and follows it."""
    rest = text[match.end() : unit_end]
    if not rest.strip():
        return True
    if not rest[0].isspace():
        return False  # "3.5", "e.g.x", "plant.[1]The": no space, no break
    following = rest.lstrip()
    if not _starts_sentence(following[0]):
        return False
    if match.group() != ".":
        return True
    before = text[unit_start : match.start()]
    token_match = _TOKEN_BEFORE.search(before)
    if token_match is None:
        return True
    token = token_match.group().strip(".-").lower()
    if not token or token in _FINAL_ABBREVIATIONS:
        return True
    if token in _YEAR_ABBREVIATIONS:
        return bool(re.search(r"\d\s*$", before[: token_match.start()]))
    if len(token) == 1 and token.isalpha():
        return False  # an initial: "В. Путин", "J. Smith"
    if token in _ABBREVIATIONS:
        return False
    if "." in token and all(len(part) <= 3 for part in token.split(".")) and token.replace(".", "").isalpha():
        return False  # "z.B", "U.S", "т.е"
    if token.isdigit():
        if not before[: token_match.start()].strip(" \t-•*"):
            return False  # list numbering at the start of a line: "1. …"
        next_word = WORD.match(following)
        if len(token) <= 2 and next_word is not None and next_word.group().lower() in _GERMAN_MONTHS:
            return False  # German ordinal date: "am 13. September"
    return True


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence in ``text``; a marker after the final period stays with it."""
    spans: list[tuple[int, int]] = []
    for unit_start, unit_end in _line_units(text):
        start = unit_start
        for match in _END.finditer(text, unit_start, unit_end):
            if _is_boundary(text, unit_start, match, unit_end):
                spans.append((start, match.end()))
                start = match.end()
        spans.append((start, unit_end))
    trimmed: list[tuple[int, int]] = []
    for start, end in spans:
        piece = text[start:end]
        if piece.strip():
            left = len(piece) - len(piece.lstrip())
            trimmed.append((start + left, start + len(piece.rstrip())))
    return trimmed


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (Latin or Cyrillic), each exactly as it stands in the text."""
    return [text[start:end] for start, end in sentence_spans(text)]

"""Words: how every step cuts text into words and figures, one pattern per way of cutting.

A letter is a letter of any script (``LETTER``: a word character, not a digit or ``_``). The
patterns differ on purpose, each where its readers need it:

- ``WORD`` keeps a word whole across inner hyphens and apostrophes ("Komsomolsk-on-Amur", "п'ять");
  ``WORD_PART`` cuts at the hyphens, so "five-hour" is a number and a unit and each part of a
  compound name is matched on its own; ``LETTERS`` cuts at anything not a letter;
- ``ALPHANUMERIC`` keeps digits in (a sentence's key for "said twice": "Су-57" is not "Су-35");
- ``NUMBER`` is a figure with one decimal part ("3,5"), ``TERM`` a number with all its digit
  groups ("1,000,000") or a ``WORD``, ``MEASURE_TOKEN`` a figure or percentage or a ``WORD_PART``;
- ``WORDLIKE`` is the least that counts as a word in a message (two letters, or one character of
  a script written without spaces).
"""

from __future__ import annotations

import re

LETTER = r"[^\W\d_]"
"""One letter of any script (a regular expression's text, for building patterns)."""

_UNSPACED_SCRIPTS = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af"  # kana, CJK, Hangul

LETTERS = re.compile(rf"{LETTER}+")
"""A run of letters; a hyphen, an apostrophe or a digit ends it (word lists: pointing words, odd words)."""

ALPHANUMERIC = re.compile(r"[^\W_]+")
"""A run of letters and digits: the words of a sentence as its key for "said already"."""

WORD = re.compile(rf"{LETTER}+(?:[-'’]{LETTER}+)*")
"""A word: letters, with inner hyphens and apostrophes ("Komsomolsk-on-Amur", "п'ять", "O’Neil")."""

WORD_PART = re.compile(rf"{LETTER}+(?:['’]{LETTER}+)*")
"""A ``WORD`` cut at its hyphens, inner apostrophes kept: the figures and names of a statement
(``bot.checks.claims``) read "five-hour" as a number and a unit, and "Komsomolsk-on-Amur" name by name."""

NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
"""A figure in digits, with at most one decimal part; "3,5" and "3.5" are one figure to its readers."""

TERM = re.compile(rf"\d+(?:[.,]\d+)*|{WORD.pattern}")
"""A number with all its digit groups ("3,5", "1,000,000") or a ``WORD``: the terms of a question."""

MEASURE_TOKEN = re.compile(rf"{NUMBER.pattern}%?|{WORD_PART.pattern}")
"""A ``NUMBER``, maybe a percentage ("12%"), or a ``WORD_PART``: what a measure ("4-hour", "5 часов") is read from."""

WORDLIKE = re.compile(rf"{LETTER}{{2,}}|[{_UNSPACED_SCRIPTS}]")
"""The least that counts as a word: two letters in a row, or one letter of a script written without
spaces between words (kana, CJK, Hangul). ``[1]`` markers, emoji and punctuation hold none."""

"""Check-citations step's grammar: what a ``[n]`` citation marker is, for every module that reads one.

Two forms. ``GROUP`` is a marker as answers carry it, the model's or ours: ``[1]``, ``[1, 2]``,
``[1;2]``, ``[ 3 ]``, numbers of at most three digits (so "[2023]" is a year, not a citation).
Checking an answer (``bot.checks.citations``), rendering it (``bot.telegram.format``) and scoring it
(``bot.evaluation``) read this one. ``FOREIGN`` is any marker-like run in text we don't write
(articles, questions): also other bracket styles ("［3］", "【2】") and ranges ("[1-3]"); it is
taken out of such text before it is quoted in a prompt, so an article can't cite for us.
"""

from __future__ import annotations

import re

GROUP = r"\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\]"
"""One citation marker, as a regular expression's source (to build others from)."""
MARKER = re.compile(GROUP)
MARKER_RUN = re.compile(rf"[ \t]*{GROUP}(?:[ \t]*{GROUP})*")
"""Neighbouring markers ("[1][2]", "[1] [2]") with the spaces or tabs before them, never a line break."""
FOREIGN = re.compile(r"\s*[\[［【]\s*\d{1,3}(?:\s*[,;–—-]\s*\d{1,3})*\s*[\]］】]")
_NUMBER = re.compile(r"\d+")


def markers(text: str) -> list[int]:
    """Every ``[n]`` marker number in order of appearance (``[1][2]``, ``[1, 2]`` and ``[1,2]`` alike)."""
    return [n for group in MARKER.findall(text) for n in marker_numbers(group)]


def marker_numbers(group: str) -> list[int]:
    """The numbers of one marker or run of markers ("[1, 3]" → [1, 3])."""
    return [int(n) for n in _NUMBER.findall(group)]


def strip_markers(text: str) -> str:
    """The text without its citation markers."""
    return MARKER_RUN.sub("", text)

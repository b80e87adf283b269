"""The one ``[n]`` marker grammar: what answers carry, and what text we don't write may hold."""

from __future__ import annotations

from bot.checks.markers import FOREIGN, markers, strip_markers


def test_markers_are_read_in_every_spelling_answers_use() -> None:
    assert markers("Kim came [1][2]. Putin spoke [1, 3]; they met [ 4 ] and [5;6].") == [1, 2, 1, 3, 4, 5, 6]


def test_a_bracketed_year_is_not_a_marker() -> None:
    assert markers("The treaty [2023] holds [1].") == [1]
    assert strip_markers("The treaty [2023] holds [1].") == "The treaty [2023] holds."


def test_stripping_keeps_the_line_breaks() -> None:
    assert strip_markers("One [1]\nTwo [2] [3]\n") == "One\nTwo\n"


def test_foreign_markers_include_other_brackets_and_ranges() -> None:
    text = "Kim came ［3］ and went 【2】, then [1-3] and [1–2] and (45) stayed."
    assert FOREIGN.sub("", text) == "Kim came and went, then and and (45) stayed."

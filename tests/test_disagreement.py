"""Disagreement between articles: different figures for one measured thing, in words or digits, any script."""

from __future__ import annotations

import pytest

from bot.disagreement import Disagreement, disagreements, measures
from bot.extractive import EvidenceGroup


def group(marker: int, *sentences: str, title: str = "Саміт") -> EvidenceGroup:
    return EvidenceGroup(marker, f"a{marker}", title, None, sentences)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Чотиригодинна зустріч лідерів завершилася.", [("hours", "4")]),
        ("Петчасовата среща приключи в четвъртък.", [("hours", "5")]),
        ("Переговоры продолжались четыре часа.", [("hours", "4")]),
        ("Зустріч тривала п’ять годин.", [("hours", "5")]),
        ("The talks lasted 5 hours.", [("hours", "5")]),
        ("The four-hour meeting ended on Wednesday.", [("hours", "4")]),
        ("Kim arrived by train for a 6-day visit.", [("days", "6")]),
        ("Той не е бил в Русия от четири години.", [("years", "4")]),
    ],
)
def test_measures_read_numbers_as_words_digits_and_compounds(
    sentence: str, expected: list[tuple[str, str]]
) -> None:
    assert measures(sentence) == expected


def test_a_date_is_not_a_duration_and_a_name_is_not_a_number() -> None:
    assert measures("Встреча прошла 13 сентября 2023 года, сказал Петр Петров.") == []


def test_articles_giving_different_hours_for_the_meeting_disagree() -> None:
    groups = [
        group(1, "Чотиригодинна зустріч Путіна і Кім Чен Ина завершилася."),
        group(2, "Петчасовата среща между Путин и Ким приключи."),
        group(3, "Переговоры продолжались пять часов.", "Стороны обсудили сотрудничество."),
    ]
    assert disagreements(groups) == [Disagreement("hours", ((1, "4"), (2, "5"), (3, "5")))]


def test_articles_that_agree_in_different_languages_and_forms_do_not_disagree() -> None:
    groups = [
        group(1, "Зустріч тривала п’ять годин."),
        group(2, "Петчасовата среща приключи."),
        group(3, "The talks lasted 5 hours."),
    ]
    assert disagreements(groups) == []


def test_one_article_alone_never_disagrees_with_itself() -> None:
    assert disagreements([group(1, "Встреча длилась четыре часа.", "По другим данным, пять часов.")]) == []

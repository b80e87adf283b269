"""Disagreement between articles: different figures for one measured thing, in words or digits, any script."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.answering.disagreement import Disagreement, disagreements, measures
from bot.answering.evidence import EvidenceGroup
from bot.answering.qa import Pipeline, answer
from bot.config import Settings
from tests.fakes import JudgingGenerator, make_pipeline


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


MEETING = {
    "four.txt": "Talks at the cosmodrome\n\nThe talks at the cosmodrome lasted four hours, officials said.",
    "five.txt": "Summit ends\n\nThe summit talks at the cosmodrome lasted 5 hours in total.",
}


@pytest.fixture
def meeting_pipeline(tmp_path: Path) -> Callable[..., Pipeline]:
    from bot.answering.retrieval import Retriever
    from index.ingest import reindex
    from index.store.chroma import open_store
    from tests.conftest import write_corpus
    from tests.fakes import HashEmbedder

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        index={"corpus_dir": write_corpus(tmp_path / "corpus", MEETING), "data_dir": tmp_path / "data"},
    )
    embedder = HashEmbedder()
    reindex(settings.index, embedder)
    retriever = Retriever(open_store(settings.index, embedder), settings.retrieval)

    def make(generator: object = None) -> Pipeline:
        return make_pipeline(settings, retriever, generator, provider="local")  # type: ignore[no-any-return]

    return make


def _cites_both_sides(text: str) -> None:
    line = next(line for line in text.splitlines() if line.startswith("The articles give different figures"))
    assert re.fullmatch(
        r"The articles give different figures: (4 h \[\d\], 5 h \[\d\]|5 h \[\d\], 4 h \[\d\])\.", line
    )
    assert len(set(re.findall(r"\[(\d)\]", line))) == 2, "each side cited by its own article"
    assert "lasted four hours" in text and "lasted 5 hours" in text, "each side's own sentence is quoted"


def test_different_figures_are_said_and_each_side_cited_without_the_model(
    meeting_pipeline: Callable[..., Pipeline],
) -> None:
    result = answer("How long did the talks at the cosmodrome last?", [], meeting_pipeline())
    _cites_both_sides(result.text)
    assert len(result.sources) == 2


def test_different_figures_are_said_and_each_side_cited_with_the_model(
    meeting_pipeline: Callable[..., Pipeline],
) -> None:
    generator = JudgingGenerator(lambda _prompt: "four hours", yes=lambda _prompt: 0.9)
    result = answer("How long did the talks at the cosmodrome last?", [], meeting_pipeline(generator))
    _cites_both_sides(result.text)
    assert result.typed == "4 h"
    assert result.text.index("different figures") < result.text.index("Answer: 4 h [")


def test_figures_that_differ_are_not_flagged_when_the_question_is_not_about_a_figure(
    meeting_pipeline: Callable[..., Pipeline],
) -> None:
    result = answer("What did officials say about the talks at the cosmodrome?", [], meeting_pipeline())
    assert "different figures" not in result.text

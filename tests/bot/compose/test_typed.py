"""The bundled model's only words: a typed answer, copied from the best quote, confirmed, rendered by rule."""

from __future__ import annotations

import math

import pytest

from bot.answering.answerability import AnswerabilityModel
from bot.answering.prompts import load_prompts
from bot.answering.qa import Pipeline, answer
from bot.answering.retrieval import Retriever
from bot.compose.typed import render, transliterate
from bot.config import Settings
from index.ingest import reindex
from index.store.chroma import open_store
from tests.fakes import HashEmbedder, JudgingGenerator, make_pipeline

VISIT = "How long did the visit last before the train left?"


@pytest.fixture
def retriever(settings: Settings, embedder: HashEmbedder) -> Retriever:
    reindex(settings.index, embedder)
    return Retriever(open_store(settings.index, embedder), settings.retrieval)


def constant(p: float) -> AnswerabilityModel:
    """A model that gives every sentence probability ``p``, with bars at 0.6 (answer) and 0.2 (related)."""
    return AnswerabilityModel({}, math.log(p / (1 - p)), {}, {}, answer_bar=0.6, related_bar=0.2)


def local(settings: Settings, retriever: Retriever, generator: object, **overrides: object) -> Pipeline:
    return make_pipeline(settings, retriever, generator, provider="local", **overrides)  # type: ignore[no-any-return]


def test_a_confirmed_span_of_the_quote_is_shown_as_a_typed_answer(settings: Settings, retriever: Retriever) -> None:
    generator = JudgingGenerator(lambda _prompt: "about three hours", yes=lambda _prompt: 0.9)
    result = answer(VISIT, [], local(settings, retriever, generator))
    assert result.typed == "3 h"
    assert result.mode == "local"
    quote_at = result.text.index("The visit lasted about three hours")
    assert quote_at < result.text.index("\n\nAnswer: 3 h [1]"), "the answering quote comes first"
    assert "Proposed answer: about three hours" in generator.judged[-1]


def test_a_typed_answer_the_model_does_not_confirm_is_not_shown(settings: Settings, retriever: Retriever) -> None:
    generator = JudgingGenerator(lambda _prompt: "about three hours", yes=lambda _prompt: 0.2)
    result = answer(VISIT, [], local(settings, retriever, generator))
    assert result.typed is None and "Answer:" not in result.text
    assert result.mode == "extractive" and "The visit lasted about three hours" in result.text


def test_no_free_sentence_of_the_model_reaches_the_reply(settings: Settings, retriever: Retriever) -> None:
    free = "The visit lasted about three hours and Kim loved it."
    generator = JudgingGenerator(lambda _prompt: free, yes=lambda _prompt: 1.0)
    result = answer(VISIT, [], local(settings, retriever, generator))
    assert "loved" not in result.text and result.typed is None
    assert generator.judged == [], "a copy that is not in the quote is never even judged"


def test_a_why_question_gets_the_quotes_and_no_model_call(settings: Settings, retriever: Retriever) -> None:
    generator = JudgingGenerator(lambda _prompt: "anything", yes=lambda _prompt: 1.0)
    result = answer("Why did Kim go to the aircraft plant?", [], local(settings, retriever, generator))
    assert generator.requests == [] and result.typed is None


@pytest.mark.parametrize(
    ("p", "refused", "hedged"), [(0.1, True, False), (0.4, False, True), (0.8, False, False)], ids=["refuse", "hedge", "answer"]
)
def test_the_bars_decide_refuse_hedge_or_answer(
    settings: Settings, retriever: Retriever, p: float, refused: bool, hedged: bool
) -> None:
    shown: list[str] = []
    pipeline = make_pipeline(settings, retriever, answerability=constant(p))
    result = answer(VISIT, [], pipeline, on_token=shown.append)
    prompts = load_prompts()
    assert result.refused is refused
    assert (prompts.phrase("hedge_note", "en") in result.text) is hedged
    if refused:
        assert result.text.startswith(prompts.phrase("not_covered", "en"))
        assert prompts.phrase("related_passage", "en") in result.text, "the closest passage is offered"
        assert result.sources == () and "[1]" not in result.text, "as related, never cited"
        assert "".join(shown) == result.text, "a refusal never follows quotes already shown"
    else:
        assert result.text.startswith(prompts.phrase("extractive_intro", "en")) and result.sources


@pytest.mark.parametrize(
    ("name", "language", "expected"),
    [
        ("Александр Жорник", "en", "Aleksandr Zhornik"),
        ("Михаил Дегтярев", "de", "Mihail Degtyarev"),
        ("Володимир Путін", "fr", "Volodymyr Putin"),
        ("Alexander Zhornik", "ru", "Александер Жорник"),
        ("Alexander Zhornik", "uk", "Александер Жорнік"),
        ("Жорник", "bg", "Жорник"),
        ("Zhornik", "pl", "Zhornik"),
    ],
)
def test_names_go_into_the_askers_script(name: str, language: str, expected: str) -> None:
    assert transliterate(name, language) == expected


@pytest.mark.parametrize(
    ("kind", "span", "language", "expected"),
    [
        ("number", "3,5 минуты", "en", "3,5 min"),
        ("number", "чотиригодинну", "de", "4 Std."),
        ("number", "семь", "en", "7"),
        ("date", "13 сентября 2023 года", "en", "13 September 2023"),
        ("date", "13 September", "ru", "13 сентября"),
        ("name", "губернатор Михаил Дегтярев", "en", None),
        ("place", "на космодроме «Восточный»", "en", "Vostochnyj"),
        ("number", "много", "en", None),
    ],
)
def test_typed_answers_are_rendered_by_rule(kind: str, span: str, language: str, expected: str | None) -> None:
    rendered = render(kind, span, language, load_prompts())
    if kind == "name":
        assert rendered is not None and rendered.startswith("Mi")
    else:
        assert rendered == expected


@pytest.mark.parametrize(
    ("span", "question", "expected"),
    [
        ("Ким", "Хто супроводжував Кіма під час відвідування авіазаводу?", None),
        ("Кметът Александър Жорник", "Who accompanied him there?", "Aleksandar Zhornik"),
        ("мэр Александр Жорник и губернатор Михаил Дегтярев", "Who accompanied Kim?", "Aleksandr Zhornik, Mihail Degtyarev"),
    ],
    ids=["the-question's-own-name", "a-title-opening-the-sentence", "two-people"],
)
def test_a_name_answer_is_the_names_the_question_lacks(span: str, question: str, expected: str | None) -> None:
    assert render("name", span, "en", load_prompts(), question) == expected


def test_a_place_joined_by_a_short_word_is_one_place() -> None:
    assert render("place", "Комсомолск на Амур", "en", load_prompts(), "Кой град посети Ким?") == "Komsomolsk na Amur"


def test_several_figures_give_no_typed_answer_and_one_figure_may_be_copied_as_digits() -> None:
    prompts = load_prompts()
    assert render("number", "3,5 минуты и 5,5 минуты", "en", prompts) is None
    assert render("number", "семь", "en", prompts) == "7"


def test_the_typed_answer_marks_its_words_in_the_quote_and_the_text_stays_plain(
    settings: Settings, retriever: Retriever
) -> None:
    generator = JudgingGenerator(lambda _prompt: "about three hours", yes=lambda _prompt: 0.9)
    result = answer(VISIT, [], local(settings, retriever, generator))
    assert result.marked[0] == "about three hours"
    assert "<b>" not in result.text and "\x1b" not in result.text

"""The question guard: nonsense gets a request for a question, not random quotes; long questions are cut."""

from __future__ import annotations

import time

import pytest

from bot.answering.qa import Pipeline, answer
from bot.answering.questions import asks_something, bounded
from bot.answering.retrieval import Retriever
from bot.config import Settings
from index.ingest import reindex
from index.store.chroma import open_store
from tests.fakes import HashEmbedder, QueueGenerator, make_pipeline


@pytest.fixture
def pipeline(settings: Settings, embedder: HashEmbedder) -> Pipeline:
    reindex(settings.index, embedder)
    retriever = Retriever(open_store(settings.index, embedder), settings.retrieval)
    # The generator has no replies: a nonsense question must never reach the model.
    return make_pipeline(settings, retriever, QueueGenerator(), provider="openai")  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "question",
    ["", "   \n\t ", "🔥🚀😀", "?!... ,;:—", "[1]" * 4000, "[1] [2, 3] ???", "42", "1 + 1 = 2?"],
    ids=["empty", "spaces", "emoji", "punctuation", "markers", "markers-and-marks", "number", "arithmetic"],
)
def test_a_question_without_words_gets_a_request_for_a_question(pipeline: Pipeline, question: str) -> None:
    result = answer(question, [], pipeline)
    assert result.text == "Please ask a question in words about the news articles."
    assert result.sources == () and result.refused


def test_the_request_comes_in_the_language_of_the_conversation(pipeline: Pipeline) -> None:
    from bot.models import Turn

    result = answer("🤔", [Turn("Кто сопровождал Кима?", "Мэр [1].", "ru")], pipeline)
    assert result.text == "Пожалуйста, задайте вопрос словами — о новостях из статей."


@pytest.mark.parametrize("question", ["Who is Zhornik?", "Кто такой Жорник?", "Su-57?", "北京", "[1] who?"])
def test_real_questions_pass_the_guard(question: str) -> None:
    assert asks_something(question)


def test_a_huge_question_is_cut_before_it_reaches_retrieval(
    settings: Settings, embedder: HashEmbedder
) -> None:
    reindex(settings.index, embedder)
    retriever = Retriever(open_store(settings.index, embedder), settings.retrieval)
    pipeline = make_pipeline(settings, retriever, max_question_chars=300)
    question = "Who accompanied Kim at the aircraft plant? " + "and what about the plant " * 4000  # ~100 KB
    started = time.perf_counter()
    result = answer(question, [], pipeline)
    assert time.perf_counter() - started < 5
    assert len(result.question) <= 300
    assert result.question.startswith("Who accompanied Kim at the aircraft plant?")


def test_bounded_cuts_at_a_space_near_the_limit() -> None:
    assert bounded("short", 10) == "short"
    assert bounded("one two three four five", 15) == "one two three"
    assert len(bounded("x" * 50, 20)) == 20

"""The answering pipeline with a queue-fed fake generator: citations, retries, fallback, refusals, streaming."""

from __future__ import annotations

import pytest

from bot.answering.prompts import load_prompts
from bot.answering.qa import Pipeline, answer
from bot.answering.retrieval import Retriever
from bot.config import Settings
from bot.errors import LLMUnavailable
from bot.models import Turn
from index.ingest import reindex
from index.store.chroma import open_store
from tests.fakes import HashEmbedder, QueueGenerator, make_pipeline

QUESTION = "Who accompanied Kim Jong Un at the aircraft plant?"


@pytest.fixture
def retriever(settings: Settings, embedder: HashEmbedder) -> Retriever:
    reindex(settings.index, embedder)
    return Retriever(open_store(settings.index, embedder), settings.retrieval)


def _pipeline(retriever: Retriever, generator: QueueGenerator | None = None, **overrides: object) -> Pipeline:
    """The pipeline a capable model on an OpenAI-compatible server gets (composition cited)."""
    settings = Settings(_env_file=None, llm={"provider": "openai"}, retrieval={"min_score": 0.0})  # type: ignore[call-arg]
    overrides.pop("mode", None)  # without a generator the settings make it extractive
    return make_pipeline(settings, retriever, generator, **overrides)


def test_cited_llm_answer_keeps_only_the_cited_sources(retriever: Retriever) -> None:
    generator = QueueGenerator(
        "Kim was accompanied by mayor Alexander Zhornik and governor Mikhail Degtyarev [1]."
    )
    result = answer(QUESTION, [], _pipeline(retriever, generator))
    assert result.mode == "llm"
    assert result.text.endswith("[1].")
    assert [s.article_id for s in result.sources] == ["plant"]
    assert result.language == "en"
    assert not result.refused
    system, user = generator.requests[0]
    assert system["role"] == "system" and user["role"] == "user"
    assert "Zhornik" in user["content"], "the evidence sentences are in the prompt"
    assert "English" in user["content"]


def test_marker_pointing_at_no_source_is_removed(retriever: Retriever) -> None:
    generator = QueueGenerator("The mayor Alexander Zhornik accompanied him [1][9].")
    result = answer(QUESTION, [], _pipeline(retriever, generator))
    assert "[9]" not in result.text
    assert "[1]" in result.text


def test_uncited_sentence_gets_one_stricter_retry(retriever: Retriever) -> None:
    generator = QueueGenerator(
        "The mayor Alexander Zhornik accompanied him. It was a sunny day.",
        "The mayor Alexander Zhornik accompanied him [1].",
    )
    result = answer(QUESTION, [], _pipeline(retriever, generator))
    assert result.mode == "llm"
    assert len(generator.requests) == 2
    assert "no article number" in generator.requests[1][1]["content"]


def test_failed_retry_falls_back_to_quoted_evidence_with_a_note(retriever: Retriever) -> None:
    generator = QueueGenerator("Kim went there alone.", "Still nothing cited here.")
    result = answer(QUESTION, [], _pipeline(retriever, generator))
    assert result.mode == "extractive"
    assert result.note == load_prompts().phrase("fallback_note", "en")
    assert result.sources and result.quotes
    assert all(quote in result.text for quote in result.quotes)
    assert "Kim went there alone" not in result.text


def test_unreachable_llm_falls_back_to_the_extractive_answer(retriever: Retriever) -> None:
    generator = QueueGenerator(LLMUnavailable("no LLM server at http://127.0.0.1:9/v1"))
    result = answer(QUESTION, [], _pipeline(retriever, generator))
    assert result.mode == "extractive"
    assert result.note == load_prompts().phrase("llm_unavailable_note", "en")


def test_model_saying_not_covered_after_the_quotes_hedges_and_never_retracts(retriever: Retriever) -> None:
    generator = QueueGenerator(load_prompts().phrase("not_covered", "en"))
    shown: list[str] = []
    result = answer(QUESTION, [], _pipeline(retriever, generator), on_token=shown.append)
    assert not result.refused and result.sources
    assert result.note == load_prompts().phrase("hedge_note", "en")
    assert "".join(shown) == result.text, "what was shown stays"


def test_nothing_relevant_refuses_in_the_askers_language_without_calling_the_llm(
    retriever: Retriever,
) -> None:
    generator = QueueGenerator()
    retriever.settings = retriever.settings.model_copy(update={"min_score": 0.999})
    result = answer("Какой счёт был в футбольном матче?", [], _pipeline(retriever, generator))
    assert result.refused
    assert result.language == "ru"
    assert result.text == load_prompts().phrase("not_covered", "ru")
    assert generator.requests == []


def test_extractive_answer_cites_every_quoted_sentence(retriever: Retriever) -> None:
    result = answer(QUESTION, [], _pipeline(retriever, None, mode="extractive"))
    assert result.mode == "extractive"
    assert result.quotes and all(quote in result.text for quote in result.quotes)
    assert result.sources and all(f"[{s.marker}]" in result.text for s in result.sources)


def test_streaming_shows_only_cited_sentences(retriever: Retriever) -> None:
    generator = QueueGenerator(
        "The mayor Alexander Zhornik accompanied him [1]. The weather was fine. More [1].",
        "The mayor Alexander Zhornik accompanied him [1].",
    )
    shown: list[str] = []
    result = answer(QUESTION, [], _pipeline(retriever, generator), on_token=shown.append)
    streamed = "".join(shown)
    assert "Zhornik" in streamed
    assert "weather" not in streamed, "an uncited sentence is never shown, not even while streaming"
    assert "weather" not in result.text


def test_follow_up_is_joined_to_the_previous_question_without_an_llm(retriever: Retriever) -> None:
    history = [Turn("Which aircraft plant did Kim visit?", "The plant in Komsomolsk-on-Amur [1].", "en")]
    result = answer("Who accompanied him there?", history, _pipeline(retriever, None, mode="extractive"))
    assert "aircraft plant" in result.question
    assert result.retrieved[0] == "plant"


def test_follow_up_is_rewritten_by_the_llm_when_there_is_one(retriever: Retriever) -> None:
    history = [Turn("Which aircraft plant did Kim visit?", "The plant in Komsomolsk-on-Amur [1].", "en")]
    generator = QueueGenerator(
        "Who accompanied Kim Jong Un at the aircraft plant in Komsomolsk-on-Amur?",
        "Mayor Alexander Zhornik accompanied him [1].",
    )
    result = answer("Who accompanied him there?", history, _pipeline(retriever, generator))
    assert result.question.startswith("Who accompanied Kim Jong Un")
    assert "Which aircraft plant" in generator.requests[0][0]["content"]


def test_a_number_the_evidence_does_not_hold_sends_the_answer_back(retriever: Retriever) -> None:
    generator = QueueGenerator(
        "Kim was accompanied by 12 officials [1].",
        "Kim was accompanied by the mayor Alexander Zhornik [1].",
    )
    result = answer(QUESTION, [], _pipeline(retriever, generator))
    assert result.mode == "llm"
    assert "12" not in result.text
    assert "It says 12" in generator.requests[1][1]["content"]


def test_time_to_first_token_is_reported_for_streamed_answers(retriever: Retriever) -> None:
    generator = QueueGenerator("The mayor Alexander Zhornik accompanied him [1].")
    result = answer(QUESTION, [], _pipeline(retriever, generator), on_token=lambda _: None)
    assert result.first_token_ms is not None
    assert 0 <= result.first_token_ms <= result.latency_ms


def test_an_invented_figure_lets_a_model_without_refusal_answer_not_covered_on_retry(
    retriever: Retriever,
) -> None:
    not_covered = load_prompts().phrase("not_covered", "en")
    generator = QueueGenerator("The match ended 3-1 [1].", not_covered)
    pipeline = _pipeline(retriever, generator, allow_refusal=False)
    result = answer("What was the score of the football match?", [], pipeline)
    first, retry = (request[1]["content"] for request in generator.requests)
    assert not_covered not in first, "the first attempt is not offered the refusal"
    assert f"reply exactly: {not_covered}" in retry
    assert generator.requests[0][0] == generator.requests[1][0], "the system prompt stays cacheable"
    # The quotes were on screen already: the model's "not covered" becomes a hedge under them.
    assert not result.refused and result.note == load_prompts().phrase("hedge_note", "en")
    assert "3-1" not in result.text


@pytest.mark.parametrize(
    "first",
    [
        "Ким сопровождал мэр Александр Жорник [1].",  # wrong language
        "The mayor Alexander Zhornik accompanied him.",  # right, but its marker missing
    ],
)
def test_a_retry_for_language_or_a_missing_marker_is_not_offered_the_refusal(
    retriever: Retriever, first: str
) -> None:
    generator = QueueGenerator(first, "The mayor Alexander Zhornik accompanied him [1].")
    result = answer(QUESTION, [], _pipeline(retriever, generator, allow_refusal=False))
    assert "reply exactly" not in generator.requests[1][1]["content"]
    assert result.mode == "llm"
    assert not result.refused

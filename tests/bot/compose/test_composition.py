"""The small model's composition: quotes first, then checked restatements of numbered evidence.

A scripted fake generator plays the bad answers the 1.5B model gave: a wrong
name, the question restated, one sentence four times, a bare run of markers,
an empty list, no JSON at all.
"""

from __future__ import annotations

import json
import re

import pytest

from bot.answering.prompts import load_prompts
from bot.answering.qa import Pipeline, answer
from bot.answering.retrieval import Retriever
from bot.checks.citations import statement_sentences
from bot.checks.markers import markers
from bot.compose.restatement import ItemReader, Restatement, answer_schema, read_items
from bot.config import Settings
from index.embed.cache import CachedEmbedder
from index.ingest import reindex
from index.store.chroma import open_store
from tests.fakes import HashEmbedder, ScriptedGenerator, WordSupport

QUESTION = "Who accompanied Kim Jong Un at the aircraft plant?"


@pytest.fixture
def retriever(settings: Settings, embedder: HashEmbedder) -> Retriever:
    reindex(settings.index, embedder)
    return Retriever(open_store(settings.index, embedder), settings.retrieval)


def _pipeline(retriever: Retriever, generator: ScriptedGenerator, **overrides: object) -> Pipeline:
    pipeline = Pipeline(
        retriever=retriever,
        prompts=load_prompts(),
        generator=generator,
        mode="local",
        composition="restate",
        support=WordSupport(),  # type: ignore[arg-type]
    )
    for key, value in overrides.items():
        setattr(pipeline, key, value)
    return pipeline


def number_of(prompt: str, words: str) -> int:
    """The number the prompt gives the evidence sentence holding ``words``."""
    found = re.search(rf"^\((\d+)\) [^\n]*{re.escape(words)}", prompt, re.MULTILINE)
    assert found, f"no evidence sentence with {words!r} in the prompt"
    return int(found.group(1))


def items(*pairs: tuple[str, str]) -> ScriptedGenerator:
    """A model that restates the evidence sentences holding each ``words`` with ``text``."""

    def reply(prompt: str) -> str:
        answer = [{"evidence": number_of(prompt, words), "text": text} for words, text in pairs]
        return json.dumps({"answer": answer}, ensure_ascii=False)

    return ScriptedGenerator(reply)


def test_a_checked_restatement_follows_the_quote_and_is_cited_by_its_evidence(retriever: Retriever) -> None:
    generator = items(
        ("Zhornik", "The mayor Alexander Zhornik and the governor Mikhail Degtyarev went with him.")
    )
    result = answer(QUESTION, [], _pipeline(retriever, generator))
    assert result.mode == "local"
    assert "Zhornik" in result.text
    assert result.text.index("“") < result.text.index("went with him"), "the quote comes first"
    assert "went with him [1]." in result.text, "the marker comes from the evidence, not the model"
    assert [s.article_id for s in result.sources] == ["plant"]
    assert all(markers(sentence) for sentence in statement_sentences(result.text))
    assert generator.schemas[0] is not None
    assert generator.schemas[0]["properties"]["answer"]["minItems"] == 1


def test_a_wrong_name_is_replaced_by_the_quote_it_restates(retriever: Retriever) -> None:
    generator = items(("Zhornik", "He was accompanied by the mayor Ivan Petrov."))
    result = answer(QUESTION, [], _pipeline(retriever, generator))
    assert "Petrov" not in result.text
    assert "“He was accompanied by the mayor Alexander Zhornik" in result.text
    assert result.mode == "extractive", "no sentence of the model's survived"


def test_one_failed_sentence_does_not_cost_the_good_ones(retriever: Retriever) -> None:
    generator = items(
        ("Zhornik", "The mayor Alexander Zhornik accompanied Kim."),
        ("Su-57", "The plant builds the Tu-160 bomber."),
    )
    result = answer(QUESTION, [], _pipeline(retriever, generator))
    assert "The mayor Alexander Zhornik accompanied Kim [1]." in result.text
    assert "Tu-160" not in result.text
    assert result.mode == "local"


def test_a_restated_question_is_dropped(retriever: Retriever) -> None:
    generator = items(("Zhornik", "Who accompanied Kim Jong Un at the aircraft plant?"))
    result = answer(QUESTION, [], _pipeline(retriever, generator))
    assert "Who accompanied" not in result.text
    assert not result.refused, "the quote shown first stays"


def test_a_sentence_said_four_times_is_written_once(retriever: Retriever) -> None:
    said = "The mayor Alexander Zhornik accompanied Kim."
    generator = items(*[("Zhornik", said)] * 4)
    result = answer(QUESTION, [], _pipeline(retriever, generator))
    assert result.text.count("The mayor Alexander Zhornik accompanied Kim") == 1


def test_a_bare_run_of_markers_is_not_kept(retriever: Retriever) -> None:
    generator = items(("Zhornik", "The mayor Alexander Zhornik accompanied Kim [1]. [1][2]"))
    result = answer(QUESTION, [], _pipeline(retriever, generator))
    assert "][" not in result.text
    assert not re.search(r"\]\s*\.\s*\[", result.text)
    assert result.text.endswith("accompanied Kim [1].")


@pytest.mark.parametrize(
    "reply", ['{"answer": []}', "Sure! The mayor accompanied him [1].", '{"answer": [{"evid']
)
def test_an_empty_list_or_invalid_json_leaves_the_quotes(retriever: Retriever, reply: str) -> None:
    generator = ScriptedGenerator(lambda _prompt: reply)
    result = answer(QUESTION, [], _pipeline(retriever, generator))
    assert not result.refused
    assert result.mode == "extractive"
    assert result.text.startswith(load_prompts().phrase("extractive_intro", "en"))
    assert result.sources


def test_the_quote_is_streamed_before_the_model_is_asked(retriever: Retriever) -> None:
    shown: list[str] = []
    seen_before_model: list[str] = []

    def reply(prompt: str) -> str:
        seen_before_model.append("".join(shown))
        n = number_of(prompt, "Zhornik")
        return json.dumps({"answer": [{"evidence": n, "text": "Alexander Zhornik accompanied Kim."}]})

    result = answer(QUESTION, [], _pipeline(retriever, ScriptedGenerator(reply)), on_token=shown.append)
    assert "“" in seen_before_model[0], "a verbatim quote was on screen before the model started"
    assert "".join(shown) == result.text, "everything streamed is kept, nothing is taken back"
    assert result.first_useful_ms is not None and result.first_token_ms is not None
    assert result.first_useful_ms < result.first_token_ms


def test_a_failed_statement_is_never_streamed(retriever: Retriever) -> None:
    shown: list[str] = []
    generator = items(("Zhornik", "He was accompanied by the mayor Ivan Petrov."))
    answer(QUESTION, [], _pipeline(retriever, generator), on_token=shown.append)
    assert "Petrov" not in "".join(shown)


def test_nothing_answering_and_nothing_held_up_is_not_covered(retriever: Retriever) -> None:
    shown: list[str] = []
    generator = ScriptedGenerator(lambda _prompt: '{"answer": [{"evidence": 0, "text": "-"}]}')
    pipeline = _pipeline(retriever, generator, min_answer_score=100.0)  # no evidence sentence answers
    result = answer("How many journalists came to the plant?", [], pipeline, on_token=shown.append)
    assert result.refused
    assert result.text == load_prompts().phrase("not_covered", "en")
    assert result.sources == ()
    assert shown == [], "no quote was shown for a question nothing answers"


def test_a_statement_without_the_figure_asked_for_does_not_answer_how_many(retriever: Retriever) -> None:
    generator = ScriptedGenerator(
        lambda _prompt: '{"answer": [{"evidence": 1, "text": "Many reporters came to the plant."}]}'
    )
    pipeline = _pipeline(retriever, generator, min_answer_score=100.0)
    result = answer("How many journalists came to the plant?", [], pipeline)
    assert result.refused


def test_a_statement_holding_the_answer_is_shown_even_when_no_quote_was(retriever: Retriever) -> None:
    generator = items(("Su-57", "The plant builds Su-35 and Su-57 jets."))
    pipeline = _pipeline(retriever, generator, min_answer_score=100.0)
    result = answer("How many kinds of jets does the plant build?", [], pipeline)
    assert not result.refused
    assert "Su-57 jets [1]." in result.text


def test_items_are_read_as_soon_as_each_closes() -> None:
    reader = ItemReader()
    assert reader.feed('{"answer": [{"evidence": 2, "text": "Fir') == []
    assert reader.feed('st."}, {"evidence": 3,') == [Restatement(2, "First.")]
    assert reader.feed(' "text": "Second \\"quoted\\"."}]}') == [Restatement(3, 'Second "quoted".')]
    assert reader.finish() == []


def test_invalid_json_gives_no_items() -> None:
    assert read_items("The mayor accompanied him [1].") == []
    assert read_items('{"answer": [{"text": "keys the other way", "evidence": 1}]}') == [
        Restatement(1, "keys the other way")
    ]


def test_the_schema_names_only_the_evidence_numbers_and_zero() -> None:
    schema = answer_schema(4)
    item = schema["properties"]["answer"]["items"]
    assert item["properties"]["evidence"]["enum"] == [0, 1, 2, 3, 4]
    assert schema["properties"]["answer"]["minItems"] == 1


def test_free_text_answers_get_the_same_support_check_sentence_by_sentence(retriever: Retriever) -> None:
    from tests.fakes import QueueGenerator

    generator = QueueGenerator(
        "He was accompanied by the mayor Alexander Zhornik [1]. He was accompanied by the mayor Alexander "
        "Zhornik [1]. The plant builds Tupolev bombers [1]. [1][2]"
    )
    pipeline = _pipeline(retriever, generator, composition="cited", mode="llm")  # type: ignore[arg-type]
    shown: list[str] = []
    result = answer(QUESTION, [], pipeline, on_token=shown.append)
    assert result.mode == "llm"
    assert result.text.count("accompanied by the mayor Alexander Zhornik [1]") == 1
    assert "Tupolev" not in result.text
    assert "][" not in result.text and not result.text.rstrip().endswith("[2]")
    assert generator.schemas == [None], "free text: no schema is asked for"
    assert "".join(shown) == result.text, "shown once checked, whole"


@pytest.mark.parametrize(
    ("provider", "composition", "expected"),
    [
        ("local", "auto", "focused"),
        ("local", "restate", "restate"),
        ("openai", "auto", "focused"),
        ("openai", "cited", "cited"),
    ],
)
def test_the_service_picks_the_composition_and_shares_its_embedder_with_the_checker(
    settings: Settings, embedder: HashEmbedder, provider: str, composition: str, expected: str
) -> None:
    from bot.service import Newsbot

    settings.llm = settings.llm.model_copy(update={"provider": provider, "composition": composition})
    bot = Newsbot(settings, embedder=embedder)
    assert bot.composition == expected
    assert isinstance(bot.support.embedder, CachedEmbedder) and bot.support.embedder.inner is embedder


def test_the_focused_model_reads_one_quote_and_answers_in_the_askers_language(retriever: Retriever) -> None:
    generator = ScriptedGenerator(
        lambda _prompt: "The mayor Alexander Zhornik and the governor went with him."
    )
    shown: list[str] = []
    pipeline = _pipeline(retriever, generator, composition="focused")
    result = answer(QUESTION, [], pipeline, on_token=shown.append)
    prompt = generator.requests[0][-1]["content"]
    assert prompt.count("Quoted sentence: ") == 1, "one sentence to read, not all the evidence"
    examples = load_prompts().table("focused_examples.toml")["example"]
    roles = [m["role"] for m in generator.requests[0]]
    assert roles == ["system", *["user", "assistant"] * len(examples), "user"], "worked examples come first"
    assert "Zhornik" in prompt.split("Question:")[0], "the quote it reads is the best one"
    assert "Question: " + QUESTION in prompt
    assert prompt.rstrip().endswith(
        load_prompts().phrase("focused_instruction", "en").format(language="English")
    )
    label = load_prompts().phrase("model_summary_label", "en")
    assert f"\n\n{label} The mayor Alexander Zhornik and the governor went with him [1]." in result.text
    assert result.text.index("“") < result.text.index("went with him"), "the quote comes first"
    assert result.mode == "local"
    assert result.sources[0].evidence, "the source keeps the sentences the answer relies on"
    assert "".join(shown) == result.text


def test_the_focused_instruction_is_written_in_the_askers_language(retriever: Retriever) -> None:
    generator = ScriptedGenerator(lambda _prompt: "NONE")
    answer(
        "Кто сопровождал Ким Чен Ына на авиазаводе?",
        [],
        _pipeline(retriever, generator, composition="focused"),
    )
    prompt = generator.requests[0][-1]["content"]
    assert prompt.rstrip().endswith(load_prompts().phrase("focused_instruction", "ru"))


@pytest.mark.parametrize(
    "reply",
    [
        "Kim was accompanied by Sergei Shoigu.",  # a name the quote doesn't have
        "Kim was accompanied by 12 officials.",  # a figure it doesn't have
        "Kim was accompanied by the mayor Zh\u043ernik.",  # a Cyrillic letter inside a Latin word: garbled
        "Кима сопровождал мэр Жорник.",  # not English
    ],
)
def test_a_focused_answer_that_fails_a_check_leaves_only_the_quote(retriever: Retriever, reply: str) -> None:
    shown: list[str] = []
    generator = ScriptedGenerator(lambda _prompt: reply)
    result = answer(
        QUESTION, [], _pipeline(retriever, generator, composition="focused"), on_token=shown.append
    )
    assert reply not in result.text and reply not in "".join(shown)
    assert "Zhornik" in result.text, "the quote shown first stays"
    assert result.mode == "extractive"


def test_the_focused_model_answering_none_leaves_the_quote_hedged(retriever: Retriever) -> None:
    result = answer(
        QUESTION, [], _pipeline(retriever, ScriptedGenerator(lambda _p: "NONE"), composition="focused")
    )
    assert not result.refused and "Zhornik" in result.text
    assert result.text.endswith(load_prompts().phrase("closest_passage_note", "en"))
    assert result.mode == "extractive"


def test_the_focused_model_is_not_asked_when_no_sentence_answers(retriever: Retriever) -> None:
    generator = ScriptedGenerator()  # any call fails the test
    pipeline = _pipeline(retriever, generator, composition="focused", min_answer_score=100.0)
    result = answer("How many journalists came to the plant?", [], pipeline)
    assert result.refused
    assert generator.requests == []


@pytest.mark.parametrize(
    ("statement", "question", "restates"),
    [
        (
            "The rockets are built in the hall where the talks began.",
            "Which rockets are built in the hall where the talks began?",
            True,
        ),
        ("Підписання документів не очікувалося.", "Чи очікувалося підписання документів?", False),
        ("Kim seeks food aid for his country.", "What aid does Kim seek for his country?", False),
    ],
)
def test_an_answer_restates_the_question_only_when_it_adds_no_content_word(
    statement: str, question: str, restates: bool
) -> None:
    from bot.checks.support import restates_question

    assert restates_question(statement, question) is restates

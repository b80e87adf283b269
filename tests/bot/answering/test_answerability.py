"""The answerability score: the shipped model, the bars it decides by, and the model's yes/no read from log-probabilities."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx
import pytest
import respx

from bot.answering.answerability import FEATURES, AnswerabilityModel, has_figure_word, load_model
from bot.answering.evidence import Evidence
from bot.answering.judgment import judge_messages, yes_probability
from bot.answering.prompts import load_prompts
from bot.answering.selection import BROAD_QUOTES, choose_quotes, is_broad
from bot.llm.client import ChatClient
from bot.models import Passage
from index.errors import ConfigError

LABELLED = Path(__file__).resolve().parents[3] / "benchmarks" / "data" / "answerability_labelled.jsonl"


def test_the_shipped_model_ranks_answering_sentences_above_the_rest_on_the_labelled_dev_set() -> None:
    model = load_model()
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    dev = [row for row in rows if row["set"] == "questions"]
    answers = [model.probability(row["features"]) for row in dev if row["label"] == 2]
    others = [model.probability(row["features"]) for row in dev if row["label"] == 0]
    # AUC as the share of (answer, non-answer) pairs ordered right.
    right = sum(a > o for a in answers for o in others) / (len(answers) * len(others))
    assert right > 0.9
    assert 0 < model.related_bar <= model.answer_bar < 1


def test_a_model_table_missing_a_part_is_an_error_naming_the_file() -> None:
    with pytest.raises(ConfigError, match=r"answerability.toml: not an answerability model"):
        AnswerabilityModel.from_table({"weights": {name: 1.0 for name in FEATURES}})
    with pytest.raises(ConfigError, match="unknown features"):
        AnswerabilityModel.from_table({"weights": {"colour": 1.0}, "intercept": 0, "bars": {}})


def test_compound_number_words_count_as_figures() -> None:
    assert has_figure_word("Путін та Кім провели чотиригодинну зустріч.")
    assert has_figure_word("Петчасовата среща приключи.")
    assert not has_figure_word("Путін та Кім провели зустріч на космодромі.")


def _evidence(sentence: str, article: str, score: float) -> Evidence:
    passage = Passage(f"{article}#0", article, article.title(), sentence, "en", score)
    return Evidence(sentence, article, passage, score)


BARS = AnswerabilityModel({}, 0.0, {}, {}, answer_bar=0.6, related_bar=0.2)


def test_a_broad_question_gets_quotes_that_each_add_a_fact_from_every_article() -> None:
    evidence = [
        _evidence("Putin promised to help North Korea build satellites.", "kremlin", 0.9),
        _evidence("Putin promised help to North Korea in building satellites, the Kremlin said.", "kremlin", 0.88),
        _evidence("Kim pledged full support for Moscow in its fight against the West.", "tass", 0.8),
        _evidence("The two leaders discussed military cooperation and rail links.", "kremlin", 0.7),
        _evidence("Kim said relations with Russia were his first priority.", "interfax", 0.65),
        _evidence("The weather at the cosmodrome was sunny.", "kremlin", 0.1),
    ]
    question = "What did Putin and Kim promise each other?"
    assert is_broad(question)
    quotes = choose_quotes(question, evidence, BARS)
    sentences = [q.sentence for q in quotes]
    assert len(quotes) <= BROAD_QUOTES
    assert sentences[0] == evidence[0].sentence
    assert evidence[1].sentence not in sentences, "a near-repeat adds no fact"
    assert {q.article_id for q in quotes} == {"kremlin", "tass", "interfax"}
    assert evidence[5].sentence not in sentences, "under the related bar: never quoted"


def test_a_focused_question_gets_its_best_few_quotes() -> None:
    evidence = [
        _evidence("The talks lasted four hours.", "a", 0.9),
        _evidence("The talks lasted five hours, officials said.", "b", 0.7),
        _evidence("Kim arrived by train.", "c", 0.3),
    ]
    question = "How long did the talks last?"
    assert not is_broad(question)
    assert [q.article_id for q in choose_quotes(question, evidence, BARS)] == ["a", "b"]


def test_two_kinds_asked_at_once_make_a_question_broad() -> None:
    assert is_broad("Who met Kim and where did they meet?")
    assert not is_broad("Who met Kim?")


def _logprobs_reply(tokens: dict[str, float]) -> dict[str, object]:
    top = [{"token": token, "logprob": math.log(p), "bytes": None} for token, p in tokens.items()]
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "length",
                "message": {"role": "assistant", "content": next(iter(tokens))},
                "logprobs": {"content": [{"token": next(iter(tokens)), "logprob": -0.1, "bytes": None, "top_logprobs": top}]},
            }
        ],
    }


@respx.mock(assert_all_mocked=True)
def test_the_yes_probability_is_read_from_the_first_tokens_log_probabilities(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("http://127.0.0.1:9/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=_logprobs_reply({"Yes": 0.6, "No": 0.2, "yes": 0.1, "The": 0.1}))
    )
    client = ChatClient(base_url="http://127.0.0.1:9/v1", model="m", retries=0)
    prompts = load_prompts()
    p = yes_probability(client, prompts, "How long did the talks last?", "The talks lasted four hours.")
    assert p == pytest.approx(0.7 / 0.9)
    sent = json.loads(route.calls.last.request.content)
    assert sent["logprobs"] is True and sent["top_logprobs"] == 10 and sent["max_tokens"] == 1
    assert sent["messages"] == judge_messages(prompts, "How long did the talks last?", "The talks lasted four hours.")


@respx.mock(assert_all_mocked=True)
def test_a_server_without_log_probabilities_gives_no_judgment(respx_mock: respx.MockRouter) -> None:
    reply = _logprobs_reply({"Yes": 1.0})
    reply["choices"][0]["logprobs"] = None  # type: ignore[index]
    respx_mock.post("http://127.0.0.1:9/v1/chat/completions").mock(return_value=httpx.Response(200, json=reply))
    client = ChatClient(base_url="http://127.0.0.1:9/v1", model="m", retries=0)
    assert yes_probability(client, load_prompts(), "Q?", "S.") is None


def test_a_model_without_token_probabilities_is_never_asked_to_judge() -> None:
    class Plain:
        def complete(self, *args: object, **kwargs: object) -> str:
            raise AssertionError("not asked")

    assert yes_probability(Plain(), load_prompts(), "Q?", "S.") is None  # type: ignore[arg-type]

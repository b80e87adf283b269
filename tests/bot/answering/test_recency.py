"""Questions about the latest news prefer newer articles: the cue list and the boost in fusion."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.answering.retrieval import Candidates, Retriever, asks_for_recent, freshness
from bot.config import Settings
from index.ingest import reindex
from index.store.chroma import Hit, open_store
from tests.fakes import HashEmbedder


@pytest.mark.parametrize(
    "question",
    [
        "What is the latest on the grain deal?",
        "What happened last week in Kyiv?",
        "Какие последние новости о мосте?",
        "Що нового за останні дні про врожай?",
        "Какво стана тази седмица?",
        "Was gibt es Neuestes? Die neuesten Meldungen bitte",
        "Quelles sont les dernières nouvelles ?",
    ],
)
def test_questions_asking_for_the_latest_news_are_recognised(question: str) -> None:
    assert asks_for_recent(question)


@pytest.mark.parametrize(
    "question",
    [
        "What did the recession do to grain prices?",
        "Какие последствия у наводнения?",
        "Who was the last king of Bulgaria?",
        "Скільки коштував міст?",
    ],
)
def test_other_questions_get_no_recency_boost(question: str) -> None:
    assert not asks_for_recent(question)


def test_freshness_halves_every_half_life_and_is_zero_when_undated() -> None:
    newest = dt.date(2024, 6, 30)
    assert freshness("2024-06-30", newest, 30) == 1.0
    assert freshness("2024-05-31", newest, 30) == pytest.approx(0.5)
    assert freshness(None, newest, 30) == 0.0
    assert freshness("sometime", newest, 30) == 0.0


def _dated_corpus(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, date, extra in (
        ("old", "2024-01-10", "Work on the sea wall went on."),
        ("new", "2024-06-20", "The port closed again on Monday."),
        ("undated", None, "The port authority met the fishermen."),
    ):
        front = (
            f"---\ntitle: Harbour {name}\ndate: '{date}'\n---\n\n"
            if date
            else f"---\ntitle: Harbour {name}\n---\n\n"
        )
        body = f"Portwick harbour storm damage and the sea wall repairs, officials said. {extra}\n"
        (folder / f"{name}.md").write_text(front + body, encoding="utf-8")


def _hit(article: str, similarity: float, retriever: Retriever) -> Hit:
    chunk_id, text, meta = next(c for c in retriever.store.iter_chunks() if c[2].article_id == article)
    return Hit(chunk_id, text, meta, similarity=similarity)


def _dense(*hits: Hit) -> Candidates:
    return Candidates(vector=[], dense=hits, keyword=())


def test_a_question_about_the_latest_news_prefers_the_newest_of_close_matches(
    settings: Settings, embedder: HashEmbedder, tmp_path: Path
) -> None:
    settings.index.corpus_dir = tmp_path / "dated"
    _dated_corpus(settings.index.corpus_dir)
    reindex(settings.index, embedder)
    retriever = Retriever(open_store(settings.index, embedder), settings.retrieval)
    close = _dense(
        _hit("old", 0.80, retriever), _hit("undated", 0.79, retriever), _hit("new", 0.78, retriever)
    )
    assert retriever.fuse(close, recent=False).articles == ("old", "undated", "new")
    assert retriever.fuse(close, recent=True).articles == ("new", "old", "undated")
    clearly_better = _dense(_hit("old", 0.90, retriever), _hit("new", 0.78, retriever))
    assert retriever.fuse(clearly_better, recent=True).articles[0] == "old"
    # through retrieve(): the cue in the question switches the boost on
    asked = retriever.retrieve("latest Portwick harbour storm damage sea wall repairs")
    assert asked.passages[0].score > asked.passages[0].similarity
    plain = retriever.retrieve("Portwick harbour storm damage sea wall repairs")
    assert plain.passages[0].score < asked.passages[0].score

"""Recency benchmark: does a question about "the latest" news get the newest of several updates on a story?

Run: .venv/bin/python benchmarks/recency.py
A scratch corpus of stories, each told in three dated updates (the newest first in time order last),
indexed with the bundled e5 embedder; questions asking for the latest news in en, ru and uk, and the same
questions without the cue. Prints, per recency weight, how often the newest update ranks first (hit@1)
and the mean rank of the newest update. Asserts nothing; never touches corpus/ or the real index.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.answering.retrieval import Retriever, asks_for_recent  # noqa: E402
from bot.config import RetrievalSettings  # noqa: E402
from index.config import IndexSettings  # noqa: E402
from index.embed.embeddings import E5Embedder  # noqa: E402
from index.ingest import reindex  # noqa: E402
from index.store.chroma import open_store  # noqa: E402

# story → three updates (date, text); the last is the newest.
STORIES = {
    "flood": [
        (
            "2024-04-02",
            "Floods in Portwick: the river Dane burst its banks and 200 people were evacuated from the "
            "old town, the council said.",
        ),
        (
            "2024-04-05",
            "Portwick floods: the water level of the river Dane is still rising; 650 people have now "
            "left their homes and schools are closed.",
        ),
        (
            "2024-04-11",
            "Portwick floods: the river Dane is falling and the first families are returning to the "
            "old town, where the clean-up has begun.",
        ),
    ],
    "strike": [
        (
            "2024-05-03",
            "Rail workers at Nordline announced a strike over pay; trains between Aston and Bury will "
            "stop from Monday.",
        ),
        (
            "2024-05-08",
            "The Nordline rail strike entered its third day; only one train in five runs between "
            "Aston and Bury.",
        ),
        (
            "2024-05-15",
            "The Nordline rail strike is over: the union accepted a 6 percent pay rise and trains "
            "between Aston and Bury run normally again.",
        ),
    ],
    "election": [
        (
            "2024-06-01",
            "The mayoral race in Kelby: polls show Anna Voss and Peter Holm level at 41 percent each.",
        ),
        (
            "2024-06-09",
            "Kelby mayoral election: turnout reached 58 percent; counting goes on overnight between "
            "Anna Voss and Peter Holm.",
        ),
        (
            "2024-06-10",
            "Anna Voss won the Kelby mayoral election with 52 percent of the vote against Peter Holm.",
        ),
    ],
    "wildfire": [
        (
            "2024-07-12",
            "A wildfire broke out in the Serra hills near Lagos Verde; 300 firefighters are on the scene.",
        ),
        (
            "2024-07-14",
            "The Serra hills wildfire has burned 4,000 hectares; two villages near Lagos Verde were "
            "evacuated.",
        ),
        (
            "2024-07-20",
            "Firefighters contained the Serra hills wildfire near Lagos Verde after eight days; the "
            "evacuated villagers went home.",
        ),
    ],
}
QUESTIONS = {
    "flood": [
        "What is the latest on the Portwick floods?",
        "Какие последние новости о наводнении в Портвике?",
        "Які останні новини про повінь у Портвіку?",
    ],
    "strike": [
        "Latest news on the Nordline rail strike?",
        "Что последнее известно о забастовке на Nordline?",
        "Що останнє відомо про страйк на залізниці Nordline?",
    ],
    "election": [
        "What is the most recent news from the Kelby mayoral election?",
        "Последние новости о выборах мэра в Келби?",
        "Останні новини про вибори мера в Келбі?",
    ],
    "wildfire": [
        "What's the latest on the wildfire in the Serra hills?",
        "Последние новости о лесном пожаре в горах Серра?",
        "Які останні новини про лісову пожежу в горах Серра?",
    ],
}
WEIGHTS = (0.0, 0.02, 0.05, 0.1)
HALF_LIVES = (3.0, 7.0, 30.0)


def _plain(question: str) -> str:
    """The question with its recency words taken out (the control)."""
    for cue in (
        "the latest on",
        "latest news on",
        "the most recent news from",
        "latest",
        "последние новости о",
        "что последнее известно о",
        "останні новини про",
        "що останнє відомо про",
    ):
        question = question.replace(cue, "").replace(cue.capitalize(), "")
    return " ".join(question.split())


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "corpus"
        corpus.mkdir()
        for story, updates in STORIES.items():
            for n, (date, text) in enumerate(updates):
                (corpus / f"{story}-{n}.md").write_text(
                    f"---\ndate: '{date}'\n---\n\n{text}\n", encoding="utf-8"
                )
        settings = IndexSettings(corpus_dir=corpus, data_dir=Path(scratch) / "data")
        embedder = E5Embedder()
        reindex(settings, embedder)
        store = open_store(settings, embedder)
        asked = [(story, q) for story, qs in QUESTIONS.items() for q in qs]
        missed = [q for _, q in asked if not asks_for_recent(q)]
        print(
            f"{len(asked)} questions, {len(STORIES)} stories × 3 dated updates; cue missed in: {missed or 'none'}"
        )
        retriever = Retriever(store, RetrievalSettings(min_score=0.0))
        ranked = []  # (story, asks for the latest, recency cue, candidates) per question, embedded once
        for story, question in asked:
            for text in (question, _plain(question)):
                ranked.append((story, text == question, asks_for_recent(text), retriever.candidates(text)))
        gaps = []
        for story, latest, _recent, found in ranked:
            if latest:
                passages = retriever.fuse(found).passages
                best = {p.article_id: p.score for p in reversed(passages)}
                updates = [best.get(f"{story}-{n}", 0.0) for n in range(3)]
                gaps.append(max(updates) - updates[2])
        gaps.sort()
        print(
            f"score gap best update - newest (no boost): median {gaps[len(gaps) // 2]:.3f}, max {gaps[-1]:.3f}"
        )
        for half_life in HALF_LIVES:
            for weight in WEIGHTS:
                retriever.settings = RetrievalSettings(
                    recency_weight=weight, recency_half_life_days=half_life, min_score=0.0
                )
                for label, asked_latest in (("latest", True), ("no cue", False)):
                    hits, on_topic, ranks = 0, 0, []
                    for story, latest, recent, found in ranked:
                        if latest != asked_latest:
                            continue
                        articles = retriever.fuse(found, recent=recent).articles
                        order = [a for a in articles if a.startswith(story)]
                        on_topic += bool(articles) and articles[0].startswith(story)
                        rank = order.index(f"{story}-2") + 1 if f"{story}-2" in order else 4
                        hits += rank == 1
                        ranks.append(rank)
                    print(
                        f"half-life {half_life:>4g} d, recency_weight {weight:<4}  {label:7} newest update first: "
                        f"{hits}/{len(ranks)}  mean rank of the newest {sum(ranks) / len(ranks):.2f}"
                        f"  top article on the story asked about: {on_topic}/{len(ranks)}"
                    )


if __name__ == "__main__":
    main()

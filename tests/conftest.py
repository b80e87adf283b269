"""Shared fixtures: settings built with arguments (never from the environment), small corpora, fakes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import stamina

from bot.config import Settings
from tests.fakes import HashEmbedder

CONTRACT_KEYS = {
    "id",
    "question",
    "answer",
    "language",
    "refused",
    "citations",
    "retrieved",
    "mode",
    "latency_ms",
}
"""The keys of one answer object in `newsbot eval --json` / `newsbot ask --json` (shared/eval/README.md)."""

ARTICLES = {
    "plant.txt": (
        "Kim visits the aircraft plant\n\n"
        "Kim Jong Un visited the aircraft plant in Komsomolsk-on-Amur on Friday. "
        "The plant builds Su-35 and Su-57 fighter jets.\n\n"
        "He was accompanied by the mayor Alexander Zhornik and the governor Mikhail Degtyarev.\n\n"
        "The delegation toured the assembly halls and looked inside the cockpit of a fighter. "
        "Engineers showed the guests how the wings are fitted to the fuselage. "
        "The visit lasted about three hours before the train left for Vladivostok."
    ),
    "forum.md": (
        "---\ntitle: Eastern Economic Forum opens\nurl: https://example.org/forum\ndate: 2023-09-10\n---\n"
        "The Eastern Economic Forum takes place in Vladivostok from 10 to 13 September. "
        "Delegations from many countries attend the forum on the university campus."
    ),
    "world/weather.txt": (
        "Heavy snow in the mountains\n\n"
        "Heavy snowfall closed three mountain passes on Tuesday. "
        "Road services expect the passes to reopen by the weekend."
    ),
}


def write_corpus(folder: Path, articles: dict[str, str] = ARTICLES) -> Path:
    for name, text in articles.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        index={"corpus_dir": corpus, "data_dir": tmp_path / "data", "chunk_size": 64, "chunk_overlap": 8},
        llm={"provider": "extractive"},
        retrieval={"min_score": 0.0},
    )


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(autouse=True)
def _no_newsbot_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings from arguments; a developer's NEWSBOT_* variables must not leak in."""
    import os

    for name in list(os.environ):
        if name.startswith("NEWSBOT_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _instant_retries() -> Iterator[None]:
    """stamina, the one retry layer, waits nothing in tests; cap=True keeps each caller's own attempt count."""
    with stamina.set_testing(True, attempts=100, cap=True):
        yield

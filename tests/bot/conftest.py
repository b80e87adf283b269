"""Fixtures of the front-end tests: the environment a CLI run gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import HashEmbedder


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, corpus: Path, tmp_path: Path) -> dict[str, str]:
    """NEWSBOT_* variables for a CLI run over the test corpus, with the hashing embedder."""
    monkeypatch.setattr("bot.service.make_embedder", lambda settings: HashEmbedder())
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return {
        "NEWSBOT_INDEX__CORPUS_DIR": str(corpus),
        "NEWSBOT_INDEX__DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_INDEX__CHUNK_SIZE": "64",
        "NEWSBOT_INDEX__CHUNK_OVERLAP": "8",
        "NEWSBOT_LLM__PROVIDER": "extractive",
        "NEWSBOT_RETRIEVAL__MIN_SCORE": "0.1",
    }

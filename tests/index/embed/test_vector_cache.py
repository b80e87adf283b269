"""The sentence vector cache: each sentence embedded once per model and kind; a broken cache is bypassed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from index.embed.base import Vector
from index.embed.cache import CachedEmbedder
from tests.fakes import HashEmbedder


class CountingEmbedder(HashEmbedder):
    def __init__(self, name: str = "hash-test") -> None:
        super().__init__()
        self.name = name
        self.embedded: list[str] = []

    @property
    def model_name(self) -> str:
        return self.name

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        self.embedded.extend(texts)
        return super().embed_passages(texts)


def test_a_sentence_is_embedded_once_and_read_back_the_same(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    cache = CachedEmbedder(inner, tmp_path / "vectors.sqlite")
    first = cache.embed_passages(["Kim visited the plant.", "Putin met Kim."])
    again = CachedEmbedder(inner, tmp_path / "vectors.sqlite").embed_passages(["Putin met Kim.", "New one."])
    assert inner.embedded == ["Kim visited the plant.", "Putin met Kim.", "New one."]
    assert again[0] == pytest.approx(first[1], abs=1e-6)


def test_another_model_or_kind_of_vector_is_not_served_from_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "vectors.sqlite"
    CachedEmbedder(CountingEmbedder("model-a"), path).embed_passages(["Putin met Kim."])
    other = CountingEmbedder("model-b")
    CachedEmbedder(other, path).embed_passages(["Putin met Kim."])
    assert other.embedded == ["Putin met Kim."]


def test_a_damaged_cache_file_is_bypassed_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "vectors.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    inner = CountingEmbedder()
    cache = CachedEmbedder(inner, path)
    vectors = cache.embed_passages(["Putin met Kim."])
    assert len(vectors) == 1 and len(vectors[0]) == inner.dim
    assert "sentence vector cache" in caplog.text and str(path) in caplog.text
    cache.embed_passages(["Putin met Kim."])
    assert inner.embedded == ["Putin met Kim.", "Putin met Kim."], "no cache, but answers go on"

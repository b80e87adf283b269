"""Which corpus files are read, and how: links, pipes and devices never leak or hang; unchanged files are cached."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import index.load.articles
from index.load.articles import load_corpus
from index.load.cleaning import clean_text
from tests._articles_pages import EN, EN_TITLE, page

LIMIT = 2_000_000
EN_PAGE = page(EN_TITLE, *EN)
SECRET = "NEWSBOT_TELEGRAM__TOKEN=123456:SECRET-TOKEN-never-to-be-indexed"


def _load(corpus: Path, **options: object) -> tuple[list[str], dict[str, str]]:
    articles, skipped = load_corpus(corpus, max_file_bytes=LIMIT, **options)  # type: ignore[arg-type]
    return [a.id for a in articles], {s.path.name: s.reason for s in skipped}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "real.txt").write_text(EN_PAGE, encoding="utf-8")
    (tmp_path / ".env").write_text(f"{SECRET}\n" * 5 + "A line of prose that reads like an article.\n")
    return folder


def test_a_link_to_a_secret_outside_the_corpus_is_never_read(corpus: Path) -> None:
    (corpus / "notes.txt").symlink_to("../.env")
    (corpus / "passwd.txt").symlink_to("/etc/passwd")
    for options in ({}, {"follow_symlinks": True}):
        ids, skipped = _load(corpus, **options)
        assert ids == ["real"]
        assert set(skipped) == {"notes.txt", "passwd.txt"}
        assert all("symbolic link" in reason for reason in skipped.values())


def test_a_link_that_stays_inside_the_corpus_is_read_only_when_allowed(corpus: Path) -> None:
    (corpus / "sub").mkdir()
    (corpus / "real.txt").rename(corpus / "sub" / "target.md")
    (corpus / "sub" / "z-alias.txt").symlink_to("target.md")
    ids, skipped = _load(corpus)
    assert ids == ["sub/target"] and "NEWSBOT_INDEX__FOLLOW_SYMLINKS" in skipped["z-alias.txt"]
    ids, skipped = _load(corpus, follow_symlinks=True)
    assert ids == ["sub/target"]  # the alias holds the same text: a duplicate, not a second article
    assert skipped == {"z-alias.txt": "same text as sub/target"}


def test_a_link_to_an_endless_device_is_refused_without_reading(corpus: Path) -> None:
    (corpus / "zero.txt").symlink_to("/dev/zero")
    ids, skipped = _load(corpus, follow_symlinks=True)
    assert ids == ["real"]
    assert "outside the corpus" in skipped["zero.txt"]


def test_a_fifo_in_the_corpus_does_not_hang_the_load(corpus: Path) -> None:
    os.mkfifo(corpus / "pipe.txt")
    result: list[tuple[list[str], dict[str, str]]] = []
    worker = threading.Thread(target=lambda: result.append(_load(corpus)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "loading the corpus blocked on a FIFO"
    ids, skipped = result[0]
    assert ids == ["real"]
    assert "not a regular file" in skipped["pipe.txt"]


def test_no_more_than_the_limit_is_read_whatever_the_size_on_disk(tmp_path: Path) -> None:
    sparse = tmp_path / "big.txt"
    with sparse.open("wb") as handle:
        handle.truncate(50 * LIMIT)  # 100 MB on paper, nothing on disk
    _, skipped = _load(tmp_path)
    assert "over the 2.0 MB limit" in skipped["big.txt"]


def test_an_unchanged_file_is_not_cleaned_again(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cleaned: list[str] = []

    def counting_clean(text: str, title: str | None = None) -> object:
        cleaned.append(text)
        return clean_text(text, title)

    monkeypatch.setattr(index.load.articles, "clean_text", counting_clean)
    cache = tmp_path / "data" / "articles.json"
    cache.parent.mkdir()
    (corpus / "empty.txt").write_bytes(b"")
    first, first_skipped = load_corpus(corpus, max_file_bytes=LIMIT, cache_path=cache)
    assert len(cleaned) == 1
    second, second_skipped = load_corpus(corpus, max_file_bytes=LIMIT, cache_path=cache)
    assert len(cleaned) == 1 and second == first and second_skipped == first_skipped
    os.utime(corpus / "real.txt")  # touched, same bytes: the hash says unchanged
    load_corpus(corpus, max_file_bytes=LIMIT, cache_path=cache)
    assert len(cleaned) == 1
    (corpus / "real.txt").write_text(EN_PAGE + "\n\nOne more sentence of the article.", encoding="utf-8")
    third, _ = load_corpus(corpus, max_file_bytes=LIMIT, cache_path=cache)
    assert len(cleaned) == 2 and third[0].text.endswith("One more sentence of the article.")
    load_corpus(corpus, max_file_bytes=LIMIT, cache_path=cache, salt="other chunking")
    assert len(cleaned) == 3  # settings that shape the article invalidate the cache


def test_a_damaged_cache_only_costs_time(tmp_path: Path, corpus: Path) -> None:
    cache = tmp_path / "articles.json"
    cache.write_text("{not json", encoding="utf-8")
    ids, _ = _load(corpus, cache_path=cache)
    assert ids == ["real"]

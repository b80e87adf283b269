"""Uploaded articles: safe names, only text articles within the limit, never overwriting another file."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.errors import BadArticle
from index.load.uploads import save_upload


def test_an_upload_is_saved_as_utf8_under_a_safe_name(tmp_path: Path) -> None:
    path = save_upload("../../Новини дня!.md", "Привет, мир".encode("cp1251"), tmp_path, max_bytes=1000)
    assert path == tmp_path / "uploads" / "Новини_дня_.md"
    assert path.read_text(encoding="utf-8") == "Привет, мир"


def test_the_same_name_gets_a_new_file_and_the_same_text_is_the_file_already_there(tmp_path: Path) -> None:
    first = save_upload("story.txt", b"One story.", tmp_path, max_bytes=1000)
    second = save_upload("story.txt", b"Another story.", tmp_path, max_bytes=1000)
    again = save_upload("story.txt", b"Another story.", tmp_path, max_bytes=1000)
    assert (first.name, second.name, again) == ("story.txt", "story-2.txt", second)
    assert first.read_text(encoding="utf-8") == "One story."


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("report.pdf", b"%PDF-1.4", "only .txt and .md"),
        ("big.txt", b"x" * 11, "over the 10-byte limit"),
        ("blank.txt", b"  \n ", "the file is empty"),
        ("image.md", b"\x89PNG\r\n", "binary file"),
    ],
)
def test_what_is_not_a_text_article_is_refused(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    with pytest.raises(BadArticle, match=reason):
        save_upload(name, data, tmp_path, max_bytes=10)
    assert not [path for path in tmp_path.rglob("*") if path.is_file()], "nothing is saved"

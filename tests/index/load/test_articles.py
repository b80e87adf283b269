"""The load step: corpus files of every sort become articles or are skipped with a reason to act on."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from index.config import IndexSettings
from index.errors import BadArticle, ConfigError
from index.load.articles import (
    ARTICLE_CACHE,
    article_id,
    article_path,
    configured_article,
    load_article,
    load_configured_corpus,
    load_corpus,
)
from index.load.decoding import decode_bytes
from index.load.metadata import parse_dateline
from index.models import Article
from tests._articles_pages import EN, EN_TITLE, RU, RU_TITLE, UK, UK_TITLE, page

LIMIT = 2_000_000
RU_PAGE = page(RU_TITLE, *RU)
RU_KOI8 = page(RU_TITLE, RU[0], *RU[3:])  # KOI8-R has no "№", "«" or "»"
UK_PAGE = page(UK_TITLE, *UK)
EN_PAGE = page(EN_TITLE, *EN)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def load(folder: Path, name: str, content: str | bytes, *, limit: int = LIMIT, salt: str = "") -> Article:
    return load_article(write(folder, name, content), folder, max_file_bytes=limit, salt=salt)


def reason_of(folder: Path, name: str, content: str | bytes, *, limit: int = LIMIT) -> str:
    with pytest.raises(BadArticle) as caught:
        load(folder, name, content, limit=limit)
    assert str(caught.value).startswith(str(folder / name))
    return caught.value.reason


@pytest.mark.parametrize("content", [b"", b"  \n\n\t \n"], ids=["zero bytes", "only whitespace"])
def test_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    assert reason_of(tmp_path, "a.txt", content) == "empty file"


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, b"\x00\x01\x02binary" * 50, bytes(range(256)) * 8],
    ids=["png", "nul bytes", "every byte"],
)
def test_binary_file_is_refused(tmp_path: Path, content: bytes) -> None:
    assert reason_of(tmp_path, "a.txt", content) == "binary file, not text"


def test_file_over_the_size_limit_names_the_setting(tmp_path: Path) -> None:
    reason = reason_of(tmp_path, "big.txt", "x" * 5_300_000)
    assert reason == "file is 5.3 MB, over the 2.0 MB limit (NEWSBOT_INDEX__MAX_FILE_BYTES)"


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("cp1251", "cp1251"),
        ("koi8-r", "koi8-r"),
        ("utf-16", "utf-16"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16-le", "utf-16-le"),
    ],
)
def test_cyrillic_text_in_other_encodings_decodes_right(tmp_path: Path, encoding: str, expected: str) -> None:
    article = load(tmp_path, "a.txt", RU_KOI8.encode(encoding))
    assert article.text == RU_KOI8
    assert article.encoding == expected


@pytest.mark.parametrize("encoding", ["cp1251", "koi8-r", "mac-cyrillic"])
def test_a_single_short_line_in_a_cyrillic_code_page_decodes_right(encoding: str) -> None:
    assert decode_bytes("Привет, мир!".encode(encoding), "hello.txt")[0] == "Привет, мир!"


def test_decoding_error_names_the_file() -> None:
    with pytest.raises(BadArticle, match=r"^upload\.txt: binary file, not text$"):
        decode_bytes(b"\x00\xff" * 300, "upload.txt")
    with pytest.raises(BadArticle, match=r"^upload\.txt: binary file, not text$"):
        decode_bytes(b"\x00\x01\x02binary" * 50, "upload.txt")


def test_front_matter_fields_are_read_and_other_keys_ignored(tmp_path: Path) -> None:
    text = (
        "---\n"
        "title: Паводок в Барнауле\n"
        "url: https://example.org/flood\n"
        "date: 2023-05-04\n"
        "source: Алтайские новости\n"
        "language: RU\n"
        "tags: [flood, Barnaul]\n"
        "---\n" + RU_PAGE
    )
    article = load(tmp_path, "a.md", text)
    assert (article.title, article.url, article.date, article.source, article.language) == (
        "Паводок в Барнауле",
        "https://example.org/flood",
        "2023-05-04",
        "Алтайские новости",
        "ru",
    )
    assert article.text == RU_PAGE
    assert article.removed == ()


def test_front_matter_language_wins_over_detection(tmp_path: Path) -> None:
    article = load(tmp_path, "a.md", "---\nlanguage: bg\n---\n" + RU_PAGE)
    assert article.language == "bg"


def test_broken_front_matter_warns_and_still_reads_its_fields(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "---\ntitle: Flood: the river rises\nurl: https://example.org/flood\n---\n" + RU_PAGE
    with caplog.at_level(logging.WARNING, logger="index.load.metadata"):
        article = load(tmp_path, "a.md", text)
    assert article.title == "Flood: the river rises"
    assert article.url == "https://example.org/flood"
    assert article.text == RU_PAGE
    assert "broken front matter: mapping values are not allowed here" in caplog.text
    assert [r.reason for r in article.removed] == ["broken front matter → metadata"]


def test_broken_front_matter_without_fields_stays_in_the_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "---\n[ unclosed, list\nThe river rose overnight.\n---\n" + EN_PAGE
    with caplog.at_level(logging.WARNING, logger="index.load.metadata"):
        article = load(tmp_path, "a.md", text)
    assert article.text.startswith("[ unclosed, list\n\nThe river rose overnight.\n\n")
    assert article.text.endswith(EN_PAGE)
    assert "kept as text" in caplog.text


def test_a_leading_rule_without_a_closing_one_is_not_front_matter(tmp_path: Path) -> None:
    article = load(tmp_path, "a.md", "---\n" + EN_PAGE)
    assert article.text == EN_PAGE
    assert article.title == EN_TITLE


def test_headline_line_becomes_the_title_and_stays_in_the_text(tmp_path: Path) -> None:
    article = load(tmp_path, "a.txt", UK_PAGE)
    assert article.title == UK_TITLE
    assert article.text.startswith(UK_TITLE + "\n\n")
    assert article.language == "uk"


def test_without_a_headline_the_first_sentence_becomes_the_title(tmp_path: Path) -> None:
    article = load(tmp_path, "a.txt", page(*RU))
    assert article.title == (
        "Уровень воды в реке Обь у Барнаула за сутки поднялся на два метра, сообщили в региональном "
        "управлении МЧС"
    )
    assert article.text == page(*RU)


def test_a_long_first_sentence_is_cut_on_a_word_boundary(tmp_path: Path) -> None:
    article = load(tmp_path, "a.txt", page(*UK[1:]))
    assert article.title == (
        "Під час ремонту робітники замінять деформаційні шви, відновлять опори мосту та покладуть нове…"
    )


@pytest.mark.parametrize(
    ("dateline", "date"),
    [
        ("13 сентября 2023, 16:30 В мире", "2023-09-13"),
        ("5 грудня 2023", "2023-12-05"),
        ("2023-09-13", "2023-09-13"),
        ("12 септември 2023 г.", "2023-09-12"),
        ("Wednesday, 13 September 2023 | World", "2023-09-13"),
        ("13.09.2023 16:30", "2023-09-13"),
    ],
)
def test_dateline_becomes_the_date_and_not_the_title(tmp_path: Path, dateline: str, date: str) -> None:
    article = load(tmp_path, "a.txt", page(dateline, RU_TITLE, *RU))
    assert article.date == date
    assert article.title == RU_TITLE
    assert article.text == RU_PAGE
    assert [(r.reason, r.text) for r in article.removed] == [("dateline → metadata", dateline)]


@pytest.mark.parametrize(
    "line",
    [
        "13 сентября 2023 года Путин встретился с Кимом на космодроме.",
        "13 сентября",
        "31.02.2023",
        "В 2023 году завод выпустил 40 самолетов",
    ],
)
def test_sentences_and_incomplete_dates_are_not_datelines(line: str) -> None:
    assert parse_dateline(line) is None


def test_front_matter_date_wins_over_the_dateline(tmp_path: Path) -> None:
    article = load(tmp_path, "a.md", "---\ndate: 2023-09-12\n---\n13 сентября 2023\n\n" + RU_PAGE)
    assert article.date == "2023-09-12"
    assert article.text == RU_PAGE


def test_source_line_near_the_top_becomes_the_source(tmp_path: Path) -> None:
    article = load(tmp_path, "a.txt", page(UK_TITLE, "Джерело: Укрінформ", *UK))
    assert article.source == "Укрінформ"
    assert article.title == UK_TITLE
    assert article.text == UK_PAGE
    assert [(r.reason, r.text) for r in article.removed] == [("source line → metadata", "Джерело: Укрінформ")]


def test_page_furniture_is_cut_and_reported(tmp_path: Path) -> None:
    article = load(tmp_path, "a.txt", RU_PAGE + "\n\nПохожие новости\nДругая новость без точки\n-\n5120")
    assert article.text == RU_PAGE
    assert [r.reason for r in article.removed] == ["related-news heading and teaser list"]


def test_a_page_of_nothing_but_furniture_is_refused(tmp_path: Path) -> None:
    assert reason_of(tmp_path, "a.txt", "-\n6725\n-\nUSD:\n505.9 / 509.9") == (
        "nothing left after removing page furniture"
    )


def test_fingerprint_follows_content_and_salt(tmp_path: Path) -> None:
    first = load(tmp_path, "a.txt", EN_PAGE)
    same = load(tmp_path, "copy/b.txt", EN_PAGE)
    salted = load(tmp_path, "c.txt", EN_PAGE, salt="chunk_size=200")
    changed = load(tmp_path, "d.txt", EN_PAGE + "\n\nA correction was added later.")
    assert first.fingerprint == same.fingerprint
    assert len({first.fingerprint, salted.fingerprint, changed.fingerprint}) == 3


def test_article_id_is_the_posix_path_without_extension(tmp_path: Path) -> None:
    assert article_id(tmp_path / "001_8d8f982fc957114b.txt", tmp_path) == "001_8d8f982fc957114b"
    assert article_id(tmp_path / "world" / "2024" / "x.MD", tmp_path) == "world/2024/x"


def test_an_id_names_the_file_the_corpus_load_takes_and_never_one_outside_the_folder(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write(corpus, "world/storm.txt", EN_PAGE)
    write(corpus, "world/storm.md", RU_PAGE)  # the same id: the first by name is the article
    write(corpus, "world/storm.md.bak", UK_PAGE)
    write(tmp_path, "secret.txt", UK_PAGE)
    articles, _ = load_corpus(corpus, max_file_bytes=LIMIT)
    assert [a.path for a in articles] == [corpus / "world" / "storm.md"]
    assert article_path(corpus, "world/storm") == corpus / "world" / "storm.md"
    assert article_id(corpus / "world" / "storm.md", corpus) == "world/storm"
    for outside in ("../secret", "/etc/passwd", "", "world/storm.md", "world/nothing"):
        assert article_path(corpus, outside) is None, outside


def test_the_configured_corpus_is_read_with_the_index_settings_and_its_cache(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write(corpus, "a.txt", EN_PAGE)
    write(corpus, "big.txt", RU_PAGE * 2)
    limit = 1000
    assert len(EN_PAGE.encode()) <= limit < len((RU_PAGE * 2).encode())
    settings = IndexSettings(corpus_dir=corpus, data_dir=tmp_path, max_file_bytes=limit)
    articles, skipped = load_configured_corpus(settings, new_cache=False)
    assert [a.id for a in articles] == ["a"] and [s.path.name for s in skipped] == ["big.txt"]
    assert not (tmp_path / ARTICLE_CACHE).exists(), "show leaves no cache behind"
    again, _ = load_configured_corpus(settings)
    assert (tmp_path / ARTICLE_CACHE).exists()
    assert configured_article(settings, "a") == again[0] == articles[0]
    assert configured_article(settings, "nothing") is None
    with pytest.raises(BadArticle, match="NEWSBOT_INDEX__MAX_FILE_BYTES"):
        configured_article(settings, "big")


def test_corpus_ids_follow_nested_folders_and_hidden_or_other_files_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "b.txt", EN_PAGE)
    write(tmp_path, "world/2024/x.MD", RU_PAGE)
    write(tmp_path, "world/a.md", UK_PAGE)
    write(tmp_path, ".git/notes.txt", "Hidden folder text.")
    write(tmp_path, ".draft.txt", "Hidden file text.")
    write(tmp_path, "notes.docx", "Not an article type.")
    articles, skipped = load_corpus(tmp_path, max_file_bytes=LIMIT)
    assert [a.id for a in articles] == ["b", "world/2024/x", "world/a"]
    assert [a.language for a in articles] == ["en", "ru", "uk"]
    assert skipped == []


def test_second_file_with_the_same_text_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", EN_PAGE)
    write(tmp_path, "b.txt", EN_PAGE.replace("\n\n", "\n\n\n") + "\n\n-\n42")  # same text once cleaned
    articles, skipped = load_corpus(tmp_path, max_file_bytes=LIMIT)
    assert [a.id for a in articles] == ["a"]
    assert [(s.path.name, s.reason) for s in skipped] == [("b.txt", "same text as a")]


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, "a.txt", EN_PAGE)
    write(tmp_path, "b.txt", b"")
    write(tmp_path, "c.txt", b"\x00\x01\x02binary" * 50)
    write(tmp_path, "d/e.txt", RU_PAGE.encode("cp1251"))
    with caplog.at_level(logging.WARNING, logger="index.load.articles"):
        articles, skipped = load_corpus(tmp_path, max_file_bytes=LIMIT)
    assert [a.id for a in articles] == ["a", "d/e"]
    assert [(s.path, s.reason) for s in skipped] == [
        (tmp_path / "b.txt", "empty file"),
        (tmp_path / "c.txt", "binary file, not text"),
    ]
    assert f"{tmp_path / 'b.txt'}: empty file" in caplog.text
    assert f"{tmp_path / 'c.txt'}: binary file, not text" in caplog.text


def test_missing_corpus_folder_names_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError, match="NEWSBOT_INDEX__CORPUS_DIR") as caught:
        load_corpus(missing, max_file_bytes=LIMIT)
    assert str(missing) in str(caught.value)


@pytest.mark.parametrize(
    ("front_matter", "field"),
    [
        ("title: [a, b]", "title"),
        ("date: 12345", "date"),
        ("url: {a: 1}", "url"),
        ("source: {x: y}", "source"),
    ],
)
def test_front_matter_value_of_the_wrong_type_is_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, front_matter: str, field: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="index.load.metadata"):
        article = load(tmp_path, "a.md", f"---\n{front_matter}\n---\n{EN_PAGE}")
    assert getattr(article, field) in (None, EN_TITLE)  # the title is derived from the text instead
    assert f"front matter {field}" in caplog.text and "ignored" in caplog.text
    assert "{" not in article.title and "[" not in article.title

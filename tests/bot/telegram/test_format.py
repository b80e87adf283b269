"""The Telegram front end's pure parts: HTML rendering and splitting, the chat store, the rate limiter."""

from __future__ import annotations

import re
import string
import tomllib
from pathlib import Path

from bot.answering.prompts import load_prompts
from bot.models import Answer, Source, Turn
from bot.telegram.app import _file_base_url
from bot.telegram.chat_store import ChatStore
from bot.telegram.format import (
    MESSAGE_LIMIT,
    preview_text,
    render_answer,
    render_source,
    split_plain,
    telegram_length,
    user_language,
)
from bot.telegram.rate_limiter import RateLimiter

PHRASES = Path(__file__).resolve().parents[3] / "prompts" / "phrases"


def answer(text: str, sources: tuple[Source, ...] = ()) -> Answer:
    return Answer(text, "en", sources, refused=False, mode="fake")


def test_one_huge_paragraph_is_cut_at_sentence_ends() -> None:
    sentence = "The grain deal & the Black Sea <ports> were discussed at length [1]. "
    parts = render_answer(answer(sentence * 200), "Sources")
    assert len(parts) > 1
    for part in parts:
        assert telegram_length(part) <= MESSAGE_LIMIT
        assert part.endswith("<b>[1]</b>.")  # every cut falls after a whole sentence
        assert "<ports>" not in part and "&lt;ports&gt;" in part


def test_a_giant_word_is_cut_without_splitting_an_entity() -> None:
    parts = render_answer(answer("&" * 9000), "Sources")
    assert len(parts) == 11  # 819 escaped "&amp;" fit in one message
    assert all(telegram_length(p) <= MESSAGE_LIMIT for p in parts)
    assert all(re.fullmatch(r"(&amp;)+", p) for p in parts)
    assert sum(p.count("&amp;") for p in parts) == 9000


def test_length_counts_utf16_units_like_telegram() -> None:
    assert telegram_length("😀") == 2
    parts = render_answer(answer("😀 " * 3000), "Sources")
    assert all(telegram_length(p) <= MESSAGE_LIMIT for p in parts)
    assert len(parts) == 3  # 9,000 UTF-16 units, though only 6,000 code points


def test_sources_list_is_split_between_lines_and_sorted_by_marker() -> None:
    sources = tuple(Source(i, f"id-{i}", "T" * 300, f"https://example.com/{i}") for i in range(60, 0, -1))
    parts = render_answer(answer("Short answer [1]."), "Sources")
    assert parts == ["Short answer <b>[1]</b>."]
    parts = render_answer(answer("Short answer [1].", sources), "Sources")
    assert parts[0].startswith("Short answer <b>[1]</b>.\n\n<b>Sources</b>\n<b>[1]</b> ")
    lines = "\n".join(parts).splitlines()
    markers = [int(m) for m in re.findall(r"^<b>\[(\d+)\]</b> <a", "\n".join(lines), flags=re.MULTILINE)]
    assert markers == list(range(1, 61))
    assert all(p.splitlines()[-1].endswith("</a>") for p in parts)


def test_source_without_url_shows_its_id_and_unsafe_urls_are_not_links() -> None:
    assert render_source(Source(3, "uk/kim", "Кім & Путін", None, "2023-09-05")) == (
        "<b>[3]</b> Кім &amp; Путін · <code>uk/kim</code> · 2023-09-05"
    )
    line = render_source(Source(1, "x", "Click", 'javascript:alert("x")'))
    assert "<a" not in line and "<code>x</code>" in line
    link = render_source(Source(2, "y", "Quote", 'https://e.com/?q="a"'))
    assert '<a href="https://e.com/?q=&quot;a&quot;">Quote</a>' in link


def test_split_plain_prefers_line_ends() -> None:
    text = "first line\nsecond line\nthird line"
    assert split_plain(text, lambda piece: len(piece) <= 24) == ["first line\nsecond line", "third line"]


def test_preview_is_plain_text_cut_to_one_message() -> None:
    assert preview_text("Kim <b> [1]") == "Kim <b> [1] …"
    long = preview_text("word " * 2000)
    assert telegram_length(long) <= MESSAGE_LIMIT
    assert long.endswith(" …")


def test_user_language_from_telegram_codes() -> None:
    assert user_language("pt-br") == "pt"
    assert user_language(None) == "en"
    assert user_language("UK") == "uk"


def test_file_url_follows_the_bot_api_url() -> None:
    assert _file_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert _file_base_url("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"
    assert _file_base_url("http://proxy.local/tg/bot{token}") == "http://proxy.local/tg/file/bot{token}"
    assert _file_base_url("http://proxy.local/api/") == "http://proxy.local/api/file/bot"


def test_chat_store_keeps_the_last_turns_and_survives_a_new_instance(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "chats", keep=2)
    for i in range(3):
        store.append(-100, Turn(f"q{i}", f"a{i} [1]", "uk"))
    again = ChatStore(tmp_path / "chats", keep=2)
    assert again.history(-100) == (Turn("q1", "a1 [1]", "uk"), Turn("q2", "a2 [1]", "uk"))
    assert again.history(7) == ()
    again.reset(-100)
    assert store.history(-100) == ()
    assert list((tmp_path / "chats").iterdir()) == []


def test_chat_store_ignores_a_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "5.json").write_text("{not json", encoding="utf-8")
    store = ChatStore(tmp_path, keep=3)
    assert store.history(5) == ()
    store.append(5, Turn("q", "a"))
    assert store.history(5) == (Turn("q", "a", "en"),)


def test_chat_store_with_no_memory_writes_nothing(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "chats", keep=0)
    store.append(1, Turn("q", "a"))
    assert store.history(1) == ()
    assert not (tmp_path / "chats").exists()


def test_rate_limiter_is_a_sliding_window_per_user() -> None:
    now = [0.0]
    limiter = RateLimiter(limit=2, window=10, clock=lambda: now[0])
    assert limiter.acquire(1) == 0
    now[0] = 4
    assert limiter.acquire(1) == 0
    assert limiter.acquire(1) == 6  # the first question leaves the window at t=10
    assert limiter.acquire(2) == 0
    now[0] = 10.5
    assert limiter.acquire(1) == 0


def test_every_telegram_phrase_exists_in_every_language_with_the_same_placeholders() -> None:
    english = tomllib.loads((PHRASES / "telegram.en.toml").read_text(encoding="utf-8"))
    files = sorted(PHRASES.glob("telegram.*.toml"))
    answer_languages = {f.name.split(".")[1] for f in PHRASES.glob("answer.*.toml")}
    assert {f.name.split(".")[1] for f in files} == answer_languages  # a reader of any of them is served
    for path in files:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
        assert set(table) == set(english), path.name
        for key, text in table.items():
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            expected = {name for _, name, _, _ in string.Formatter().parse(english[key]) if name}
            assert names == expected, f"{path.name}: {key}"
    prompts = load_prompts()
    assert prompts.phrase("reset_done", "bg") == "Готово: забравих разговора ни."
    assert prompts.phrase("reset_done", "pt") == english["reset_done"]


def test_the_answering_words_of_the_quotes_are_bold_and_nothing_else_changes() -> None:
    from bot.telegram.format import render_answer

    text = "Here is what the articles say:\n• “The talks lasted 4 hours, said Peskov.” [1]\n\nAnswer: 4 h [1]"
    answer = Answer(text, "en", (Source(1, "a", "Talks"),), False, "local", marked=("4", "4 hours"))
    [html_text] = render_answer(answer, "Sources")
    assert "lasted <b>4 hours</b>, said" in html_text
    assert "Answer: 4 h <b>[1]</b>" in html_text, "only quote lines are marked; markers stay as they were"
    assert "<b><b>" not in html_text and "[<b>" not in html_text

"""The word patterns: each cuts text as its docstring says, the differences between them on purpose."""

from __future__ import annotations

from index.text.words import ALPHANUMERIC, LETTERS, MEASURE_TOKEN, NUMBER, TERM, WORD, WORD_PART, WORDLIKE

TEXT = "Kim's four-hour visit to Komsomolsk-on-Amur: Су-57, 3,5 and 1,000,000 (12%)."


def test_a_word_keeps_its_hyphens_and_apostrophes_and_a_word_part_only_its_apostrophes() -> None:
    assert WORD.findall(TEXT) == ["Kim's", "four-hour", "visit", "to", "Komsomolsk-on-Amur", "Су", "and"]
    assert WORD_PART.findall("four-hour п'ять O’Neil") == ["four", "hour", "п'ять", "O’Neil"]
    assert LETTERS.findall("п'ять Су-57") == ["п", "ять", "Су"]


def test_figures_are_read_with_one_decimal_part_or_all_their_digit_groups() -> None:
    assert NUMBER.findall("3,5 and 1,000,000") == ["3,5", "1,000", "000"]
    assert [t for t in TERM.findall(TEXT) if t[0].isdigit()] == ["57", "3,5", "1,000,000", "12"]
    assert "12%" in MEASURE_TOKEN.findall(TEXT) and "four" in MEASURE_TOKEN.findall(TEXT)


def test_a_sentence_key_keeps_its_digits() -> None:
    assert ALPHANUMERIC.findall("Су-57 [1]") == ["Су", "57", "1"]


def test_a_message_holds_a_word_only_with_two_letters_or_one_unspaced_character() -> None:
    assert not WORDLIKE.search("[1] 🙂 ?! a 7")
    assert WORDLIKE.search("ok") and WORDLIKE.search("金")

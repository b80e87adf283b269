"""The lexicon: word lists read from prompts/lexicon/, and how words compare."""

from __future__ import annotations

import tomllib

import pytest

from index.errors import ConfigError
from index.text import lexicon

LISTS = {
    "stopwords": ("evidence", "negations", "search", "topic"),
    "question_words": ("who", "where", "when", "how_many", "pointing_back", "broad"),
    "language_words": ("detection", "answer"),
    "abbreviations": ("inside", "final", "year"),
    "dates": ("month_starts", "dateline"),
    "numbers": ("figure_words",),
    "recency": ("cues",),
    "injection": ("orders", "anywhere", "addressees"),
}
NUMBER_TABLES = ("values", "compound_stems", "compound_units")
"""Tables of numbers.toml keyed by number, not by language."""


def test_every_lexicon_file_is_read_and_every_list_has_words_for_each_of_its_languages() -> None:
    folder = lexicon.prompts_directory() / lexicon.LEXICON_FOLDER
    files = sorted(
        item.name.removesuffix(".toml") for item in folder.iterdir() if item.name.endswith(".toml")
    )
    assert files == sorted(LISTS)
    for kind, names in LISTS.items():
        with (folder / f"{kind}.toml").open("rb") as handle:
            others = {"dates": ["months"], "numbers": list(NUMBER_TABLES)}.get(kind, [])
            assert sorted(tomllib.load(handle)) == sorted([*names, *others])
        for name in names:
            listed = kind == "recency" or (kind, name) in (("injection", "orders"), ("injection", "anywhere"))
            table = lexicon.phrases(kind, name) if listed else lexicon.by_language(kind, name)
            assert table and all(table.values()), (kind, name)
            assert all(len(code) == 2 and code.islower() for code in table)


def test_each_language_lists_twelve_months_and_a_month_name_means_one_month_everywhere() -> None:
    numbers: dict[str, int] = {}
    for language, months in lexicon.month_forms().items():
        assert len(months) == 12 and all(months), language
        for number, forms in enumerate(months, start=1):
            for form in forms:
                assert numbers.setdefault(form, number) == number, (language, form)
    assert numbers["jänner"] == numbers["січня"] == 1 and numbers["серпня"] == numbers["agosto"] == 8


def test_number_words_mean_one_number_each_and_are_read_from_the_lexicon() -> None:
    folder = lexicon.prompts_directory() / lexicon.LEXICON_FOLDER
    with (folder / "numbers.toml").open("rb") as handle:
        tables = tomllib.load(handle)
    for name in ("values", "compound_stems"):
        words = [word for value in tables[name].values() for word in value.split()]
        assert len(words) == len(set(words)), name
    values = lexicon.by_number("numbers", "values")
    assert values["chotiri"] == values["four"] == 4 and values["sto"] == 100
    assert lexicon.by_number("numbers", "compound_stems")["pet"] == 5
    assert "chas" in lexicon.words("numbers", "compound_units")


def test_a_number_table_keyed_by_anything_but_numbers_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexicon, "_lists", lambda kind: {"values": {"two": "dva"}})
    with pytest.raises(ConfigError, match=r"\[values\] two in prompts/lexicon/broken\.toml must be a number"):
        lexicon.by_number("broken", "values")


def test_lists_are_the_words_of_every_language_together() -> None:
    who = lexicon.words("question_words", "who")
    assert {"who", "кто", "хто", "кой", "wer"} <= who
    assert lexicon.by_language("question_words", "who")["uk"] == {"хто", "кого", "кому"}


def test_a_missing_list_is_a_config_error_naming_the_file() -> None:
    with pytest.raises(ConfigError, match=r"stopwords\.toml has no table \[nonsense\]"):
        lexicon.words("stopwords", "nonsense")
    with pytest.raises(ConfigError, match="cannot read the word lists"):
        lexicon.words("no_such_kind", "evidence")


def test_fold_meets_names_across_scripts_and_accents() -> None:
    assert lexicon.fold("Жорник") == lexicon.fold("Zhornik") == "zhornik"
    assert lexicon.fold_word("Путін") == lexicon.fold_word("Путин") == "putin"
    assert lexicon.fold_word("Zürich") == "zurich"


def test_across_languages_one_word_shares_its_first_five_letters() -> None:
    assert lexicon.same_word("vostochnii", "vostochnikh")
    assert lexicon.same_word("vostok", "vostochnii")  # a stem, not an inflection: fine for ranking
    assert lexicon.same_word("kim", "kim")
    assert not lexicon.same_word("mira", "miru")  # a four-letter word must match whole
    assert not lexicon.same_word("ab", "abc")
    assert lexicon.same_word("3,5", "3.5") and not lexicon.same_word("3", "35")


def test_within_one_text_one_word_differs_only_in_its_ending() -> None:
    assert lexicon.same_word("миру", "мира", ending=2)
    assert lexicon.same_word("переговоры", "переговорах", ending=2)
    assert not lexicon.same_word("востоковед", "восточный", ending=2)
    assert not lexicon.same_word("ес", "ес", ending=2)  # two letters are too few to tell

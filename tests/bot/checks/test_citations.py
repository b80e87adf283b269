"""The citation checker: sentence splitting, markers, bad answers caught, renumbering, the sources list."""

from __future__ import annotations

import pytest

from bot.answering.prompts import Prompts, load_prompts
from bot.checks.citations import (
    answer_language,
    check_answer,
    format_sources,
    renumber,
)
from bot.checks.markers import markers
from bot.checks.sentences import sentence_spans, split_sentences
from bot.models import Source

NOT_COVERED_RU = "В статьях об этом не говорится."


@pytest.fixture(scope="module")
def prompts() -> Prompts:
    return load_prompts()


# --- splitting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The mayor opened the bridge. [1] It cost 35 million [2]. Work took three years.[1]",
            ["The mayor opened the bridge. [1]", "It cost 35 million [2].", "Work took three years.[1]"],
        ),
        (
            "И. П. Петров открыл мост в 2023 г. В церемонии участвовал министр [1]. "
            "Рост составил 3,5 %, т.е. мало [2].",
            [
                "И. П. Петров открыл мост в 2023 г.",
                "В церемонии участвовал министр [1].",
                "Рост составил 3,5 %, т.е. мало [2].",
            ],
        ),
        (
            "Mr. Smith paid 3.5 million in the U.S. last year [1]. Was it worth it? Nobody knows [2]!",
            [
                "Mr. Smith paid 3.5 million in the U.S. last year [1].",
                "Was it worth it?",
                "Nobody knows [2]!",
            ],
        ),
        (
            'Он сказал: "Мы готовы." Затем мэр ушёл [1].',
            ['Он сказал: "Мы готовы."', "Затем мэр ушёл [1]."],
        ),
        (
            "Мэр заявил: «Мост готов». [1] Открытие прошло в воскресенье [2].",
            ["Мэр заявил: «Мост готов». [1]", "Открытие прошло в воскресенье [2]."],
        ),
        (
            "Am 13. September wurde die Brücke eröffnet [1]. Sie ist 420 m lang [2].",
            ["Am 13. September wurde die Brücke eröffnet [1].", "Sie ist 420 m lang [2]."],
        ),
        (
            "Мостът бе открит от г-н Петров на ул. Шипка [1]. Струва 35 млн. лева [2].",
            ["Мостът бе открит от г-н Петров на ул. Шипка [1].", "Струва 35 млн. лева [2]."],
        ),
        (
            "Here is what the articles say:\n• “The bridge opened.” [1]\n• “It cost 35 million.” [2]",
            ["Here is what the articles say:", "• “The bridge opened.” [1]", "• “It cost 35 million.” [2]"],
        ),
        (
            "1. The bridge opened [1].\n2. It is long [2].",
            ["1. The bridge opened [1].", "2. It is long [2]."],
        ),
        (
            "The bridge was opened by the mayor\nof the city on Sunday.\n[1]\nIt is 420 m long [2].",
            ["The bridge was opened by the mayor\nof the city on Sunday.\n[1]", "It is 420 m long [2]."],
        ),
        (
            "Міст відкрили в неділю [1]. Чи дорого він коштував? Так, 35 млн грн [2].",
            ["Міст відкрили в неділю [1].", "Чи дорого він коштував?", "Так, 35 млн грн [2]."],
        ),
        (
            "Un pont de 420 m a été inauguré… Le maire était présent [1].",
            ["Un pont de 420 m a été inauguré…", "Le maire était présent [1]."],
        ),
    ],
)
def test_sentences_split_at_real_ends_and_keep_their_markers(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_sentence_spans_point_into_the_exact_text() -> None:
    text = "  Мост открыли [1].   Он длинный [2].\n\nГотово.  "
    spans = sentence_spans(text)
    assert [text[start:end] for start, end in spans] == ["Мост открыли [1].", "Он длинный [2].", "Готово."]


def test_a_headline_without_a_period_is_its_own_sentence() -> None:
    assert split_sentences("Нов мост във Варна\n\nКметът откри моста в неделя.") == [
        "Нов мост във Варна",
        "Кметът откри моста в неделя.",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a [1] b [2][3] c [4, 5] d [6,7] e [2]", [1, 2, 3, 4, 5, 6, 7, 2]),
        ("no markers at all", []),
        ("a list [x] and a year [2023a] are not markers", []),
    ],
)
def test_markers_are_read_in_order_in_every_notation(text: str, expected: list[int]) -> None:
    assert markers(text) == expected


# --- checking ----------------------------------------------------------------------------------


def test_a_well_cited_answer_passes() -> None:
    check = check_answer("Мост открыли в воскресенье [1]. Он стоил 35 миллионов рублей [1][2].", 2, "ru")
    assert check.ok
    assert check.text == "Мост открыли в воскресенье [1]. Он стоил 35 миллионов рублей [1][2]."
    assert check.problems == ()


def test_markers_pointing_at_no_source_are_removed_and_reported() -> None:
    check = check_answer(
        "The bridge opened on Sunday [7]. It cost 35 million [0][2]. It is long [1, 9].", 3, "en"
    )
    assert check.dangling == (7, 0, 9)
    assert check.text == "The bridge opened on Sunday. It cost 35 million [2]. It is long [1]."
    assert check.uncited == ("The bridge opened on Sunday.",)
    assert not check.ok


def test_removing_a_marker_tidies_the_whitespace() -> None:
    check = check_answer("The bridge opened [5] .  It cost a lot [1].\n\n\n\nThe end [1].", 1, "en")
    assert check.text == "The bridge opened. It cost a lot [1].\n\nThe end [1]."


def test_uncited_statements_are_reported() -> None:
    text = "Мост открыли в воскресенье [1]. Мэр очень гордится мостом. Строительство заняло три года."
    check = check_answer(text, 1, "ru")
    assert check.uncited == ("Мэр очень гордится мостом.", "Строительство заняло три года.")
    assert not check.ok
    assert any("Мэр очень гордится мостом." in problem for problem in check.problems)


def test_a_heading_line_ending_with_a_colon_needs_no_marker() -> None:
    text = "Источники расходятся:\n— одни пишут, что мост стоил 35 млн [1];\n— другие называют 40 млн [2]."
    assert check_answer(text, 2, "ru").ok


def test_the_not_covered_phrase_needs_no_marker_and_is_recognised() -> None:
    check = check_answer(NOT_COVERED_RU, 3, "ru", not_covered=[NOT_COVERED_RU])
    assert check.ok
    assert check.not_covered


def test_not_covered_next_to_a_cited_statement_is_a_partial_answer() -> None:
    check = check_answer(
        f"Мост открыли в воскресенье [1]. {NOT_COVERED_RU}", 1, "ru", not_covered=[NOT_COVERED_RU]
    )
    assert check.ok
    assert not check.not_covered


def test_an_answer_in_the_wrong_language_is_flagged() -> None:
    text = "The bridge was opened on Sunday by the mayor of the city [1]."
    check = check_answer(text, 1, "ru")
    assert check.wrong_language
    assert answer_language(text, "ru") == "en"
    assert not check.ok


def test_a_russian_answer_to_a_ukrainian_question_is_flagged() -> None:
    text = "Мост открыли в воскресенье, его длина составляет 420 метров [1]."
    check = check_answer(text, 1, "uk")
    assert check.wrong_language
    assert answer_language(text, "uk") == "ru"


def test_a_very_short_answer_is_not_judged_by_language() -> None:
    check = check_answer("Иван Петров [1].", 1, "en")
    assert not check.wrong_language
    assert answer_language("Иван Петров [1].", "en") is None


def test_names_and_quotes_in_another_script_do_not_make_the_language_wrong() -> None:
    text = "The mayor Иван Петров opened the bridge over the canal [1]. He said «Мостът е готов» [1]."
    assert not check_answer(text, 1, "en").wrong_language
    text = "Мэр Ivan Petrov открыл новый мост через канал в воскресенье [1]."
    assert not check_answer(text, 1, "ru").wrong_language


def test_a_short_name_heavy_english_answer_is_not_misread() -> None:
    assert not check_answer("Petrov spoke. Ivanova left [1]. He stayed [1].", 1, "en").wrong_language


@pytest.mark.parametrize("text", ["", "   \n ", "[1]", "[1][2].", "Відповідь: [1][2][3]", "Answer:\n[1]"])
def test_an_empty_answer_is_flagged(text: str) -> None:
    check = check_answer(text, 2, "en")
    assert check.empty
    assert not check.ok


def test_problems_describe_what_to_fix_for_the_retry() -> None:
    check = check_answer("The bridge opened [4]. It cost a lot of money for the city.", 2, "de")
    problems = " ".join(check.problems)
    assert "[4]" in problems
    assert "It cost a lot of money for the city." in problems
    assert "(de)" in problems


# --- renumbering and the sources list ----------------------------------------------------------


def _sources(n: int) -> list[Source]:
    return [Source(i, f"art{i}", f"Title {i}", f"https://news.example/{i}", None) for i in range(1, n + 1)]


def test_renumber_keeps_cited_sources_in_order_of_first_appearance() -> None:
    text, sources = renumber("A [3]. B [1][3]. C [3, 1].", _sources(4))
    assert text == "A [1]. B [1][2]. C [1][2]."
    assert [(s.marker, s.article_id) for s in sources] == [(1, "art3"), (2, "art1")]


def test_renumber_drops_markers_of_unknown_sources() -> None:
    text, sources = renumber("A [2]. B [9].", _sources(2))
    assert text == "A [1]. B."
    assert [s.article_id for s in sources] == ["art2"]


def test_renumber_gives_one_number_to_one_article() -> None:
    sources = [Source(1, "same", "T"), Source(2, "other", "O"), Source(3, "same", "T")]
    text, kept = renumber("A [3]. B [2]. C [1].", sources)
    assert text == "A [1]. B [2]. C [1]."
    assert [(s.marker, s.article_id) for s in kept] == [(1, "same"), (2, "other")]


def test_renumber_without_markers_keeps_no_sources() -> None:
    assert renumber("Nothing cited.", _sources(2)) == ("Nothing cited.", ())


def test_sources_list_shows_title_link_and_date(prompts: Prompts) -> None:
    sources = [
        Source(1, "001_bridge", "Нов мост във Варна", "https://example.bg/most", "2024-05-12"),
        Source(2, "002_budget", "Budget   approved", None, None),
    ]
    assert format_sources(sources, "ru", prompts) == (
        "Источники:\n"
        "[1] Нов мост във Варна — https://example.bg/most, 2024-05-12\n"
        "[2] Budget approved — 002_budget"
    )


def test_sources_header_falls_back_to_english(prompts: Prompts) -> None:
    assert format_sources(_sources(1), "xx", prompts).startswith("Sources:\n[1] Title 1")


def test_no_sources_means_no_list(prompts: Prompts) -> None:
    assert format_sources([], "en", prompts) == ""


@pytest.mark.parametrize(
    "heading",
    [
        "Kim secretly met Shoigu and signed a deal:",
        "Ким тайно встретился с Шойгу и подписал соглашение:",
        "The talks lasted 4 hours:",
        "Putin met Kim:",
    ],
)
def test_a_statement_ending_with_a_colon_is_not_a_heading(heading: str) -> None:
    check = check_answer(f"{heading}\n- The talks were held at the Vostochny cosmodrome [1].", 1, "en")
    assert check.uncited == (heading,)
    assert not check.ok


@pytest.mark.parametrize(
    "heading",
    ["Here is what the articles say:", "Вот что говорится в статьях:", "Details:", "Sources differ:"],
)
def test_our_lead_ins_and_short_labels_need_no_marker(heading: str) -> None:
    assert (
        check_answer(f"{heading}\n- The talks were held at the Vostochny cosmodrome [1].", 1, "en").uncited
        == ()
    )

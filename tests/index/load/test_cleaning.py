"""The clean step on synthetic scraped pages: each rule cuts its furniture, and nothing of an article."""

from __future__ import annotations

import pytest

from index.load.cleaning import (
    CONTROLS,
    CREDIT,
    CURRENCY,
    JUNK,
    OFF_TOPIC,
    READ_ALSO,
    RELATED,
    REPEATED,
    REPEATED_PARAGRAPH,
    TEASERS,
    TICKER,
    clean_text,
)
from index.models import Removal
from tests._articles_pages import (
    BG,
    BG_REPEATED_TEASER,
    BG_TEASERS,
    BG_TITLE,
    CLEAN_BODIES,
    EN,
    EN_TEASERS,
    EN_TITLE,
    RU,
    RU_TITLE,
    RU_UNRELATED,
    UK,
    UK_TITLE,
    UK_UNRELATED,
    page,
)


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


def reasons(removed: tuple[Removal, ...]) -> list[str]:
    return [r.reason for r in removed]


@pytest.mark.parametrize("name", sorted(CLEAN_BODIES))
@pytest.mark.parametrize("separator", ["\n\n", "\n"], ids=["blank-lines", "single-newlines"])
def test_nothing_is_cut_from_a_clean_article(name: str, separator: str) -> None:
    body = CLEAN_BODIES[name]
    cleaned, removed = clean_text(separator.join(body))
    assert removed == ()
    assert paragraphs(cleaned) == body


def test_whitespace_is_normalised_and_paragraphs_get_one_blank_line() -> None:
    raw = "  Title  of\tthe story \r\n\r\n\r\n\n First  paragraph.\u00a0Second sentence.  \n\n\n  Last one. "
    cleaned, removed = clean_text(raw)
    assert cleaned == "Title of the story\n\nFirst paragraph. Second sentence.\n\nLast one."
    assert removed == ()


def test_hard_wrapped_prose_is_joined_back_into_paragraphs() -> None:
    wrapped = (
        "The council approved the budget on Tuesday after a long\n"
        "debate, and spending on schools rises by eight percent while\n"
        "road repairs get less money than last year.\n\n"
        "The regional authority still has to approve it."
    )
    cleaned, _ = clean_text(wrapped)
    assert paragraphs(cleaned) == [
        "The council approved the budget on Tuesday after a long debate, and spending on schools rises "
        "by eight percent while road repairs get less money than last year.",
        "The regional authority still has to approve it.",
    ]


def test_cleaning_twice_changes_nothing() -> None:
    text = page(RU_TITLE, *RU, "Читайте также", "Тизер другой новости без точки", "-", "1234", *RU_UNRELATED)
    once, _ = clean_text(text)
    twice, removed = clean_text(once)
    assert twice == once
    assert removed == ()


def test_counter_separator_and_id_lines_are_cut() -> None:
    text = page(EN_TITLE, EN[0], "-", "6725", "* * *", EN[1], "lw-3094948329-4", "—", *EN[2:])
    cleaned, removed = clean_text(text)
    assert paragraphs(cleaned) == [EN_TITLE, *EN]
    assert set(reasons(removed)) == {JUNK}
    assert [r.text for r in removed] == ["-\n6725\n* * *", "lw-3094948329-4\n—"]


def test_currency_rates_block_is_cut() -> None:
    rates = ["Курс валют", "USD:", "92.15 / 93.40", "EUR:", "99.80 / 101.05", "CNY 12.6 / 12.9"]
    cleaned, removed = clean_text(page(RU_TITLE, *RU) + "\n" + "\n".join(rates))
    assert paragraphs(cleaned) == [RU_TITLE, *RU]
    assert [(r.reason, r.text) for r in removed] == [(CURRENCY, "\n".join(rates))]


def test_a_three_letter_word_that_is_no_currency_stays() -> None:
    body = [EN_TITLE, *EN[:2], "NATO", *EN[2:]]
    cleaned, removed = clean_text(page(*body))
    assert paragraphs(cleaned) == body
    assert removed == ()


def test_numbered_emoji_ticker_with_its_counters_is_cut_whole() -> None:
    ticker = [
        "-",
        "1🔥 В Омске загорелся склад с покрышками",
        "-",
        "5120",
        "-",
        "12",
        "-",
        "2❄️Метель закрыла трассу на Новосибирск",
        "-",
        "4033",
        "-",
        "3 🚌 Новые автобусы вышли на маршруты",
        "-",
        "2870",
    ]
    cleaned, removed = clean_text("\n".join([RU_TITLE, *RU, *ticker]))
    assert paragraphs(cleaned) == [RU_TITLE, *RU]
    assert [(r.reason, r.text) for r in removed] == [(TICKER, "\n".join(ticker))]


def test_a_single_emoji_numbered_line_in_an_article_stays() -> None:
    body = [EN_TITLE, EN[0], "1🔥 The opening day drew a record crowd.", *EN[1:]]
    cleaned, removed = clean_text(page(*body))
    assert paragraphs(cleaned) == body
    assert removed == ()


@pytest.mark.parametrize(
    ("title", "body", "heading", "teasers"),
    [
        pytest.param(
            RU_TITLE,
            RU,
            "Похожие новости",
            [
                "В Новосибирске открыли новый мост через Обь",
                "Губернатор Алтайского края провел совещание по подготовке к зиме. Участники обсудили",
                "Энергетики завершили ремонт подстанции в Рубцовске.",
            ],
            id="ru",
        ),
        pytest.param(
            UK_TITLE,
            UK,
            "Читайте також:",
            [
                "У Житомирі відкрили новий парк",
                "Львівські лікарі провели унікальну операцію. Пацієнт уже",
            ],
            id="uk",
        ),
        pytest.param(BG_TITLE, BG, "Свързани новини", BG_TEASERS, id="bg"),
        pytest.param(EN_TITLE, EN, "RELATED STORIES", EN_TEASERS, id="en"),
    ],
)
def test_related_news_heading_and_its_teaser_list_are_cut(
    title: str, body: list[str], heading: str, teasers: list[str]
) -> None:
    text = page(title, *body, heading + "\n" + "\n".join(teasers))
    cleaned, removed = clean_text(text)
    assert paragraphs(cleaned) == [title, *body]
    assert [(r.reason, r.text) for r in removed] == [(RELATED, "\n".join([heading, *teasers]))]


def test_full_sentence_teasers_under_a_related_heading_are_cut_when_off_topic() -> None:
    text = "\n".join([UK_TITLE, *UK, "Схожі новини", *UK_UNRELATED])
    cleaned, removed = clean_text(text)
    assert paragraphs(cleaned) == [UK_TITLE, *UK]
    assert reasons(removed) == [RELATED]


def test_the_article_goes_on_after_a_related_box_in_its_middle() -> None:
    # Single newlines throughout, as many pages are scraped: only shape and topic tell the box apart.
    text = "\n".join([RU_TITLE, *RU[:3], "Читайте также", "Тизер новости о ремонте дорог", *RU[3:]])
    cleaned, removed = clean_text(text)
    assert paragraphs(cleaned) == [RU_TITLE, *RU]
    assert [(r.reason, r.text) for r in removed] == [
        (RELATED, "Читайте также\nТизер новости о ремонте дорог")
    ]


def test_a_related_heading_above_the_article_does_not_take_the_article_with_it() -> None:
    body = [RU_TITLE, *RU]
    cleaned, removed = clean_text(page("Популярное", *body))
    assert paragraphs(cleaned) == body
    assert reasons(removed) == [RELATED]


def test_inline_read_also_link_is_cut() -> None:
    link = "Читайте также: В Барнауле открыли новый мост"
    cleaned, removed = clean_text(page(RU_TITLE, *RU[:2], link, *RU[2:]))
    assert paragraphs(cleaned) == [RU_TITLE, *RU]
    assert [(r.reason, r.text) for r in removed] == [(READ_ALSO, link)]


def test_cluster_of_teaser_headlines_between_paragraphs_is_cut() -> None:
    text = page(BG_TITLE, *BG[:3], *BG_TEASERS, "Колко струва билетът?", *BG[3:])
    cleaned, removed = clean_text(text)
    assert paragraphs(cleaned) == [BG_TITLE, *BG]
    assert [(r.reason, r.text) for r in removed] == [
        (TEASERS, "\n".join([*BG_TEASERS, "Колко струва билетът?"]))
    ]


def test_repeated_teaser_headline_is_cut_wherever_it_appears() -> None:
    text = page(BG_TITLE, *BG[:4], BG_REPEATED_TEASER, BG[4], BG_REPEATED_TEASER, BG[5])
    cleaned, removed = clean_text(text)
    assert paragraphs(cleaned) == [BG_TITLE, *BG]
    assert reasons(removed) == [REPEATED, REPEATED]


def test_headline_repeated_in_the_body_keeps_its_first_place_as_title() -> None:
    cleaned, removed = clean_text(page(EN_TITLE, EN[0], EN_TITLE, *EN[1:]), title=EN_TITLE)
    assert paragraphs(cleaned) == [EN_TITLE, *EN]
    assert [(r.reason, r.text) for r in removed] == [(REPEATED, EN_TITLE)]


def test_repeated_paragraph_is_kept_once() -> None:
    cleaned, removed = clean_text(page(EN_TITLE, *EN, EN[1]))
    assert paragraphs(cleaned) == [EN_TITLE, *EN]
    assert [(r.reason, r.text) for r in removed] == [(REPEATED_PARAGRAPH, EN[1])]


def test_single_subheading_between_paragraphs_stays() -> None:
    body = [EN_TITLE, *EN[:2], "A building for everyone", *EN[2:]]
    cleaned, removed = clean_text(page(*body))
    assert paragraphs(cleaned) == body
    assert removed == ()


def test_share_buttons_subscription_calls_and_photo_credits_are_cut() -> None:
    text = page(
        UK_TITLE,
        "Фото: Олена Коваль / Укрінформ",
        *UK[:3],
        "Поділитися",
        *UK[3:],
        "Підписуйтесь на наш Telegram-канал",
    )
    cleaned, removed = clean_text(text)
    assert paragraphs(cleaned) == [UK_TITLE, *UK]
    assert reasons(removed) == [CREDIT, CONTROLS, CONTROLS]


@pytest.mark.parametrize(
    ("title", "body", "unrelated"),
    [(RU_TITLE, RU, RU_UNRELATED), (UK_TITLE, UK, UK_UNRELATED)],
    ids=["ru", "uk"],
)
@pytest.mark.parametrize("separator", ["\n\n", "\n"], ids=["blank-lines", "single-newlines"])
def test_unrelated_news_appended_after_the_article_is_cut_and_its_real_end_stays(
    title: str, body: list[str], unrelated: list[str], separator: str
) -> None:
    cleaned, removed = clean_text(separator.join([title, *body, *unrelated]))
    assert paragraphs(cleaned) == [title, *body]
    assert [(r.reason, r.text) for r in removed] == [(OFF_TOPIC, "\n".join(unrelated))]


def test_a_single_unrelated_last_paragraph_is_kept_in_doubt() -> None:
    body = [RU_TITLE, *RU, RU_UNRELATED[0]]
    cleaned, removed = clean_text(page(*body))
    assert paragraphs(cleaned) == body
    assert removed == ()


def test_off_topic_paragraphs_in_the_middle_are_never_cut() -> None:
    body = [UK_TITLE, *UK[:3], *UK_UNRELATED, *UK[3:]]
    cleaned, removed = clean_text(page(*body))
    assert paragraphs(cleaned) == body
    assert removed == ()


def test_short_article_is_too_short_to_judge_its_tail() -> None:
    body = [
        EN_TITLE,
        EN[0],
        EN[1],
        "Arsenal signed a Brazilian midfielder on a three-year contract.",
        "Rain.",
    ]
    cleaned, removed = clean_text(page(*body))
    assert paragraphs(cleaned) == body
    assert removed == ()


def test_every_removed_line_is_reported_once_with_its_text() -> None:
    text = page(RU_TITLE, *RU, "Похожие новости", "Тизер другой новости", "-", "777", *RU_UNRELATED)
    cleaned, removed = clean_text(text)
    kept_and_removed = paragraphs(cleaned) + [line for r in removed for line in r.text.split("\n")]
    assert sorted(kept_and_removed) == sorted(paragraphs(text))


def test_a_page_with_hundreds_of_related_blocks_cleans_in_linear_time() -> None:
    import time

    body = (
        "The minister said the forum in Vladivostok would discuss energy, trade and the new bridge. "
        "Delegations from many countries arrived on Monday for the talks at the university campus."
    )
    blocks = [
        f"{body} Day {i} of the talks.\n\nRelated news\n\nStory Number {i} Goes Here\n\nAnother Teaser {i}"
        for i in range(1500)
    ]
    text = "\n\n".join(blocks)  # ~400 KB: re-reading everything above each heading took minutes
    started = time.perf_counter()
    kept, removed = clean_text(text, "Forum")
    assert time.perf_counter() - started < 10
    assert kept.count("Day 1499 of the talks.") == 1
    assert sum(r.reason == RELATED for r in removed) >= 1000

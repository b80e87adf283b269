"""Reading an answer for the API: its statements with their kinds and markers, its sources list, its history form."""

from __future__ import annotations

import pytest

from bot.answering.prompts import load_prompts
from bot.models import Answer, Source
from bot.server.answer_view import content, history_answer, source_record, statements

QUOTES = "Here is what the articles say:\n• “Kim visited the plant.” [1]\n• “The forum opens on Monday.” [2]"
MODEL = QUOTES + "\n\nMachine summary of the quote: Kim toured a jet plant [1]. It builds fighters [1]."
NOTE = QUOTES + "\n\nThe language model can't be reached; these are the quotes."


@pytest.mark.parametrize("text", [QUOTES, MODEL, NOTE, "The articles don't cover this."])
def test_the_deltas_of_the_statements_add_up_to_the_text(text: str) -> None:
    assert "".join(item.delta for item in statements(text)) == text


def test_quotes_statements_and_notes_are_told_apart_with_their_markers() -> None:
    found = [(item.kind, item.markers) for item in statements(MODEL)]
    assert found == [("quote", (1,)), ("quote", (2,)), ("statement", (1,)), ("statement", (1,))]
    assert statements(MODEL)[0].delta.startswith("Here is what the articles say:"), (
        "the framing line rides along"
    )
    assert [item.kind for item in statements(NOTE)][-1] == "note"


def test_the_sources_list_is_under_the_answer_and_left_out_of_the_history() -> None:
    sources = (
        Source(1, "plant", "Kim visits the plant", url="https://example.org/plant", date="2023-09-13"),
        Source(2, "forum", "Forum opens"),
    )
    answer = Answer(QUOTES, "en", sources, refused=False, mode="extractive")
    shown = content(answer, load_prompts())
    assert shown.endswith(
        "Sources:\n[1] Kim visits the plant — https://example.org/plant · 2023-09-13\n[2] Forum opens — forum"
    )
    assert history_answer(shown) == QUOTES


def test_a_quote_is_placed_in_its_paragraph_of_the_article_as_it_reads_now() -> None:
    article = "Kim visits the plant\n\nKim visited the plant. It was sunny.\n\nHe left by train."
    source = Source(1, "plant", "Kim visits the plant", evidence=("Kim visited the plant.", "He flew home."))
    record = source_record(source, article)
    assert record["paragraphs"] == 2
    assert record["quotes"] == [
        {
            "sentence": "Kim visited the plant.",
            "paragraph": 1,
            "context": "Kim visited the plant. It was sunny.",
        },
        {"sentence": "He flew home.", "paragraph": None, "context": None},
    ]
    gone = source_record(source, None)
    assert gone["paragraphs"] is None and [q["paragraph"] for q in gone["quotes"]] == [None, None]

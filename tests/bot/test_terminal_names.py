"""Control characters in file names (issue #19, item 9): shown escaped wherever the terminal prints a name."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import cli
from bot.terminal import SafeFormatter, safe
from tests.fakes import HashEmbedder

runner = CliRunner()
RAW = ("\x1b", "\u202e", "\nwarning: forged")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    monkeypatch.setattr("bot.service.make_embedder", lambda settings: HashEmbedder())
    monkeypatch.chdir(tmp_path)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "esc\x1b[2Jclear.txt").write_text(
        "Harbour reopens\n\nThe harbour in Varna reopened on Monday after the storm passed.", encoding="utf-8"
    )
    (corpus / "two\nwarning: forged.txt").write_text(
        "Cranes repaired\n\nThe harbour cranes in Varna were repaired by engineers on Tuesday.",
        encoding="utf-8",
    )
    (corpus / "report\u202etxt.exe.txt").write_text("", encoding="utf-8")  # skipped: a warning names it
    return {
        "NEWSBOT_INDEX__CORPUS_DIR": str(corpus),
        "NEWSBOT_INDEX__DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_LLM__PROVIDER": "extractive",
        "NEWSBOT_RETRIEVAL__MIN_SCORE": "0.0",
    }


def _clean(output: str) -> None:
    assert not any(raw in output for raw in RAW), repr(output)


def test_control_characters_are_escaped_in_the_reindex_summary_and_warnings(env: dict[str, str]) -> None:
    result = runner.invoke(cli.app, ["reindex"], env=env)
    assert result.exit_code == 0, result.output
    _clean(result.stdout + result.stderr)
    assert "report\\u202etxt.exe.txt: empty file" in result.stdout
    assert "warning: " in result.stderr and "report\\u202etxt.exe.txt" in result.stderr


def test_control_characters_are_escaped_in_sources_and_show(env: dict[str, str]) -> None:
    assert runner.invoke(cli.app, ["reindex"], env=env).exit_code == 0
    asked = runner.invoke(cli.app, ["ask", "What happened to the harbour cranes in Varna?"], env=env)
    assert asked.exit_code == 0, asked.output
    _clean(asked.stdout)
    assert "— two\\nwarning: forged" in asked.stdout
    shown = runner.invoke(cli.app, ["show", "esc\x1b[2Jclear"], env=env)
    assert shown.exit_code == 0, shown.output
    _clean(shown.stdout)
    assert "id:          esc\\x1b[2Jclear" in shown.stdout
    missing = runner.invoke(cli.app, ["show", "gone\x1b[2J\nerror: forged"], env=env)
    assert missing.exit_code == 1
    assert len(missing.stderr.strip().splitlines()) == 1 and "\x1b" not in missing.stderr


def test_log_lines_escape_control_characters_but_keep_their_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        record = logging.LogRecord("index", logging.WARNING, __file__, 1, "%s: empty", ("a\x1b[2J\nb",), None)
        record.exc_info = (type(exc), exc, exc.__traceback__)
    line = SafeFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    first, *rest = line.splitlines()
    assert first == "WARNING index: a\\x1b[2J\\nb: empty"
    assert rest[0].startswith("Traceback") and "ValueError: boom" in line


def test_safe_keeps_ordinary_text_and_line_breaks_when_asked() -> None:
    assert safe("Путін — «Київ» [1] 🙂") == "Путін — «Київ» [1] 🙂"
    assert safe("a\nb\u2066c", lines=True) == "a\nb\\u2066c"

"""The command line through typer's runner: one clear line per error, JSON that follows the contract."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import stamina
from typer.testing import CliRunner

from bot import cli
from tests.conftest import CONTRACT_KEYS

runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    for command in ("reindex", "stats", "show", "ask", "chat", "eval", "telegram"):
        assert command in result.stdout


def test_reindex_prints_one_summary_line_and_a_second_run_embeds_nothing(env: dict[str, str]) -> None:
    first = runner.invoke(cli.app, ["reindex"], env=env)
    assert first.exit_code == 0, first.output
    assert "added 3 / updated 0 / removed 0 / unchanged 0 / skipped 0" in first.stdout
    second = runner.invoke(cli.app, ["reindex"], env=env)
    assert "unchanged 3" in second.stdout
    assert "0 chunks embedded" in second.stdout


def test_reindex_names_a_skipped_file_and_its_reason(env: dict[str, str], corpus: Path) -> None:
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    result = runner.invoke(cli.app, ["reindex"], env=env)
    assert result.exit_code == 0
    assert "empty.txt" in result.stderr
    assert "skipped 1" in result.stdout


def test_ask_json_follows_the_eval_contract(env: dict[str, str]) -> None:
    result = runner.invoke(cli.app, ["ask", "Who accompanied Kim at the aircraft plant?", "--json"], env=env)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert set(record) == CONTRACT_KEYS
    assert record["language"] == "en"
    assert record["mode"] == "extractive"
    assert record["retrieved"][0] == "plant"
    for citation in record["citations"]:
        assert f"[{citation['marker']}]" in record["answer"]


def test_ask_prints_the_answer_and_the_sources(env: dict[str, str]) -> None:
    result = runner.invoke(cli.app, ["ask", "Who accompanied Kim at the aircraft plant?"], env=env)
    assert result.exit_code == 0
    assert "Sources:" in result.stdout
    assert "[1]" in result.stdout


def test_command_needing_an_index_builds_it_first(env: dict[str, str], tmp_path: Path) -> None:
    assert not (tmp_path / "data").exists()
    result = runner.invoke(cli.app, ["stats"], env=env)
    assert result.exit_code == 0, result.output
    assert "articles:        3" in result.stdout


def test_show_prints_metadata_and_chunk_boundaries(env: dict[str, str]) -> None:
    result = runner.invoke(cli.app, ["show", "forum"], env=env)
    assert result.exit_code == 0, result.output
    assert "Eastern Economic Forum opens" in result.stdout
    assert "https://example.org/forum" in result.stdout
    assert "chunk 0" in result.stdout


def test_show_unknown_article_is_one_clear_line(env: dict[str, str]) -> None:
    result = runner.invoke(cli.app, ["show", "nope"], env=env)
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "no article 'nope'" in result.stderr


def test_bad_setting_names_the_variable(env: dict[str, str]) -> None:
    result = runner.invoke(cli.app, ["stats"], env={**env, "NEWSBOT_INDEX__CHUNK_SIZE": "lots"})
    assert result.exit_code == 1
    assert "NEWSBOT_INDEX__CHUNK_SIZE" in result.stderr


def test_openai_provider_without_base_url_is_one_clear_line(env: dict[str, str]) -> None:
    result = runner.invoke(cli.app, ["ask", "Who accompanied Kim?", "--provider", "openai"], env=env)
    assert result.exit_code == 1
    assert "NEWSBOT_LLM__BASE_URL" in result.stderr
    assert "Traceback" not in result.output


def test_eval_prints_only_json_lines_on_stdout_and_the_summary_on_stderr(
    env: dict[str, str], tmp_path: Path
) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps(
            {
                "id": "q1",
                "lang": "en",
                "turns": ["Which aircraft plant did Kim visit?", "Who accompanied him?"],
                "articles": ["plant"],
                "facts": [["Zhornik"]],
                "answerable": True,
            }
        )
        + "\n"
        + json.dumps(
            {
                "id": "q2",
                "lang": "en",
                "turns": ["When does the forum take place?"],
                "articles": ["forum"],
                "facts": [["13"]],
                "answerable": True,
            }
        )
        + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(cli.app, ["eval", str(questions), "--json"], env=env)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == ["q1", "q2"]
    assert records[0]["question"] == "Who accompanied him?"
    assert "hit@1:" in result.stderr
    assert "mrr:" in result.stderr


def test_malformed_questions_file_names_the_line(env: dict[str, str], tmp_path: Path) -> None:
    questions = tmp_path / "bad.jsonl"
    questions.write_text('{"id": "x", "turns": ["ok?"]}\nnot json\n', encoding="utf-8")
    result = runner.invoke(cli.app, ["eval", str(questions)], env=env)
    assert result.exit_code == 1
    assert "bad.jsonl:2" in result.stderr


def test_chat_keeps_history_and_understands_its_commands(env: dict[str, str]) -> None:
    script = "Which aircraft plant did Kim visit?\nWho accompanied him there?\n/sources\n/reset\n/quit\n"
    result = runner.invoke(cli.app, ["chat"], env=env, input=script)
    assert result.exit_code == 0, result.output
    assert "Komsomolsk-on-Amur" in result.stdout, "the follow-up is answered from the plant's article"
    assert "world/weather" in result.stdout, "/sources lists the indexed articles"
    assert "history cleared" in result.stderr


def test_telegram_without_a_token_fails_before_building_the_index(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = runner.invoke(cli.app, ["telegram"], env=env)
    assert result.exit_code == 1
    assert "NEWSBOT_TELEGRAM__TOKEN" in result.stderr
    assert not (tmp_path / "data").exists()


def test_rich_markup_in_paths_and_titles_prints_as_text(env: dict[str, str], corpus: Path) -> None:
    odd = corpus / "x[" / "y]"
    odd.mkdir(parents=True)
    (odd / "note.txt").write_text(
        "---\ntitle: Markets close [/bold] higher [red]\n---\nShares rose on Friday as markets closed higher.",
        encoding="utf-8",
    )
    (odd / "empty.txt").write_text("", encoding="utf-8")
    result = runner.invoke(cli.app, ["reindex"], env=env)
    assert result.exit_code == 0, result.output
    assert "added 4" in result.stdout
    assert "x[/y]/empty.txt: empty file" in result.stderr
    shown = runner.invoke(cli.app, ["show", "x[/y]/note"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "Markets close [/bold] higher [red]" in shown.stdout


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("NEWSBOT_LOG_LEVEL", "verbose", "NEWSBOT_LOG_LEVEL"),
        ("NEWSBOT_INDEX__COLLECTION", "a/b", "NEWSBOT_INDEX__COLLECTION"),
        ("NEWSBOT_TELEGRAM__ADMINS", "[1, 2", "NEWSBOT_TELEGRAM__ADMINS"),
        ("NEWSBOT_TELEGRAM__ALLOWED_USERS", "alice,bob", "NEWSBOT_TELEGRAM__ALLOWED_USERS"),
        ("NEWSBOT_TELEGRAM", "not json", "NEWSBOT_TELEGRAM"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_the_variable(
    env: dict[str, str], variable: str, value: str, says: str
) -> None:
    result = runner.invoke(cli.app, ["stats"], env={**env, variable: value})
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert says in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_user_id_lists_may_be_written_with_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import Settings

    monkeypatch.setenv("NEWSBOT_TELEGRAM__ALLOWED_USERS", "123,456")
    monkeypatch.setenv("NEWSBOT_TELEGRAM__ADMINS", "[789]")
    monkeypatch.setenv("NEWSBOT_LOG_LEVEL", "info")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.telegram.allowed_users == [123, 456]
    assert settings.telegram.admins == [789]
    assert settings.log_level == "INFO"


def test_an_unreachable_llm_falls_back_to_quoting_with_a_note_and_exit_zero(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = {
        **env,
        "NEWSBOT_LLM__PROVIDER": "openai",
        "NEWSBOT_LLM__BASE_URL": "http://127.0.0.1:9/v1",  # the discard port: connection refused
        "NEWSBOT_LLM__RETRIES": "0",
    }
    result = runner.invoke(cli.app, ["ask", "Who accompanied Kim at the aircraft plant?"], env=unreachable)
    assert result.exit_code == 0, result.output
    assert "The language model can't be reached right now." in result.stdout
    assert "[1]" in result.stdout
    assert "no LLM server at http://127.0.0.1:9/v1" in caplog.text  # a WARNING line on stderr


@pytest.fixture
def restored_logging() -> Iterator[None]:
    names = ("", *cli.LIBRARY_LOGGERS, *cli.TOKEN_LOGGERS)
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    stamina.instrumentation.set_on_retry_hooks(None)


@pytest.mark.usefixtures("restored_logging")
def test_library_log_lines_stay_off_the_terminal_at_the_default_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cli.configure_logging("WARNING")
    logging.getLogger("stamina").warning("stamina.retry_scheduled")
    logging.getLogger("httpx").warning("HTTP Request: POST https://api.telegram.org/bot123:ABC/getMe")
    logging.getLogger("bot.answering.qa").warning("our own warning")
    assert [r.name for r in caplog.records] == ["bot.answering.qa"]


@pytest.mark.usefixtures("restored_logging")
def test_debug_logging_still_keeps_the_token_bearing_http_log_quiet(caplog: pytest.LogCaptureFixture) -> None:
    cli.configure_logging("DEBUG")
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot123:ABC/getMe")
    logging.getLogger("telegram.Bot").debug("Calling Bot API endpoint `getMe` with parameters `{}`")
    logging.getLogger("telegram.ext.ExtBot").info("https://api.telegram.org/bot123:ABC/getUpdates")
    logging.getLogger("stamina").warning("stamina.retry_scheduled")
    logging.getLogger("bot.llm.client").debug("ours")
    assert [r.name for r in caplog.records] == ["stamina", "bot.llm.client"]

"""The command line's folders (issue #19, items 5 and 10): no corpus that is a system, one line for a bad data dir."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from filelock import FileLock
from typer.testing import CliRunner

from bot import cli
from index.config import IndexSettings

runner = CliRunner()


def _one_line(result: object) -> str:
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]
    return lines[0]


@pytest.mark.parametrize(
    ("folder", "says"),
    [
        ("/", "the root of the file system"),
        ("/usr", "a system folder"),
        ("/tmp", "a system folder"),
        ("/etc", "a system folder"),
        ("~", "the home folder"),
    ],
)
def test_a_corpus_folder_that_is_a_system_is_refused_before_anything_is_read(
    env: dict[str, str], folder: str, says: str
) -> None:
    result = runner.invoke(cli.app, ["reindex"], env={**env, "NEWSBOT_INDEX__CORPUS_DIR": folder})
    assert result.exit_code == 1
    line = _one_line(result)
    assert says in line and "NEWSBOT_INDEX__CORPUS_DIR" in line and "ALLOW_ANY_CORPUS_DIR" in line
    assert not (Path(env["NEWSBOT_INDEX__DATA_DIR"]) / "chroma").exists()


def test_a_corpus_folder_holding_the_data_dir_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["reindex"], env={**env, "NEWSBOT_INDEX__CORPUS_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "a folder holding the data dir" in _one_line(result)


def test_a_refused_corpus_folder_may_be_allowed_explicitly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="holding the data dir"):
        IndexSettings(corpus_dir=tmp_path, data_dir=tmp_path / "data")
    allowed = IndexSettings(corpus_dir=tmp_path, data_dir=tmp_path / "data", allow_any_corpus_dir=True)
    assert allowed.corpus_dir == tmp_path
    assert IndexSettings(corpus_dir=tmp_path / "news", data_dir=tmp_path / "data").corpus_dir.name == "news"
    assert IndexSettings(corpus_dir=Path("/usr/share/doc/news"), data_dir=tmp_path).corpus_dir.is_absolute()


@pytest.mark.parametrize("command", [["reindex"], ["stats"], ["ask", "Who visited the plant?"]])
def test_a_data_dir_that_is_a_file_is_one_line_naming_it(
    env: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    data = tmp_path / "data-file"
    data.write_text("not a folder", encoding="utf-8")
    result = runner.invoke(cli.app, command, env={**env, "NEWSBOT_INDEX__DATA_DIR": str(data)})
    assert result.exit_code == 1
    line = _one_line(result)
    assert str(data) in line and "is a file, not a folder" in line


@pytest.mark.parametrize("command", [["reindex"], ["stats"]])
def test_a_data_dir_under_a_file_is_one_line_naming_the_file(
    env: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file", encoding="utf-8")
    result = runner.invoke(cli.app, command, env={**env, "NEWSBOT_INDEX__DATA_DIR": str(blocker / "data")})
    assert result.exit_code == 1
    assert f"{blocker} is a file" in _one_line(result)


def test_a_read_only_data_dir_on_reindex_is_one_line_naming_it(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(cli.app, ["reindex"], env=env).exit_code == 0

    def refused(self: FileLock, *args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(self.lock_file))

    monkeypatch.setattr(FileLock, "acquire", refused)  # what a read-only folder does to the lock file
    result = runner.invoke(cli.app, ["reindex"], env=env)
    assert result.exit_code == 1
    line = _one_line(result)
    assert env["NEWSBOT_INDEX__DATA_DIR"] in line and "not writable" in line

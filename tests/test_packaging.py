"""What an installed newsbot holds: the wheel ships the prompts, and no other installed package claims our names."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import NoReturn

import pytest

import bot.answering.prompts
import index.text.lexicon
from index.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
OUR_TOP_LEVEL = {"bot", "index", "prompts"}
"""Generic import names: newsbot is meant to live in a venv of its own (README, Install)."""


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The file names in a wheel built from a copy of the sources (building in place would leave build/ behind).

    Built offline by the venv's own setuptools (llama-index-core requires it), in about two seconds.
    """
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in sorted(OUR_TOP_LEVEL):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet"]
    subprocess.run([*build, "--wheel-dir", str(work / "dist"), str(source)], check=True, capture_output=True)
    (wheel,) = (work / "dist").glob("newsbot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _tracked(folder: str) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--", folder], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    return listed or [str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*") if p.is_file()]


def test_the_wheel_ships_every_file_of_the_prompts_folder(wheel_files: set[str]) -> None:
    prompts = _tracked("prompts")
    assert any(name.endswith(".j2") for name in prompts) and any("phrases/" in name for name in prompts)
    assert sorted(set(prompts) - wheel_files) == []


def test_the_wheel_holds_our_three_packages_and_every_module(wheel_files: set[str]) -> None:
    top = {PurePosixPath(name).parts[0] for name in wheel_files}
    assert top == {*OUR_TOP_LEVEL, "newsbot-0.1.0.dist-info"}
    modules = [name for name in _tracked("bot") + _tracked("index") if name.endswith(".py")]
    assert sorted(set(modules) - wheel_files) == []


def _top_level_names(dist: metadata.Distribution) -> set[str]:
    """Import names a distribution puts at the top of site-packages (top_level.txt and its RECORD)."""
    names = set((dist.read_text("top_level.txt") or "").split())
    for file in dist.files or ():
        parts = PurePosixPath(str(file)).parts
        if (
            not parts
            or parts[0] in ("..", "__pycache__")
            or parts[0].endswith((".dist-info", ".data", ".pth"))
        ):
            continue
        names.add(parts[0].removesuffix(".py") if len(parts) == 1 else parts[0])
    return names


def test_no_other_installed_package_ships_a_top_level_bot_index_or_prompts() -> None:
    claims = {
        f"{dist.metadata['Name']} ships {name}"
        for dist in metadata.distributions()
        if (dist.metadata["Name"] or "").lower() != "newsbot"
        for name in _top_level_names(dist) & OUR_TOP_LEVEL
    }
    assert sorted(claims) == []


def test_an_install_without_the_prompts_package_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(package: str) -> NoReturn:
        raise ModuleNotFoundError(f"No module named {package!r}")

    monkeypatch.setattr(index.text.lexicon, "files", missing)
    with pytest.raises(ConfigError, match="pip install -e"):
        bot.answering.prompts.load_prompts()

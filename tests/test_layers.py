"""Dependencies point one way: data models import nothing above them, the indexing side never imports the
answering side, no module of ours imports itself back (not even lazily), and tests/ mirrors the tree."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "index")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    _module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
}


def _imports(path: Path) -> set[str]:
    """Our modules that ``path`` imports anywhere: at the top, inside functions, under TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            assert node.level == 0, f"{path}: relative import"
            # "from index.text import lexicon" imports the module index.text.lexicon
            found.update(
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                for alias in node.names
            )
    return {name for name in found if name in MODULES}


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def test_the_graph_sees_every_module_and_their_imports() -> None:
    assert {"bot.models", "index.models", "index.embed.base", "bot.answering.qa"} <= set(GRAPH)
    assert "index.text.lexicon" in GRAPH["bot.checks.claims"]
    assert "index.embed.openai_compat" in GRAPH["index.embed.embeddings"]  # a lazy import counts


@pytest.mark.parametrize(
    ("model", "allowed"),
    [("index.models", set()), ("bot.models", {"index.models"})],
)
def test_the_data_models_import_nothing_above_them(model: str, allowed: set[str]) -> None:
    assert GRAPH[model] <= allowed, f"{model} imports {sorted(GRAPH[model] - allowed)}"


def test_the_indexing_side_never_imports_the_answering_side() -> None:
    reaching = {name: sorted(d for d in deps if d.split(".")[0] == "bot") for name, deps in GRAPH.items()}
    assert not {name: deps for name, deps in reaching.items() if name.startswith("index") and deps}


def test_no_module_imports_itself_back() -> None:
    try:
        TopologicalSorter(GRAPH).prepare()
    except CycleError as exc:
        pytest.fail("import cycle: " + " -> ".join(exc.args[1]))


def test_the_tests_mirror_the_tree() -> None:
    for package in PACKAGES:
        folders = [f for f in (ROOT / "tests" / package).rglob("*") if f.is_dir() and f.name != "__pycache__"]
        assert folders, package
        for folder in folders:
            mirrored = ROOT / folder.relative_to(ROOT / "tests")
            assert (mirrored / "__init__.py").is_file(), (
                f"tests/{folder.relative_to(ROOT / 'tests')} has no package"
            )
            assert (folder / "__init__.py").is_file(), f"{folder} is not a package"

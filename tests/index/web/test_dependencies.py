"""newsbot's declared dependencies: all it imports, and all a plain install must bring (issue #19, item 13)."""

from __future__ import annotations

import ast
import sys
from importlib import metadata

from packaging.utils import canonicalize_name

from tests.index.web.dependencies import ROOT, declared, not_brought_by_a_plain_install

OUR_PACKAGES = {"bot", "index", "prompts"}


def _imported_top_level_names() -> dict[str, str]:
    """Every top-level module imported by bot/ and index/, with one file that imports it."""
    names: dict[str, str] = {}
    for path in sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "index").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                names.setdefault(module.split(".")[0], str(path.relative_to(ROOT)))
    return names


def test_every_package_newsbot_imports_is_declared_in_pyproject() -> None:
    ours = {canonicalize_name(requirement.name) for requirement in declared()}
    providers = metadata.packages_distributions()
    undeclared = [
        f"{name} (imported by {where}, from {', '.join(providers.get(name, ['nothing installed']))})"
        for name, where in sorted(_imported_top_level_names().items())
        if name not in sys.stdlib_module_names
        and name not in OUR_PACKAGES
        and not {canonicalize_name(d) for d in providers.get(name, [])} & ours
    ]
    assert undeclared == []


def test_a_pip_that_drops_extras_of_extras_still_installs_all_newsbot_loads() -> None:
    assert not_brought_by_a_plain_install() == []

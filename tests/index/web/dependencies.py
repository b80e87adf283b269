"""What a plain install of newsbot brings, and whether newsbot runs with only that (issue #19, item 13).

trafilatura needs ``lxml_html_clean``, which reached us only as an extra of an extra (justext asks for
``lxml[html_clean]``, which lxml spells ``html-clean``); the pip bundled with Python 3.11 does not
match the two and leaves it out. So whatever newsbot loads must come through plain requirements,
following extras only where newsbot's own pyproject.toml names them. The check runs newsbot in a
child interpreter that sees only those distributions, linked from this venv (offline, a few seconds).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[3]

_LOAD_EVERYTHING = """
import importlib, pkgutil, sys
from pathlib import Path
import bot, index
problems = []
for package in (bot, index):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        try:
            importlib.import_module(info.name)
        except ImportError as exc:
            problems.append(f"{info.name}: {exc}")
try:
    from index.web.pages import extract_page
    extract_page(Path(sys.argv[1]).read_bytes(), url="http://127.0.0.1/page")
except ImportError as exc:
    problems.append(f"extract_page: {exc}")
print("\\n".join(" ".join(p.split()) for p in problems))
"""


def declared() -> list[Requirement]:
    """newsbot's own requirements, as pyproject.toml lists them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(line) for line in project["dependencies"]]


def plain_closure() -> dict[str, metadata.Distribution]:
    """The installed distributions a plain install brings: extras followed only where newsbot names them."""
    found: dict[str, metadata.Distribution] = {}
    todo = [(requirement, set(requirement.extras)) for requirement in declared()]
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        try:
            found[name] = distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue
        for line in distribution.requires or ():
            needed = Requirement(line)
            environments = [{"extra": ""}, *({"extra": extra} for extra in extras)]
            if needed.marker is None or any(needed.marker.evaluate(env) for env in environments):
                todo.append((needed, set()))  # its own extras are what an older pip may drop
    return found


def _link_top_level(distribution: metadata.Distribution, folder: Path) -> None:
    site = Path(str(distribution.locate_file("")))
    for file in distribution.files or ():
        parts = PurePosixPath(str(file)).parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith(".pth"):
            continue
        link = folder / parts[0]
        if not link.exists() and (site / parts[0]).exists():
            link.symlink_to(site / parts[0])


def not_brought_by_a_plain_install() -> list[str]:
    """What fails to import when newsbot sees only what a plain install brings; empty when nothing does."""
    with tempfile.TemporaryDirectory(prefix="newsbot-plain-") as scratch:
        folder = Path(scratch)
        for distribution in plain_closure().values():
            _link_top_level(distribution, folder)
        env = {**os.environ, "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}", "PYTHONNOUSERSITE": "1"}
        page = ROOT / "tests" / "data" / "web" / "en-storm.html"
        ran = subprocess.run(
            [sys.executable, "-S", "-c", _LOAD_EVERYTHING, str(page)],
            env=env,
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if ran.returncode != 0:
        return [ran.stderr.strip().splitlines()[-1] if ran.stderr.strip() else f"exit {ran.returncode}"]
    return [line for line in ran.stdout.splitlines() if line.strip()]

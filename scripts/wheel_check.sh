#!/usr/bin/env bash
# CI: newsbot works when installed from its wheel, away from the checkout (what `pip install .` and pipx give).
#
# Builds the wheel and installs it into a fresh venv outside the checkout with the pip that venv comes
# with (the one bundled with this Python, never upgraded: the README's `python3 -m venv … && pip install`
# uses it, and an old pip resolves differently: pip 23.2 drops extras of extras, which once left out
# lxml_html_clean and broke every `newsbot add`). That pip resolves the dependencies (a dry run: package
# metadata only, from the registry, about a minute), and the venv then sees exactly the distributions it
# chose, linked read-only from the main venv: they are the pinned set `pip install -e .` installed, and
# installing them again (1.3 GB, mostly the bundled LLM) would prove nothing more about the wheel.
# Then it indexes two articles and a saved web page (trafilatura) with the bundled e5 embedder from
# another directory and answers one question extractively, in Russian, so the prompts (phrases,
# templates, recency cues) must come from the installed wheel. Needs .venv (scripts/setup.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$root/.venv/bin/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
started=$SECONDS

# Build from a copy: building in place would leave build/ and *.egg-info in the checkout. No build
# isolation: the venv's setuptools (llama-index-core requires it) builds it offline.
mkdir "$work/src"
cp -R "$root/pyproject.toml" "$root/README.md" "$root/bot" "$root/index" "$root/prompts" "$work/src/"
"$python" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$work/dist" "$work/src"
wheel="$(ls "$work"/dist/newsbot-*.whl)"

"$python" -m venv "$work/venv"  # with the bundled pip (ensurepip), as a user's venv gets it
pip=("$work/venv/bin/python" -m pip --disable-pip-version-check)
echo "wheel check: dependencies as $("${pip[@]}" --version | cut -d' ' -f1-2) resolves them"
if ! "${pip[@]}" install --quiet --dry-run --ignore-installed --report "$work/resolved.json" "$wheel" \
    2>"$work/resolve.log"; then
    cat "$work/resolve.log" >&2
    echo "wheel check: the venv's own pip cannot resolve newsbot's dependencies" >&2
    exit 1
fi
grep -v "^WARNING: Location" "$work/resolve.log" >&2 || true
"${pip[@]}" install --quiet --no-deps --no-index "$wheel"
site="$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"

# Only what that pip chose, linked from the main venv (a top-level name per file of each RECORD).
"$python" - "$work/resolved.json" "$work/dependencies" <<'PY'
import json
import sys
from importlib import metadata
from pathlib import Path, PurePosixPath

report, folder = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2])
folder.mkdir()
for item in report["install"]:
    name, version = item["metadata"]["name"], item["metadata"]["version"]
    if name.lower() == "newsbot":
        continue
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        sys.exit(f"wheel check: pip resolves {name}=={version}, which .venv lacks: run scripts/setup.sh")
    if dist.version != version:
        print(f"wheel check: pip resolves {name}=={version}; .venv has {dist.version}, used instead", file=sys.stderr)
    site = Path(str(dist.locate_file("")))
    for file in dist.files or ():
        top = PurePosixPath(str(file)).parts[0]
        if top not in ("..", "__pycache__") and not top.endswith(".pth") and not (folder / top).exists():
            if (site / top).exists():
                (folder / top).symlink_to(site / top)
PY
echo "$work/dependencies" >"$site/newsbot_ci_dependencies.pth"

mkdir "$work/corpus" "$work/elsewhere"
cp "$root/corpus/003_868a704a591f0e91.txt" "$root/corpus/004_cdecf23ff91b855b.txt" "$work/corpus/"
cp "$root/tests/data/web/en-storm.html" "$work/corpus/storm.html"  # read by trafilatura, as `newsbot add` does
cd "$work/elsewhere"  # no checkout on sys.path, no .env
export NEWSBOT_EMBEDDING__BACKEND=e5 NEWSBOT_LLM__PROVIDER=extractive
export NEWSBOT_INDEX__CORPUS_DIR="$work/corpus" NEWSBOT_INDEX__DATA_DIR="$work/data"

# The code and the prompts are the wheel's, not the checkout's.
"$work/venv/bin/python" - "$site" <<'EOF'
import sys
from pathlib import Path

import bot.answering.prompts
import prompts

site = Path(sys.argv[1])
for module in (bot.answering.prompts, prompts):
    assert Path(module.__file__).is_relative_to(site), f"{module.__name__} imported from {module.__file__}"
loaded = bot.answering.prompts.load_prompts()
assert loaded.template_names() and "ru" in loaded.languages(), "no prompts in the installed package"
EOF

"$work/venv/bin/newsbot" reindex
shown="$("$work/venv/bin/newsbot" show storm)" || true
grep -q "Tom Breck" <<<"$shown" || { echo "wheel check: the saved web page was not indexed" >&2; exit 1; }
answer="$("$work/venv/bin/newsbot" ask --provider extractive "Где встретились Путин и Ким Чен Ын?")"
printf '%s\n' "$answer"
grep -q '\[1\]' <<<"$answer" || { echo "wheel check: the answer cites no source" >&2; exit 1; }
grep -q 'Источники:' <<<"$answer" || { echo "wheel check: no Russian sources heading" >&2; exit 1; }
echo "wheel check passed in $((SECONDS - started)) s"

#!/usr/bin/env bash
# CI: newsbot works when installed from its wheel, away from the checkout (what `pip install .` and pipx give).
#
# Builds the wheel, installs it into a fresh venv outside the checkout, indexes two articles with the
# bundled e5 embedder from another directory and answers one question extractively, in Russian, so the
# prompts (phrases, templates, recency cues) must come from the installed wheel. The dependencies are
# the main venv's, made visible read-only through a .pth file: they are the pinned set `pip install -e .`
# resolved, and installing them again (1.3 GB, mostly the bundled LLM) would prove nothing about the
# wheel. Needs .venv (scripts/setup.sh); takes about 20 s.
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

"$python" -m venv --without-pip "$work/venv"
"$python" -m pip --python "$work/venv/bin/python" install --quiet --no-deps --no-index "$wheel"
site="$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
"$python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))' >"$site/newsbot_ci_dependencies.pth"

mkdir "$work/corpus" "$work/elsewhere"
cp "$root/corpus/003_868a704a591f0e91.txt" "$root/corpus/004_cdecf23ff91b855b.txt" "$work/corpus/"
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
answer="$("$work/venv/bin/newsbot" ask --provider extractive "Где встретились Путин и Ким Чен Ын?")"
printf '%s\n' "$answer"
grep -q '\[1\]' <<<"$answer" || { echo "wheel check: the answer cites no source" >&2; exit 1; }
grep -q 'Источники:' <<<"$answer" || { echo "wheel check: no Russian sources heading" >&2; exit 1; }
echo "wheel check passed in $((SECONDS - started)) s"

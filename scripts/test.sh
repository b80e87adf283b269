#!/usr/bin/env bash
# Sets up newsbot and runs the whole test suite (offline; one test runs the bundled LLM).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -q "$@"

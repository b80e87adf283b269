#!/usr/bin/env bash
# Sets up newsbot, indexes corpus/ with the bundled embedder and answers a question with the bundled model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/newsbot reindex
.venv/bin/newsbot stats
.venv/bin/newsbot ask "${1:-How many trips abroad has Kim Jong Un made since he came to power?}"

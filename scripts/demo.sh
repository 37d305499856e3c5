#!/usr/bin/env bash
# Install hoist from this checkout into .venv and run its demo on the embedded default
# (sample images hoist builds itself; no internet needed once installed).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q .
exec .venv/bin/hoist demo "$@"

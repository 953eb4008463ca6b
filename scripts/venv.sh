#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the given lock file plus this project, no network
# access beyond the package index. Usage: scripts/venv.sh requirements.lock|requirements-dev.lock
set -euo pipefail
cd "$(dirname "$0")/.."
lock=${1:-requirements.lock}
py=${PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum "$lock" pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r "$lock"
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
    touch "$stamp"
fi

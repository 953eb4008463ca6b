#!/usr/bin/env bash
# Regenerate the pinned lock files from pyproject.toml (needs `uv`: pip install uv).
# requirements.lock      runtime only: what the Docker image and `scripts/serve` install
# requirements-dev.lock  runtime + test + plots + scip extras, constrained to the runtime pins,
#                        so the suite runs exactly the versions the image runs (scip, for
#                        benchmarks/reach_scip.py, is there because a test checks its model).
# Both are universal: one resolution valid on every Python the project supports (3.11 to
# 3.13, pyproject's requires-python; --python-version names the lowest), with per-version
# markers where a dependency differs, and the hashes of every wheel of each pin, so that
# `scripts/venv.sh` installs them hash-checked with whichever of those Pythons it finds.
# tests/test_locks.py checks that each lock resolves for each of them.
set -euo pipefail
cd "$(dirname "$0")/.."
uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes -q -o requirements.lock
uv pip compile pyproject.toml --extra test --extra plots --extra scip -c requirements.lock \
    --universal --python-version 3.11 --generate-hashes -q -o requirements-dev.lock

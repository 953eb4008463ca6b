#!/usr/bin/env bash
# Regenerate the pinned lock files from pyproject.toml (needs `uv`: pip install uv).
# requirements.lock      runtime only: what the Docker image and `scripts/serve` install
# requirements-dev.lock  runtime + test + plots extras, constrained to the runtime pins,
#                        so the suite runs exactly the versions the image runs.
set -euo pipefail
cd "$(dirname "$0")/.."
uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -q -o requirements.lock
uv pip compile pyproject.toml --extra test --extra plots -c requirements.lock \
    --python-version 3.11 --generate-hashes -q -o requirements-dev.lock

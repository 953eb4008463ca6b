#!/usr/bin/env bash
# Create .venv and install the given lock file plus this project, hash-checked, with no network
# access beyond the package index. Usage: scripts/venv.sh requirements.lock|requirements-dev.lock
# The Python is $PYTHON when set, else the first of python3.11, python3.12, python3.13 and
# python3 found that is 3.11 to 3.13 (the locks are universal over those versions).
set -euo pipefail
cd "$(dirname "$0")/.."
lock=${1:-requirements.lock}
supported="3.11 3.12 3.13"

version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
is_supported() { [[ " $supported " == *" $1 "* ]]; }

if [ ! -x .venv/bin/python ]; then
    if [ -n "${PYTHON:-}" ]; then
        py=$PYTHON
        v=$(version_of "$py") || { echo "scripts/venv.sh: PYTHON=$py does not run" >&2; exit 2; }
        is_supported "$v" || { echo "scripts/venv.sh: PYTHON=$py is Python $v; supported: $supported" >&2; exit 2; }
    else
        py=
        for cand in python3.11 python3.12 python3.13 python3; do
            if command -v "$cand" >/dev/null && v=$(version_of "$cand") && is_supported "$v"; then
                py=$cand
                break
            fi
        done
        if [ -z "$py" ]; then
            echo "scripts/venv.sh: no Python $supported found; install one, or set PYTHON=/path/to/python3.x" >&2
            exit 2
        fi
    fi
    "$py" -m venv .venv
elif [ -n "${PYTHON:-}" ] && [ "$(version_of .venv/bin/python)" != "$(version_of "$PYTHON")" ]; then
    echo "scripts/venv.sh: .venv has Python $(version_of .venv/bin/python), not PYTHON=$PYTHON's; remove .venv to switch" >&2
fi
stamp=".venv/.installed-$(sha256sum "$lock" pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r "$lock"
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
    touch "$stamp"
fi

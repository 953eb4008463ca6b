#!/usr/bin/env python3
"""Write openapi/openapi.json from the app (never edit that file by hand).

Usage: .venv/bin/python scripts/export_openapi.py [OUTPUT|-]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["export-openapi", "-o", sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "openapi" / "openapi.json")]))

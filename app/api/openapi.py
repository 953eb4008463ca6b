"""The committed OpenAPI document (openapi/openapi.json), rendered from the app."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.settings import Settings

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def document() -> str:
    """``create_app().openapi()`` with default settings: sorted keys, indent 2, final newline."""
    from app.main import create_app

    spec = create_app(Settings()).openapi()
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: str | Path = DEFAULT_PATH) -> int:
    text = document()
    if str(path) == "-":
        sys.stdout.write(text)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
    return 0

"""Structured logs: one JSON object per line on stderr (the ``dsct`` loggers)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

ACCESS = logging.getLogger("dsct.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, allow_nan=True)


def setup(level: str = "INFO") -> None:
    """JSON lines to stderr for the ``dsct`` loggers (idempotent)."""
    root = logging.getLogger("dsct")
    root.setLevel(level)
    if not any(getattr(h, "_dsct", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._dsct = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.propagate = False


def access(**fields: Any) -> None:
    if ACCESS.isEnabledFor(logging.INFO):
        ACCESS.info("request", extra={"fields": fields})

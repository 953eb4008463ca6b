"""Structured logs: one JSON object per line on stderr.

Every line the service writes is JSON: the ``dsct`` loggers (:func:`setup`), uvicorn's own
(:func:`uvicorn_log_config`, given to uvicorn as its ``log_config``) and the multi-worker
supervisor's (:func:`supervisor`)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import orjson

ACCESS = logging.getLogger("dsct.access")

#: the most characters of a string from a request that is echoed in an answer or logged
MAX_ECHO = 256


def clip(value: Any) -> Any:
    """``value`` cut to :data:`MAX_ECHO` characters (saying how long it was), if a string."""
    if isinstance(value, str) and len(value) > MAX_ECHO:
        return f"{value[:MAX_ECHO]}... ({len(value)} characters)"
    return value


class JsonFormatter(logging.Formatter):
    _second: tuple[int, str] = (-1, "")

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second[0]:  # strftime once a second, not once a line
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._second[1]}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self._timestamp(record.created),
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
        try:
            return orjson.dumps(out, default=str).decode()
        except orjson.JSONEncodeError:  # e.g. a lone surrogate in a string: the slower, laxer encoder
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


def uvicorn_log_config(level: str = "INFO") -> dict[str, Any]:
    """uvicorn's ``log_config``: its start-up, shutdown and error lines as JSON on stderr,
    through :class:`JsonFormatter`, instead of its plain-text default. Loggers configured
    before (the ``dsct`` ones) are left as they are."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"json": handler},
        "loggers": {
            "uvicorn": {"handlers": ["json"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": ["json"], "level": level.upper(), "propagate": False},
        },
    }


SUPERVISOR = logging.getLogger("dsct.serve")


def supervisor(message: str, level: int = logging.INFO, **fields: Any) -> None:
    """One line from ``dsct serve``'s supervisor process (workers started, replaced, given
    up on) as JSON on stderr, like every other line."""
    if not any(getattr(h, "_dsct", False) for h in logging.getLogger("dsct").handlers):
        setup()
    SUPERVISOR.log(level, message, extra={"fields": {"message": message, **fields}})


def access(**fields: Any) -> None:
    """One access line. The record is made directly, skipping ``Logger.info``'s search of
    the stack for the caller's file and line (the line does not print them)."""
    if ACCESS.isEnabledFor(logging.INFO):
        for key in ("algorithm", "endpoint", "method"):
            fields[key] = clip(fields.get(key))
        ACCESS.handle(ACCESS.makeRecord(ACCESS.name, logging.INFO, __file__, 0, "request", (), None,
                                        extra={"fields": fields}))

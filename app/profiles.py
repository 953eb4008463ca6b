"""Measured models from profilers' results: Triton Model Analyzer -> ``models[]``.

Triton's Model Analyzer writes one row per measured model configuration, batch size and
concurrency in ``metrics-model-inference.csv`` (columns ``Model``, ``Batch``,
``Concurrency``, ``Model Config Path``, ``Instance Group``, ``Max Batch Size``,
``Throughput (infer/sec)``, ``p99 Latency (ms)`` and the other latency percentiles). It has
no accuracy: the user gives it per model configuration. :func:`from_model_analyzer` keeps
the rows at one batch size and concurrency (1 and 1 by default: one request at a time, the
way the scheduler runs a task) and makes one configuration per ``Model Config Path``: its
``work`` is the chosen latency column in seconds (so speed 1 is the GPU or CPU that was
profiled), its ``accuracy`` the user's. Nothing is dropped silently: a configuration without
an accuracy, an accuracy for no configuration, two rows for one configuration, or a model
with no row at that batch and concurrency is an error naming it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

__all__ = ["LATENCY_COLUMNS", "ProfileError", "from_model_analyzer"]

#: the latency columns Model Analyzer writes, by the name the command line takes
LATENCY_COLUMNS = {"p99": "p99 Latency (ms)", "p95": "p95 Latency (ms)", "p90": "p90 Latency (ms)",
                   "p50": "p50 Latency (ms)", "avg": "Avg Latency (ms)"}


class ProfileError(ValueError):
    """A results file or an accuracy table that cannot give models; the message says why."""


def _number(row: Mapping[str, str], column: str, line: int) -> float:
    try:
        value = float(row[column])
    except (KeyError, TypeError, ValueError):
        raise ProfileError(f"line {line}: column {column!r} is missing or not a number ({row.get(column)!r})") from None
    if not value == value or value in (float("inf"), float("-inf")):
        raise ProfileError(f"line {line}: column {column!r} is not finite")
    return value


def from_model_analyzer(text: str, accuracy: Mapping[str, float], latency: str = "p99", batch: int = 1,
                        concurrency: int = 1, a_min: float = 0.0) -> list[dict[str, Any]]:
    """``models[]`` (the wire's shape) from the text of ``metrics-model-inference.csv``.

    ``accuracy`` maps each ``Model Config Path`` to its accuracy in ``[a_min, 1]``;
    ``latency`` is a key of :data:`LATENCY_COLUMNS` or a column name. Models and
    configurations in file order. Raises :class:`ProfileError`."""
    column = LATENCY_COLUMNS.get(latency, latency)
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip() for f in reader.fieldnames or []]
    reader.fieldnames = fields
    for need in ("Model", "Batch", "Concurrency", "Model Config Path", column):
        if need not in fields:
            raise ProfileError(f"no column {need!r} in the results file (columns: {', '.join(fields)})")
    models: dict[str, dict[str, Any]] = {}
    seen_models: set[str] = set()
    for line, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        seen_models.add(row["Model"])
        if _number(row, "Batch", line) != batch or _number(row, "Concurrency", line) != concurrency:
            continue
        path = row["Model Config Path"]
        model = models.setdefault(row["Model"], {"id": row["Model"], "a_min": a_min, "configs": []})
        if any(c["id"] == path for c in model["configs"]):
            raise ProfileError(f"line {line}: a second row for {path!r} at batch {batch}, concurrency {concurrency}")
        ms = _number(row, column, line)
        if not ms > 0:
            raise ProfileError(f"line {line}: {column} of {path!r} must be > 0, got {ms}")
        if path not in accuracy:
            raise ProfileError(f"no accuracy for model configuration {path!r} (line {line}); "
                               "give one in the accuracy file")
        acc = accuracy[path]
        if isinstance(acc, bool) or not isinstance(acc, int | float) or not a_min <= acc <= 1:
            raise ProfileError(f"accuracy of {path!r} must be a number in [{a_min}, 1], got {acc!r}")
        # milliseconds to seconds, without the binary noise of the division (0.0051, not 0.0050999...)
        model["configs"].append({"id": path, "work": float(f"{ms / 1000.0:.12g}"), "accuracy": float(acc)})
    missing = sorted(seen_models - set(models))
    if missing:
        raise ProfileError(f"no row at batch {batch} and concurrency {concurrency} for model(s) {', '.join(missing)}")
    used = {c["id"] for m in models.values() for c in m["configs"]}
    unused = sorted(set(accuracy) - used)
    if unused:
        raise ProfileError(f"accuracy given for configuration(s) not in the results at batch {batch} and "
                           f"concurrency {concurrency}: {', '.join(unused)}")
    return list(models.values())

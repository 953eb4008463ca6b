"""The bundled catalogue of measured models (``app/data/catalogue/*.json``): any batch may
name one of them in ``tasks[].model`` without describing it; ``GET /models`` lists them.

Each file holds ``models[]`` entries of the wire's shape (``id``, ``a_min``, ``configs[]``)
plus ``source`` (where the measurements come from) and ``device`` (the machine they were
measured on: speed 1 for that model). Loaded and checked against the schema once.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any

from schemas import CatalogueEntry

__all__ = ["catalogue", "entries"]


@functools.cache
def entries() -> tuple[CatalogueEntry, ...]:
    """Every bundled model, files in name order, entries in file order (validated by the
    schema: a broken file fails at the first call, in the tests)."""
    folder = importlib.resources.files("app.data").joinpath("catalogue")
    out: list[CatalogueEntry] = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".json"):
            doc: dict[str, Any] = json.loads(item.read_text(encoding="utf-8"))
            out.extend(CatalogueEntry.model_validate(m) for m in doc["models"])
    ids = [m.id for m in out]
    if len(set(ids)) != len(ids):
        raise RuntimeError("the bundled catalogue has duplicate model ids")
    return tuple(out)


@functools.cache
def catalogue() -> dict[str, CatalogueEntry]:
    """The bundled models by id."""
    return {m.id: m for m in entries()}

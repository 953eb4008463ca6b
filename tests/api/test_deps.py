"""Dependencies run on the event loop: FastAPI runs a plain ``def`` dependency in its thread
pool, a thread hop per request each (measured cost in docs/robustness.md)."""

from __future__ import annotations

import inspect

from fastapi.routing import APIRoute

from app.api.bench import router as bench_router
from app.api.routes import router


def _calls(dependant):
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def test_every_route_dependency_is_async():
    routes = [r for r in [*router.routes, *bench_router.routes] if isinstance(r, APIRoute)]
    assert {"/schedule", "/schedule/validate", "/bench/echo"} <= {r.path for r in routes}
    sync = {f"{r.path}: {c.__name__}" for r in routes for c in _calls(r.dependant)
            if not inspect.iscoroutinefunction(c)}
    assert not sync, sync

"""The ASGI application: ``create_app()`` wires settings, routes, errors, metrics and logs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from pydantic.json_schema import models_json_schema

from app import __version__, errors, metrics
from app import logging as dsct_logging
from app.api.budget import MemoryBudget
from app.api.middleware import AccessMiddleware
from app.api.routes import API_KEY_SCHEME, DIRECT, router
from app.api.runner import Runner
from app.api.ui import router as ui_router
from app.settings import Settings, from_env
from schemas import ScheduleRequest

DESCRIPTION = """\
Schedules batches of deep-learning inference tasks with compressible models on machines of
different speeds (the DSCT problem): for every machine, which task runs when, for how long,
at what compression, maximising the total accuracy under deadlines.

Errors always have the body `{"error": {"code", "message", "details": [{"loc", "msg", "type"}]}}`;
docs/api.md in the repository lists the codes. Unknown fields are rejected (422 invalid_request).

See a schedule as a Gantt chart in the browser: [/ui](/ui) (load the bundled example or paste
a batch, pick the algorithm, solve, compare two runs)."""


#: where the documentation's own files (Swagger UI's script, style sheet, icon) are served
DOCS_ASSETS = "/docs/assets"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or from_env()
    dsct_logging.setup(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            app.state.runner.shutdown()
            metrics.process_exit()

    # Swagger UI at /docs with its files served by the service itself (fastapi-offline bundles
    # them), not from a CDN: edge sites are often offline
    app = FastAPIOffline(
        title="dsct",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        # /schedule/ is a 404, not a redirect built from the request's Host header
        redirect_slashes=False,
        redoc_url=None,
        static_url=DOCS_ASSETS,
        # FastAPI's native OpenTelemetry hooks record only through an OpenTelemetry SDK,
        # which this service does not ship (it exports Prometheus metrics); left on, they
        # look the SDK up on every request (three environment lookups; docs/robustness.md).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    app.state.runner = Runner(settings.solver_threads, settings.max_in_flight, settings.solve_timeout,
                              search_threads=settings.search_threads, max_searches=settings.max_searches)
    app.state.budget = MemoryBudget(settings.memory_budget)
    app.include_router(router)
    app.include_router(ui_router)
    direct = dict(DIRECT)
    if settings.bench_routes:
        from app.api.bench import echo
        from app.api.bench import router as bench_router

        app.include_router(bench_router)
        direct[("POST", "/bench/echo")] = echo  # the floor, dispatched like /schedule
    errors.install(app)
    app.add_middleware(AccessMiddleware, direct=direct)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the request model, which the routes parse themselves."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        _, defs = models_json_schema([(ScheduleRequest, "validation")],
                                     ref_template="#/components/schemas/{model}")
        schema.setdefault("components", {})["securitySchemes"] = {API_KEY_SCHEME: {
            "type": "http", "scheme": "bearer",
            "description": "One of the server's DSCT_API_KEYS, sent as `Authorization: Bearer <key>`; "
                           "only when the server has keys configured (then 401 without it).",
        }}
        components = schema["components"].setdefault("schemas", {})
        for name, sub in defs.get("$defs", {}).items():
            if name in components and components[name] != sub:
                raise RuntimeError(f"OpenAPI component {name!r} defined twice, differently")
            components[name] = sub
        app.openapi_schema = schema
    return app.openapi_schema


def openapi_document() -> str:
    """The committed OpenAPI document (openapi/openapi.json): ``create_app().openapi()``
    with default settings, sorted keys, indent 2, final newline (``dsct export-openapi``
    and scripts/export_openapi.py write it; a test compares it with the committed file)."""
    spec = create_app(Settings()).openapi()
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


app = create_app()

"""The HTTP routes: read the body, run the pipeline off the event loop, answer."""

from __future__ import annotations

import importlib.resources
from typing import Any

from fastapi import APIRouter, Request, Response

from app import __version__, metrics
from app.api import service, validation
from app.api.deps import accept
from app.solver import ALGORITHMS
from schemas import ErrorResponse, Liveness, Readiness, ScheduleResponse, ValidationReport

router = APIRouter()

JSON = "application/json"
#: a body is parsed on the event loop when it is at most this many bytes per inline task
#: (DSCT_INLINE_MAX_TASKS): a typical task is 120 to 180 bytes of JSON
INLINE_BYTES_PER_TASK = 256


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {401: "Missing or wrong API key (only when DSCT_API_KEYS is set).",
            413: "Body, task count or machine count over the server's limits.",
            415: "Content-Type is not application/json.",
            422: "Invalid input: every offending field is in error.details.",
            503: "Overloaded, or the solve passed the server's time cap."}
    return {c: {"model": ErrorResponse, "description": text[c]} for c in codes}


def _body(ref: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}}


#: the OpenAPI security scheme of the API keys (declared in app.main); the routes that call
#: ``accept`` take a key when the server has some, none otherwise (the empty alternative)
API_KEY_SCHEME = "apiKey"
_KEYED = {"security": [{API_KEY_SCHEME: []}, {}]}


@router.post(
    "/schedule",
    summary="Schedule a batch of tasks on machines",
    response_model=ScheduleResponse,
    responses=_errors(401, 413, 415, 422, 503),
    openapi_extra={**_body("ScheduleRequest"), **_KEYED},
    tags=["scheduling"],
)
async def schedule(request: Request) -> Response:
    """Parse, map, solve with the chosen algorithm, map back."""
    # The body is read here, not by FastAPI, so that its size is checked while streaming. A
    # small batch for a polynomial heuristic is handled on the event loop (a thread hand-off
    # costs more than its solve); anything else is solved in a solver thread (app.api.runner).
    call = await accept(request)
    settings, run = call.settings, call.run
    if len(call.body) <= INLINE_BYTES_PER_TASK * settings.inline_max_tasks:
        prep = service.prepare(call.body, settings, run)
        if service.is_quick(prep, settings):
            out = service.finish(prep, settings, run)
        else:
            out = await call.runner.run(service.finish, prep, settings, run)
    else:
        out = await call.runner.run(service.schedule_json, call.body, settings, run)
    return Response(out, media_type=JSON)


@router.post(
    "/schedule/validate",
    summary="Check a batch without solving it (dry run)",
    response_model=ValidationReport,
    responses=_errors(401, 413, 415, 503),
    openapi_extra={**_body("ScheduleRequest"), **_KEYED},
    tags=["scheduling"],
)
async def validate(request: Request) -> Response:
    """Every problem POST /schedule would report, found without solving, and warnings about
    suspicious values: 200 with ``valid``, ``errors`` and ``warnings`` for anything about the
    content; 401/413/415 as for /schedule."""
    call = await accept(request)
    if len(call.body) <= INLINE_BYTES_PER_TASK * call.settings.inline_max_tasks:  # as /schedule
        report = validation.report(call.body, call.settings, call.run)
    else:
        report = await call.runner.run(validation.report, call.body, call.settings, call.run)
    return Response(service.dumps(report), media_type=JSON)


#: answered by app.api.middleware without the router (same functions, same answers)
DIRECT = {("POST", "/schedule"): schedule, ("POST", "/schedule/validate"): validate}


@router.get("/livez", response_model=Liveness, summary="The process is up", tags=["operations"])
async def livez() -> Response:
    return Response(b'{"status":"ok"}', media_type=JSON)


@router.get("/readyz", response_model=Readiness, responses=_errors(503),
            summary="The service can solve (solves the bundled example batch)", tags=["operations"])
async def readyz(request: Request) -> Response:
    state = request.app.state
    await state.runner.run(service.schedule_json, example_batch(), state.settings, service.RunInfo("/readyz"))
    out = {"status": "ready", "algorithms": sorted(ALGORITHMS), "version": __version__}
    return Response(service.dumps(out), media_type=JSON)


@router.get("/metrics", summary="Prometheus metrics (text format)", tags=["operations"],
            response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format"}})
async def metrics_endpoint() -> Response:
    data, content_type = metrics.render()
    return Response(data, media_type=content_type)


_EXAMPLE: bytes | None = None


def example_batch() -> bytes:
    """The bundled example batch (app/data/example.json)."""
    global _EXAMPLE
    if _EXAMPLE is None:
        _EXAMPLE = importlib.resources.files("app.data").joinpath("example.json").read_bytes()
    return _EXAMPLE

"""The HTTP routes: read the body, run the pipeline off the event loop, answer."""

from __future__ import annotations

import importlib.resources
from typing import Any

from fastapi import APIRouter, Request, Response

from app import __version__, metrics
from app.api import service, validation
from app.api.deps import Call, accept
from app.api.run import RunInfo
from app.catalogue import entries
from app.errors import ApiError
from app.solver import ALGORITHMS, POLYNOMIAL
from schemas import (
    Catalogue,
    ErrorResponse,
    Liveness,
    Readiness,
    ScheduleResponse,
    ValidationReport,
)

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
    # The body is read here, not by FastAPI, so that its size is checked while streaming.
    call = await accept(request)
    try:
        return Response(await _schedule(call), media_type=JSON)
    finally:
        call.done()


async def _schedule(call: Call) -> bytes:
    """Where each batch is parsed and solved (app.api.runner): a large body in the separate
    process; a small batch for a polynomial heuristic on the event loop (a thread hand-off
    costs more than its solve); the rest in the solver threads of its algorithm's lane."""
    settings, run, runner = call.settings, call.run, call.runner
    if _isolate(call):
        found = await runner.run(runner.isolated, service.isolated, "schedule", call.body, settings, run.run_id,
                                 gone=call.gone, reservation=call.reservation)
        return found.result(run)
    if len(call.body) <= INLINE_BYTES_PER_TASK * settings.inline_max_tasks:
        prep = service.prepare(call.body, settings, run)
        if service.is_quick(prep, settings):
            return service.finish(prep, settings, run)
    else:
        prep = await runner.run(runner.polynomial, service.prepare, call.body, settings, run,
                                gone=call.gone, reservation=call.reservation)
    lane = runner.polynomial if prep.batch.algorithm in POLYNOMIAL else runner.search
    return await runner.run(lane, service.finish, prep, settings, run, gone=call.gone, reservation=call.reservation)


def _isolate(call: Call) -> bool:
    limit = call.settings.isolate_min_bytes
    return bool(limit) and len(call.body) >= limit


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
    try:
        settings, run, runner = call.settings, call.run, call.runner
        if _isolate(call):
            found = await runner.run(runner.isolated, service.isolated, "validate", call.body, settings,
                                     run.run_id, gone=call.gone, reservation=call.reservation)
            out = found.result(run)
        elif len(call.body) <= INLINE_BYTES_PER_TASK * settings.inline_max_tasks:  # as /schedule
            out = service.dumps(validation.report(call.body, settings, run))
        else:
            report = await runner.run(runner.polynomial, validation.report, call.body, settings, run,
                                      gone=call.gone, reservation=call.reservation)
            out = service.dumps(report)
    finally:
        call.done()
    return Response(out, media_type=JSON)


#: answered by app.api.middleware without the router (same functions, same answers)
DIRECT = {("POST", "/schedule"): schedule, ("POST", "/schedule/validate"): validate}


@router.get("/models", response_model=Catalogue, summary="The bundled catalogue of measured models",
            tags=["scheduling"])
async def models() -> Response:
    """Every bundled model (id, source, the device its works were measured on, a_min and
    configurations): any batch may name one in ``tasks[].model``."""
    return Response(_catalogue_json(), media_type=JSON)


_CATALOGUE: bytes | None = None


def _catalogue_json() -> bytes:
    global _CATALOGUE
    if _CATALOGUE is None:
        _CATALOGUE = service.dumps(Catalogue(models=list(entries())).model_dump(mode="json"))
    return _CATALOGUE


@router.get("/livez", response_model=Liveness, summary="The process is up", tags=["operations"])
async def livez() -> Response:
    return Response(b'{"status":"ok"}', media_type=JSON)


@router.get("/readyz", response_model=Readiness, responses=_errors(503),
            summary="The service can solve (solves the bundled example batch)", tags=["operations"])
async def readyz(request: Request) -> Response:
    """Solves the bundled batch through the normal pipeline, on the event loop (it is small,
    so it never queues behind solves) and without counting it in the solve metrics (a probe
    is not traffic); 503 ``overloaded`` when this worker's polynomial lane is full."""
    state = request.app.state
    lane = state.runner.polynomial
    if lane.full():
        raise ApiError("overloaded", f"{lane.in_flight} solves in flight in this worker "
                       f"(limit {lane.max_in_flight}, DSCT_MAX_IN_FLIGHT)", headers={"Retry-After": "1"})
    run = RunInfo("/readyz")
    service.finish(service.prepare(example_batch(), state.settings, run), state.settings, run, observe=False)
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

"""Benchmark-only routes, mounted when ``DSCT_BENCH_ROUTES=1`` (off by default, never in the
OpenAPI document). ``benchmarks/bench_load.py`` compares ``POST /schedule`` with them on the
same server and the same body, so the ratio shows what parsing and solving cost on top of
HTTP alone (docs/robustness.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.deps import AuthDep, SettingsDep, read_body

router = APIRouter(include_in_schema=False)


@router.post("/bench/echo")
async def echo(request: Request, settings: SettingsDep, _auth: AuthDep) -> Response:
    """The body back, unparsed, after the same media-type, key and size checks as /schedule:
    the floor of a request of that size (HTTP, middleware, body in and out)."""
    body = await read_body(request, settings.max_body_bytes)
    return Response(body, media_type="application/json")

"""Benchmark-only routes, mounted when ``DSCT_BENCH_ROUTES=1`` (off by default, never in the
OpenAPI document). ``benchmarks/bench_load.py`` compares ``POST /schedule`` with them on the
same server and the same body, so the ratio shows what parsing and solving cost on top of
HTTP alone (docs/robustness.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.deps import accept

router = APIRouter(include_in_schema=False)


@router.post("/bench/echo")
async def echo(request: Request) -> Response:
    """The body back, unparsed, after the same media-type, key and size checks as /schedule:
    the floor of a request of that size (HTTP, middleware, body in and out)."""
    call = await accept(request)
    return Response(call.body, media_type="application/json")

"""Named dependency types and the request-side helpers shared by the routes.

The dependencies are ``async def`` on purpose: they never block, and FastAPI runs a plain
``def`` dependency in its thread pool, a thread hop per dependency per request (about 15% of
the server's CPU per small /schedule request and a p99 of tens of ms on a busy 2-core
machine, measured with benchmarks/bench_load.py; docs/robustness.md).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from app.api.runner import Runner
from app.api.service import RunInfo
from app.errors import ApiError
from app.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_runner(request: Request) -> Runner:
    return request.app.state.runner


async def get_run(request: Request) -> RunInfo:
    """The request's RunInfo (made by the access middleware; a fresh one without it)."""
    run = request.scope.get("dsct.run")
    if run is None:
        run = request.scope["dsct.run"] = RunInfo(request.url.path)
    return run


async def require_key(request: Request) -> None:
    """When ``DSCT_API_KEYS`` is set: ``Authorization: Bearer <key>`` or 401 (constant time)."""
    keys: tuple[str, ...] = request.app.state.settings.api_keys
    if not keys:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    given = token.strip().encode()
    ok = False
    for key in keys:  # every key compared, whatever matches, so timing says nothing
        ok |= hmac.compare_digest(given, key.encode())
    if not (ok and scheme.lower() == "bearer"):
        raise ApiError("unauthorized", "missing or invalid API key: send Authorization: Bearer <key>",
                       headers={"WWW-Authenticate": 'Bearer realm="dsct"'})


SettingsDep = Annotated[Settings, Depends(get_settings)]
RunnerDep = Annotated[Runner, Depends(get_runner)]
RunDep = Annotated[RunInfo, Depends(get_run)]
AuthDep = Annotated[None, Depends(require_key)]


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit: int) -> bytes:
    """The JSON body, refused before it is read whole when it is over ``limit`` bytes:
    first from Content-Length, then by counting while streaming."""
    media = _media_type(request)
    if not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
        raise ApiError("unsupported_media_type",
                       f"Content-Type must be application/json, got {media or 'none'!r}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError("body_too_large", f"body of {int(declared)} bytes is over the limit of {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError("body_too_large", f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

"""What every scheduling route does before its own work: the API key, the media type and
the body within its size limit, and the request's settings, runner and run info.

Plain functions called by the routes, not FastAPI ``Depends``: resolving four dependencies
cost FastAPI several percent of a small /schedule's CPU (docs/robustness.md, "Measured costs
behind choices in the code"). Nothing here blocks, so it runs on the event loop.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Request

from app.api.run import RunInfo
from app.api.runner import Runner
from app.errors import ApiError
from app.settings import Settings


@dataclass
class Call:
    """One accepted request: the server's settings and runner, the run info, the body."""

    settings: Settings
    runner: Runner
    run: RunInfo
    body: bytes


def run_info(request: Request) -> RunInfo:
    """The request's RunInfo (made by the access middleware; a fresh one without it)."""
    run = request.scope.get("dsct.run")
    if run is None:
        run = request.scope["dsct.run"] = RunInfo(request.url.path)
    return run


def require_key(request: Request, keys: tuple[str, ...]) -> None:
    """When ``DSCT_API_KEYS`` is set: ``Authorization: Bearer <key>`` or 401 (constant time)."""
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


async def accept(request: Request) -> Call:
    """The API key (401), then the media type (415) and the body's size (413)."""
    state = request.app.state
    settings: Settings = state.settings
    require_key(request, settings.api_keys)
    body = await read_body(request, settings.max_body_bytes)
    return Call(settings, state.runner, run_info(request), body)


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

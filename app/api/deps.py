"""What every scheduling route does before its own work: the API key, the media type and
the body within its size limit and the memory budget, and the request's settings, runner
and run info.

Plain functions called by the routes, not FastAPI ``Depends``: resolving four dependencies
cost FastAPI several percent of a small /schedule's CPU (docs/robustness.md, "Measured costs
behind choices in the code"). Nothing here blocks, so it runs on the event loop.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Request
from starlette.requests import ClientDisconnect

from app.api.budget import Reservation
from app.api.run import RunInfo
from app.api.runner import Runner
from app.errors import ApiError, ClientGone
from app.logging import clip
from app.settings import Settings


@dataclass
class Call:
    """One accepted request: the server's settings and runner, the run info, the body and its
    charge on the memory budget (released by :meth:`done`)."""

    settings: Settings
    runner: Runner
    run: RunInfo
    body: bytes
    reservation: Reservation
    request: Request

    async def gone(self) -> object:
        """Returns when the client has disconnected (the body is read: the next message from
        the server is ``http.disconnect``)."""
        while True:
            message = await self.request.receive()
            if message["type"] == "http.disconnect":
                return message

    def done(self) -> None:
        self.reservation.release()


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
    """The API key (401), the media type and encoding (415), the body's size (413) and its
    charge on the memory budget (503), then the body. An error before the body is read whole
    closes the connection (``Connection: close``): the rest of the body is not waited for."""
    state = request.app.state
    settings: Settings = state.settings
    reservation = state.budget.reserve()
    try:
        require_key(request, settings.api_keys)
        body = await read_body(request, settings.max_body_bytes, reservation)
    except ApiError as exc:
        reservation.release()
        exc.headers = {**(exc.headers or {}), "Connection": "close"}
        raise
    except BaseException:
        reservation.release()
        raise
    return Call(settings, state.runner, run_info(request), body, reservation, request)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def check_media(request: Request) -> None:
    """``application/json`` (or ``application/*+json``), not compressed; else 415."""
    media = _media_type(request)
    if not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
        raise ApiError("unsupported_media_type",
                       f"Content-Type must be application/json, got {clip(media) or 'none'!r}")
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise ApiError("unsupported_media_type",
                       f"Content-Encoding {clip(encoding)!r} is not supported: send the JSON uncompressed")


async def read_body(request: Request, limit: int, reservation: Reservation) -> bytes:
    """The JSON body, refused before it is read whole when it is over ``limit`` bytes or over
    the memory budget: first from Content-Length, then by counting while streaming."""
    check_media(request)
    declared = request.headers.get("content-length")
    expected = int(declared) if declared is not None and declared.isdigit() else None
    if expected is not None and expected > limit:
        raise ApiError("body_too_large", f"body of {expected} bytes is over the limit of {limit} bytes")
    if expected is not None:
        reservation.add(expected)
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError("body_too_large", f"body is over the limit of {limit} bytes")
            if expected is None or size > expected:
                reservation.add(len(chunk))
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone("the client disconnected while sending the body") from None
    return b"".join(chunks)

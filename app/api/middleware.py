"""Pure ASGI middleware: per-request metrics, the JSON access log line, and the direct
dispatch of the scheduling endpoints.

Direct dispatch: ``POST /schedule`` and ``POST /schedule/validate`` are answered by calling
their route functions (:data:`app.api.routes.DIRECT`) from here, with a Starlette
``Request`` and the errors of :func:`app.errors.response_for`, instead of passing through
Starlette's exception middleware, the router and FastAPI's request handling. That path cost
about 110 us of CPU per request, more than a tenth of a 100-task /schedule
(docs/robustness.md). The FastAPI routes stay registered, with the same functions, for the
OpenAPI document and for any request the table does not match exactly (another method, a
``root_path`` prefix): the answer is the same either way, because both paths map errors with
the one function :func:`app.errors.response_for` for the same exception types
(:data:`app.errors.HANDLED`; tests/api/test_direct.py compares them). Other exceptions go to
the outer middleware either way (500 ``internal_error``). A client that left
(:class:`app.errors.ClientGone`) gets no answer and is counted as ``disconnected``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.api.run import RunInfo
from app.errors import HANDLED, ClientGone, response_for
from app.logging import access

Endpoint = Callable[[Request], Awaitable[Response]]


class AccessMiddleware:
    """Counts requests to the scheduling endpoints by outcome, times them, and logs one JSON
    line per HTTP request on ``dsct.access`` (run_id, endpoint, algorithm, n, m, outcome,
    status, solve_seconds). ``direct`` maps ``(method, path)`` to the route function that
    answers it without the router (see the module's docs)."""

    def __init__(self, app: ASGIApp, direct: Mapping[tuple[str, str], Endpoint] | None = None):
        self.app = app
        self.direct = dict(direct or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        run = RunInfo(path)
        scope["dsct.run"] = run
        status: int | None = 500
        outcome = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-run-id", run.run_id.encode())]
            await send(message)

        try:
            endpoint = self.direct.get((scope.get("method", ""), path))
            if endpoint is None:
                await self.app(scope, receive, send_wrapper)
            else:
                try:
                    response = await endpoint(Request(scope, receive))
                except HANDLED as exc:
                    response = response_for(exc)
                await response(scope, receive, send_wrapper)
        except ClientGone:  # the client's doing, not a bug: no answer, no traceback
            status, outcome = None, "disconnected"
        finally:
            seconds = time.perf_counter() - run.started
            if scope.get("dsct.timed_out"):
                status, outcome = 408, "timeout"
            outcome = outcome or metrics.status_outcome(status or 500)
            if path in metrics.ENDPOINTS:
                metrics.observe_request(path, outcome, seconds)
            client = scope.get("client")
            access(run_id=run.run_id, pid=os.getpid(), method=scope.get("method"), endpoint=path,
                   algorithm=run.algorithm, n=run.n, m=run.m, outcome=outcome, status=status,
                   solve_seconds=run.solve_seconds, seconds=round(seconds, 6),
                   client=client[0] if client else None, solver_pid=run.solver_pid)

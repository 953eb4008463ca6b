"""Pure ASGI middleware: per-request metrics and the JSON access log line."""

from __future__ import annotations

import os
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.api.service import RunInfo
from app.logging import access


class AccessMiddleware:
    """Counts requests to the scheduling endpoints by outcome, times them, and logs one JSON
    line per HTTP request on ``dsct.access`` (run_id, endpoint, algorithm, n, m, outcome,
    status, solve_seconds)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        run = RunInfo(path)
        scope["dsct.run"] = run
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-run-id", run.run_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - run.started
            if path in metrics.ENDPOINTS:
                metrics.observe_request(path, status, seconds)
            access(run_id=run.run_id, pid=os.getpid(), method=scope.get("method"), endpoint=path,
                   algorithm=run.algorithm, n=run.n, m=run.m, outcome=metrics.status_outcome(status),
                   status=status, solve_seconds=run.solve_seconds, seconds=round(seconds, 6))

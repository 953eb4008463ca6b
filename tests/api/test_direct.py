"""The scheduling endpoints are answered by the access middleware without the router
(app/api/middleware.py): the same route functions, so the same answers as through FastAPI."""

from __future__ import annotations

import json

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api import routes
from app.api.middleware import AccessMiddleware
from app.api.routes import DIRECT, router
from app.errors import ApiError
from app.main import create_app
from app.settings import Settings
from app.solver import DomainError

from .conftest import JSON_HEADERS, random_batch


def test_direct_table_matches_the_router():
    routes = {(m, r.path): r.endpoint for r in router.routes if isinstance(r, APIRoute) for m in r.methods}
    assert DIRECT
    for key, endpoint in DIRECT.items():
        assert routes[key] is endpoint, key


def _client(direct: bool, **settings) -> TestClient:
    app = create_app(Settings(**settings))
    if not direct:
        for mw in app.user_middleware:
            if mw.cls is AccessMiddleware:
                mw.kwargs["direct"] = {}
    return TestClient(app, raise_server_exceptions=False)


CASES = [  # path, body, headers, status with the key
    ("/schedule", json.dumps(random_batch(30, 3, seed=2)), JSON_HEADERS, 200),
    ("/schedule", json.dumps(random_batch(30, 3, seed=2, algorithm="nope")), JSON_HEADERS, 422),
    ("/schedule", '{"machines": [{"id": "a"}], "tasks": [', JSON_HEADERS, 422),
    ("/schedule", json.dumps(random_batch(3, 1)), {"Content-Type": "text/plain"}, 415),
    ("/schedule", json.dumps(random_batch(700, 2)), JSON_HEADERS, 413),  # over max_tasks below
    ("/schedule/validate", json.dumps(random_batch(10, 2)), JSON_HEADERS, 200),
    ("/schedule/validate", "[1, 2]", JSON_HEADERS, 200),
]


@pytest.mark.parametrize(("path", "body", "headers", "status"), CASES)
@pytest.mark.parametrize("keys", [(), ("k1",)])
def test_direct_and_routed_answers_agree(path, body, headers, status, keys):
    answers = []
    for direct in (True, False):
        with _client(direct, api_keys=keys, max_tasks=500) as c:
            for auth in ({}, {"Authorization": "Bearer k1"}):
                r = c.post(path, content=body, headers={**headers, **auth})
                doc = r.json()
                for volatile in ("run_id", "timings"):
                    doc.pop(volatile, None)
                answers.append((r.status_code, doc, r.headers.get("content-type"),
                                r.headers.get("www-authenticate"), "x-run-id" in r.headers))
    assert answers[:2] == answers[2:]
    assert [a[0] for a in answers[:2]] == [401 if keys else status, status]


def _raises(exc: Exception):
    async def accept(request):
        raise exc

    return accept


RAISED = [  # exceptions a route may raise below the middleware, each answered the same both ways
    StarletteHTTPException(404, "gone away"),
    StarletteHTTPException(405),
    StarletteHTTPException(418, "teapot"),
    ApiError("overloaded", "busy", headers={"Retry-After": "1"}),
    DomainError("speed", 0, "speed must be positive"),
    RuntimeError("a bug"),
]


@pytest.mark.parametrize("exc", RAISED, ids=lambda e: type(e).__name__ + str(getattr(e, "status_code", "")))
@pytest.mark.parametrize("path", sorted({p for _, p in DIRECT}))
def test_direct_and_routed_errors_agree(monkeypatch, exc, path):
    """The direct dispatch and the router map every exception with the same function: the
    same status, body and headers (an HTTPException(404) is a 404 both ways, a bug a 500)."""
    monkeypatch.setattr(routes, "accept", _raises(exc))
    answers = []
    for direct in (True, False):
        with _client(direct) as c:
            r = c.post(path, content=b"{}", headers=JSON_HEADERS)
            answers.append((r.status_code, r.json(), r.headers.get("retry-after")))
    assert answers[0] == answers[1]
    expected = getattr(exc, "status_code", None) or (exc.status if isinstance(exc, ApiError) else None)
    assert answers[0][0] == (expected or (422 if isinstance(exc, DomainError) else 500))

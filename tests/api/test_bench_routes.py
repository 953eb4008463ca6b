"""The benchmark-only echo route: absent by default, an exact echo when DSCT_BENCH_ROUTES=1."""

from __future__ import annotations

import json

from app.settings import from_env

from .conftest import post, spec_request


def test_bench_routes_are_off_by_default(client):
    assert post(client, spec_request(), "/bench/echo").status_code == 404


def test_bench_echo_returns_the_body_with_the_usual_checks(make_client):
    c = make_client(bench_routes=True, max_body_bytes=4096)
    body = json.dumps(spec_request()).encode()
    r = post(c, body, "/bench/echo")
    assert r.status_code == 200 and r.content == body
    assert r.headers["content-type"] == "application/json"
    assert post(c, b"x" * 5000, "/bench/echo").json()["error"]["code"] == "body_too_large"
    r = c.post("/bench/echo", content=body, headers={"content-type": "text/plain"})
    assert r.json()["error"]["code"] == "unsupported_media_type"
    assert "/bench/echo" not in c.get("/openapi.json").json()["paths"]


def test_bench_routes_setting_from_env():
    assert from_env({"DSCT_BENCH_ROUTES": "1"}).bench_routes is True
    assert from_env({}).bench_routes is False

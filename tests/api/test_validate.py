"""POST /schedule/validate: every problem /schedule would report, found without solving."""

from __future__ import annotations

import pytest

from app.solver import ALGORITHMS, check

from .conftest import post, random_batch, spec_request
from .helpers import problem_of, solution_of, strict_json


def test_validate_valid(client):
    r = post(client, spec_request(), "/schedule/validate")
    assert r.status_code == 200
    assert r.json() == {"valid": True, "tasks": 1, "machines": 2, "algorithm": "dsct-approx", "errors": [],
                        "warnings": []}


def test_validate_reports_every_problem(client):
    req = spec_request()
    req["tasks"][0]["theta"] = -1
    req["tasks"].append({"id": "x", "deadline": "soon", "theta": 1.0, "colour": "red"})
    req["machines"][1]["speed"] = 0
    body = post(client, req, "/schedule/validate").json()
    assert body["valid"] is False and body["tasks"] == 2 and body["machines"] == 2
    locs = {tuple(e["loc"]) for e in body["errors"]}
    assert locs == {("tasks", 0, "theta"), ("tasks", 1, "deadline"), ("tasks", 1, "colour"),
                    ("machines", 1, "speed")}
    assert {e["code"] for e in body["errors"]} == {"invalid_request"}


def test_validate_semantic_problems(make_client):
    c = make_client(max_tasks=3)
    req = spec_request()
    req["algorithm"] = "nope"
    req["tasks"].append(dict(req["tasks"][0]))
    body = post(c, req, "/schedule/validate").json()
    assert body["valid"] is False
    assert [e["code"] for e in body["errors"]] == ["duplicate_id", "unknown_algorithm"]
    body = post(c, random_batch(5, 1), "/schedule/validate").json()
    assert [e["code"] for e in body["errors"]] == ["too_many_tasks"]


def test_validate_malformed_and_transport_errors(make_client):
    c = make_client(max_body_bytes=2048)
    body = post(c, b'{"tasks": [', "/schedule/validate").json()
    assert body["valid"] is False and body["errors"][0]["code"] == "malformed_json" and body["tasks"] is None
    assert post(c, random_batch(100, 2), "/schedule/validate").status_code == 413
    r = c.post("/schedule/validate", content=b"{}", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_validate_does_not_solve(client, monkeypatch):
    def boom(problem, **options):
        raise AssertionError("validate must not solve")

    monkeypatch.setitem(ALGORITHMS, "boom", boom)
    req = spec_request()
    req["algorithm"] = "boom"
    assert post(client, req, "/schedule/validate").json()["valid"] is True


# ---------------------------------------------------------------- one judge for overflowing numbers

# (machine speeds, the task's deadline) -> whether the batch is valid. Numbers valid one by one
# whose combination may overflow: the solver judges them (app.solver.Problem), for both routes.
OVERFLOW_EDGES = {
    "speeds 1e308 and 1, deadline 1": ([1e308, 1.0], 1.0, True),
    "slow machine, long deadline": ([1e300, 1e-300], 1e6, True),
    "speeds summing past double": ([1e308, 1e308], 1.0, False),
    "deadline x total speed": ([1.0, 3.5], 1e308, False),
    "1/speed": ([1.0, 5e-324], 1.0, False),
}


@pytest.mark.parametrize(("speeds", "deadline", "valid"), list(OVERFLOW_EDGES.values()), ids=list(OVERFLOW_EDGES))
def test_validate_and_schedule_give_one_verdict_on_overflow(client, speeds, deadline, valid):
    req = spec_request()
    for mc, s in zip(req["machines"], speeds, strict=True):
        mc["speed"] = s
    req["tasks"][0]["deadline"] = deadline
    report = post(client, req, "/schedule/validate").json()
    r = post(client, req)
    body = strict_json(r.text)
    assert report["valid"] is valid, report
    if valid:
        assert r.status_code == 200, body
        assert check(problem_of(req), solution_of(req, body)).ok
    else:
        assert r.status_code == 422 and body["error"]["code"] == "numeric_range", body
        details = body["error"]["details"]
        assert [(e["code"], e["loc"], e["msg"]) for e in report["errors"]] == [
            ("numeric_range", d["loc"], d["msg"]) for d in details]
        assert {d["type"] for d in details} == {"numeric_range"}

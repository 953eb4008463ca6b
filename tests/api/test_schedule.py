"""POST /schedule in-process: schedules that pass the checker, defaults, the time limit, the server's limits."""

from __future__ import annotations

import pytest

from app.solver import ALGORITHMS, DEFAULT_ALGORITHM, check
from app.solver.schedule import make_solution

from .conftest import post, random_batch, spec_request
from .helpers import problem_of, solution_of, strict_json


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize(("n", "m", "seed"), [(0, 1, 0), (1, 3, 1), (60, 4, 2), (300, 7, 3)])
def test_schedule_passes_the_checker(client, algorithm, n, m, seed):
    req = random_batch(n, m, seed, algorithm)
    req["time_limit"] = 0.5  # the searching algorithm (exact) stops there
    r = post(client, req)
    assert r.status_code == 200, r.text
    body = strict_json(r.text)
    sol = solution_of(req, body)  # every task exactly once
    report = check(problem_of(req), sol)
    assert report.ok, report.violations
    assert body["objective"]["total_accuracy"] <= body["objective"]["upper_bound"] + 1e-9
    mean = body["objective"]["mean_accuracy"]
    assert mean == (pytest.approx(body["objective"]["total_accuracy"] / n) if n else 0.0)
    assert body["label"] == req["label"]


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_determinism(client, algorithm):
    # the exact search is deterministic when it proves optimality (not when cut by a time limit)
    req = random_batch(8, 2, 11, algorithm) if algorithm == "exact" else random_batch(200, 5, 11, algorithm)
    a, b = post(client, req).json(), post(client, req).json()
    if algorithm == "exact":
        assert a["status"] == "optimal"

    assert a["run_id"] != b["run_id"]
    for key in ("machines", "unscheduled", "objective", "status", "algorithm", "label"):
        assert a[key] == b[key]


def test_unscheduled_reasons_and_a_min(client):
    req = spec_request()
    req["machines"] = [{"id": "busy", "speed": 1.0, "available_at": 1.0}]
    req["tasks"].append({"id": "late", "deadline": 2.0, "theta": 3.0, "a_min": 0.2, "a_max": 0.9})
    body = post(client, req).json()
    assert body["unscheduled"] == [{"task_id": "cam3/1182", "reason": "deadline_before_available", "accuracy": 0.001}]
    assert [a["task_id"] for a in body["machines"][0]["assignments"]] == ["late"]
    assert body["machines"][0]["assignments"][0]["compression"] is None


def test_defaults_and_label_absent(client):
    req = {"machines": [{"id": "m"}], "tasks": [{"id": "t", "deadline": 1.0, "theta": 2.0}]}
    body = post(client, req).json()
    assert body["label"] is None and body["algorithm"] == DEFAULT_ALGORITHM == "dsct-best"
    a = body["machines"][0]["assignments"][0]
    assert a["start"] == 0.0 and a["end"] == pytest.approx(1.0) and a["compression"] is None


def test_label_echoed_at_limit(client):
    req = spec_request()
    req["label"] = "é" * 256
    req["tasks"][0]["id"] = "i" * 256
    body = post(client, req).json()
    assert body["label"] == "é" * 256


def test_time_limit_is_accepted_and_passed_capped(make_client, monkeypatch):
    seen = {}

    def spy(problem, time_limit=None):  # an algorithm that takes the option
        seen["time_limit"] = time_limit
        return make_solution(problem, machine=[-1] * problem.n, start=[0.0] * problem.n,
                             duration=[0.0] * problem.n, work=[0.0] * problem.n, upper_bound=0.0,
                             algorithm="spy")

    monkeypatch.setitem(ALGORITHMS, "spy", spy)
    c = make_client(max_time_limit=2.0)
    req = spec_request()
    req.update(algorithm="spy", time_limit=1e6)
    assert post(c, req).status_code == 200
    assert seen["time_limit"] == 2.0
    req["time_limit"] = 0.5
    post(c, req)
    assert seen["time_limit"] == 0.5


def test_an_option_the_algorithm_does_not_take_is_a_422_naming_it(client, monkeypatch):
    """The solver refuses options its algorithm does not declare; the answer names the field."""
    from app.api import service

    monkeypatch.setattr(service, "solve_options", lambda batch, settings: {"colour": "red"})
    r = post(client, spec_request())
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_request"
    assert [(d["loc"], d["type"]) for d in err["details"]] == [(["colour"], "unknown_option")]


def test_a_schedule_that_is_not_finite_is_a_422(client, monkeypatch):
    """Every result is checked at the solver's entry: a NaN never reaches a response."""

    def overflowing(problem):
        return make_solution(problem, machine=[0] * problem.n, start=[float("inf")] * problem.n,
                             duration=[0.1] * problem.n, work=[0.1] * problem.n, upper_bound=1.0,
                             algorithm="overflowing")

    monkeypatch.setitem(ALGORITHMS, "overflowing", overflowing)
    req = spec_request()
    req["algorithm"] = "overflowing"
    r = post(client, req)
    body = strict_json(r.text)
    assert r.status_code == 422 and body["error"]["code"] == "numeric_range", body
    assert [(d["loc"], d["type"]) for d in body["error"]["details"]] == [([], "numeric_range")]


# ---------------------------------------------------------------- limits


def test_too_many_tasks(make_client):
    c = make_client(max_tasks=10)
    r = post(c, random_batch(11, 2))
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_tasks"
    assert post(c, random_batch(10, 2)).status_code == 200


def test_too_many_machines(make_client):
    c = make_client(max_machines=3)
    r = post(c, random_batch(5, 4))
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_machines"


def test_body_too_large_from_content_length(make_client):
    c = make_client(max_body_bytes=4096)
    req = random_batch(200, 2)
    r = post(c, req)
    assert r.status_code == 413
    err = r.json()["error"]
    assert err["code"] == "body_too_large" and "4096" in err["message"]

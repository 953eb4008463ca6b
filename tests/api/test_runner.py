"""The solver threads (app/api/runner.py): the time cap and admission control, through the API."""

from __future__ import annotations

import threading
import time

import pytest

from app.solver import ALGORITHMS

from .conftest import post, random_batch, spec_request
from .helpers import sleeper


def test_solve_timeout_then_worker_free(make_client, monkeypatch):
    monkeypatch.setitem(ALGORITHMS, "sleep", sleeper(2.0))
    c = make_client(solve_timeout=0.1)
    req = spec_request()
    req["algorithm"] = "sleep"
    r = post(c, req)
    runner = c.app.state.runner
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "solve_timeout" and "retry-after" in r.headers
    # answered at the cap, not when the solve ended: the abandoned solve is still running
    # and holds its admission slot
    assert runner.in_flight == 1
    assert post(c, spec_request()).status_code == 200  # the server keeps answering
    deadline = time.monotonic() + 10
    while runner.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert runner.in_flight == 0


@pytest.mark.parametrize("inline_max_tasks", [0, 512])
def test_overloaded(make_client, monkeypatch, inline_max_tasks):
    """A full lane refuses what would queue for it (503 overloaded). The searching lane is
    apart from the polynomial one: while a search fills its lane, polynomial batches, small
    (on the event loop) or not (in a solver thread), still get through."""
    started = threading.Event()
    monkeypatch.setitem(ALGORITHMS, "sleep", sleeper(1.0, started))
    c = make_client(max_in_flight=1, max_searches=1, solve_timeout=5.0, inline_max_tasks=inline_max_tasks)
    req = spec_request()
    req["algorithm"] = "sleep"
    results = {}
    t = threading.Thread(target=lambda: results.setdefault("slow", post(c, req)))
    t.start()
    assert started.wait(5)
    r = post(c, req)
    assert r.status_code == 503 and r.json()["error"]["code"] == "overloaded", r.text
    assert "DSCT_MAX_SEARCHES" in r.json()["error"]["message"] and r.headers["retry-after"] == "1"
    assert post(c, spec_request()).status_code == 200
    r = post(c, {**spec_request(), "algorithm": "dsct-approx", "tasks": random_batch(600, 3)["tasks"]})
    assert r.status_code == 200, r.text
    t.join(10)
    assert results["slow"].status_code == 200
    assert post(c, req).status_code == 200

"""Where a /schedule request is solved: small batches for a polynomial algorithm on the event
loop, everything else in a solver thread (app/api/routes.py, app/api/service.py)."""

from __future__ import annotations

import json
import threading

import pytest

from app.solver import ALGORITHMS, POLYNOMIAL

from .conftest import post, random_batch


@pytest.fixture
def solver_threads(monkeypatch):
    """The names of the threads that ran each solve."""
    seen: list[str] = []
    for name in list(ALGORITHMS):
        fn = ALGORITHMS[name]

        def spy(problem, _fn=fn, **options):
            seen.append(threading.current_thread().name)
            return _fn(problem, **options)

        monkeypatch.setitem(ALGORITHMS, name, spy)
    return seen


def test_polynomial_algorithms_are_the_heuristics():
    assert POLYNOMIAL == {"dsct-best", "dsct-approx", "dsct-refined", "edf-nocompression", "edf-3levels",
                          "edf-3levels-lee-song"}
    assert set(ALGORITHMS) - POLYNOMIAL == {"exact"}


@pytest.mark.parametrize(
    ("n", "algorithm", "inline_max_tasks", "in_thread"),
    [
        (100, "dsct-approx", 512, False),
        (100, "dsct-refined", 512, False),
        (512, "edf-3levels", 512, False),
        (513, "dsct-approx", 512, True),   # over the task count
        (100, "dsct-approx", 0, True),     # inlining off
        (8, "exact", 512, True),           # a searching algorithm never runs on the loop
    ],
)
def test_where_the_solve_runs(make_client, solver_threads, n, algorithm, inline_max_tasks, in_thread):
    c = make_client(inline_max_tasks=inline_max_tasks)
    body = random_batch(n, 3, seed=n, algorithm=algorithm)
    if algorithm == "exact":
        body["time_limit"] = 1.0
    r = post(c, body)
    assert r.status_code == 200, r.text
    assert len(solver_threads) == 1
    assert solver_threads[0].startswith("dsct-solve") == in_thread, solver_threads


@pytest.mark.parametrize(("floor", "in_thread"), [(None, False), (0.3, True)])
def test_a_batch_with_accuracy_floors_is_solved_in_a_thread(make_client, solver_threads, floor, in_thread):
    """Admitting floors solves the batch many times: never on the event loop; weights alone
    (one solve of a scaled copy) stay there."""
    c = make_client(inline_max_tasks=512)
    body = random_batch(40, 3, seed=4, algorithm="dsct-approx")
    for t in body["tasks"][::3]:
        t["weight"], t["min_accuracy"] = 2.0, floor
    r = post(c, body)
    assert r.status_code == 200, r.text
    assert solver_threads and all(name.startswith("dsct-solve") == in_thread for name in solver_threads), solver_threads


def test_a_body_over_256_bytes_per_inline_task_is_parsed_in_a_thread(make_client, solver_threads):
    body = random_batch(5, 3, seed=1)
    for i, t in enumerate(body["tasks"]):
        t["id"] = f"{i}-" + "x" * 250
    assert len(json.dumps(body)) > 5 * 256
    assert post(make_client(inline_max_tasks=5), body).status_code == 200
    assert post(make_client(inline_max_tasks=20), body).status_code == 200
    assert [name.startswith("dsct-solve") for name in solver_threads] == [True, False]


def test_inline_and_threaded_answers_agree(make_client):
    body = random_batch(200, 7, seed=5)
    inline = post(make_client(), body).json()
    threaded = post(make_client(inline_max_tasks=0), body).json()
    for doc in (inline, threaded):
        doc.pop("run_id")
        doc.pop("timings")
    assert inline == threaded


def test_in_flight_gauge_counts_what_the_solver_threads_admitted(make_client, monkeypatch):
    from app import metrics

    from .conftest import spec_request
    from .helpers import sleeper

    gauge = metrics.IN_FLIGHT._value  # this process's value (tests run without multiprocess mode)
    started = threading.Event()
    monkeypatch.setitem(ALGORITHMS, "sleep", sleeper(0.5, started))
    c = make_client()
    before = gauge.get()
    slow = threading.Thread(target=lambda: post(c, {**spec_request(), "algorithm": "sleep"}))
    slow.start()
    assert started.wait(5)
    assert gauge.get() == before + 1
    assert post(c, random_batch(50, 2)).status_code == 200  # inline: not counted
    assert gauge.get() == before + 1
    slow.join(10)
    assert gauge.get() == before


@pytest.mark.parametrize(("inline_max_tasks", "in_thread"), [(512, False), (0, True)])
def test_where_validate_runs(make_client, monkeypatch, inline_max_tasks, in_thread):
    from app.api import validation

    seen: list[str] = []
    real = validation.report

    def spy(*args):
        seen.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(validation, "report", spy)
    r = post(make_client(inline_max_tasks=inline_max_tasks), random_batch(100, 3), path="/schedule/validate")
    assert r.status_code == 200 and r.json()["valid"] is True
    assert [name.startswith("dsct-solve") for name in seen] == [in_thread]

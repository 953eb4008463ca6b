"""Response -> solver arrays, so the independent checker can judge what went over the wire; a
slow algorithm for the tests of the time cap and admission."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np

from app.solver import Problem, Solution
from app.solver.schedule import make_solution


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN and Infinity (a response must be strict JSON)."""

    def bad(token: str) -> Any:
        raise AssertionError(f"non-finite number {token} in a response")

    return json.loads(text, parse_constant=bad)


def problem_of(req: dict[str, Any]) -> Problem:
    tasks, machines = req["tasks"], req["machines"]
    return Problem(
        deadline=np.array([t["deadline"] for t in tasks], dtype=float),
        theta=np.array([t["theta"] for t in tasks], dtype=float),
        a_min=np.array([t.get("a_min", 0.0) for t in tasks], dtype=float),
        a_max=np.array([t.get("a_max", 1.0) for t in tasks], dtype=float),
        t_max=np.array([np.inf if t.get("t_max") is None else t["t_max"] for t in tasks], dtype=float),
        speed=np.array([mc.get("speed", 1.0) for mc in machines], dtype=float),
        available_at=np.array([mc.get("available_at", 0.0) for mc in machines], dtype=float),
        # priorities only when the request gives some, as the service does
        weight=(np.array([t.get("weight", 1.0) for t in tasks], dtype=float)
                if any("weight" in t for t in tasks) else None),
        min_accuracy=(np.array([np.nan if t.get("min_accuracy") is None else t["min_accuracy"] for t in tasks])
                      if any(t.get("min_accuracy") is not None for t in tasks) else None),
    )


def solution_of(req: dict[str, Any], body: dict[str, Any]) -> Solution:
    """Rebuild the per-task arrays from a response; asserts every task appears exactly once."""
    index = {t["id"]: j for j, t in enumerate(req["tasks"])}
    n = len(index)
    machine = np.full(n, -2, dtype=np.int64)
    start, duration, work = np.zeros(n), np.zeros(n), np.zeros(n)
    accuracy = np.full(n, np.nan)
    assert [mc["id"] for mc in body["machines"]] == [mc["id"] for mc in req["machines"]]
    for r, mc in enumerate(body["machines"]):
        starts = [a["start"] for a in mc["assignments"]]
        assert starts == sorted(starts), "assignments not in start order"
        for a in mc["assignments"]:
            j = index[a["task_id"]]
            assert machine[j] == -2, f"task {a['task_id']} appears twice"
            machine[j] = r
            start[j], duration[j], work[j], accuracy[j] = a["start"], a["duration"], a["work"], a["accuracy"]
            assert a["end"] == a["start"] + a["duration"]
            t_max = req["tasks"][j].get("t_max")
            if t_max is None:
                assert a["compression"] is None
            else:
                assert 0.0 <= a["compression"] <= 1.0
    for u in body["unscheduled"]:
        j = index[u["task_id"]]
        assert machine[j] == -2, f"task {u['task_id']} appears twice"
        machine[j] = -1
        accuracy[j] = u["accuracy"]
        assert u["reason"]
        assert u["accuracy"] == req["tasks"][j].get("a_min", 0.0)
    assert (machine != -2).all(), "a task is missing from the response"
    obj = body["objective"]
    return Solution(machine=machine, start=start, duration=duration, work=work, accuracy=accuracy,
                    total_accuracy=obj["total_accuracy"], weighted_accuracy=obj["weighted_accuracy"],
                    upper_bound=obj["upper_bound"],
                    guarantee=obj["guarantee"], algorithm=body["algorithm"], status=body["status"])


def sleeper(seconds: float, started: threading.Event | None = None):
    """An algorithm that sleeps ``seconds`` (setting ``started`` first) and schedules nothing."""

    def algo(problem):
        if started is not None:
            started.set()
        time.sleep(seconds)
        return make_solution(problem, machine=[-1] * problem.n, start=[0.0] * problem.n,
                             duration=[0.0] * problem.n, work=[0.0] * problem.n, upper_bound=0.0,
                             algorithm="sleep")

    return algo

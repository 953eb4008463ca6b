"""The thin layer between a parsed request (:class:`app.batch.Batch`) and the solver, and
from the solver's arrays back to the response.

``to_problem``: a parsed :class:`app.batch.Batch` -> :class:`app.solver.Problem`.
``check_batch``: every problem with a parsed batch that the schema alone cannot see
(limits, duplicate ids, the algorithm name, numbers whose combination overflows).
``to_response``: a :class:`app.solver.Solution` -> the response body of docs/api.md,
as plain dicts and lists ready for ``json.dumps``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from app.batch import Batch
from app.errors import Issue
from app.solver import ALGORITHMS, UNSCHEDULED, Problem, Solution

__all__ = ["check_batch", "to_problem", "to_response", "finite_solution"]

def check_limits(n: int, m: int, max_tasks: int, max_machines: int) -> list[Issue]:
    out = []
    if n > max_tasks:
        out.append(Issue("too_many_tasks", ("tasks",), f"{n} tasks, over the limit of {max_tasks}"))
    if m > max_machines:
        out.append(Issue("too_many_machines", ("machines",), f"{m} machines, over the limit of {max_machines}"))
    return out


def _duplicates(kind: str, ids: Sequence[str]) -> list[Issue]:
    if len(set(ids)) == len(ids):
        return []
    first: dict[str, int] = {}
    out = []
    for i, x in enumerate(ids):
        j = first.setdefault(x, i)
        if j != i:
            out.append(Issue("duplicate_id", (kind, i, "id"), f"duplicate {kind[:-1]} id {x!r} (first at {kind}[{j}])"))
    return out


def check_batch(batch: Batch, max_tasks: int, max_machines: int) -> list[Issue]:
    """Every problem with ``batch`` beyond its schema, in a stable order. O(n + m)."""
    issues = check_limits(batch.n, batch.m, max_tasks, max_machines)
    if issues:
        return issues
    issues += _duplicates("machines", batch.machine_ids)
    issues += _duplicates("tasks", batch.task_ids)
    if batch.algorithm not in ALGORITHMS:
        known = ", ".join(sorted(ALGORITHMS))
        issues.append(Issue("unknown_algorithm", ("algorithm",),
                            f"unknown algorithm {batch.algorithm!r}; known: {known}"))
    issues += _numeric_range(batch)
    return issues


def _numeric_range(batch: Batch) -> list[Issue]:
    """Finite inputs whose combination is not: the schedule's arithmetic would overflow.

    The solver works with ``speed * time`` (work) and sums of it over machines; when the
    largest deadline times the total speed is not a finite double, no schedule can be
    computed meaningfully. Those batches are answered 422 ``numeric_range``.
    """
    if not batch.n:
        return []
    speed = batch.speed.tolist()
    avail = batch.available_at.tolist()
    out = []
    total_speed = sum(speed)
    if not math.isfinite(total_speed):
        out.append(Issue("numeric_range", ("machines",), "the sum of the machines' speeds overflows"))
        return out
    j = int(np.argmax(batch.deadline))  # the first of the largest
    d_max = float(batch.deadline[j])
    if not math.isfinite(d_max * total_speed):
        out.append(Issue("numeric_range", ("tasks", j, "deadline"),
                         f"deadline * total machine speed ({d_max!r} * {total_speed!r}) overflows"))
    useful = [s * a if a < d_max else 0.0 for s, a in zip(speed, avail, strict=True)]  # free before some deadline
    if not math.isfinite(sum(useful)):
        r = useful.index(max(useful))
        out.append(Issue("numeric_range", ("machines", r, "available_at"),
                         "available_at * speed summed over machines overflows"))
    # the slowest machine must turn the largest possible work back into a finite duration
    big_work = d_max * total_speed
    r = speed.index(min(speed))
    if math.isfinite(big_work) and not math.isfinite(avail[r] + big_work / speed[r]):
        out.append(Issue("numeric_range", ("machines", r, "speed"),
                         f"speed {speed[r]!r} is too small for these deadlines: durations overflow"))
    return out


def to_problem(batch: Batch) -> Problem:
    """Parsed batch -> the solver's problem (validated again there, for the solver's own
    domain). O(n + m)."""
    return Problem(
        deadline=batch.deadline, theta=batch.theta, a_min=batch.a_min, a_max=batch.a_max,
        t_max=batch.t_max, speed=batch.speed, available_at=batch.available_at,
    )


def finite_solution(sol: Solution) -> bool:
    """Every number that reaches the response is a finite double."""
    with np.errstate(over="ignore", invalid="ignore"):
        # a sum is finite only if every term is (an overflowing sum falls back to the test
        # per element); start + duration is each assignment's end
        sums = [float(np.add.reduce(a)) for a in (sol.start + sol.duration, sol.start, sol.work, sol.accuracy)]
        if all(math.isfinite(x) for x in sums):
            arrays_ok = True
        else:
            arrays_ok = all(bool(np.isfinite(a).all())
                            for a in (sol.start, sol.duration, sol.work, sol.accuracy, sol.start + sol.duration))
    scalars = (sol.total_accuracy, sol.upper_bound, 0.0 if sol.guarantee is None else sol.guarantee)
    return arrays_ok and all(math.isfinite(x) for x in scalars)


def to_response(batch: Batch, problem: Problem, sol: Solution, run_id: str,
                timings: dict[str, float]) -> dict[str, Any]:
    """Solution arrays -> the response body. Machines in request order, assignments in start
    order (ties by input order), unscheduled tasks in input order. O(n log n)."""
    n = problem.n
    machine = sol.machine
    ids = batch.task_ids
    start = sol.start.tolist()
    duration = sol.duration.tolist()
    work = sol.work.tolist()
    accuracy = sol.accuracy.tolist()
    t_max = problem.t_max  # > 0; work is finite (finite_solution), so work / inf is 0
    comp = np.where(t_max < np.inf, (1.0 - sol.work / t_max).clip(0.0, 1.0), np.nan).tolist()
    placed = (machine != UNSCHEDULED).nonzero()[0]
    order = placed[np.lexsort((placed, sol.start[placed], machine[placed]))].tolist()
    per_machine: list[list[dict[str, Any]]] = [[] for _ in range(problem.m)]
    mach_l = machine.tolist()
    for j in order:
        c = comp[j]
        s = start[j]
        d = duration[j]
        per_machine[mach_l[j]].append({
            "task_id": ids[j], "start": s, "end": s + d, "duration": d, "work": work[j],
            "compression": None if c != c else c, "accuracy": accuracy[j],
        })
    reasons = sol.reason
    a_min = problem.a_min.tolist()
    unscheduled = [
        {"task_id": ids[j], "reason": (reasons[j] if j < len(reasons) and reasons[j] else "compressed_to_zero"),
         "accuracy": a_min[j]}
        for j in (machine == UNSCHEDULED).nonzero()[0].tolist()
    ]
    total = float(sol.total_accuracy)
    return {
        "run_id": run_id,
        "label": batch.label,
        "algorithm": sol.algorithm,
        "status": sol.status,
        "objective": {
            "total_accuracy": total,
            "mean_accuracy": total / n if n else 0.0,
            "upper_bound": float(sol.upper_bound),
            "guarantee": None if sol.guarantee is None else float(sol.guarantee),
            "proven_bound": None if sol.proven_bound is None else float(sol.proven_bound),
        },
        "machines": [{"id": mid, "assignments": per_machine[r]} for r, mid in enumerate(batch.machine_ids)],
        "unscheduled": unscheduled,
        "timings": timings,
    }

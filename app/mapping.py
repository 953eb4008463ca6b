"""The thin layer between a parsed request (:class:`app.batch.Batch`) and the solver, and
from the solver's arrays back to the response.

``check_batch``: a parsed batch -> the solver's :class:`app.solver.Problem` and every problem
found on the way: the server's limits, duplicate ids, the algorithm name, then the solver's
own checks of the numbers (:class:`app.solver.Problem` is the one judge of values whose
combination overflows, ``numeric_range``), so ``POST /schedule`` and ``POST
/schedule/validate`` give the same verdict.
``to_response``: a :class:`app.solver.Solution` -> the response body of docs/api.md,
as plain dicts and lists ready for ``json.dumps``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from app.batch import Batch
from app.errors import Issue, issues_from_domain
from app.solver import (
    ALGORITHMS,
    UNSCHEDULED,
    DomainError,
    Problem,
    Solution,
    UnknownAlgorithmError,
)

__all__ = ["check_batch", "check_limits", "to_problem", "to_response"]


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


def check_batch(batch: Batch, max_tasks: int, max_machines: int) -> tuple[Problem | None, list[Issue]]:
    """The solver's problem for ``batch`` (``None`` when anything is wrong) and every problem
    with the batch beyond its schema, in a stable order: the limits (alone: nothing more is
    looked at past them), duplicate ids, an unknown algorithm, then the first value the
    solver's domain check refuses. O(n + m)."""
    issues = check_limits(batch.n, batch.m, max_tasks, max_machines)
    if issues:
        return None, issues
    issues += _duplicates("machines", batch.machine_ids)
    issues += _duplicates("tasks", batch.task_ids)
    if batch.algorithm not in ALGORITHMS:  # the registry's error and words
        issues += issues_from_domain(UnknownAlgorithmError(batch.algorithm))
    try:
        problem = to_problem(batch)
    except DomainError as exc:
        return None, issues + issues_from_domain(exc)
    return (None if issues else problem), issues


def to_problem(batch: Batch) -> Problem:
    """Parsed batch -> the solver's problem (validated there, for the solver's own domain;
    raises :class:`app.solver.DomainError`). O(n + m)."""
    t, mc = batch.tasks, batch.machines
    return Problem(
        deadline=t["deadline"], theta=t["theta"], a_min=t["a_min"], a_max=t["a_max"], t_max=t["t_max"],
        speed=mc["speed"], available_at=mc["available_at"],
    )


def to_response(batch: Batch, problem: Problem, sol: Solution, run_id: str) -> dict[str, Any]:
    """Solution arrays -> the response body, but for its ``timings`` (the caller adds them
    last, when the time it took is known). Machines in request order, assignments in start
    order (ties by input order), unscheduled tasks in input order. O(n log n)."""
    n = problem.n
    machine = sol.machine
    ids = batch.task_ids
    start = sol.start.tolist()
    duration = sol.duration.tolist()
    work = sol.work.tolist()
    accuracy = sol.accuracy.tolist()
    t_max = problem.t_max  # > 0; work is finite (app.solver.solve checks), so work / inf is 0
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
    }

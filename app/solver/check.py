"""An independent checker: every rule of the model, verified from the raw arrays.

It shares no code with the algorithms (it recomputes accuracies from the formula itself),
so a test that runs it on an algorithm's output checks that algorithm, not itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .problem import Problem, Solution


@dataclass(frozen=True)
class CheckReport:
    """``violations``: one readable line per broken rule (empty when feasible);
    ``objective``: the total accuracy recomputed from the works."""

    violations: tuple[str, ...]
    objective: float

    @property
    def ok(self) -> bool:
        return not self.violations


def check(problem: Problem, solution: Solution, rtol: float = 1e-9) -> CheckReport:
    """List every violation of ``solution`` for ``problem``; recompute the objective. O(n log n).

    Checked: array shapes and finiteness; machine indices; unscheduled tasks have no time;
    starts not before ``available_at``; ends not past deadlines; work not over ``t_max``;
    work equal to speed times duration; accuracy matching the work; no two tasks overlapping
    on a machine; the reported total matching the recomputed objective. Times are compared
    with tolerance ``rtol`` relative to the instance's time scale.
    """
    v: list[str] = []
    n, m = problem.n, problem.m
    arrays = {k: np.asarray(getattr(solution, k)) for k in ("machine", "start", "duration", "work", "accuracy")}
    for k, arr in arrays.items():
        if arr.shape != (n,):
            v.append(f"{k}: shape {arr.shape}, expected ({n},)")
    if v:
        return CheckReport(tuple(v), float("nan"))
    mach = arrays["machine"].astype(np.int64)
    start, dur, work, acc = (arrays[k].astype(np.float64) for k in ("start", "duration", "work", "accuracy"))
    for k, arr in (("start", start), ("duration", dur), ("work", work), ("accuracy", acc)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            v.append(f"{k}[{bad[0]}] is not finite ({bad.size} tasks)")
    if v:
        return CheckReport(tuple(v), float("nan"))

    scale = max(1.0, float(np.max(problem.deadline, initial=0.0)), float(np.max(problem.available_at)))
    tol = rtol * scale

    def report(mask: np.ndarray, what: str) -> None:
        bad = np.flatnonzero(mask)
        if bad.size:
            j = int(bad[0])
            v.append(f"task {j}: {what} ({bad.size} tasks)")

    report((mach < -1) | (mach >= m), "machine index out of range")
    unsched = mach == -1
    report(unsched & ((dur != 0) | (work != 0)), "unscheduled but given time or work")
    report(dur < 0, "negative duration")
    report(work < 0, "negative work")
    on = ~unsched & (mach >= 0) & (mach < m)
    r = np.where(on, mach, 0)
    speed = problem.speed[r]
    report(on & (start < problem.available_at[r] - tol), "starts before its machine is available")
    report(on & (start + dur > problem.deadline + tol), "ends after its deadline")
    report(on & (work > problem.t_max * (1 + rtol)), "work over t_max")
    report(on & ~np.isclose(work, speed * dur, rtol=1e-9, atol=tol * speed), "work != speed * duration")

    # accuracy recomputed from the model's formula, independently of the solver's family code
    expected = problem.a_min + (problem.a_max - problem.a_min) * (1.0 - np.exp(-problem.theta * work))
    report(~np.isclose(acc, expected, rtol=1e-9, atol=1e-12), "accuracy does not match its work")

    # overlaps: on each machine, sorted by start, each task starts after the previous one ends
    busy = np.flatnonzero(on & (dur > 0))
    if busy.size > 1:
        o = busy[np.lexsort((start[busy] + dur[busy], start[busy], mach[busy]))]
        same = mach[o][1:] == mach[o][:-1]
        gap = start[o][1:] - (start[o][:-1] + dur[o][:-1])
        bad = np.flatnonzero(same & (gap < -tol))
        if bad.size:
            a, b = int(o[bad[0]]), int(o[bad[0] + 1])
            v.append(f"tasks {a} and {b} overlap on machine {int(mach[a])} ({bad.size} overlaps)")

    objective = float(np.sum(expected)) if n else 0.0
    if not np.isclose(solution.total_accuracy, objective, rtol=1e-9, atol=1e-9):
        v.append(f"total_accuracy {solution.total_accuracy!r} != recomputed {objective!r}")
    return CheckReport(tuple(v), objective)

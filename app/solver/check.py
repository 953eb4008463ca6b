"""An independent checker: every rule of the model, verified from the raw arrays.

It shares no code with the algorithms (it recomputes accuracies from the formula itself),
so a test that runs it on an algorithm's output checks that algorithm, not itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .problem import Problem, Solution

_TINY = float(np.finfo(float).tiny)  # below the smallest normal double, rounding is absolute
#: a time may differ from the one it is compared with by this many units in the last place of
#: the larger of the two (the rounding of start + duration and of the clock itself)
_CLOCK_ULPS = 8


@dataclass(frozen=True)
class CheckReport:
    """``violations``: one readable line per broken rule (empty when feasible);
    ``objective``: the objective recomputed from the works, ``sum weight * accuracy`` (the
    total accuracy when no weights are given)."""

    violations: tuple[str, ...]
    objective: float

    @property
    def ok(self) -> bool:
        return not self.violations


def check(problem: Problem, solution: Solution, rtol: float = 1e-9) -> CheckReport:
    """List every violation of ``solution`` for ``problem``; recompute the objective. O(n log n).

    Checked: array shapes and finiteness; machine indices; unscheduled tasks have no time;
    starts not before ``available_at``; ends not past deadlines; work not over ``t_max``;
    work equal to speed times duration; accuracy matching the work; for a task of a measured
    model, a configuration of its own model whose work and accuracy are exactly the task's;
    no two tasks overlapping on a machine; no scheduled task below its ``min_accuracy``;
    the reported total and weighted total matching the recomputed ones.

    Every comparison allows ``rtol`` relative to the numbers it compares, and nothing else:
    a start against its machine's ``available_at`` (relative to the larger of the two), an
    end against its deadline (relative to the larger of deadline and start: the end is
    ``start + duration``, rounded at the start's scale), work against ``speed * duration``.
    A large number elsewhere in the instance never loosens the check of a small one. The
    only absolute floor is the smallest normal double, below which rounding is absolute.
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

    def report(mask: np.ndarray, what: str) -> None:
        bad = np.flatnonzero(mask)
        if bad.size:
            j = int(bad[0])
            v.append(f"task {j}: {what} ({bad.size} tasks)")

    def exceeds(a: np.ndarray, b: np.ndarray, *scale: np.ndarray) -> np.ndarray:
        """``a > b`` by more than ``rtol`` times the largest magnitude among ``a``, ``b`` and
        ``scale``."""
        mag = np.maximum(np.abs(a), np.abs(b))
        for s in scale:
            mag = np.maximum(mag, np.abs(s))
        return a - b > rtol * mag + _TINY

    def late(a: np.ndarray, b: np.ndarray, span: np.ndarray) -> np.ndarray:
        """Time ``a`` after time ``b`` by more than the rounding of the clock (a few ulps of
        the larger time) plus ``rtol`` times ``span``, the task's own duration: a task at
        t = 1e9 may not overrun its deadline by 1e-9 x 1e9 = 1 s."""
        clock = np.maximum(np.abs(a), np.abs(b))
        return a - b > _CLOCK_ULPS * np.finfo(np.float64).eps * clock + rtol * np.abs(span) + _TINY

    report((mach < -1) | (mach >= m), "machine index out of range")
    unsched = mach == -1
    report(unsched & ((dur != 0) | (work != 0)), "unscheduled but given time or work")
    report(dur < 0, "negative duration")
    report(work < 0, "negative work")
    on = ~unsched & (mach >= 0) & (mach < m)
    r = np.where(on, mach, 0)
    speed = problem.speed[r]
    avail = problem.available_at[r]
    end = start + dur
    report(on & late(avail, start, dur), "starts before its machine is available")
    report(on & late(end, problem.deadline, dur), "ends after its deadline")
    report(on & exceeds(work, problem.t_max), "work over t_max")
    report(on & (exceeds(work, speed * dur) | exceeds(speed * dur, work)), "work != speed * duration")

    # accuracy recomputed from the model's formula, independently of the solver's family code
    delta_a = problem.a_max - problem.a_min
    with np.errstate(invalid="ignore"):  # a model task's theta is NaN: replaced below
        # (expm1: 1 - exp(-x) is 0 for x below 1e-16, and a work of 1e-38 has a value)
        expected = problem.a_min + delta_a * -np.expm1(-problem.theta * work)
    if problem.n_model:
        expected, delta_a = _check_models(problem, solution, on, work, expected, delta_a, exceeds, report)
    report(exceeds(acc, expected, delta_a) | exceeds(expected, acc, delta_a), "accuracy does not match its work")
    if problem.min_accuracy is not None:
        floor = problem.min_accuracy
        with np.errstate(invalid="ignore"):  # NaN: no floor
            below = np.isfinite(floor) & exceeds(floor, expected, delta_a)
        report(on & (work > 0) & below, "scheduled below its min_accuracy")

    # overlaps: on each machine, sorted by start, each task starts after the previous one ends
    busy = np.flatnonzero(on & (dur > 0))
    if busy.size > 1:
        o = busy[np.lexsort((end[busy], start[busy], mach[busy]))]
        same = mach[o][1:] == mach[o][:-1]
        bad = np.flatnonzero(same & late(end[o][:-1], start[o][1:], np.maximum(dur[o][:-1], dur[o][1:])))
        if bad.size:
            a, b = int(o[bad[0]]), int(o[bad[0] + 1])
            v.append(f"tasks {a} and {b} overlap on machine {int(mach[a])} ({bad.size} overlaps)")

    total = float(np.sum(expected)) if n else 0.0
    magnitude = float(np.sum(np.abs(expected) + delta_a)) if n else 0.0
    if not abs(solution.total_accuracy - total) <= rtol * magnitude + _TINY:
        v.append(f"total_accuracy {solution.total_accuracy!r} != recomputed {total!r}")
    weight = np.ones(n) if problem.weight is None else np.asarray(problem.weight, dtype=np.float64)
    objective = float(np.sum(weight * expected)) if n else 0.0
    # rtol first: weight x magnitude may pass the largest double when the objective does not
    slack = float(np.sum((rtol * weight) * np.abs(expected) + (rtol * weight) * delta_a)) if n else 0.0
    if not abs(solution.weighted_accuracy - objective) <= slack + _TINY:
        v.append(f"weighted_accuracy {solution.weighted_accuracy!r} != recomputed {objective!r}")
    return CheckReport(tuple(v), objective)


def _check_models(problem, solution, on, work, expected, delta_a, exceeds, report):
    """A model task runs exactly one configuration of its own model: its work is exactly
    that configuration's (within ``rtol``) and its accuracy is exactly its accuracy; given
    no time it scores its model's ``a_min``. Returns the expected accuracies and their
    scales with the model tasks' filled in from the configurations themselves."""
    models = problem.models
    tm = np.asarray(problem.model)
    mt = tm >= 0
    n = problem.n
    config = solution.config
    if config is None or np.asarray(config).shape != (n,):
        report(mt, "runs a model but the solution names no configuration")
        config = np.full(n, -1, dtype=np.int64)
    config = np.asarray(config).astype(np.int64)
    k = np.where(mt, tm, 0)
    lo, hi = models.start[k], models.start[k + 1]
    own = (config >= lo) & (config < hi)
    report(mt & on & ~own, "runs a model without one of its model's configurations")
    report(~(mt & on) & (config != -1), "names a configuration but runs no model")
    c = np.where(mt & own, config, 0)
    c_work = models.work[c]
    report(mt & on & own & (exceeds(work, c_work) | exceeds(c_work, work)), "work is not its configuration's work")
    c_acc = np.where(mt & on & own, models.accuracy[c], models.a_min[k])
    expected = np.where(mt, c_acc, expected)
    delta_a = np.where(mt, 1.0, delta_a)
    return expected, delta_a

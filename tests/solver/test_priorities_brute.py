"""Brute force on small weighted and floored batches (n <= 8): every way to give each task a
machine or none, each machine's tasks then given their best works by a general convex solver
(Clarabel through cvxpy; a task with a floor that is scheduled gets at least its floor's work,
computed here from the formula). No schedule of any algorithm may beat that optimum, and the
upper bound may not fall below it. On batches where the floors cannot all be met, dsct-best's
admission comes within 1% of the optimum on average (each ratio printed)."""

from __future__ import annotations

import functools
import itertools
import math
import warnings

import cvxpy as cp
import numpy as np
import pytest

from app.solver import ALGORITHMS, DomainError, Problem, check, solve

from .instances import make_instance
from .weighted import weights, with_priorities

TOL = 1e-6  # Clarabel's accuracy on these small programs, relative to the objective


def _floor_work(p: Problem) -> np.ndarray:
    """Per task, the least work meeting its floor from a(w) = a_min + da (1 - exp(-theta w)):
    0 without a floor (or one at or below a_min), inf when the curve never reaches it."""
    out = np.zeros(p.n)
    if p.min_accuracy is None:
        return out
    for j in range(p.n):
        f = float(p.min_accuracy[j])
        if math.isnan(f) or f <= p.a_min[j]:
            continue
        frac = (f - p.a_min[j]) / (p.a_max[j] - p.a_min[j])
        out[j] = -math.log1p(-frac) / p.theta[j] if frac < 1.0 else math.inf
    return out


def _machine_values(p: Problem, r: int, need: np.ndarray) -> dict[int, float]:
    """For every subset of tasks (a bit mask) run on machine ``r``: the most weighted
    accuracy gain ``sum w (a(work) - a_min)`` it can reach, every task of the subset at
    least at ``need`` work (-inf when that does not fit). All subsets in one convex program
    (independent blocks, so maximising their sum maximises each)."""
    weight = p.weights
    unit = max(float(weight.max(initial=0.0)), 1e-300)
    order = [int(j) for j in np.argsort(p.deadline, kind="stable")]
    room = np.maximum(p.deadline - p.available_at[r], 0.0) * p.speed[r]  # work by each deadline
    values: dict[int, float] = {0: 0.0}
    blocks, cons = [], []
    for mask in range(1, 1 << p.n):
        tasks = [j for j in order if mask >> j & 1]
        lo = np.array([need[j] for j in tasks])
        if not (np.all(np.isfinite(lo)) and np.all(np.cumsum(lo) <= room[tasks] * (1 + 1e-12))
                and np.all(lo <= p.t_max[tasks])):
            values[mask] = -math.inf
            continue
        x = cp.Variable(len(tasks))
        cons += [x >= lo, cp.cumsum(x) <= room[tasks]]
        fin = np.isfinite(p.t_max[tasks])
        if fin.any():
            cons.append(x[np.flatnonzero(fin)] <= p.t_max[tasks][fin])
        gain = (weight[tasks] / unit) * (p.a_max - p.a_min)[tasks]
        blocks.append((mask, gain @ (1 - cp.exp(cp.multiply(-p.theta[tasks], x)))))
    if blocks:
        prob = cp.Problem(cp.Maximize(cp.sum(cp.hstack([b for _, b in blocks]))), cons)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
        for mask, expr in blocks:
            values[mask] = float(expr.value) * unit
    return values


def brute_force(p: Problem) -> float:
    """The optimal weighted objective over every schedule that respects the floors."""
    need = _floor_work(p)
    per_machine = [_machine_values(p, r, need) for r in range(p.m)]
    base = float(np.dot(p.weights, p.a_min))
    best = -math.inf
    for assign in itertools.product(range(-1, p.m), repeat=p.n):  # -1: not scheduled
        masks = [0] * p.m
        for j, r in enumerate(assign):
            if r >= 0:
                masks[r] |= 1 << j
        best = max(best, sum(per_machine[r][masks[r]] for r in range(p.m)))
    return base + best


def small_batches():
    """Weighted batches of 6-8 tasks on 1-2 machines, a third to a half of the tasks with a
    floor between a_min and a_max (some above what the deadline allows)."""
    for seed in range(6):
        rng = np.random.default_rng(4000 + seed)
        m = 1 + seed % 2
        n = 8 if m == 1 else 6
        p = make_instance(rng, ("random", "busy_machines", "equal_deadlines", "theta_ratio_1e4")[seed % 4], n, m)
        share = rng.uniform(0.33, 0.5)
        floor = np.where(rng.random(n) < share, p.a_min + rng.uniform(0.5, 0.95, n) * (p.a_max - p.a_min), np.nan)
        yield with_priorities(p, weights(rng, ("log_spread", "with_zeros", "integers")[seed % 3], n),
                              floor if seed % 5 != 4 else None)


def tight_batches():
    """The paper's generator (accuracies 0.001-0.82) with deadlines cut to 30-100%, weights
    0.5-2 (or none), a third of the tasks with a floor between 0.5 and 0.8: admission
    matters, since the floors cannot all be met."""
    for seed in range(16):
        rng = np.random.default_rng(9000 + seed)
        m = 1 + seed % 2
        n = 8 if m == 1 else 6
        p = make_instance(rng, "paper", n, m)
        p = Problem(p.deadline * rng.uniform(0.3, 1.0), p.theta, p.a_min, p.a_max, p.t_max, p.speed, p.available_at)
        floor = np.where(rng.random(n) < 1 / 3, rng.uniform(0.5, 0.8, n), np.nan)
        yield with_priorities(p, rng.uniform(0.5, 2.0, n) if seed % 3 else None, floor)


BATCHES = [*small_batches(), *tight_batches()]


@functools.cache
def optimum(idx: int) -> float:
    return brute_force(BATCHES[idx])


@pytest.mark.parametrize("idx", range(len(BATCHES)))
def test_no_algorithm_beats_brute_force(idx: int) -> None:
    p = BATCHES[idx]
    opt = optimum(idx)
    scale = max(1.0, abs(opt))
    for algo in sorted(ALGORITHMS):
        try:
            sol = solve(p, algo, **({"time_limit": 10.0} if algo == "exact" else {}))
        except DomainError as exc:
            assert algo == "exact" and exc.field == "min_accuracy"
            continue
        assert check(p, sol).ok, algo
        assert sol.weighted_accuracy <= opt + TOL * scale, algo
        assert sol.upper_bound >= opt - TOL * scale, algo
        if sol.status == "optimal":
            assert sol.weighted_accuracy == pytest.approx(opt, rel=TOL, abs=TOL)


def test_admission_quality_on_tight_batches() -> None:
    """dsct-best's admission of the floors against the optimum: the mean ratio on the tight
    batches is at least 0.99 (each ratio printed, with dsct-approx's)."""
    first = len(BATCHES) - len(list(tight_batches()))
    ratios = []
    for idx in range(first, len(BATCHES)):
        p, opt = BATCHES[idx], optimum(idx)
        best, approx = solve(p, "dsct-best"), solve(p, "dsct-approx")
        ratios.append(best.weighted_accuracy / opt)
        print(f"batch {idx}: dsct-best / optimum {ratios[-1]:.4f}, dsct-approx {approx.weighted_accuracy / opt:.4f}")
    print(f"mean {np.mean(ratios):.4f}, min {np.min(ratios):.4f}")
    assert np.mean(ratios) >= 0.99


def model_brute_force(p: Problem) -> float:
    """Batches whose tasks all run models: every (machine, configuration) or none per task,
    configurations below the task's floor excluded, each machine's tasks in deadline order
    from its available_at; the best weighted objective among the feasible ones."""
    ms, weight = p.models, p.weights
    floor = np.full(p.n, -np.inf) if p.min_accuracy is None else np.nan_to_num(p.min_accuracy, nan=-np.inf)
    choices = [[(-1, -1)] + [(r, c) for r in range(p.m) for c in range(ms.start[k], ms.start[k + 1])
                             if ms.accuracy[c] >= floor[j]]
               for j, k in enumerate(p.model.tolist())]
    order = p.order.tolist()
    best = -math.inf
    for pick in itertools.product(*choices):
        clock = p.available_at.astype(float).tolist()
        ok = True
        for j in order:
            r, c = pick[j]
            if r >= 0:
                clock[r] = max(clock[r], 0.0) + ms.work[c] / p.speed[r]
                ok = ok and clock[r] <= p.deadline[j] * (1 + 1e-12)
        if ok:
            acc = [ms.accuracy[c] if c >= 0 else ms.a_min[p.model[j]] for j, (_, c) in enumerate(pick)]
            best = max(best, float(np.dot(weight, acc)))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_model_tasks_with_weights_and_floors_against_brute_force(seed: int) -> None:
    """Tasks of measured models only (exact takes these): no algorithm above the enumerated
    optimum, the bounds not below it, and exact at it when it proves optimality."""
    from .test_envelope import model_instance

    rng = np.random.default_rng(5000 + seed)
    m = 1 + seed % 2
    n = 5 if m == 1 else 4
    p = model_instance(rng, ("concave", "dominated", "equal_works")[seed % 3], n, m)
    accuracy = p.models.accuracy
    floor = np.where(rng.random(n) < 0.5, rng.choice(accuracy, n), np.nan)  # some exactly a configuration's
    p = with_priorities(p, weights(rng, ("log_spread", "with_zeros", "integers")[seed % 3], n), floor)
    opt = model_brute_force(p)
    scale = max(1.0, abs(opt))
    for algo in sorted(ALGORITHMS):
        try:
            sol = solve(p, algo, **({"time_limit": 10.0} if algo == "exact" else {}))
        except DomainError as exc:
            assert exc.field == "algorithm", (algo, exc)  # cannot take model tasks
            continue
        assert check(p, sol).ok, algo
        assert sol.weighted_accuracy <= opt + 1e-9 * scale, algo
        assert sol.upper_bound >= opt - 1e-9 * scale, algo
        if sol.proven_bound is not None:
            assert sol.proven_bound >= opt - 1e-9 * scale
        if sol.status == "optimal":
            assert sol.weighted_accuracy == pytest.approx(opt, rel=1e-9, abs=1e-12), algo

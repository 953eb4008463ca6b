"""Independent references: the fractional relaxation, and the optimum with weights and
accuracy floors by brute force, both through a general convex solver (cvxpy + Clarabel).

The relaxation is written the paper's way (section VI-A, program (10) without the binary
variables), per machine: ``t[j, r]`` seconds of task j on machine r, each machine's prefix
of tasks in deadline order inside ``[available_at_r, d_k]``, work ``sum_r s_r t[j, r]``. It
shares no code with the solver (not even the aggregated capacity function), so agreement
also checks the aggregation behind Lemma 2's generalisation to busy machines.

:func:`brute_force_floors` enumerates every assignment and every admission of the floor
tasks, and solves each machine's task set with the floors as lower bounds on the work.
"""

from __future__ import annotations

import itertools

import cvxpy as cp
import numpy as np

from app.solver import Problem


def reference_relaxation(p: Problem) -> float:
    n, m = p.n, p.m
    if n == 0:
        return 0.0
    order = np.argsort(p.deadline, kind="stable")
    d = p.deadline[order]
    t = cp.Variable((n, m), nonneg=True)
    w = t @ p.speed
    cons = []
    lower = np.tril(np.ones((n, n)))
    for r in range(m):
        room = np.maximum(d - p.available_at[r], 0.0)
        cons.append(lower @ t[:, r] <= room)
    fin = np.isfinite(p.t_max[order])
    if fin.any():
        cons.append(w[np.flatnonzero(fin)] <= p.t_max[order][fin])
    theta = p.theta[order]
    da = (p.a_max - p.a_min)[order]
    loss = cp.sum(cp.multiply(da, cp.exp(-cp.multiply(theta, w))))
    prob = cp.Problem(cp.Minimize(loss), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9)
    return float(np.sum(p.a_max) - prob.value)


def _machine_programs(p: Problem, weight: np.ndarray):
    """Per machine class (speed, available_at): a cvxpy program over every task, in deadline
    order, whose parameter ``inc`` (0/1 per task) says which tasks run on the machine. A
    running task takes ``floor <= w <= min(t_max, capacity before its deadline)``; the tasks'
    prefixes fit the machine's capacity before each deadline. Returns a function
    ``(machine, frozenset of tasks) -> the machine's best sum weight * (accuracy - a_min)``,
    ``-inf`` when its floors do not fit, computed once per (class, set)."""
    n = p.n
    order = np.argsort(p.deadline, kind="stable")
    d = p.deadline[order]
    floor = reference_floor_work(p)[order]
    theta = p.theta[order]
    gain = (weight * (p.a_max - p.a_min))[order]
    lower = np.tril(np.ones((n, n)))
    programs: dict[tuple[float, float], tuple] = {}
    cache: dict[tuple[tuple[float, float], frozenset[int]], float] = {}

    def program(r: int):
        key = (float(p.speed[r]), float(p.available_at[r]))
        if key not in programs:
            cap = p.speed[r] * np.maximum(d - p.available_at[r], 0.0)
            top = np.minimum(p.t_max[order], cap)
            inc = cp.Parameter(n, nonneg=True)
            w = cp.Variable(n, nonneg=True)
            cons = [lower @ w <= cap, w <= cp.multiply(top, inc),
                    w >= cp.multiply(np.where(np.isfinite(floor), floor, 0.0), inc)]
            loss = cp.sum(cp.multiply(gain, -cp.exp(-cp.multiply(theta, w)) + 1.0))
            programs[key] = (cp.Problem(cp.Maximize(loss), cons), inc, cap, top)
        return key, programs[key]

    def value(r: int, tasks: frozenset[int]) -> float:
        key, (prob, inc, cap, top) = program(r)
        if (key, tasks) in cache:
            return cache[(key, tasks)]
        chosen = np.zeros(n)
        rank = np.empty(n, dtype=np.intp)
        rank[order] = np.arange(n)
        chosen[[int(rank[j]) for j in tasks]] = 1.0
        need = np.where(chosen > 0, floor, 0.0)
        if (need > top).any() or (np.cumsum(need) > cap).any():
            out = -np.inf  # the floors alone do not fit
        elif not tasks:
            out = 0.0
        else:
            inc.value = chosen
            prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9)
            out = float(prob.value)
        cache[(key, tasks)] = out
        return out

    return value


def reference_floor_work(p: Problem) -> np.ndarray:
    """Per task, the least work that meets its ``min_accuracy`` on its curve (0: no floor,
    inf: none), from the curve's inverse."""
    out = np.zeros(p.n)
    if p.min_accuracy is None:
        return out
    for j in range(p.n):
        f = p.min_accuracy[j]
        if not np.isfinite(f) or f <= p.a_min[j]:
            continue
        frac = (f - p.a_min[j]) / (p.a_max[j] - p.a_min[j])
        out[j] = np.inf if frac >= 1.0 else -np.log1p(-frac) / p.theta[j] * (1.0 + 1e-15)
        if out[j] > p.t_max[j]:
            out[j] = np.inf
    return out


def brute_force_floors(p: Problem) -> float:
    """The best weighted objective ``sum weight * accuracy`` over every schedule that meets
    the floors: each task on one machine or, if it has a floor, on none, every
    machine's tasks solved by Clarabel with the floors as lower bounds on their work. For
    n <= 7 or so (``(m + 1)^n`` assignments, ``2^n`` sets per machine class)."""
    n, m = p.n, p.m
    weight = p.weights
    base = float(np.dot(weight, p.a_min))
    value = _machine_programs(p, weight)
    floor = reference_floor_work(p)
    options = [list(range(m)) + ([-1] if floor[j] > 0 else []) for j in range(n)]
    best = -np.inf
    for assign in itertools.product(*options):
        total = 0.0
        for r in range(m):
            total += value(r, frozenset(j for j in range(n) if assign[j] == r))
            if total == -np.inf:
                break
        best = max(best, total)
    return base + best

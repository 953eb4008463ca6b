"""Weighted and floored instances for the solver tests, and an independent reference for the
weighted fractional relaxation (a general convex solver, Clarabel through cvxpy)."""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np

from app.solver import Problem

from .instances import KINDS, make_instance
from .test_envelope import model_instance

#: how the weights of an instance are drawn
WEIGHTINGS = ("log_spread", "with_zeros", "one_huge", "tiny", "integers")


def weights(rng: np.random.Generator, how: str, n: int) -> np.ndarray:
    """Weights spanning 1e-3..1e3 (log-uniform), some exactly zero, one far above the rest,
    all tiny, or small integers."""
    w = 10.0 ** rng.uniform(-3.0, 3.0, n)
    if how == "with_zeros":
        w[rng.random(n) < 0.3] = 0.0
    elif how == "one_huge" and n:
        w = rng.uniform(0.5, 2.0, n)
        w[rng.integers(n)] = 1e3
    elif how == "tiny":
        w = 10.0 ** rng.uniform(-3.0, -2.0, n)
    elif how == "integers":
        w = rng.integers(0, 4, n).astype(float)
    return w


def floors(rng: np.random.Generator, p: Problem, share: float = 0.35) -> np.ndarray:
    """About ``share`` of the tasks get a floor: most inside their range, some at or below
    ``a_min`` (trivially met), some at or above ``a_max`` (never met); NaN elsewhere."""
    n = p.n
    f = np.full(n, np.nan)
    has = rng.random(n) < share
    frac = rng.choice([-0.2, 0.0, 0.3, 0.6, 0.9, 1.0, 1.3], n, p=[.05, .05, .3, .3, .15, .05, .1])
    f[has] = (p.a_min + frac * (p.a_max - p.a_min))[has]
    return f


def with_priorities(p: Problem, weight=None, min_accuracy=None) -> Problem:
    """``p`` with the given weights and floors (model tasks keep their models)."""
    return Problem(p.deadline, p.theta, p.a_min, p.a_max, p.t_max, p.speed, p.available_at,
                   model=p.model, models=p.models, weight=weight, min_accuracy=min_accuracy)


def without(p: Problem, drop: np.ndarray) -> Problem:
    """``p`` without the tasks where ``drop`` is True."""
    k = ~drop

    def sub(a):
        return None if a is None else a[k]

    return Problem(p.deadline[k], p.theta[k], p.a_min[k], p.a_max[k], p.t_max[k], p.speed, p.available_at,
                   model=sub(p.model), models=p.models if p.model is not None else None,
                   weight=sub(p.weight), min_accuracy=sub(p.min_accuracy))


def instance(rng: np.random.Generator, n: int, m: int, *, models: bool = False, weighting: str | None = None,
             floored: bool = False) -> Problem:
    """A random instance (curve tasks of any family in :data:`KINDS`, or curve and model tasks
    mixed), with weights drawn by ``weighting`` (None: no weights) and floors if asked."""
    if models:
        p = model_instance(rng, "mixed_curves", n, m)
    else:
        kind = KINDS[int(rng.integers(len(KINDS)))]
        p = make_instance(rng, kind if n else "random", n, m)
    w = None if weighting is None else weights(rng, weighting, p.n)
    f = floors(rng, p) if floored else None
    return with_priorities(p, w, f)


def weighted_reference(p: Problem) -> float:
    """The optimum of ``sum_j weight_j a_j(w_j)`` under the relaxation's constraints, written
    per machine (``t[j, r]`` seconds of task j on machine r, each machine's deadline-ordered
    prefixes within ``[available_at_r, d_k]``), by Clarabel. A model task's accuracy is the
    best convex combination of ``(0, a_min)`` and its configurations at or above its floor
    (the envelope's hypograph, never built here). A task whose floor no work can reach
    before its deadline on a single machine gets no work (it scores its ``a_min``). Shares
    no code with the solver."""
    n, m = p.n, p.m
    if n == 0:
        return 0.0
    order = np.argsort(p.deadline, kind="stable")
    weight = (np.ones(n) if p.weight is None else np.asarray(p.weight))[order]
    top = float(np.max(weight, initial=0.0))
    unit = top if top > 0.0 else 1.0  # Clarabel converges better on weights of at most 1
    floor = (np.full(n, np.nan) if p.min_accuracy is None else np.asarray(p.min_accuracy))[order]
    model = (np.full(n, -1) if p.model is None else np.asarray(p.model))[order]
    a_min, a_max, theta, t_max = (arr[order] for arr in (p.a_min, p.a_max, p.theta, p.t_max))
    d = p.deadline[order]
    most = np.max(np.maximum(d[:, None] - p.available_at[None, :], 0.0) * p.speed[None, :], axis=1)
    t = cp.Variable((n, m), nonneg=True)
    w = t @ p.speed  # in deadline order
    lower = np.tril(np.ones((n, n)))
    cons = [lower @ t[:, r] <= np.maximum(d - p.available_at[r], 0.0) for r in range(m)]
    gain, idle = [cp.Constant(0.0)], []
    curve = []
    for pos in range(n):
        has_floor = np.isfinite(floor[pos]) and floor[pos] > a_min[pos]
        if model[pos] >= 0:
            k = int(model[pos])
            ms = p.models
            cw, ca = ms.work[ms.start[k]:ms.start[k + 1]], ms.accuracy[ms.start[k]:ms.start[k + 1]]
            if has_floor:
                ok = ca >= floor[pos]
                if not (ok.any() and cw[ok].min() <= most[pos]):
                    idle.append(pos)
                    continue
                cw, ca = cw[ok], ca[ok]
            lam = cp.Variable(cw.shape[0] + 1, nonneg=True)
            cons += [cp.sum(lam) == 1, w[pos] >= np.append(0.0, cw) @ lam]
            gain.append(weight[pos] / unit * (np.append(0.0, ca - ms.a_min[k]) @ lam))
        elif has_floor and not _floor_work(floor[pos], a_min[pos], a_max[pos], theta[pos]) <= min(t_max[pos], most[pos]):
            idle.append(pos)
        else:
            curve.append(pos)
    if idle:
        cons.append(w[idle] == 0)
    if curve:
        c = np.array(curve)
        fin = c[np.isfinite(t_max[c])]
        if fin.shape[0]:
            cons.append(w[fin] <= t_max[fin])
        scale = weight[c] / unit * (a_max[c] - a_min[c])
        gain.append(scale @ (1 - cp.exp(cp.multiply(-theta[c], w[c]))))
    prob = cp.Problem(cp.Maximize(cp.sum(cp.hstack(gain))), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cvxpy's "may be inaccurate" chatter
        try:
            prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
        except cp.error.SolverError:  # too tight for this instance's scales: Clarabel's defaults
            prob.solve(solver=cp.CLARABEL)
    return float(np.sum(weight * a_min)) + float(prob.value) * unit


def _floor_work(floor: float, a_min: float, a_max: float, theta: float) -> float:
    """The least work at which ``a_min + (a_max - a_min)(1 - exp(-theta w))`` reaches ``floor``."""
    frac = (floor - a_min) / (a_max - a_min)
    return -np.log1p(-frac) / theta if frac < 1 else np.inf

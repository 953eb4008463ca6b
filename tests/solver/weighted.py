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
    before its deadline on a single machine gets no work (it scores its ``a_min``). Shares no code with the solver."""
    n, m = p.n, p.m
    weight = np.ones(n) if p.weight is None else np.asarray(p.weight)
    top = float(np.max(weight, initial=0.0))
    unit = top if top > 0.0 else 1.0  # Clarabel converges better on weights of at most 1
    floor = np.full(n, np.nan) if p.min_accuracy is None else np.asarray(p.min_accuracy)
    model = np.full(n, -1) if p.model is None else np.asarray(p.model)
    constant = float(np.sum(weight * p.a_min))
    if n == 0:
        return 0.0
    order = np.argsort(p.deadline, kind="stable")
    t = cp.Variable((n, m), nonneg=True)
    w = t @ p.speed  # in deadline order
    lower = np.tril(np.ones((n, n)))
    cons = [lower @ t[:, r] <= np.maximum(p.deadline[order] - p.available_at[r], 0.0) for r in range(m)]
    gain = [cp.Constant(0.0)]
    most = np.max(np.maximum(p.deadline[:, None] - p.available_at[None, :], 0.0) * p.speed[None, :], axis=1)
    for pos, j in enumerate(order.tolist()):
        wj = float(weight[j]) / unit
        if model[j] >= 0:
            k = int(model[j])
            ms = p.models
            cw, ca = ms.work[ms.start[k]:ms.start[k + 1]], ms.accuracy[ms.start[k]:ms.start[k + 1]]
            if np.isfinite(floor[j]) and floor[j] > ms.a_min[k]:
                ok = ca >= floor[j]
                if not (ok.any() and cw[ok].min() <= most[j]):
                    cons.append(w[pos] == 0)
                    continue
                cw, ca = cw[ok], ca[ok]
            lam = cp.Variable(cw.shape[0] + 1, nonneg=True)
            cons += [cp.sum(lam) == 1, w[pos] >= np.append(0.0, cw) @ lam]
            gain.append(wj * (np.append(0.0, ca - ms.a_min[k]) @ lam))
            continue
        da = float(p.a_max[j] - p.a_min[j])
        if np.isfinite(floor[j]) and floor[j] > p.a_min[j]:
            frac = (floor[j] - p.a_min[j]) / da
            need = -np.log1p(-frac) / p.theta[j] if frac < 1 else np.inf
            if not need <= min(p.t_max[j], most[j]):
                cons.append(w[pos] == 0)
                continue
        if np.isfinite(p.t_max[j]):
            cons.append(w[pos] <= p.t_max[j])
        gain.append(wj * da * (1 - cp.exp(-p.theta[j] * w[pos])))
    prob = cp.Problem(cp.Maximize(cp.sum(cp.hstack(gain))), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cvxpy's "may be inaccurate" chatter
        try:
            prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
        except cp.error.SolverError:  # too tight for this instance's scales: Clarabel's defaults
            prob.solve(solver=cp.CLARABEL)
    return constant + float(prob.value) * unit

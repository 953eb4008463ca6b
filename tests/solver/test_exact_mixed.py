"""exact on batches that mix curve tasks and tasks of measured models, against brute force.

The brute force enumerates, per model task, nothing or a (machine, configuration), and per
curve task nothing or a machine; for each assignment every machine's curve tasks get their
best works in what the model tasks leave (the single-machine sweep of section V, floors met);
the best assignment's machines are solved again as convex programs by cvxpy with Clarabel
(floors as lower bounds), which must agree. n <= 6, m <= 3.
"""

from __future__ import annotations

import itertools

import cvxpy as cp
import numpy as np
import pytest

from app.solver import Problem, check, solve
from app.solver.family import ExponentialFamily
from app.solver.floors import shifted
from app.solver.fractional import nested_allocation
from app.solver.problem import Models

_MODELS = Models(a_min=[0.05, 0.1], start=[0, 3, 5], work=[0.3, 0.6, 1.1, 0.4, 0.9],
                 accuracy=[0.55, 0.7, 0.78, 0.5, 0.8])


def _instance(rng: np.random.Generator, n: int, m: int, floors: bool = False, weights: bool = False) -> Problem:
    model = np.where(rng.random(n) < 0.5, rng.integers(0, 2, n), -1)
    if (model >= 0).all():
        model[0] = -1
    if (model < 0).all():
        model[-1] = 0
    theta = rng.uniform(0.5, 4.0, n)
    t_max = np.where(rng.random(n) < 0.6, rng.uniform(0.3, 1.5, n), np.inf)
    speed = rng.choice([0.5, 1.0, 2.0], m)
    avail = np.where(rng.random(m) < 0.3, rng.uniform(0.0, 0.2, m), 0.0)
    deadline = rng.uniform(0.1, rng.uniform(0.4, 1.6) * n / speed.sum(), n)
    if rng.random() < 0.3:
        deadline = np.round(deadline * 2) / 2 + 0.1  # equal deadlines
    floor = None
    if floors:
        floor = np.where((model < 0) & (rng.random(n) < 0.6), rng.uniform(0.2, 0.7, n), np.nan)
    weight = rng.choice([0.5, 1.0, 3.0], n) if weights else None
    return Problem(deadline, theta, np.full(n, 0.05), np.full(n, 0.9), t_max, speed, avail,
                   model=model, models=_MODELS, weight=weight, min_accuracy=floor)


def _curve_optimum(p: Problem, r: int, chain: list[tuple[int, int]]) -> float | None:
    """The best weighted accuracy of ``chain`` ((task, configuration or -1 for a curve task),
    in deadline order) on machine ``r``: the curve tasks' works by cvxpy, the model tasks'
    fixed; None when it does not fit."""
    ms, weight = p.models, p.weights
    fixed = np.array([ms.work[c] if c >= 0 else 0.0 for _, c in chain])
    cap = p.speed[r] * np.maximum(p.deadline[[j for j, _ in chain]] - p.available_at[r], 0.0)
    curve = [i for i, (_, c) in enumerate(chain) if c < 0]
    model_value = sum(weight[j] * ms.accuracy[c] for j, c in chain if c >= 0)
    floor = [p.floor_work[chain[i][0]] for i in curve]
    if any(not np.isfinite(f) for f in floor):
        return None
    if not curve:
        return model_value if (np.cumsum(fixed) <= cap * (1 + 1e-12)).all() else None
    js = [chain[i][0] for i in curve]
    if (np.cumsum(fixed) + np.cumsum([p.floor_work[j] if c < 0 else 0.0 for j, c in chain]) > cap * (1 + 1e-12)).any():
        return None
    w = cp.Variable(len(curve))
    per_position = [0] * len(chain)
    for k, i in enumerate(curve):
        per_position[i] = w[k]
    cons = [w >= np.array(floor)]
    t_max = p.t_max[js]
    fin = np.isfinite(t_max)
    if fin.any():
        cons.append(w[np.flatnonzero(fin)] <= t_max[fin])
    for i in range(len(chain)):
        terms = [per_position[q] for q in range(i + 1) if chain[q][1] < 0]
        if terms:
            cons.append(sum(terms) + float(fixed[: i + 1].sum()) <= cap[i])
    da, th, a0 = p.delta_a[js] * weight[js], p.theta[js], p.a_min[js] * weight[js]
    obj = cp.Maximize(cp.sum(a0 + da) - cp.sum(cp.multiply(da, cp.exp(-cp.multiply(th, w)))))
    prob = cp.Problem(obj, cons)
    prob.solve(solver=cp.CLARABEL)
    if prob.status not in ("optimal", "optimal_inaccurate"):
        return None
    return model_value + float(prob.value)


def _curve_optimum_sweep(p: Problem, r: int, chain: list[tuple[int, int]]) -> float | None:
    """:func:`_curve_optimum` by the nested-constraints sweep (section V) on the curve tasks,
    floors by the shift of ``app.solver.floors``: fast, to enumerate; the winner is then
    checked with cvxpy."""
    ms, weight = p.models, p.weights
    tasks = [j for j, _ in chain]
    fixed = np.array([ms.work[c] if c >= 0 else (p.floor_work[j] if p.has_floors else 0.0) for j, c in chain])
    if not np.isfinite(fixed).all():
        return None
    cap = p.speed[r] * np.maximum(p.deadline[tasks] - p.available_at[r], 0.0)
    left = cap - np.cumsum(fixed)
    if (left < -1e-12 * np.maximum(cap, 1.0)).any():
        return None
    value = sum(weight[j] * ms.accuracy[c] for j, c in chain if c >= 0)
    curve = [i for i, (_, c) in enumerate(chain) if c < 0]
    if not curve:
        return value
    js = np.array([tasks[i] for i in curve])
    room = np.maximum(np.minimum.accumulate(left[::-1])[::-1], 0.0)[curve]
    floor = p.floor_work[js] if p.has_floors else np.zeros(js.shape[0])
    d, a0, u = shifted(p.theta[js], p.delta_a[js] * weight[js], p.a_min[js] * weight[js], p.t_max[js], floor)
    fam = ExponentialFamily(p.theta[js], d, a0, u)
    v, _ = nested_allocation(fam, np.arange(js.shape[0]), room, np.zeros(1, dtype=np.intp))
    return value + float(fam.value(v).sum())


def brute_force(p: Problem) -> float:
    """The best weighted total over every assignment and configuration (module docs): every
    machine's chain by the sweep, the best assignment's chains again by cvxpy (equal)."""
    ms, weight = p.models, p.weights
    choices = []
    for j in range(p.n):
        k = int(p.model[j])
        if k >= 0:
            choices.append([(-1, -1)] + [(r, c) for r in range(p.m) for c in range(ms.start[k], ms.start[k + 1])])
        else:
            choices.append([(-1, -1)] + [(r, -1) for r in range(p.m)])
    cache: dict[tuple, float | None] = {}
    order = p.order.tolist()
    best, best_chains = -np.inf, None
    for pick in itertools.product(*choices):
        total = 0.0
        chains = []
        for r in range(p.m):
            chain = tuple((j, pick[j][1]) for j in order if pick[j][0] == r)
            if (r, chain) not in cache:
                cache[(r, chain)] = _curve_optimum_sweep(p, r, list(chain)) if chain else 0.0
            v = cache[(r, chain)]
            if v is None:
                break
            total += v
            chains.append((r, chain))
        else:
            idle = sum(weight[j] * (ms.a_min[p.model[j]] if p.model[j] >= 0 else p.a_min[j])
                       for j in range(p.n) if pick[j][0] < 0)
            if total + idle > best:
                best, best_chains = total + idle, chains
    for r, chain in best_chains:
        if chain:
            assert _curve_optimum(p, r, list(chain)) == pytest.approx(cache[(r, chain)], abs=1e-6)
    return best


def _cases(count: int, seed: int, **kw):
    rng = np.random.default_rng(seed)
    for i in range(count):
        n = 6 if i < 2 else int(rng.integers(2, 6))
        m = 1 + i % 3 if n < 6 else 2
        yield _instance(rng, n, m, **kw)


@pytest.mark.parametrize(("seed", "kw"), [(1, {}), (2, {"weights": True}), (3, {"floors": True})])
def test_exact_mixed_against_brute_force(seed: int, kw: dict) -> None:
    """Proven optimal, the brute-force optimum to 1e-6, a bound above it, floors met."""
    for p in _cases(16, seed, **kw):
        sol = solve(p, "exact", time_limit=30.0)
        rep = check(p, sol)
        assert rep.ok, rep.violations
        assert sol.status == "optimal"
        opt = brute_force(p)
        assert sol.weighted_accuracy == pytest.approx(opt, abs=1e-6)
        assert sol.proven_bound >= opt - 1e-6
        assert sol.weighted_accuracy <= sol.proven_bound + 1e-9 <= sol.upper_bound + 2e-9
        if p.has_floors:
            runs = (sol.machine >= 0) & np.isfinite(p.min_accuracy)
            assert (sol.accuracy[runs] >= p.min_accuracy[runs] - 1e-9).all()


def test_exact_mixed_bound_holds_after_tiny_time_limits() -> None:
    """Stopped at once, exact still answers a feasible schedule, never below dsct-best's,
    with a bound no schedule beats."""
    for p in _cases(10, 7):
        opt = brute_force(p)
        for limit in (1e-6, 0.02):
            sol = solve(p, "exact", time_limit=limit)
            assert check(p, sol).ok
            assert sol.proven_bound >= opt - 1e-6
            assert sol.total_accuracy >= solve(p, "dsct-best").total_accuracy - 1e-9
            if sol.status == "optimal":
                assert sol.total_accuracy == pytest.approx(opt, abs=1e-6)

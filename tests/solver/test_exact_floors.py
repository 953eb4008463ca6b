"""``exact`` with accuracy floors and weights against brute force, and its contract.

The reference (:func:`tests.solver.reference.brute_force_floors`) enumerates every
assignment and admission and solves each machine's concave program with the floors as
lower bounds through Clarabel: it shares no code with the solver. ``exact`` is called
through ``solve`` so the priorities layer (weights folded into the accuracies, unreachable
floors screened out) is exercised too.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.experiments.generator import Reading, generate
from app.solver import Models, Problem, check, floors_refusal, solve
from app.solver.exact import strengthened_bound

from .instances import make_instance
from .reference import brute_force_floors

KINDS = ("paper", "crowded", "random", "busy_machines", "speeds_1e3_apart", "equal_deadlines",
         "infinite_t_max")
CASES = [(kind, seed) for kind in KINDS for seed in range(5)]


def with_priorities(rng: np.random.Generator, p: Problem, weights: bool = True,
                    share: float = 0.4) -> Problem:
    """``p`` with floors on about a third of the tasks (mostly reachable: between 40% and
    95% of the task's range, sometimes above ``a_max``) and weights in [0.5, 2] (one 0 now
    and then; the floor tasks' in [0.2, 1], so that leaving one out often pays)."""
    n = p.n
    floor = np.full(n, np.nan)
    has = rng.random(n) < share
    has[int(rng.integers(n))] = True
    floor[has] = p.a_min[has] + rng.uniform(0.4, 0.95, int(has.sum())) * (p.a_max - p.a_min)[has]
    if rng.random() < 0.3:
        floor[int(rng.integers(n))] = p.a_max.max() + 0.1  # never reachable
    weight = None
    if weights:
        weight = rng.uniform(0.5, 2.0, n)
        weight[has] = rng.uniform(0.2, 1.0, int(has.sum()))  # floors on the cheaper tasks
        if rng.random() < 0.2:
            weight[int(rng.integers(n))] = 0.0
    return Problem(p.deadline, p.theta, p.a_min, p.a_max, p.t_max, p.speed, p.available_at,
                   weight=weight, min_accuracy=floor)


def _instance(kind: str, seed: int) -> Problem:
    rng = np.random.default_rng(7100 + 37 * KINDS.index(kind) + seed)
    m = 2 + seed % 2
    n = int(rng.integers(4, 7)) if m == 3 else int(rng.integers(5, 8))
    if kind == "crowded":  # 7 tasks on 2 machines, deadlines late enough for every floor
        base = generate(rng, 7, 2, 0.25, mu=3, reading=Reading(deadlines="half"))
        return with_priorities(rng, base, weights=True, share=0.6)
    if kind == "paper":  # tight: rho from 0.15 to 0.4, so floors compete for the time
        base = generate(rng, n, m, float(rng.uniform(0.15, 0.4)), mu=5,
                        reading=Reading(deadlines=("equal", "uniform")[seed % 2]))
    else:  # deadlines and machines' busy times scaled down: floors compete for the time
        b = make_instance(rng, kind, n, m)
        c = float(rng.uniform(0.3, 0.6))
        base = Problem(b.deadline * c, b.theta, b.a_min, b.a_max, b.t_max, b.speed, b.available_at * c)
    return with_priorities(rng, base, weights=seed != 4)


@pytest.mark.parametrize(("kind", "seed"), CASES)
def test_matches_brute_force(kind: str, seed: int) -> None:
    p = _instance(kind, seed)
    opt = brute_force_floors(p)
    sol = solve(p, "exact", time_limit=60, gap_tol=1e-7)
    assert sol.status == "optimal"
    assert sol.weighted_accuracy == pytest.approx(opt, rel=1e-6, abs=1e-8)
    assert sol.proven_bound >= opt - 1e-6 * max(1.0, abs(opt))
    assert sol.weighted_accuracy <= sol.proven_bound + 1e-12
    assert sol.proven_bound <= sol.upper_bound + 1e-9
    report = check(p, sol)
    assert report.ok, report.violations
    floored = (sol.machine < 0) & np.isfinite(p.min_accuracy) & (p.min_accuracy > p.a_min)
    for j in np.flatnonzero(floored).tolist():
        if p.weights[j] > 0:
            assert sol.reason[j] in ("below_min_accuracy", "deadline_before_available")


def test_relaxations_bound_every_schedule_with_floors() -> None:
    """The root bound with floors (each floor task's concave envelope) is at least the
    brute-force optimum on unit weights, and at most the plain relaxation."""
    for seed in range(6):
        rng = np.random.default_rng(8200 + seed)
        base = generate(rng, 6, 2, 0.3, mu=5, reading=Reading(deadlines="uniform"))
        p = with_priorities(rng, base, weights=False)
        kept = ~p.unreachable_floor
        p = Problem(p.deadline[kept], p.theta[kept], p.a_min[kept], p.a_max[kept], p.t_max[kept],
                    p.speed, p.available_at, min_accuracy=p.min_accuracy[kept])
        opt = brute_force_floors(p)
        plain = Problem(p.deadline, p.theta, p.a_min, p.a_max, p.t_max, p.speed, p.available_at)
        assert opt - 1e-9 <= strengthened_bound(p) <= strengthened_bound(plain) + 1e-9


@pytest.mark.parametrize("limit", [1e-3, 0.05])
def test_time_limit_keeps_floors_and_a_true_bound(limit: float) -> None:
    rng = np.random.default_rng(41)
    base = generate(rng, 7, 3, 0.35, mu=5, reading=Reading(deadlines="uniform"))
    p = with_priorities(rng, base)
    opt = brute_force_floors(p)
    sol = solve(p, "exact", time_limit=limit, gap_tol=1e-9)
    assert sol.status in ("optimal", "time_limit")
    assert check(p, sol).ok
    assert sol.weighted_accuracy <= opt + 1e-9
    assert sol.proven_bound >= opt - 1e-9


def test_deterministic_and_never_below_the_heuristics() -> None:
    rng = np.random.default_rng(5)
    base = generate(rng, 14, 3, 0.35, mu=5)
    p = with_priorities(rng, base)
    a = solve(p, "exact", time_limit=60)
    b = solve(p, "exact", time_limit=60)
    assert a.status == "optimal"
    assert np.array_equal(a.machine, b.machine) and np.array_equal(a.work, b.work)
    assert a.proven_bound == b.proven_bound and a.weighted_accuracy == b.weighted_accuracy
    assert check(p, a).ok
    for other in ("dsct-best", "dsct-refined", "dsct-approx"):
        assert solve(p, other).weighted_accuracy <= a.weighted_accuracy + 1e-9


def test_exact_takes_curve_floors() -> None:
    rng = np.random.default_rng(3)
    p = with_priorities(rng, generate(rng, 5, 2, 0.35, mu=5))
    assert floors_refusal("exact", p) is None


def _model_brute_force(p: Problem) -> float:
    """Every task on a machine with one configuration at or above its floor, or on none;
    a machine's tasks back to back in deadline order before their deadlines."""
    ms, n, m = p.models, p.n, p.m
    weight = p.weights
    choices = []
    for j in range(n):
        k = int(p.model[j])
        cfg = [c for c in range(ms.start[k], ms.start[k + 1])
               if not np.isfinite(p.min_accuracy[j]) or ms.accuracy[c] >= p.min_accuracy[j]]
        choices.append([(-1, -1)] + [(r, c) for r in range(m) for c in cfg])
    order = np.argsort(p.deadline, kind="stable")
    best = -np.inf
    for pick in itertools.product(*choices):
        ends = [float(a) for a in p.available_at]
        ok, total = True, 0.0
        for j in order.tolist():
            r, c = pick[j]
            if r < 0:
                total += weight[j] * ms.a_min[p.model[j]]
                continue
            ends[r] += ms.work[c] / p.speed[r]
            if ends[r] > p.deadline[j] * (1 + 1e-12):
                ok = False
                break
            total += weight[j] * ms.accuracy[c]
        if ok:
            best = max(best, total)
    return best


@pytest.mark.parametrize("seed", range(3))
def test_model_tasks_with_floors_and_weights(seed: int) -> None:
    """A batch of model tasks only: floors are exact by filtering configurations (no curve
    floor reaches ``exact``), weights folded in; optimal against brute force."""
    rng = np.random.default_rng(600 + seed)
    models = Models(a_min=np.array([0.0, 0.05]), start=np.array([0, 3, 6]),
                    work=np.array([1.0, 2.0, 4.0, 0.5, 1.5, 3.0]),
                    accuracy=np.array([0.4, 0.6, 0.75, 0.3, 0.55, 0.7]))
    n, m = 5, 2
    model = rng.integers(0, 2, n)
    floor = np.where(rng.random(n) < 0.5, rng.uniform(0.5, 0.72, n), np.nan)
    p = Problem(rng.uniform(1.0, 5.0, n), np.ones(n), np.zeros(n), np.ones(n), np.ones(n),
                rng.uniform(0.5, 2.0, m), np.zeros(m), model=model, models=models,
                weight=rng.uniform(0.5, 2.0, n), min_accuracy=floor)
    sol = solve(p, "exact", time_limit=60)
    assert sol.status == "optimal"
    assert sol.weighted_accuracy == pytest.approx(_model_brute_force(p), rel=1e-6)
    assert check(p, sol).ok


EDGE_CASES = {
    # one task whose floor needs most of the window
    "one_floor_task": Problem([1.0], [1.0], [0.0], [1.0], [np.inf], [1.0], [0.0], min_accuracy=[0.5]),
    # two floor tasks that cannot both run: one is left out
    "floors_compete": Problem([1.0, 1.0], [1.0, 2.0], [0.0, 0.1], [1.0, 0.9], [np.inf, 3.0], [1.0],
                              [0.0], min_accuracy=[0.6, 0.85]),
    # every floor out of reach (above a_max; more work than the deadline allows)
    "all_unreachable": Problem([1.0, 2.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [np.inf, np.inf],
                               [1.0, 1.0], [0.0, 0.0], min_accuracy=[1.5, 0.95], weight=[0.0, 2.0]),
    # a floor at or below a_min (no floor), NaN, and a busy machine
    "trivial_floors": Problem([1.0, 2.0, 3.0], [1.0, 1.0, 0.5], [0.2, 0.0, 0.0], [1.0, 1.0, 1.0],
                              [np.inf, 1.0, np.inf], [1.0, 2.0], [0.0, 0.5],
                              min_accuracy=[0.1, np.nan, 0.7]),
    # a deadline before the only machine is free
    "before_available": Problem([0.5, 2.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [np.inf, np.inf],
                                [1.0], [1.0], min_accuracy=[0.3, 0.5]),
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_are_proven_against_brute_force(name: str) -> None:
    p = EDGE_CASES[name]
    sol = solve(p, "exact", time_limit=10)
    assert sol.status == "optimal"
    assert sol.weighted_accuracy == pytest.approx(brute_force_floors(p), rel=1e-6, abs=1e-9)
    assert sol.proven_bound >= sol.weighted_accuracy
    assert check(p, sol).ok


@pytest.mark.parametrize(("kind", "seed"), [("crowded", 0), ("crowded", 3), ("paper", 0), ("random", 1)])
def test_loose_gap_tolerance_keeps_a_true_bound(kind: str, seed: int) -> None:
    """With ``gap_tol`` = 5% the search prunes nodes whose bounds exceed the schedule found:
    those bounds must still be part of ``proven_bound``."""
    p = _instance(kind, seed)
    opt = brute_force_floors(p)
    sol = solve(p, "exact", time_limit=60, gap_tol=0.05)
    assert sol.proven_bound >= opt - 1e-9 * max(1.0, abs(opt))
    assert sol.weighted_accuracy <= opt + 1e-9
    assert sol.status == "optimal"
    assert check(p, sol).ok


def test_admission_search_keeps_the_bounds_of_finished_leaves() -> None:
    """A leaf whose assignment search finished still reports the bound of what it pruned
    within ``gap_tol``; the admission search's bound must include it."""
    from app.solver.assignment import SearchResult
    from app.solver.exact import prefix_capacities
    from app.solver.exact_floors import admission_search

    p = EDGE_CASES["floors_compete"]

    def inner(sub: Problem, value: float, max_nodes: int, stop_at: float) -> SearchResult:
        return SearchResult(np.full(sub.n, -1), value, value + 1.0, True, 1)

    res = admission_search(p, np.full(p.n, -1), 0.0, 0.05, prefix_capacities(p), inner, 100, np.inf)
    assert res.complete
    assert res.bound >= 1.0

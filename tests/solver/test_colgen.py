"""The set-partitioning bound of ``exact`` (column generation) against brute force.

References share nothing with the code under test: subsets and assignments are enumerated,
each machine's value of a task set is ``solve_on_machines`` (the section V sweep run by the
heuristics), and the max-plus convolution is checked against its definition.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.experiments.generator import Reading, generate
from app.solver import UNSCHEDULED, Problem, check, solve
from app.solver.approx import solve_on_machines
from app.solver.colgen import (
    ColumnGeneration,
    PricingFamily,
    _Pricing,
    envelope_points,
    maxplus_concave,
)
from app.solver.exact import machine_classes, strengthened_bound

from .instances import make_instance
from .test_exact import brute_force


def _uniform_instance(rng: np.random.Generator, kind: str, n: int, m: int) -> Problem:
    """``kind`` from :func:`make_instance` with deadlines drawn uniformly (the reading whose
    relaxation is weakest); ``"identical"``: the paper's generator, one machine class."""
    if kind == "identical":
        return generate(rng, n, m, 0.35, mu=5, reading=Reading(deadlines="uniform"))
    return make_instance(rng, kind, n, m)


CASES = [(kind, seed) for kind in ("identical", "busy_machines", "random", "speeds_1e3_apart")
         for seed in range(2)]


def test_maxplus_concave_matches_its_definition() -> None:
    rng = np.random.default_rng(3)
    for size in (1, 2, 7, 60, 200):
        for _ in range(20):
            f = np.maximum.accumulate(rng.normal(size=size)) if rng.random() < 0.5 else rng.normal(size=size)
            x = np.arange(size)
            g = -rng.uniform(0, 0.1) * (x - rng.uniform(0, size)) ** 2 + np.minimum(x, rng.uniform(0, size))
            out, arg = maxplus_concave(f, g)
            ref = np.array([np.max(f[: b + 1] + g[b::-1]) for b in range(size)])
            np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)
            assert (arg <= x).all()
            np.testing.assert_allclose(f[arg] + g[x - arg], ref, rtol=0, atol=1e-12)
            # constant from ``flat`` on, with f non-decreasing: the same maxima
            flat = int(rng.integers(0, size))
            gf = np.where(x >= flat, g[flat], g)
            if (np.diff(gf[: flat + 1]) >= 0).all():  # still concave: increasing, then flat
                fm = np.maximum.accumulate(f)
                out, arg = maxplus_concave(fm, gf, flat)
                ref = np.array([np.max(fm[: b + 1] + gf[b::-1]) for b in range(size)])
                np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)
                np.testing.assert_allclose(fm[arg] + gf[x - arg], ref, rtol=0, atol=1e-12)


def test_envelope_is_concave_and_above_the_fixed_charge_function() -> None:
    rng = np.random.default_rng(4)
    n = 200
    theta = rng.uniform(0.05, 3.0, n)
    delta_a = rng.uniform(0.1, 1.0, n)
    u = rng.uniform(0.1, 20.0, n)
    pi = rng.uniform(-0.1, 1.0, n) * delta_a
    pi[::7] = 0.0
    t, s = envelope_points(theta, delta_a, u, pi)
    fam = PricingFamily(theta, delta_a, u, t, s)
    w = np.linspace(0.0, 1.0, 401)[None, :] * u[:, None]
    idx = np.repeat(np.arange(n)[:, None], w.shape[1], axis=1)
    env = fam.value(w.ravel(), idx.ravel()).reshape(w.shape)
    g = delta_a[:, None] * -np.expm1(-theta[:, None] * w)
    truth = np.where(w > 0, g - np.maximum(pi, 0)[:, None], 0.0)
    assert (env >= truth - 1e-12).all()
    slopes = np.diff(env, axis=1) / np.diff(w, axis=1)
    assert (np.diff(slopes, axis=1) <= 1e-9).all()  # concave
    # tight where it matters: at its chord's end it meets the function it bounds
    inner = (t > 0) & (t < u) & (pi > 0)
    at_t = fam.value(t[inner], np.flatnonzero(inner))
    g_t = delta_a[inner] * -np.expm1(-theta[inner] * t[inner])
    np.testing.assert_allclose(at_t, g_t - pi[inner], rtol=0, atol=1e-9)


def _best_column(p: Problem, cg: ColumnGeneration, k: int, pi: np.ndarray, mu: float) -> float:
    """max over all task sets of the reduced cost on class k, by enumeration."""
    r = cg.classes[k].machines[0]
    best = -mu  # the empty column
    a_min = float(np.sum(p.a_min))
    for s in range(1, 1 << p.n):
        members = [j for j in range(p.n) if s >> j & 1]
        machine = np.full(p.n, UNSCHEDULED)
        machine[members] = r
        v = solve_on_machines(p, machine, 0.0, "bf").total_accuracy - a_min
        best = max(best, v - float(np.sum(pi[p.rank[members]])) - mu)
    return best


@pytest.mark.parametrize("seed", range(4))
def test_pricing_bounds_and_columns_against_every_subset(seed: int) -> None:
    rng = np.random.default_rng(40 + seed)
    kind = ("identical", "busy_machines", "random")[seed % 3]
    p = _uniform_instance(rng, kind, 8 + seed % 2, 2)
    cg = ColumnGeneration(p, machine_classes(p))
    for trial in range(2):
        pi = rng.uniform(0.0, 0.6, p.n) * p.delta_a[p.order] * (trial + 1) / 2
        pi[rng.random(p.n) < 0.2] = 0.0
        mu = float(rng.uniform(0.0, 0.3))
        for k in range(len(cg.classes)):
            best = _best_column(p, cg, k, pi, mu)
            pr = _Pricing(cg, k, pi, mu)
            assert pr.envelope() >= best - 1e-9
            for points in (64, 1024, 16384):
                bound, col = pr.grid_bound(points)
                assert bound >= best - 1e-9
                assert pr.seen[col] <= best + 1e-9  # a real column, exactly valued
            assert bound - best <= 1e-2 * max(1.0, abs(best))  # a fine grid is nearly exact
            improved = pr.improve(col)
            assert pr.seen[improved] <= best + 1e-9


@pytest.mark.parametrize(("kind", "seed"), CASES)
def test_starting_duals_bound_the_optimum_at_the_fractional_optimum(kind: str, seed: int) -> None:
    """The duals from the relaxation's prices: every column's reduced cost is at most 0 there
    (checked over every task set), so the Lagrangian bound is the fractional optimum, itself
    at least the brute-force optimum."""
    rng = np.random.default_rng(90 + seed)
    p = _uniform_instance(rng, kind, 7 + seed % 2, 2 + seed % 2)
    cg = ColumnGeneration(p, machine_classes(p))
    pi, mu = cg.starting_duals()
    assert (pi >= 0).all() and (mu >= 0).all()
    best = [_best_column(p, cg, k, pi, float(mu[k])) for k in range(len(cg.classes))]
    assert max(best) <= 1e-9 * p.n
    frac = solve(p, "dsct-approx").upper_bound
    at_zero = cg.lagrangian_bound(pi, mu, [0.0] * len(cg.classes))
    assert at_zero == pytest.approx(frac, rel=1e-9)
    assert at_zero >= brute_force(p) - 1e-9


@pytest.mark.parametrize(("kind", "seed"), CASES)
def test_bound_at_every_iteration_is_above_the_optimum(kind: str, seed: int) -> None:
    rng = np.random.default_rng(70 + seed)
    n = 7 if seed == 0 else 8
    m = 2 if kind == "speeds_1e3_apart" else 2 + seed
    if m == 3:
        n = 7
    p = _uniform_instance(rng, kind, n, m)
    opt = brute_force(p)
    root = strengthened_bound(p)
    last = None
    for iterations in (1, 2, 3, 500):
        cg = ColumnGeneration(p, machine_classes(p))
        got = cg.run(-np.inf, 0.0, 1e18, max_iterations=iterations)
        assert got.bound >= opt - 1e-9
        if got.machine is not None:  # a schedule made of columns, valued exactly
            assert got.value <= opt + 1e-9
            assert solve_on_machines(p, got.machine, 0.0, "x").total_accuracy == pytest.approx(got.value, abs=1e-9)
        last = got
    assert last is not None and last.converged
    # at convergence the bound is the master LP's optimum plus the finest grid's over-estimate
    assert last.bound - last.lp_value <= 2e-4 * abs(last.lp_value)
    # the master LP is at least as tight as the preemptive relaxation on identical machines
    # (a fractional choice of at most m columns meets the same prefix capacities); with
    # several classes the root bound's per-machine cuts can be tighter, and exact takes the
    # smaller of the two
    if len(machine_classes(p)) == 1:
        assert last.lp_value <= root + 1e-9 * max(1.0, abs(root))
    # the last master LP's columns above one half: a real schedule, valued exactly
    machine, value = cg.rounded_master()
    a_min = float(np.sum(p.a_min))
    assert machine is not None and value + a_min <= opt + 1e-9
    assert solve_on_machines(p, machine, 0.0, "x").total_accuracy == pytest.approx(value + a_min, abs=1e-9)
    # a gap already closed by the incumbent: no iteration runs, and none is counted
    closed = ColumnGeneration(p, machine_classes(p)).run(opt, 0.5, 1e18)
    assert closed.iterations == 0 and closed.bound >= opt - 1e-9


@pytest.mark.parametrize(("kind", "seed"), CASES)
def test_exact_with_column_generation_matches_brute_force(kind: str, seed: int) -> None:
    rng = np.random.default_rng(90 + seed)
    p = _uniform_instance(rng, kind, 8 - seed, 2 + seed)
    opt = brute_force(p)
    sol = solve(p, "exact", time_limit=60, gap_tol=1e-7)
    assert sol.status == "optimal"
    assert sol.total_accuracy == pytest.approx(opt, rel=1e-7, abs=1e-9)
    assert opt - 1e-9 <= sol.proven_bound <= sol.upper_bound + 1e-12
    assert check(p, sol).ok


def test_proven_bound_after_tiny_time_limits() -> None:
    rng = np.random.default_rng(11)
    for p in (_uniform_instance(rng, "identical", 8, 3), _uniform_instance(rng, "busy_machines", 8, 2)):
        opt = brute_force(p)
        for limit in (1e-4, 1e-3, 0.02, 0.2):
            sol = solve(p, "exact", time_limit=limit, gap_tol=1e-9)
            assert sol.proven_bound >= opt - 1e-9
            assert sol.total_accuracy <= opt + 1e-9
            assert check(p, sol).ok
        cg = ColumnGeneration(p, machine_classes(p))
        assert cg.run(-np.inf, 0.0, 0.0).bound >= opt - 1e-9  # stopped before any iteration

"""The fractional relaxation against a general convex solver, and its KKT conditions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from app.solver import Problem, fractional_relaxation

from .instances import KINDS, make_instance
from .reference import reference_relaxation

CASES = [(kind, seed) for kind in KINDS for seed in range(22)]  # 220 instances


@pytest.mark.parametrize(("kind", "seed"), CASES)
def test_matches_convex_solver(kind: str, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.solver.fractional as fractional

    if seed % 2:  # odd seeds: the vectorised sweep; even seeds: the small-problem PAV
        monkeypatch.setattr(fractional, "SMALL_N", 0)
    elif seed % 4 == 2:  # half of those after its vectorised rounds of pooling
        monkeypatch.setattr(fractional, "POOL_AHEAD_N", 0)
    rng = np.random.default_rng(10_000 * KINDS.index(kind) + seed)
    p = make_instance(rng, kind, int(rng.integers(1, 40)), int(rng.integers(1, 5)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cvxpy's "may be inaccurate" chatter
        expected = reference_relaxation(p)
    got = fractional_relaxation(p).upper_bound
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-9)


def aggregated_capacity(p: Problem, t: np.ndarray) -> np.ndarray:
    """D(t) straight from its definition, O(n m): independent of Problem.capacity."""
    return np.maximum(t[:, None] - p.available_at[None, :], 0.0) @ p.speed


def assert_kkt(p: Problem, rtol: float = 1e-9) -> None:
    sol = fractional_relaxation(p)
    o = np.argsort(p.deadline, kind="stable")
    w, x = sol.work[o], sol.log_price[o]
    cap = aggregated_capacity(p, p.deadline[o])
    scale = max(1.0, float(cap[-1]) if p.n else 1.0)
    prefix = np.cumsum(w)
    # primal feasibility
    assert np.all(w >= 0)
    assert np.all(w <= p.t_max[o] * (1 + rtol))
    assert np.all(prefix <= cap + rtol * scale)
    # stationarity: each work maximises a(w) - price * w on [0, t_max] at its own price
    theta, da, tmax = p.theta[o], (p.a_max - p.a_min)[o], p.t_max[o]
    price = np.exp(x)
    with np.errstate(divide="ignore"):
        unconstrained = np.log(da * theta / price) / theta
    expected = np.clip(np.where(price > 0, unconstrained, np.inf), 0.0, tmax)
    assert np.allclose(w, expected, rtol=1e-7, atol=1e-9 * scale)
    # dual feasibility: prices non-increasing in deadline order
    a, b = x[:-1], x[1:]
    fin = np.isfinite(a)
    assert np.all((b == -np.inf) | (fin & (b <= a + 1e-9 * np.maximum(1.0, np.abs(np.where(fin, a, 0))))))
    # complementary slackness: a price drop (or a positive last price) means a tight prefix
    with np.errstate(invalid="ignore"):  # -inf + inf where both prices are zero: no drop
        drop = np.append(a > b + 1e-7 * np.maximum(1.0, np.abs(a)), x[-1] > -np.inf)
    assert np.allclose(prefix[drop], cap[drop], rtol=1e-7, atol=1e-7 * scale)


@pytest.mark.parametrize(("kind", "seed"), [(k, s) for k in KINDS for s in range(6)])
def test_kkt_conditions(kind: str, seed: int) -> None:
    rng = np.random.default_rng(77 + 1000 * KINDS.index(kind) + seed)
    assert_kkt(make_instance(rng, kind, int(rng.integers(1, 300)), int(rng.integers(1, 8))))


def test_kkt_at_scale() -> None:
    rng = np.random.default_rng(5)
    for kind in ("paper", "busy_machines", "theta_ratio_1e4", "equal_deadlines"):
        assert_kkt(make_instance(rng, kind, 20_000, 50))


def test_lemma_2_one_machine_of_total_speed() -> None:
    """With every machine free at 0, the relaxation equals one machine of speed S = sum s_r."""
    rng = np.random.default_rng(3)
    p = make_instance(rng, "random", 60, 4)
    one = Problem(p.deadline, p.theta, p.a_min, p.a_max, p.t_max, [p.speed.sum()], [0.0])
    assert fractional_relaxation(p).upper_bound == pytest.approx(fractional_relaxation(one).upper_bound, rel=1e-12)


def test_no_tasks() -> None:
    p = Problem([], [], [], [], [], [1.0], [0.0])
    sol = fractional_relaxation(p)
    assert sol.upper_bound == 0.0 and sol.work.shape == (0,)


def test_everything_fits_uncompressed() -> None:
    p = Problem([10.0, 10.0], [1.0, 2.0], [0.1, 0.2], [0.9, 0.8], [1.0, 2.0], [1.0], [0.0])
    sol = fractional_relaxation(p)
    assert np.array_equal(sol.work, [1.0, 2.0])
    assert np.all(sol.log_price == -np.inf)


@pytest.mark.parametrize("kind", KINDS)
def test_small_path_matches_vectorised_sweep(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain-Python PAV used below SMALL_N (pooling one block at a time, or after its
    vectorised rounds of pooling) and the vectorised sweep agree."""
    import app.solver.fractional as fractional

    for seed in range(8):
        rng = np.random.default_rng(seed + 500 * KINDS.index(kind))
        p = make_instance(rng, kind, int(rng.integers(1, 300)), int(rng.integers(1, 6)))
        monkeypatch.setattr(fractional, "SMALL_N", 10**9)
        small = fractional.fractional_relaxation(p)
        monkeypatch.setattr(fractional, "POOL_AHEAD_N", 0)  # its vectorised rounds of pooling first
        pooled = fractional.fractional_relaxation(p)
        monkeypatch.setattr(fractional, "POOL_AHEAD_N", 10**9)
        monkeypatch.setattr(fractional, "SMALL_N", 0)
        big = fractional.fractional_relaxation(p)
        for other in (big, pooled):
            assert small.upper_bound == pytest.approx(other.upper_bound, rel=1e-12, abs=1e-12)
            assert np.allclose(small.work, other.work, rtol=1e-7, atol=1e-9)

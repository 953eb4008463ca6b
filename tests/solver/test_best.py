"""The default algorithm, ``dsct-best``: never below dsct-approx or a baseline, close to the
optimum found by brute force, and its pieces (the baselines' bound, the speed-aware
assignment, the bounded local search) checked on their own. The shared suite
(test_algorithms.py) runs it too: checker, bound, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.experiments.generator import EDGE_SPEEDS, Reading, heterogeneous
from app.solver import DEFAULT_ALGORITHM, POLYNOMIAL, Problem, check, fractional_relaxation, solve
from app.solver.baselines import level_works
from app.solver.best import (
    CALL_COST,
    LOCAL_SEARCH_WORK,
    baseline_bounds,
    local_search,
    speed_aware_assignment,
)
from app.solver.best import _solve_assignment as solve_assignment
from app.solver.family import ExponentialFamily

from .test_algorithms import brute_force

RTOL = 1e-9
OTHERS = ("dsct-approx", "edf-nocompression", "edf-3levels", "edf-3levels-lee-song")


def test_is_the_default_and_polynomial() -> None:
    assert DEFAULT_ALGORITHM == "dsct-best"
    assert DEFAULT_ALGORITHM in POLYNOMIAL


@st.composite
def edge_batches(draw) -> Problem:
    """Heterogeneous batches: speeds from the edge set, some machines busy, loads from very
    heavy (rho 0.05) to very light (rho 4, everything fits), some tasks without t_max."""
    n = draw(st.integers(0, 30))
    m = draw(st.integers(1, 5))
    speed = draw(st.lists(st.sampled_from(EDGE_SPEEDS), min_size=m, max_size=m))
    theta = draw(st.lists(st.floats(0.1, 2.0), min_size=n, max_size=n))
    t_max = [-np.log1p(-0.99) / th for th in theta]
    uncapped = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    rho = draw(st.floats(0.05, 4.0))
    d_max = rho * sum(t_max) / sum(speed) if n else 1.0
    frac = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
    busy = draw(st.lists(st.floats(0.0, 0.5), min_size=m, max_size=m))
    busy_mask = draw(st.lists(st.booleans(), min_size=m, max_size=m))
    a_min = draw(st.lists(st.floats(0.0, 0.2), min_size=n, max_size=n))
    span = draw(st.lists(st.floats(0.05, 0.8), min_size=n, max_size=n))
    return Problem(
        deadline=np.array(frac) * d_max,
        theta=theta,
        a_min=a_min,
        a_max=np.array(a_min) + np.array(span),
        t_max=np.where(np.array(uncapped, dtype=bool), np.inf, np.array(t_max)),
        speed=speed,
        available_at=np.where(np.array(busy_mask, dtype=bool), np.array(busy) * d_max, 0.0),
    )


@given(edge_batches())
def test_property_never_below_approx_or_a_baseline(p: Problem) -> None:
    best = solve(p, "dsct-best")
    report = check(p, best)
    assert report.ok, report.violations
    assert best.upper_bound - best.total_accuracy <= best.guarantee + RTOL
    for other in OTHERS:
        value = solve(p, other).total_accuracy
        assert best.total_accuracy >= value - RTOL * max(1.0, abs(value)), other


@given(edge_batches())
def test_property_baseline_bounds_hold(p: Problem) -> None:
    """The bound that lets dsct-best skip a baseline is at least that baseline's total."""
    bounds = baseline_bounds(p, ExponentialFamily.of(p), fractional_relaxation(p),
                             [p.t_max[:, None], level_works(p)])
    # edf-3levels-lee-song runs each task at one of the same three levels as edf-3levels
    for name, bound in (("edf-nocompression", bounds[0]), ("edf-3levels", bounds[1]),
                        ("edf-3levels-lee-song", bounds[1])):
        value = solve(p, name).total_accuracy
        assert value <= bound + RTOL * max(1.0, abs(bound)), name
    assert max(bounds) <= fractional_relaxation(p).upper_bound + RTOL * max(1.0, abs(max(bounds)))


def small_edge_batches():
    """Small heterogeneous batches for brute force (m^n assignments): heavy to light."""
    rng = np.random.default_rng(2024)
    for k in range(24):
        n = int(rng.integers(3, 8))
        m = int(rng.integers(2, 4))
        rho = float(np.exp(rng.uniform(np.log(0.1), np.log(2.0))))
        yield heterogeneous(rng, n, m, rho, reading=Reading("uniform" if k % 2 else "equal"))


def test_brute_force_distribution() -> None:
    """Every value is at most the optimum; their ratio to it is high on average. The
    distribution is reported in docs/solver.md."""
    ratios = []
    for p in small_edge_batches():
        opt = brute_force(p)
        got = solve(p, "dsct-best").total_accuracy
        assert got <= opt + 1e-9
        ratios.append(got / opt)
    assert np.mean(ratios) >= 0.995
    assert np.min(ratios) >= 0.95


def test_speed_aware_assignment_prefers_the_machine_that_finishes_first() -> None:
    # machine 0 is free first but slow; machine 1 is busy briefly and 10 times faster
    p = Problem([1.0], [1.0], [0.0], [1.0], [1.0], [0.3, 10.0], [0.0, 0.05])
    frac = fractional_relaxation(p)
    assert speed_aware_assignment(p, frac.work).tolist() == [1]
    assert solve(p, "dsct-best").total_accuracy > solve(p, "dsct-approx").total_accuracy


def test_speed_aware_assignment_skips_tasks_no_machine_can_start() -> None:
    p = Problem([0.5, 3.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 2.0], [1.0, 2.0])
    assert speed_aware_assignment(p, fractional_relaxation(p).work).tolist() == [-1, 0]


def test_local_search_improves_and_respects_its_budget() -> None:
    rng = np.random.default_rng(5)
    p = heterogeneous(rng, 12, 3, 0.4, reading=Reading("uniform"))
    family = ExponentialFamily.of(p)
    start = solve_assignment(p, family, np.zeros(p.n, dtype=np.int64), "all on machine 0")
    improved = local_search(p, family, start)
    assert improved.value > start.value
    assert local_search(p, family, start, budget=0) is start
    # a batch whose one pass does not fit in the budget is left as it is
    big = heterogeneous(rng, 120, 10, 0.4)
    assert 120 * (120 + 10 + CALL_COST) > LOCAL_SEARCH_WORK
    big_family = ExponentialFamily.of(big)
    cand = solve_assignment(big, big_family, np.zeros(big.n, dtype=np.int64), "all on machine 0")
    assert local_search(big, big_family, cand) is cand


@pytest.mark.parametrize("rho", [0.1, 0.35, 1.0, 3.0])
def test_large_batches_stay_close_to_the_bound(rho: float) -> None:
    """Without local search (too large), the speed-aware candidate alone keeps dsct-best
    within 1% of the fractional upper bound at 100 tasks per machine."""
    rng = np.random.default_rng(int(rho * 100))
    p = heterogeneous(rng, 2_000, 20, rho, reading=Reading("uniform"))
    sol = solve(p, "dsct-best")
    assert check(p, sol).ok
    assert sol.total_accuracy >= 0.99 * sol.upper_bound
    assert sol.total_accuracy >= solve(p, "dsct-approx").total_accuracy


def test_single_machine_reach_matches_every_machine() -> None:
    from app.solver.best import single_machine_reach

    rng = np.random.default_rng(9)
    for k in range(300):
        m = int(rng.integers(1, 12))
        speed = rng.choice(EDGE_SPEEDS, m) if k % 2 else rng.uniform(0.1, 5.0, m)
        avail = np.where(rng.random(m) < 0.5, rng.uniform(0.0, 5.0, m), 0.0)
        t = np.concatenate(([0.0, avail.min(), avail.max()], rng.uniform(0.0, 10.0, 20)))
        p = Problem(t, np.ones(t.size), np.zeros(t.size), np.ones(t.size), np.ones(t.size), speed, avail)
        want = np.max(speed[None, :] * np.maximum(t[:, None] - avail[None, :], 0.0), axis=1)
        np.testing.assert_allclose(single_machine_reach(p, t), want, rtol=1e-12, atol=1e-12)


def test_baselines_run_only_when_the_bound_fails_and_the_batch_is_small(monkeypatch) -> None:
    import app.solver.best as best

    calls: list[str] = []
    for name in ("edf_nocompression", "edf_3levels", "edf_3levels_lee_song"):
        real = getattr(best, name)
        monkeypatch.setattr(best, name, lambda p, _real=real, _name=name, **kw: (calls.append(_name), _real(p))[1])
    rng = np.random.default_rng(1)
    heavy = [heterogeneous(rng, 20, 3, 0.15, reading=Reading("uniform")) for _ in range(6)]
    values = [solve(p, "dsct-best").total_accuracy for p in heavy]
    assert calls, "heavy heterogeneous batches: the bound should not rule out every baseline"
    assert "edf_3levels_lee_song" in calls
    calls.clear()
    monkeypatch.setattr(best, "BASELINE_PAIRS", 0)
    monkeypatch.setattr(best, "LEE_SONG_WORK", 0)
    capped = [solve(p, "dsct-best").total_accuracy for p in heavy]
    assert not calls
    assert all(c <= v for c, v in zip(capped, values, strict=True))

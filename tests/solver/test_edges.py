"""The solvers at numeric edges: extreme scales and spreads, tiny windows and ranges, machines
free late, and inputs that unbalance the sweep's splits. The relaxation's paths are forced in
turn (the plain-Python pool-adjacent-violators below ``SMALL_N`` tasks, the same with its
vectorised first poolings, and the vectorised sweep above it), and every schedule goes
through the independent checker."""

from __future__ import annotations

import contextlib
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import app.solver.fractional as fractional
from app.solver import POLYNOMIAL, Problem, check, fractional_relaxation, solve

from .instances import EDGE_KINDS, make_edge_instance, make_instance, scaled

DATA = Path(__file__).parent / "data"
PATHS = ("small", "pooled", "sweep")


@contextlib.contextmanager
def relaxation_path(path: str):
    """Force the relaxation's path: ``small`` (pool-adjacent-violators at any size, pooling
    one block at a time), ``pooled`` (the same, after its vectorised rounds of pooling at any
    size) or ``sweep`` (the level-wise sweep at any size, never handing over to PAV)."""
    saved = fractional.SMALL_N, fractional.SWEEP_BUDGET, fractional.POOL_AHEAD_N
    fractional.SMALL_N = 0 if path == "sweep" else 10**9
    fractional.POOL_AHEAD_N = 0 if path == "pooled" else 10**9
    if path == "sweep":
        fractional.SWEEP_BUDGET = math.inf
    try:
        yield
    finally:
        fractional.SMALL_N, fractional.SWEEP_BUDGET, fractional.POOL_AHEAD_N = saved


def assert_schedules_valid(p: Problem, algorithms=None) -> dict:
    """Every polynomial algorithm: no warning, the checker finds nothing, the total is within
    the finite upper bound, dsct-refined is never below dsct-approx."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in the solver is a defect here
        for algo in algorithms or sorted(POLYNOMIAL):
            sol = solve(p, algo)
            report = check(p, sol)
            assert report.ok, (algo, report.violations)
            assert math.isfinite(sol.upper_bound), algo
            assert sol.total_accuracy <= sol.upper_bound * (1 + 1e-9) + 1e-300, algo
            out[algo] = sol
    if "dsct-refined" in out:
        assert out["dsct-refined"].total_accuracy >= out["dsct-approx"].total_accuracy * (1 - 1e-9)
    return out


@pytest.mark.parametrize("path", PATHS)
def test_refined_meets_deadlines_of_tiny_windows(path: str) -> None:
    """Tasks whose own capacity is ~1e-12 work units, on a machine whose chain holds far more:
    a tolerance relative to the chain's capacity let them end up to 3.7e6 times past their
    deadlines."""
    p = Problem(**np.load(DATA / "refined-past-deadline.npz"))
    with relaxation_path(path):
        sols = assert_schedules_valid(p)
    refined = sols["dsct-refined"]
    on = refined.machine >= 0
    end = refined.start + refined.duration
    assert np.all(end[on] <= p.deadline[on] * (1 + 1e-9))


@pytest.mark.parametrize("path", PATHS)
def test_extreme_spread_has_finite_bound(path: str) -> None:
    """Deadlines 2**e for e from -1070 to 1020 and theta ~ 1/d: sums of works near 7e302
    overflowed into a NaN upper bound and infinite start times."""
    n = 600
    e = np.linspace(-1070, 1020, n)
    theta = np.clip(2.0 ** -np.clip(e, -1000, 1000), 1e-300, 1e300)
    p = Problem(2.0**e, theta, np.zeros(n), np.ones(n), np.full(n, np.inf), [1.0], [0.0])
    with relaxation_path(path):
        sols = assert_schedules_valid(p)
    for sol in sols.values():
        assert np.isfinite(sol.start).all()


def test_extreme_spread_paths_agree() -> None:
    n = 600
    e = np.linspace(-1070, 1020, n)
    theta = np.clip(2.0 ** -np.clip(e, -1000, 1000), 1e-300, 1e300)
    p = Problem(2.0**e, theta, np.zeros(n), np.ones(n), np.full(n, np.inf), [1.0], [0.0])
    bounds = []
    for path in PATHS:
        with relaxation_path(path):
            bounds.append(fractional_relaxation(p).upper_bound)
    assert bounds[0] == pytest.approx(bounds[1], rel=1e-9)


@pytest.mark.parametrize("path", PATHS)
def test_scale_invariance(path: str) -> None:
    """deadline x c, available_at x c, theta / c, t_max x c is the same instance in other time
    units: the same optimum for every c from 1e-300 to 1e300 (an absolute 1e-300 floor in
    the split test made the bound 1e-4 too high at c = 1e-299)."""
    rng = np.random.default_rng(7)
    n = 600 if path == "sweep" else 200
    d, theta = rng.uniform(0.1, 10.0, n), rng.uniform(0.5, 50.0, n)
    base = Problem(d, theta, np.zeros(n), np.ones(n), np.full(n, np.inf), [1.0], [0.0])
    busy = make_instance(rng, "busy_machines", n, 3)
    for p in (base, busy):
        with relaxation_path(path):
            ref = fractional_relaxation(p).upper_bound
            for k in [-300, -299, -250, -200, -150, -100, -50, -10, 10, 50, 100, 150, 200, 250, 299, 300]:
                c = 10.0**k
                q = scaled(p, c)
                got = fractional_relaxation(q).upper_bound
                assert got == pytest.approx(ref, rel=1e-9), k
                assert_schedules_valid(q, ["dsct-approx", "dsct-refined"])


@pytest.mark.parametrize("path", PATHS)
def test_windows_below_the_rounding_of_their_price(path: str) -> None:
    """Machines so slow that theta x a task's whole window is ~1e-60: every task's marginal
    gain is constant to rounding. Its work read back from a log-price was all rounding
    (tasks past their deadlines by factors up to 1e80, upper bounds 4,000x below the
    schedules). The bound must match the linear programme those tasks form, solved by an
    independent greedy (highest gain first, as much as every later prefix allows: exact on
    nested constraints)."""
    rng = np.random.default_rng(3)
    n = 40
    d = np.sort(rng.uniform(1.0, 10.0, n))
    theta, span = rng.uniform(0.5, 50.0, n), rng.uniform(0.1, 0.9, n)
    for speed in (1e-60, 1e-30, 1e-12):
        p = Problem(d, theta, np.zeros(n), span, np.full(n, np.inf), [speed, speed], [0.0, 0.5])
        cap = p.capacity(d)
        slack, value = cap.copy(), 0.0
        for j in np.argsort(-theta * span, kind="stable"):
            w = slack[j:].min()
            slack[j:] -= w
            value += span[j] * -math.expm1(-theta[j] * w)
        with relaxation_path(path):
            assert fractional_relaxation(p).upper_bound == pytest.approx(value, rel=1e-9), speed
            assert_schedules_valid(p)
    for seed, n, m in ((2, 50, 2), (22, 46, 2), (150, 31, 1), (171, 48, 1)):  # once late or above the bound
        with relaxation_path(path):
            assert_schedules_valid(make_edge_instance(np.random.default_rng(seed), "nested_scales", n, m))


def test_late_short_task_work_matches_its_slot() -> None:
    """A task of 1.7e-7 work units starting at 1e9 s: its duration must be work / speed, not
    a difference of two large times."""
    p = Problem([1e9 + 10], [1e7], [0.0], [1.0], [1.7e-7], [1.0], [1e9])
    for algo in sorted(POLYNOMIAL):
        sol = solve(p, algo)
        assert check(p, sol).ok, algo
        j = 0
        assert sol.work[j] == pytest.approx(p.speed[0] * sol.duration[j], rel=1e-12)
        assert sol.accuracy[j] == pytest.approx(-math.expm1(-p.theta[j] * sol.work[j]), rel=1e-12)


def test_checker_tolerance_is_per_task() -> None:
    """One deadline at 1e9 must not let a task with deadline 1.0 end at 1.9."""
    p = Problem([1.0, 1e9], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [np.inf, np.inf], [1.0], [0.0])
    sol = solve(p, "dsct-approx")
    late = type(sol)(**{**sol.__dict__, "duration": np.array([1.9, sol.duration[1]]),
                        "start": np.array([0.0, 1.9]), "work": np.array([1.9, sol.work[1]])})
    assert any("ends after its deadline" in v for v in check(p, late).violations)
    # work that the slot cannot hold
    short = type(sol)(**{**sol.__dict__, "duration": sol.duration * (1 - 1e-6)})
    assert any("speed * duration" in v for v in check(p, short).violations)
    # a start before a late machine's available_at, by more than rounding
    q = Problem([1e9 + 10], [1.0], [0.0], [1.0], [np.inf], [1.0], [1e9])
    sol = solve(q, "dsct-approx")
    early = type(sol)(**{**sol.__dict__, "start": sol.start - 10.0})
    assert any("before its machine" in v for v in check(q, early).violations)


@given(st.sampled_from(EDGE_KINDS), st.integers(1, 60), st.integers(1, 4), st.integers(0, 2**32 - 1),
       st.sampled_from(PATHS))
def test_property_edge_families(kind: str, n: int, m: int, seed: int, path: str) -> None:
    p = make_edge_instance(np.random.default_rng(seed), kind, n, m)
    with relaxation_path(path):
        assert_schedules_valid(p)


@pytest.mark.parametrize("kind", EDGE_KINDS)
def test_edge_families_paths_agree(kind: str) -> None:
    """Both paths, on every edge family, at sizes on both sides of SMALL_N."""
    for seed, n in enumerate((40, 300, 700)):
        p = make_edge_instance(np.random.default_rng(seed), kind, n, 1 + seed)
        bounds = []
        for path in PATHS:
            with relaxation_path(path):
                assert_schedules_valid(p)
                bounds.append(fractional_relaxation(p).upper_bound)
        assert bounds[0] == pytest.approx(bounds[1], rel=1e-9), (kind, n)


def test_unbalanced_splits_hand_over_within_budget() -> None:
    """Fillers at 2**-1001 then deadlines log-spaced over 2**-1000..2**990 made the sweep split
    off a few tasks per level (about 1,000 levels of up to 80 Newton rounds each). The sweep
    now spends at most its budget, a fixed number of passes per task, and finishes
    bottom-up; the answer is unchanged."""
    from app.solver.kernel import _MAX_NEWTON, WorkCurves

    n = 3000
    p = make_edge_instance(np.random.default_rng(0), "levels", n, 1)
    passes = []
    orig = WorkCurves.block_price

    def counting(self, idx, *args, **kwargs):
        x = orig(self, idx, *args, **kwargs)
        passes.append(idx.shape[0] * (getattr(self, "last_rounds", _MAX_NEWTON) + 12))
        return x

    WorkCurves.block_price = counting
    try:
        got = fractional_relaxation(p).upper_bound
    finally:
        WorkCurves.block_price = orig
    assert sum(passes) <= 128 * n + n * (_MAX_NEWTON + 12)
    with relaxation_path("small"):
        assert got == pytest.approx(fractional_relaxation(p).upper_bound, rel=1e-9)


def test_checker_refuses_an_overrun_hidden_by_a_late_clock() -> None:
    """At t = 1.7e9 s, 1e-9 of the clock is 1.7 s: a task of 3.5 s in a 2 s window must still
    be reported late (the tolerance is a few ulps of the clock plus rtol of the duration)."""
    from app.solver.problem import Solution

    t0 = 1.7e9
    p = Problem([t0 + 2.0], [1.0], [0.0], [1.0], [np.inf], [1.0], [t0])
    work = 3.5
    acc = 1.0 - math.exp(-work)
    sol = Solution(machine=np.array([0]), start=np.array([t0]), duration=np.array([work]),
                   work=np.array([work]), accuracy=np.array([acc]), total_accuracy=acc,
                   upper_bound=1.0, guarantee=None, algorithm="overrun")
    assert any("ends after its deadline" in v for v in check(p, sol).violations)
    early = Solution(machine=np.array([0]), start=np.array([t0 - 1.0]), duration=np.array([1.0]),
                     work=np.array([1.0]), accuracy=np.array([1.0 - math.exp(-1.0)]),
                     total_accuracy=1.0 - math.exp(-1.0), upper_bound=1.0, guarantee=None, algorithm="early")
    assert any("starts before its machine is available" in v for v in check(p, early).violations)


@given(st.integers(0, 2**32 - 1))
def test_block_pieces_match_the_scalar_walk(seed: int) -> None:
    """The blocks that pool-adjacent-violators starts from (runs of equal deadlines) and
    those it pools ahead are priced all at once; each price and piece must be the scalar
    walk's (``range_price``), bit for bit, steps (``steep = 0``) and uncapped ramps
    included."""
    from app.solver.kernel import WorkCurves

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    top, steep = rng.normal(0.0, 5.0, n), 10.0 ** rng.uniform(-3.0, 3.0, n)
    u = np.where(rng.random(n) < 0.3, np.inf, rng.uniform(0.01, 3.0, n))
    step = rng.random(n) < 0.2
    steep[step] = 0.0
    u[step & np.isinf(u)] = 1.0
    top[rng.integers(0, n, 3)] = top[0]  # ties
    curves = WorkCurves(top, steep, u)
    heads = np.unique(np.concatenate(([0], rng.integers(1, n, int(rng.integers(0, n // 2 + 1))))))
    cap = rng.uniform(0.0, 1.2, heads.shape[0]) * np.add.reduceat(np.where(np.isinf(u), 5.0, u), heads)
    cap[rng.random(heads.shape[0]) < 0.1] = 0.0
    multi = np.diff(np.append(heads, n)) > 1
    got = iter(zip(*(c.tolist() for c in curves.run_pieces(heads, cap, multi)), strict=True))
    for a, b, c in zip(heads.tolist(), [*heads[1:].tolist(), n], cap.tolist(), strict=True):
        if b - a > 1:
            x, _, piece = curves.range_price(a, b, c)
            assert next(got) == (x, *piece), (a, b)


@pytest.mark.parametrize("kind", ["zigzag", "zigzag_flat", "mixed_t_max", "levels"])
def test_early_hand_over_gives_the_sweeps_answer(kind: str) -> None:
    """Lopsided splits hand over to pool-adjacent-violators after a few levels: the answer
    is the one the sweep finds on its own (forced), and the one the small path finds
    (pooling one block at a time, or after its vectorised rounds). ``zigzag_flat`` is
    ``zigzag`` on a machine of speed 1e-250: every task a step."""
    n = 2000
    d = 2.0 ** np.linspace(-900.0, 900.0, n)
    rng = np.random.default_rng(1)
    if kind in ("zigzag", "zigzag_flat"):
        theta, t_max = np.where(np.arange(n) % 2 == 0, 1e-3, 1e3) / d, np.full(n, np.inf)
    elif kind == "mixed_t_max":
        theta, t_max = 1.0 / d, np.where(rng.random(n) < 0.5, d * rng.uniform(0.1, 2.0, n), np.inf)
    if kind == "levels":
        p = make_edge_instance(rng, "levels", n, 1)
    else:
        p = Problem(d, theta, np.zeros(n), np.ones(n), t_max, [1e-250 if kind == "zigzag_flat" else 1.0], [0.0])
    handed, levels, pav, price = [], [], fractional._pav, fractional.WorkCurves.block_price
    fractional._pav = lambda fam, ci, starts: handed.append(ci.shape[0]) or pav(fam, ci, starts)
    fractional.WorkCurves.block_price = lambda self, *a: levels.append(1) or price(self, *a)
    try:
        bounds = [fractional_relaxation(p).upper_bound]
    finally:
        fractional._pav, fractional.WorkCurves.block_price = pav, price
    assert handed and len(levels) <= 6, (handed, len(levels))  # handed over after a few levels
    for path in PATHS:
        with relaxation_path(path):
            bounds.append(fractional_relaxation(p).upper_bound)
    for other in bounds[1:]:
        assert bounds[0] == pytest.approx(other, rel=1e-12)


@pytest.mark.parametrize("speed", [1e-60, 1e-250])
def test_pooling_ahead_of_steps_ends_where_the_loop_does(speed: float) -> None:
    """Every task a step (windows far below the rounding of their prices): pooling ahead
    pools runs of steps in rounds, a cascade of them within its budget of walks, and must end
    at the blocks the one-at-a-time loop finds, with the same works."""
    from app.solver.kernel import WorkCurves

    rng = np.random.default_rng(0)
    n = 3000
    d = np.sort(rng.uniform(1.0, 10.0, n)) if speed == 1e-60 else 2.0 ** np.linspace(-900, 900, n)
    theta = rng.uniform(0.5, 50.0, n) if speed == 1e-60 else np.where(np.arange(n) % 2 == 0, 1e-3, 1e3) / d
    p = Problem(d, theta, np.zeros(n), np.ones(n), np.full(n, np.inf), [speed], [0.0])
    cap = p.capacity(p.deadline[p.order])
    curves = fractional._flat_as_steps(WorkCurves.of(p.family.ramps()).take(p.order), cap)
    assert curves.has_stairs
    cap_inc = np.maximum(np.diff(cap, prepend=0.0), 0.0)
    got = {}
    walked = []
    pool_runs = fractional._pool_runs

    def counting(*args):
        out = pool_runs(*args)
        walked.append(out[2])
        return out

    saved = fractional.POOL_AHEAD_N
    fractional._pool_runs = counting
    try:
        for ahead in (0, 10**9):
            fractional.POOL_AHEAD_N = ahead
            got[ahead] = fractional._pav(curves, cap_inc, np.zeros(1, dtype=np.intp))
    finally:
        fractional.POOL_AHEAD_N, fractional._pool_runs = saved, pool_runs
    assert walked and sum(walked) <= (fractional._POOL_WALKS + 1) * n
    assert np.allclose(got[0][0], got[10**9][0], rtol=1e-12, atol=0.0)
    assert np.array_equal(got[0][1], got[10**9][1])  # the same prices: the same blocks

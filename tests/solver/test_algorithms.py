"""One shared suite run against every registered algorithm (like scipy's LinprogCommonTests),
plus brute force on small instances."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.solver import ALGORITHMS, GUARANTEED, REASONS, Problem, check, solve
from app.solver.approx import solve_on_machines

from .instances import KINDS, make_instance

ALGOS = sorted(ALGORITHMS)
OPTIONS = {"exact": {"time_limit": 5.0}}
TOL = 1e-9


def run(p: Problem, algo: str):
    return solve(p, algo, **OPTIONS.get(algo, {}))


def assert_valid(p: Problem, sol, algo: str) -> None:
    report = check(p, sol)
    assert report.ok, (algo, report.violations)
    assert sol.algorithm == algo
    assert sol.total_accuracy <= sol.upper_bound + TOL * max(1.0, sol.upper_bound)
    assert len(sol.reason) == p.n
    for j in range(p.n):
        if sol.machine[j] == -1:
            assert sol.reason[j] in REASONS
        else:
            assert sol.reason[j] == ""


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("kind", KINDS)
def test_feasible_and_bounded(algo: str, kind: str) -> None:
    for seed in range(3):
        rng = np.random.default_rng(seed + 100 * KINDS.index(kind))
        n = int(rng.integers(0, 14)) if algo == "exact" else int(rng.integers(0, 120))
        p = make_instance(rng, kind, n, int(rng.integers(1, 4)))
        assert_valid(p, run(p, algo), algo)


@pytest.mark.parametrize("algo", ALGOS)
def test_guarantee_only_where_it_holds(algo: str) -> None:
    """Theorem 3's bound is reported by the algorithms declared never worse than dsct-approx,
    and holds for them (their schedule is at least dsct-approx's); the others report None."""
    for seed, kind in enumerate(KINDS):
        rng = np.random.default_rng(500 + seed)
        p = make_instance(rng, kind, 12 if algo == "exact" else 150, int(rng.integers(1, 4)))
        sol = run(p, algo)
        if algo not in GUARANTEED:
            assert sol.guarantee is None
            continue
        approx = run(p, "dsct-approx")
        assert sol.guarantee == pytest.approx(p.guarantee())
        assert sol.total_accuracy >= approx.total_accuracy - TOL * max(1.0, approx.total_accuracy)
        assert sol.upper_bound - sol.total_accuracy <= sol.guarantee + TOL


def test_baselines_declare_no_guarantee() -> None:
    assert {"dsct-approx", "dsct-refined"} <= GUARANTEED
    assert not GUARANTEED & {"edf-nocompression", "edf-3levels"}


@pytest.mark.parametrize("algo", ALGOS)
def test_deterministic(algo: str) -> None:
    rng = np.random.default_rng(11)
    p = make_instance(rng, "busy_machines", 12 if algo == "exact" else 200, 3)
    a, b = run(p, algo), run(p, algo)
    for name in ("machine", "start", "duration", "work", "accuracy"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.reason == b.reason


@pytest.mark.parametrize("kind", KINDS)
def test_approx_guarantee_and_refinement(kind: str) -> None:
    for seed in range(5):
        rng = np.random.default_rng(seed + 1000 * KINDS.index(kind))
        p = make_instance(rng, kind, int(rng.integers(1, 400)), int(rng.integers(1, 6)))
        approx = solve(p, "dsct-approx")
        refined = solve(p, "dsct-refined")
        assert approx.upper_bound - approx.total_accuracy <= approx.guarantee + TOL
        assert refined.total_accuracy >= approx.total_accuracy - 1e-9 * max(1.0, approx.total_accuracy)
        assert refined.guarantee == approx.guarantee


def brute_force(p: Problem) -> float:
    """The true optimum: every assignment of tasks to machines, each machine's tasks then
    scheduled optimally (deadline order, exact single-machine solver; that solver is checked
    against a convex solver in test_single_machine_matches_convex_solver)."""
    best = -np.inf
    for assign in itertools.product(range(p.m), repeat=p.n):
        sol = solve_on_machines(p, np.array(assign), np.inf, "brute-force")
        best = max(best, sol.total_accuracy)
    return best


def small_instances():
    for seed in range(12):
        rng = np.random.default_rng(seed)
        kind = KINDS[seed % len(KINDS)]
        m = 1 + seed % 3
        n = {1: 8, 2: 8, 3: 6}[m]
        yield make_instance(rng, kind, n, m)


@pytest.mark.parametrize("idx", range(12))
def test_brute_force(idx: int) -> None:
    p = list(small_instances())[idx]
    opt = brute_force(p)
    for algo in ALGOS:
        sol = run(p, algo)
        assert_valid(p, sol, algo)
        assert sol.total_accuracy <= opt + 1e-9
        assert opt <= sol.upper_bound + 1e-9
        if sol.status == "optimal":
            assert sol.total_accuracy == pytest.approx(opt, rel=1e-7)


def test_single_machine_matches_convex_solver() -> None:
    """solve_on_machines (used by brute force and dsct-refined) against cvxpy, machine by machine."""
    import warnings

    from .reference import reference_relaxation

    rng = np.random.default_rng(8)
    for kind in KINDS:
        p = make_instance(rng, kind, 15, 3)
        assign = rng.integers(0, p.m, p.n)
        total = solve_on_machines(p, assign, np.inf, "x").total_accuracy
        expected = 0.0
        for r in range(p.m):
            on = assign == r
            sub = Problem(p.deadline[on], p.theta[on], p.a_min[on], p.a_max[on], p.t_max[on],
                          p.speed[r:r + 1], p.available_at[r:r + 1])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected += reference_relaxation(sub) if sub.n else 0.0
        # tasks of an empty machine set contribute a_min; reference adds a_max - loss per task
        assert total == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("late", [0, 2])
def test_refined_takes_the_relaxations_works_only_for_its_very_chain(late: int) -> None:
    """On one machine (or one machine plus machines free only after every deadline), the
    machine's problem is the relaxation's chain: dsct-refined takes the relaxation's works
    for it, which must be what solving the machine again gives, bit for bit; on machines
    that share the tasks, the works are solved per machine (then they differ)."""
    from app.solver import fractional_relaxation
    from app.solver.approx import _is_relaxed_chain
    from app.solver.schedule import machine_chains

    rng = np.random.default_rng(late)
    for kind in KINDS:
        p = make_instance(rng, kind, 700, 1)  # past SMALL_N: the sweep, and its hand-over
        m = 1 + late
        p = Problem(p.deadline, p.theta, p.a_min, p.a_max, p.t_max, np.full(m, float(p.speed[0])),
                    np.concatenate(([p.available_at[0]], np.full(late, 2.0 * p.deadline.max() + 1.0))))
        refined = solve(p, "dsct-refined")
        on_one = refined.machine[refined.machine >= 0]
        assert np.all(on_one == 0)
        again = solve_on_machines(p, np.zeros(p.n, dtype=np.int64), refined.upper_bound, "again")
        assert np.array_equal(refined.work, again.work), kind
        assert np.array_equal(refined.work, fractional_relaxation(p).work), kind
        # every task on machine 0 while a second machine is free as early: not the
        # relaxation's chain (its capacity is half the aggregate), so solved on its own
        shared = Problem(p.deadline, p.theta, p.a_min, p.a_max, p.t_max, np.full(2, float(p.speed[0])),
                         np.full(2, float(p.available_at[0])))
        idx, starts = machine_chains(shared, np.zeros(p.n, dtype=np.int64))
        cap = shared.machine_capacity(shared.deadline[idx], 0)
        assert not _is_relaxed_chain(shared, idx, starts, cap)
        assert _is_relaxed_chain(p, idx, starts, p.machine_capacity(p.deadline[idx], 0))


@st.composite
def problems(draw) -> Problem:
    n = draw(st.integers(0, 25))
    m = draw(st.integers(1, 4))
    fl = st.floats(0.0, 50.0, allow_nan=False)
    d = draw(st.lists(fl, min_size=n, max_size=n))
    theta = draw(st.lists(st.floats(1e-3, 1e3), min_size=n, max_size=n))
    a_min = draw(st.lists(st.floats(0.0, 0.5), min_size=n, max_size=n))
    span = draw(st.lists(st.floats(1e-3, 0.5), min_size=n, max_size=n))
    t_max = draw(st.lists(st.one_of(st.just(np.inf), st.floats(1e-3, 100.0)), min_size=n, max_size=n))
    speed = draw(st.lists(st.floats(1e-2, 100.0), min_size=m, max_size=m))
    avail = draw(st.lists(fl, min_size=m, max_size=m))
    a_min = np.array(a_min)
    return Problem(d, theta, a_min, a_min + np.array(span), t_max, speed, avail)


@given(problems())
def test_property_every_algorithm(p: Problem) -> None:
    results = {}
    for algo in ALGOS:
        if algo == "exact" and p.n > 10:
            continue
        sol = run(p, algo)
        assert_valid(p, sol, algo)
        results[algo] = sol
    approx = results["dsct-approx"]
    assert approx.upper_bound - approx.total_accuracy <= approx.guarantee + 1e-9
    assert results["dsct-refined"].total_accuracy >= approx.total_accuracy - 1e-9


def test_unknown_algorithm_lists_known_ones() -> None:
    p = Problem([1.0], [1.0], [0.0], [1.0], [1.0], [1.0], [0.0])
    with pytest.raises(ValueError) as err:
        solve(p, "nope")
    for name in ALGOS:
        assert name in str(err.value)


def test_solver_has_no_web_imports() -> None:
    code = (
        "import sys, app.solver; bad = [m for m in ('fastapi', 'starlette', 'pydantic', "
        "'prometheus_client', 'schemas') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr

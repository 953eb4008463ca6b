"""``exact`` against brute force over every assignment (n <= 8, m <= 3), and its contract.

The reference enumerates all ``m^n`` assignments; each machine's value for a task set is the
exact single-machine optimum (section V) computed once per (machine, subset) with
``solve_on_machines``, so the enumeration itself shares nothing with the branch and bound.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.experiments.generator import Reading, generate
from app.solver import UNSCHEDULED, Problem, check, solve
from app.solver.approx import solve_on_machines
from app.solver.exact import strengthened_bound

from .instances import make_instance

KINDS = ("random", "busy_machines", "speeds_1e3_apart", "paper", "equal_deadlines", "infinite_t_max")
CASES = [(kind, seed) for kind in KINDS for seed in range(2)]


def brute_force(p: Problem) -> float:
    """max over all m^n assignments of the sum of the machines' exact optima."""
    n, m = p.n, p.m
    a_min = float(np.sum(p.a_min))
    gain = np.zeros((m, 1 << n))  # accuracy above a_min of machine r running subset S
    for r in range(m):
        for s in range(1, 1 << n):
            machine = np.full(n, UNSCHEDULED)
            members = [j for j in range(n) if s >> j & 1]
            machine[members] = r
            gain[r, s] = solve_on_machines(p, machine, 0.0, "bf").total_accuracy - a_min
    best = -np.inf
    for assign in itertools.product(range(m), repeat=n):
        masks = [0] * m
        for j, r in enumerate(assign):
            masks[r] |= 1 << j
        best = max(best, sum(gain[r, masks[r]] for r in range(m)))
    return a_min + float(best)


@pytest.mark.parametrize(("kind", "seed"), CASES)
def test_matches_brute_force(kind: str, seed: int) -> None:
    rng = np.random.default_rng(500 + 31 * KINDS.index(kind) + seed)
    n = int(rng.integers(5, 8)) if seed == 0 else 8 - int(kind == "speeds_1e3_apart")
    m = 2 + seed  # 2 or 3 machines
    if m == 3:
        n = min(n, 7)
    p = make_instance(rng, kind, n, m)
    opt = brute_force(p)
    sol = solve(p, "exact", time_limit=60, gap_tol=1e-7)
    assert sol.status == "optimal"
    assert sol.total_accuracy == pytest.approx(opt, rel=1e-7, abs=1e-9)
    assert sol.proven_bound >= opt - 1e-9
    assert sol.proven_bound <= sol.upper_bound + 1e-12
    assert sol.total_accuracy <= sol.proven_bound + 1e-12
    assert strengthened_bound(p) >= opt - 1e-9
    report = check(p, sol)
    assert report.ok, report.violations


def test_paper_generator_beats_heuristics_and_is_deterministic() -> None:
    rng = np.random.default_rng(3)
    p = generate(rng, 14, 3, 0.35, mu=5, reading=Reading(deadlines="uniform"))
    a = solve(p, "exact", time_limit=60)
    b = solve(p, "exact", time_limit=60)
    assert a.status == "optimal"
    assert np.array_equal(a.machine, b.machine) and np.array_equal(a.work, b.work)
    assert a.proven_bound == b.proven_bound
    for other in ("dsct-approx", "dsct-refined"):
        assert solve(p, other).total_accuracy <= a.total_accuracy + 1e-9
    assert check(p, a).ok


def test_tiny_time_limit_returns_feasible_schedule() -> None:
    rng = np.random.default_rng(11)
    p = generate(rng, 60, 5, 0.35, mu=10, reading=Reading(deadlines="uniform"))
    sol = solve(p, "exact", time_limit=1e-3)
    assert sol.status == "time_limit"
    assert check(p, sol).ok
    assert sol.total_accuracy < sol.proven_bound <= sol.upper_bound
    assert sol.total_accuracy >= solve(p, "dsct-refined").total_accuracy - 1e-9


def test_empty_problem() -> None:
    p = Problem([], [], [], [], [], [1.0, 2.0], [0.0, 0.0])
    sol = solve(p, "exact")
    assert sol.status == "optimal" and sol.total_accuracy == 0.0


def _all_assignments_best(p: Problem, fixed: dict[int, int]) -> float:
    """Brute force over assignments that keep ``fixed`` (task -> machine)."""
    n, m = p.n, p.m
    best = -np.inf
    for assign in itertools.product(range(m), repeat=n):
        if any(assign[j] != r for j, r in fixed.items()):
            continue
        machine = np.array(assign)
        best = max(best, solve_on_machines(p, machine, 0.0, "bf").total_accuracy)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_bounds_are_valid_against_brute_force(seed: int) -> None:
    """Every bound is at least the best schedule it covers: the root bound (and it is below
    the fractional relaxation), the branch and bound's node bounds below partial assignments,
    and ``proven_bound`` when the search stops after a handful of nodes."""
    from app.solver.assignment import AssignmentSearch
    from app.solver.exact import _Evaluator, machine_classes, prefix_capacities

    rng = np.random.default_rng(900 + seed)
    kind = ("paper", "random", "busy_machines")[seed % 3]
    p = make_instance(rng, kind, 6, 2 + seed % 2)
    opt = brute_force(p)
    root = strengthened_bound(p)
    assert opt - 1e-9 <= root <= solve(p, "dsct-approx").upper_bound + 1e-9
    search = AssignmentSearch(p, _Evaluator(p).value, prefix_capacities(p), machine_classes(p))
    search.run(np.full(p.n, UNSCHEDULED), -np.inf, 0.0, 0, 1e18)  # sets up the state
    for _ in range(8):
        k = int(rng.integers(1, p.n + 1))
        ranks_machine = rng.integers(0, p.m, k)
        last, c = np.zeros(p.m), 0.0
        for q in range(k):
            last, c = search._step(q, int(ranks_machine[q]), last, c)
        fixed = {int(p.order[q]): int(ranks_machine[q]) for q in range(k)}
        below = _all_assignments_best(p, fixed)
        assert search.aggregate_bound(k, last) >= below - 1e-9
        assert search.split_bound(k, last, -np.inf) >= below - 1e-9
    for budget in (1, 3, 10):
        found = AssignmentSearch(p, _Evaluator(p).value, prefix_capacities(p),
                                 machine_classes(p)).run(
            np.zeros(p.n, dtype=np.int64), -np.inf, 0.0, budget, 1e18, dive_nodes=budget // 2)
        assert found.bound >= opt - 1e-9
        assert found.value <= opt + 1e-9


def test_proven_bound_with_tiny_budgets_is_a_bound() -> None:
    rng = np.random.default_rng(77)
    p = generate(rng, 8, 3, 0.35, mu=5, reading=Reading(deadlines="uniform"))
    opt = brute_force(p)
    for limit in (1e-3, 0.05, 0.5):
        sol = solve(p, "exact", time_limit=limit, gap_tol=1e-9)
        assert sol.proven_bound >= opt - 1e-9
        assert sol.total_accuracy <= opt + 1e-9
        assert sol.proven_bound <= sol.upper_bound + 1e-12
        assert check(p, sol).ok

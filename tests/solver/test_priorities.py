"""Weights and accuracy floors in the solver core: the weighted relaxation against a general
convex solver, hostile weights and floors, tasks of weight zero, and the invariances of the
weighted objective."""

from __future__ import annotations

import numpy as np
import pytest

from app.solver import ALGORITHMS, MODELS, DomainError, Problem, check, solve
from app.solver.problem import Models

from .weighted import WEIGHTINGS, instance, weighted_reference, with_priorities

#: 200 instances: every weighting, with and without floors, curve tasks alone or with models
RELAXATION_CASES = [(how, floored, models, seed) for how in WEIGHTINGS for floored in (False, True)
                    for models in (False, True) for seed in range(10)]


@pytest.mark.parametrize(("how", "floored", "models", "seed"), RELAXATION_CASES)
def test_weighted_relaxation_matches_convex_solver(how: str, floored: bool, models: bool, seed: int) -> None:
    """dsct-approx's upper_bound is the optimum of sum weight * a(work) under the nested
    capacities (weight 0 counts nothing; a model task with a floor has only its
    configurations at or above it; a task whose floor is out of reach scores its a_min)."""
    rng = np.random.default_rng([seed, WEIGHTINGS.index(how), floored, models])
    p = instance(rng, int(rng.integers(1, 25)), int(rng.integers(1, 4)), models=models, weighting=how,
                 floored=floored)
    sol = solve(p, "dsct-approx")
    expected = weighted_reference(p)
    assert sol.upper_bound == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert check(p, sol).ok
    assert sol.weighted_accuracy <= sol.upper_bound * (1 + 1e-9) + 1e-12


def test_bound_counts_tasks_left_out_of_the_relaxation() -> None:
    """A task whose floor is out of reach still scores weight * a_min, and one of negligible
    weight up to weight * a_max: the bound counts both, so no schedule is above it."""
    p = Problem([1.0, 1.0], [1.0, 1.0], [0.5, 0.5], [0.9, 0.9], [np.inf, np.inf], [1.0], [0.0],
                weight=[2.0, 1e-300], min_accuracy=[0.95, np.nan])
    sol = solve(p, "dsct-approx")
    assert sol.reason[0] == "below_min_accuracy"
    assert sol.weighted_accuracy == pytest.approx(1.0)
    assert sol.upper_bound == pytest.approx(1.0)
    assert sol.weighted_accuracy <= sol.upper_bound


def test_exact_proven_bound_counts_tasks_left_out() -> None:
    """exact's proven bound is on the whole weighted objective: a model task whose floor is
    above every configuration still scores weight * a_min outside the solve."""
    ms = Models(a_min=[0.3], start=[0, 2], work=[0.5, 1.0], accuracy=[0.6, 0.8])
    n = 3
    p = Problem([1.0, 2.0, 3.0], np.ones(n), np.zeros(n), np.ones(n), np.ones(n), [1.0], [0.0],
                model=[0, 0, 0], models=ms, weight=[1.0, 2.0, 3.0], min_accuracy=[0.9, np.nan, np.nan])
    sol = solve(p, "exact", time_limit=5.0)
    assert check(p, sol).ok
    assert sol.reason[0] == "below_min_accuracy"
    assert sol.status == "optimal"
    assert sol.proven_bound == pytest.approx(sol.weighted_accuracy, rel=1e-9)
    assert sol.weighted_accuracy <= sol.proven_bound * (1 + 1e-9) <= sol.upper_bound * (1 + 1e-9)


def _arrays_equal(a, b) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("machine", "start", "duration", "work")) and (
        a.reason == b.reason)


HEURISTICS = sorted(set(ALGORITHMS) - {"exact"})


def _invariance_instances():
    for seed in range(8):
        rng = np.random.default_rng(700 + seed)
        yield instance(rng, int(rng.integers(5, 40)), int(rng.integers(1, 4)), models=seed % 4 == 3,
                       weighting=WEIGHTINGS[seed % len(WEIGHTINGS)], floored=seed % 2 == 1)


@pytest.mark.parametrize("algo", HEURISTICS)
def test_weights_times_a_power_of_two_change_nothing_but_the_unit(algo: str) -> None:
    """Weights given in another unit (times 2**k, exact in floating point) give the very same
    schedule, and an objective and bound times 2**k."""
    for p in _invariance_instances():
        if p.n_model and algo not in MODELS:
            continue
        base = solve(p, algo)
        for c in (2.0**-30, 2.0**-3, 2.0**12):
            sol = solve(with_priorities(p, p.weight * c, p.min_accuracy), algo)
            assert _arrays_equal(sol, base), (algo, c)
            assert sol.weighted_accuracy == pytest.approx(c * base.weighted_accuracy, rel=1e-12)
            assert sol.upper_bound == pytest.approx(c * base.upper_bound, rel=1e-12)


@pytest.mark.parametrize("algo", HEURISTICS)
def test_weights_times_any_constant_scale_the_objective(algo: str) -> None:
    """Times a constant that is not a power of two the weights round differently in the last
    bit, and ties may then break the other way: the objective and bound still scale (the
    schedules are equal in value, not always in every array)."""
    for p in _invariance_instances():
        if p.n_model and algo not in MODELS:
            continue
        base = solve(p, algo)
        for c in (1e-3, 3.0, 1e3):
            sol = solve(with_priorities(p, p.weight * c, p.min_accuracy), algo)
            assert check(with_priorities(p, p.weight * c, p.min_accuracy), sol).ok
            assert sol.weighted_accuracy == pytest.approx(c * base.weighted_accuracy, rel=1e-6)
            assert sol.upper_bound == pytest.approx(c * base.upper_bound, rel=1e-9)


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_weights_all_one_are_no_weights(algo: str) -> None:
    """Every weight 1 is the paper's plain sum: the very same answer, to the last bit, as
    giving no weights at all (objective, bounds and guarantee included)."""
    for seed in range(6):
        rng = np.random.default_rng(900 + seed)
        models = seed % 3 == 2
        if models and algo not in MODELS:
            continue
        n = int(rng.integers(1, 9 if algo == "exact" else 40))
        p = instance(rng, n, int(rng.integers(1, 4)), models=models, floored=seed % 2 == 1)
        ones = with_priorities(p, np.ones(p.n), p.min_accuracy)
        opts = {"time_limit": 5.0} if algo == "exact" else {}
        try:
            plain = solve(p, algo, **opts)
        except DomainError as exc:  # exact and curve floors, exact and mixed batches
            with pytest.raises(DomainError, match=exc.field):
                solve(ones, algo, **opts)
            continue
        sol = solve(ones, algo, **opts)
        assert _arrays_equal(sol, plain)
        assert np.array_equal(sol.accuracy, plain.accuracy)
        for name in ("total_accuracy", "weighted_accuracy", "upper_bound", "guarantee"):
            assert getattr(sol, name) == getattr(plain, name), name

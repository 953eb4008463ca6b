"""Weights and accuracy floors in the solver core: the weighted relaxation against a general
convex solver, hostile weights and floors, tasks of weight zero, and the invariances of the
weighted objective."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.solver import ALGORITHMS, FLOORS, MODELS, DomainError, Problem, check, solve
from app.solver.problem import Models

from .weighted import WEIGHTINGS, instance, weighted_reference, with_priorities, without

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


def _three(**fields) -> Problem:
    """Three curve tasks (deadlines 1, 2, 3) on one free machine of speed 1, with ``fields``."""
    n = 3
    base = dict(deadline=[1.0, 2.0, 3.0], theta=np.ones(n), a_min=np.full(n, 0.1), a_max=np.full(n, 0.9),
                t_max=np.full(n, np.inf), speed=[1.0], available_at=[0.0])
    return Problem(**{**base, **fields})


@pytest.mark.parametrize(("fields", "field", "index", "kind"), [
    ({"weight": [1.0, -1.0, 1.0]}, "weight", 1, "invalid"),
    ({"weight": [1.0, -1e-300, 1.0]}, "weight", 1, "invalid"),
    ({"weight": [1.0, np.nan, 1.0]}, "weight", 1, "invalid"),
    ({"weight": [np.inf, 1.0, 1.0]}, "weight", 0, "invalid"),
    ({"weight": [1.0, 1.0, -np.inf]}, "weight", 2, "invalid"),
    ({"weight": [1.0, 1e308, 1.0], "a_max": [0.9, 2.0, 0.9]}, "weight", 1, "overflow"),
    ({"weight": [1e308, 1e308, 1.0]}, "weight", 1, "overflow"),  # the sum overflows
    ({"weight": [1.0, 1e308, 1.0], "speed": [1.0] * 3, "available_at": [0.0] * 3}, "weight", 1, "overflow"),
    ({"weight": [1.0, 1e308, 1.0], "theta": [1e-3, 1.0, 1e3]}, "weight", 1, "overflow"),
    ({"weight": ["heavy", 1.0, 1.0]}, "weight", None, "invalid"),
    ({"weight": [1.0, 1.0]}, "weight", None, "invalid"),
    ({"min_accuracy": [np.inf, np.nan, np.nan]}, "min_accuracy", 0, "invalid"),
    ({"min_accuracy": [np.nan, -np.inf, np.nan]}, "min_accuracy", 1, "invalid"),
    ({"min_accuracy": [0.5, 0.5]}, "min_accuracy", None, "invalid"),
])
def test_invalid_weights_and_floors_name_their_field(fields, field, index, kind) -> None:
    with pytest.raises(DomainError) as err:
        _three(**fields)
    assert (err.value.field, err.value.index, err.value.kind) == (field, index, kind)


def _checked_by_every_algorithm(p: Problem) -> dict:
    """Every algorithm's answer, each checked (exact may refuse curve floors, naming them)."""
    out = {}
    for algo in sorted(ALGORITHMS):
        try:
            sol = solve(p, algo, **({"time_limit": 5.0} if algo == "exact" else {}))
        except DomainError as exc:
            assert algo == "exact" and exc.field == "min_accuracy", (algo, exc)
            continue
        rep = check(p, sol)
        assert rep.ok, (algo, rep.violations)
        assert sol.weighted_accuracy <= sol.upper_bound * (1 + 1e-12), algo
        assert np.isfinite([sol.weighted_accuracy, sol.upper_bound]).all()
        out[algo] = sol
    return out


def test_floors_never_reachable_are_answered_without_a_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    """Floors above a_max, at a_max (the curve only tends to it), far above 1, or more work
    than the deadline leaves: below_min_accuracy, and the algorithm never sees those tasks
    (it may be called on the empty batch that is left: exact then proves it optimal)."""
    import app.solver.registry as registry

    p = _three(min_accuracy=[0.95, 0.9, 1e300], weight=[1.0, 2.0, 3.0], t_max=[np.inf, np.inf, 1.0])
    assert p.unreachable_floor.all()
    for name in sorted(ALGORITHMS):
        monkeypatch.setitem(registry.ALGORITHMS, name, _never_called)
    for algo in sorted(ALGORITHMS):
        try:
            sol = solve(p, algo)
        except DomainError as exc:  # an algorithm that refuses curve floors, even ones screened out
            assert exc.field == "min_accuracy" and algo not in FLOORS, algo
            continue
        assert sol.reason == ("below_min_accuracy",) * 3
        assert check(p, sol).ok
        assert sol.weighted_accuracy == pytest.approx(0.6) and sol.upper_bound == pytest.approx(0.6)


def test_floor_out_of_reach_by_its_deadline() -> None:
    late = _three(min_accuracy=[0.85, np.nan, np.nan])  # needs ln(8) = 2.08 of work by t = 1
    assert late.unreachable_floor.tolist() == [True, False, False]
    sol = _checked_by_every_algorithm(late)["dsct-approx"]
    assert sol.reason[0] == "below_min_accuracy" and sol.machine[1:].tolist() == [0, 0]


#: the registered algorithms, before a test replaces them
ALGORITHMS_BEFORE = dict(ALGORITHMS)


def _never_called(problem, *args, **kwargs):
    if problem.n:
        raise AssertionError("the algorithm ran on tasks that were all screened out")
    return ALGORITHMS_BEFORE["dsct-approx"](problem)


def test_floors_at_or_below_a_min_are_always_met() -> None:
    p = _three(min_accuracy=[0.1, -5.0, 0.05], weight=[1.0, 2.0, 0.5])
    assert not p.unreachable_floor.any() and (p.floor_work == 0).all()
    plain = solve(_three(weight=[1.0, 2.0, 0.5]), "dsct-approx")
    for algo, sol in _checked_by_every_algorithm(p).items():
        assert sol.guarantee is None, algo
        assert "below_min_accuracy" not in sol.reason, algo
    assert np.array_equal(solve(p, "dsct-approx").work, plain.work)


def test_every_weight_zero() -> None:
    """Nothing counts, so every task is served with time nobody else wants: all of it."""
    p = _three(weight=[0.0, 0.0, 0.0])
    for algo, sol in _checked_by_every_algorithm(p).items():
        assert sol.weighted_accuracy == 0.0 and sol.upper_bound == 0.0, algo
        assert (sol.machine == 0).all(), algo
        if sol.guarantee is not None:
            assert sol.guarantee == 0.0


def test_weight_zero_with_a_floor() -> None:
    """A zero-weight task with a floor gets leftover time only if the leftover meets its floor."""
    tight = _three(weight=[0.0, 1.0, 1.0], min_accuracy=[0.5, np.nan, np.nan])
    for algo, sol in _checked_by_every_algorithm(tight).items():
        if sol.machine[0] >= 0:
            assert sol.accuracy[0] >= 0.5 - 1e-12, algo
        else:
            assert sol.reason[0] == "below_min_accuracy", algo
    assert solve(tight, "dsct-approx").machine[0] == -1  # the others use all the time
    roomy = _three(weight=[0.0, 1.0, 1.0], min_accuracy=[0.5, np.nan, np.nan], t_max=[5.0, 0.5, 0.5])
    sol = solve(roomy, "dsct-approx")
    assert sol.machine[0] == 0 and sol.accuracy[0] >= 0.5
    assert sol.work[1:].tolist() == [0.5, 0.5]


def test_machine_busy_past_every_deadline() -> None:
    p = _three(available_at=[10.0], weight=[1.0, 0.0, 3.0], min_accuracy=[0.5, np.nan, 0.95])
    for algo, sol in _checked_by_every_algorithm(p).items():
        assert (sol.machine == -1).all(), algo
        assert sol.reason[0] in ("deadline_before_available", "below_min_accuracy")
        assert sol.reason[1] == "deadline_before_available"
        assert sol.weighted_accuracy == pytest.approx(0.1 + 0.3)
        assert sol.upper_bound == pytest.approx(0.4)


def test_huge_weights_that_fit() -> None:
    """Weights near the top of double precision are legal when their products and sums fit."""
    p = _three(weight=[1e300, 1e-300, 5e307], a_min=[0.0, 0.0, 0.0], a_max=[1.0, 1.0, 1.0])
    for algo, sol in _checked_by_every_algorithm(p).items():
        assert sol.weighted_accuracy > 0.0, algo


def test_checker_catches_a_wrong_weighted_objective_near_overflow() -> None:
    """With weights near the top of double precision the checker's tolerance must not become
    infinite: a weighted objective off by half is reported."""
    p = _three(weight=[1.0, 1.7e308, 1.0], a_min=[0.0, 0.0, 0.0], a_max=[1.0, 1.0, 1.0])
    sol = solve(p, "dsct-approx")
    assert check(p, sol).ok
    for wrong in (sol.weighted_accuracy * 0.5, 0.0):
        report = check(p, dataclasses.replace(sol, weighted_accuracy=wrong))
        assert any("weighted_accuracy" in v for v in report.violations), wrong
    light = _three(weight=[1.0, 2.0, 3.0])
    sol = solve(light, "dsct-approx")
    report = check(light, dataclasses.replace(sol, weighted_accuracy=sol.total_accuracy))
    assert any("weighted_accuracy" in v for v in report.violations)


@pytest.mark.parametrize("algo", HEURISTICS)
def test_zero_weight_tasks_never_take_time_from_others(algo: str) -> None:
    """Tasks of weight 0 get only time nobody else uses: every other task's machine and work
    are exactly those of the same batch without them (their starts may move into slack)."""
    checked = 0
    for seed in range(12):
        rng = np.random.default_rng(1300 + seed)
        models = seed % 3 == 0
        if models and algo not in MODELS:
            continue
        p = instance(rng, int(rng.integers(2, 40)), int(rng.integers(1, 4)), models=models,
                     weighting="with_zeros", floored=seed % 2 == 1)
        zero = p.weight == 0.0
        if not zero.any() or zero.all():
            continue
        sol, alone = solve(p, algo), solve(without(p, zero), algo)
        assert check(p, sol).ok
        assert np.array_equal(sol.machine[~zero], alone.machine), seed
        assert np.array_equal(sol.work[~zero], alone.work), seed
        assert sol.weighted_accuracy == pytest.approx(alone.weighted_accuracy, rel=1e-12)
        checked += 1
    assert checked >= 4


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_zero_weight_tasks_get_time_when_there_is_plenty(algo: str) -> None:
    """Any one machine could run every task uncompressed before its deadline: the tasks of
    weight 0 are scheduled too (with their floor when they have one)."""
    for seed in range(6):
        rng = np.random.default_rng(1400 + seed)
        n, m = int(rng.integers(2, 9 if algo == "exact" else 30)), int(rng.integers(1, 4))
        t_max, speed = rng.uniform(0.1, 2.0, n), rng.uniform(0.5, 2.0, m)
        deadline = rng.uniform(1.2, 2.0, n) * t_max.sum() / speed.min()
        weight = np.where(rng.random(n) < 0.4, 0.0, rng.uniform(0.1, 5.0, n))
        weight[0] = 0.0
        floor = np.where(rng.random(n) < 0.3, 0.5, np.nan)
        p = Problem(deadline, rng.uniform(1.0, 5.0, n), np.zeros(n), np.ones(n), t_max, speed, np.zeros(m),
                    weight=weight, min_accuracy=floor)
        try:
            sol = solve(p, algo, **({"time_limit": 5.0} if algo == "exact" else {}))
        except DomainError as exc:
            assert algo == "exact" and exc.field == "min_accuracy"
            continue
        assert check(p, sol).ok
        zero = weight == 0.0
        assert (sol.machine[zero] >= 0).all(), (seed, sol.reason)
        assert (sol.accuracy[zero & ~np.isnan(floor)] >= 0.5 - 1e-12).all()


@pytest.mark.parametrize("speed", ([1.0, 1.0], [1.0, 1.0, 1.0]))
def test_accuracy_range_whose_guarantee_overflows_is_refused(speed) -> None:
    """Without weights too: machines x (a_max - a_min) x (1 + ln(theta ratio) / e) past the
    largest double is refused on construction, naming a_max, instead of failing in the solve
    with an error that names no field."""
    with pytest.raises(DomainError) as err:
        Problem([1.0, 2.0], [1.0, 1.0], [0.0, 0.0], [1e308, 1.0], [np.inf, np.inf], speed, [0.0] * len(speed))
    assert (err.value.field, err.value.index, err.value.kind) == ("a_max", 0, "overflow")
    fits = Problem([1.0, 2.0], [1.0, 1.0], [0.0, 0.0], [1e308, 1.0], [np.inf, np.inf], [1.0], [0.0])
    assert np.isfinite(solve(fits, "dsct-approx").guarantee)


@pytest.mark.parametrize("algo", HEURISTICS)
def test_floors_that_never_bind_change_nothing(algo: str) -> None:
    """Every floor at or below a_min (so always met) and no weights: the very same schedule
    as without floors, to the last bit."""
    for seed in range(5):
        rng = np.random.default_rng(1500 + seed)
        models = seed % 3 == 0
        if models and algo not in MODELS:
            continue
        p = instance(rng, int(rng.integers(1, 40)), int(rng.integers(1, 4)), models=models)
        floored = with_priorities(p, None, p.a_min - rng.uniform(0.0, 0.1, p.n))
        assert floored.has_floors
        sol, plain = solve(floored, algo), solve(p, algo)
        assert _arrays_equal(sol, plain), (algo, seed)
        assert sol.weighted_accuracy == plain.weighted_accuracy

"""The shared algorithm suite on weighted and floored batches: every registered algorithm,
checked (no task below its floor), within the weighted bound, deterministic, with a reason
for every task left out, and Theorem 3's guarantee where it applies; plus a property test."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.solver import ALGORITHMS, GUARANTEED, MODELS, REASONS, DomainError, Problem, check, solve

from .test_envelope import model_instance
from .weighted import WEIGHTINGS, floors, instance, weights, with_priorities

ALGOS = sorted(ALGORITHMS)
TOL = 1e-9
#: what each batch of the suite holds
BATCHES = ("weights", "floors", "weights_and_floors", "models_weights_floors", "models_only_floors")


def batch(kind: str, seed: int, algo: str) -> Problem:
    rng = np.random.default_rng([seed, BATCHES.index(kind)])
    n = int(rng.integers(0, 10)) if algo == "exact" else int(rng.integers(0, 60))
    m = int(rng.integers(1, 4))
    how = WEIGHTINGS[seed % len(WEIGHTINGS)]
    if kind == "models_only_floors":  # every task runs a model: exact takes these batches
        p = model_instance(rng, "concave", n, m)
        return with_priorities(p, weights(rng, how, n), floors(rng, p, 0.5))
    return instance(rng, n, m, models=kind.startswith("models"), weighting=None if kind == "floors" else how,
                    floored=kind != "weights")


def run(p: Problem, algo: str):
    """The algorithm's answer, or None where it refuses the batch with its documented error:
    exact and curve-task floors (``min_accuracy``), and the algorithms that cannot take model
    tasks or mixed batches (``algorithm``)."""
    try:
        return solve(p, algo, **({"time_limit": 5.0} if algo == "exact" else {}))
    except DomainError as exc:
        curve_floors = p.has_floors and bool(((p.floor_work > 0) & (p.model < 0 if p.n_model else True)).any())
        if exc.field == "min_accuracy":
            assert algo == "exact" and curve_floors, (algo, exc)
        else:
            assert exc.field == "algorithm" and p.n_model and (algo not in MODELS or algo == "exact"), (algo, exc)
        return None


def assert_valid_weighted(p: Problem, sol, algo: str) -> None:
    report = check(p, sol)
    assert report.ok, (algo, report.violations)
    assert sol.algorithm == algo
    assert sol.weighted_accuracy == pytest.approx(report.objective, rel=1e-9, abs=1e-300)
    scale = max(abs(sol.upper_bound), float(np.sum(p.weights * np.abs(p.a_max))), 1e-300)
    assert sol.weighted_accuracy <= sol.upper_bound + TOL * scale, algo
    if sol.proven_bound is not None:
        assert sol.weighted_accuracy <= sol.proven_bound + TOL * scale
        assert sol.proven_bound <= sol.upper_bound + TOL * scale
    if p.has_floors:  # the checker's rule, stated once more on the answer itself
        floor = np.where(np.isnan(p.min_accuracy), -np.inf, p.min_accuracy)
        on = sol.machine >= 0
        assert (sol.accuracy[on] >= floor[on] - 1e-9 * np.maximum(1.0, np.abs(floor[on]))).all(), algo
    assert len(sol.reason) == p.n
    no_room = p.capacity(p.deadline) <= 0.0
    for j in range(p.n):
        if sol.machine[j] >= 0:
            assert sol.reason[j] == "", (algo, j)
            continue
        assert sol.reason[j] in REASONS, (algo, j, sol.reason[j])
        if p.unreachable_floor[j]:  # a task no machine can reach keeps that more precise reason
            expected = "deadline_before_available" if no_room[j] else "below_min_accuracy"
            assert sol.reason[j] == expected, (algo, j, sol.reason[j])
    if p.has_floors or p.n_model or algo not in GUARANTEED:
        assert sol.guarantee is None, algo
    else:
        assert sol.guarantee == pytest.approx(p.guarantee(), rel=1e-12)
        assert sol.upper_bound - sol.weighted_accuracy <= sol.guarantee + TOL * scale, algo


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("kind", BATCHES)
def test_weighted_and_floored_batches(algo: str, kind: str) -> None:
    for seed in range(4):
        p = batch(kind, seed, algo)
        sol = run(p, algo)
        if sol is None:
            continue
        assert_valid_weighted(p, sol, algo)
        again = run(p, algo)
        for name in ("machine", "start", "duration", "work", "accuracy"):
            assert np.array_equal(getattr(sol, name), getattr(again, name)), (algo, name)
        assert sol.reason == again.reason
        assert sol.weighted_accuracy == again.weighted_accuracy


def test_exact_refuses_curve_floors_or_honours_them() -> None:
    """exact either refuses curve-task floors with the documented error on min_accuracy, or
    (once it handles them) answers a checked schedule within the bound, at least as good as
    dsct-best's when it proves optimality."""
    for seed in range(3):
        rng = np.random.default_rng(40 + seed)
        p = instance(rng, 8, 2, weighting="log_spread", floored=True)
        p = with_priorities(p, p.weight, np.where(np.arange(p.n) % 2 == 0, (p.a_min + p.a_max) / 2, np.nan))
        try:
            sol = solve(p, "exact", time_limit=5.0)
        except DomainError as exc:
            assert exc.field == "min_accuracy" and exc.index is not None
            assert np.isfinite(p.min_accuracy[exc.index]) and p.model is None
            continue
        assert_valid_weighted(p, sol, "exact")
        if sol.status == "optimal":
            best = solve(p, "dsct-best")
            assert sol.weighted_accuracy >= best.weighted_accuracy - TOL * max(1.0, best.weighted_accuracy)


@pytest.mark.parametrize("kind", ("weights", "models_weights_floors"))
def test_guaranteed_algorithms_never_below_dsct_approx(kind: str) -> None:
    """The algorithms registered as never worse than dsct-approx stay so on the weighted
    objective (without floors: with floors the admission decides, and no order is promised)."""
    for seed in range(6):
        p = batch(kind, 10 + seed, "dsct-best")
        if kind != "weights":
            p = with_priorities(p, p.weight, None)
        approx = solve(p, "dsct-approx")
        for algo in sorted(GUARANTEED - {"exact"}):
            sol = solve(p, algo)
            assert sol.weighted_accuracy >= approx.weighted_accuracy - TOL * max(1.0, abs(approx.weighted_accuracy))


@st.composite
def prioritised_problems(draw) -> Problem:
    n = draw(st.integers(0, 14))
    m = draw(st.integers(1, 3))
    fl = st.floats(0.0, 20.0)
    d = draw(st.lists(fl, min_size=n, max_size=n))
    theta = draw(st.lists(st.floats(1e-2, 1e2), min_size=n, max_size=n))
    a_min = np.array(draw(st.lists(st.floats(0.0, 0.5), min_size=n, max_size=n)))
    span = np.array(draw(st.lists(st.floats(1e-3, 0.5), min_size=n, max_size=n)))
    t_max = draw(st.lists(st.one_of(st.just(np.inf), st.floats(1e-2, 20.0)), min_size=n, max_size=n))
    speed = draw(st.lists(st.floats(0.1, 10.0), min_size=m, max_size=m))
    avail = draw(st.lists(fl, min_size=m, max_size=m))
    weight = draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1e3)), min_size=n, max_size=n))
    share = draw(st.lists(st.one_of(st.just(np.nan), st.floats(-0.2, 1.2)), min_size=n, max_size=n))
    floor = a_min + np.array(share) * span
    return Problem(d, theta, a_min, a_min + span, t_max, speed, avail, weight=weight, min_accuracy=floor)


@given(prioritised_problems())
def test_property_every_algorithm_weighted_and_floored(p: Problem) -> None:
    for algo in ALGOS:
        if algo == "exact" and p.n > 8:
            continue
        sol = run(p, algo)
        if sol is not None:
            assert_valid_weighted(p, sol, algo)

"""Accuracy floors on model tasks next to curve tasks with floors: the admission must
schedule (or refuse with a reason) without ever failing on numbers the caller did not give.

The admission's first phase iterates on the fractional relaxation, which names no
configuration: a model task there counts at its envelope's accuracy, and its floor is never
raised or dropped by the admission (it is only offered configurations at or above it; a
raise would compute ``exp(theta * gap)`` with the NaN ``theta`` of a task without a curve)."""

from __future__ import annotations

import numpy as np
import pytest

from app.solver import Models, Problem, check, solve

MODELS = Models(a_min=[0.1], start=[0, 2], work=[1.0, 2.0], accuracy=[0.5, 0.8])


def _pairs(k: int, deadline: float, curve_floor: float) -> Problem:
    """``k`` machines of speed 1; ``k`` model tasks (floor 0.3: either configuration meets
    it) and ``k`` curve tasks (floor ``curve_floor``), all due at ``deadline``."""
    n = 2 * k
    model = np.tile([0, -1], k)
    curve = model < 0
    nan = np.nan
    return Problem(deadline=np.full(n, deadline), theta=np.where(curve, 1.0, nan), a_min=np.where(curve, 0.0, nan),
                   a_max=np.where(curve, 1.0, nan), t_max=np.where(curve, 2.0, nan), speed=np.ones(k),
                   available_at=np.zeros(k), model=model, models=MODELS,
                   min_accuracy=np.where(curve, curve_floor, 0.3))


@pytest.mark.parametrize("algorithm", ["dsct-best", "dsct-approx", "edf-3levels"])
@pytest.mark.parametrize("k", [2, 101])
def test_model_and_curve_floors_that_all_fit_are_all_met(algorithm: str, k: int) -> None:
    """Every machine has room for its pair (2 + 0.7 of work by 10): each task runs at or
    above its floor; today the solve raises DomainError("models.a_min[0]: must be a finite
    number"), a field the caller never got wrong."""
    p = _pairs(k, 10.0, 0.5)
    sol = solve(p, algorithm)
    assert check(p, sol).ok
    assert (sol.machine >= 0).all(), [sol.reason[j] for j in np.flatnonzero(sol.machine < 0)]


@pytest.mark.parametrize("algorithm", ["dsct-best", "dsct-approx"])
def test_tight_model_and_curve_floors_never_fail(algorithm: str) -> None:
    """A tight batch (not every floor can be met): a schedule that meets the floors it
    keeps, and a reason for each task it leaves out; never an error."""
    p = _pairs(101, 2.6, 0.7)
    sol = solve(p, algorithm)
    assert check(p, sol).ok
    assert all(sol.reason[j] for j in np.flatnonzero(sol.machine < 0))

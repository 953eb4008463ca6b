"""benchmarks/reach_scip.py's model of program (10) against brute force over every assignment.

SCIP is the general-solver peer of ``exact`` in docs/results.md; these small instances check
that the model it is given (prefix rows, one machine per task, symmetry breaking between
identical machines, the nonlinear accuracy) neither cuts off the optimum nor admits anything
better, and that its schedules pass the independent checker.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from app.solver import Problem

from .solver.instances import make_instance
from .solver.test_exact import brute_force

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "reach_scip.py"
_spec = importlib.util.spec_from_file_location("reach_scip", _PATH)
reach_scip = importlib.util.module_from_spec(_spec)
sys.modules["reach_scip"] = reach_scip  # dataclasses look their module up there
_spec.loader.exec_module(reach_scip)

# paper: identical machines (symmetry rows); busy_machines and random: distinct machines;
# before_available: tasks no machine can reach (no pair at all)
CASES = [("paper", 3, 7), ("paper", 2, 8), ("random", 3, 6), ("busy_machines", 2, 7),
         ("equal_deadlines", 3, 6), ("before_available", 2, 6)]
# SCIP meets each constraint within its absolute feasibility tolerance (1e-6 by default)
_TOL = 1e-5


@pytest.mark.parametrize(("kind", "m", "n"), CASES)
def test_scip_model_matches_brute_force(kind: str, m: int, n: int) -> None:
    rng = np.random.default_rng(900 + 7 * m + n)
    p: Problem = make_instance(rng, kind, n, m)
    opt = brute_force(p)
    out = reach_scip.solve_scip(p, time_limit=60.0, gap=1e-7)  # raises if the checker objects
    assert out.status in ("optimal", "gaplimit")
    assert out.proven
    assert out.dual >= opt - _TOL  # the model admits every schedule
    assert out.checked <= opt + 1e-9  # a checked schedule is a schedule
    assert out.primal == pytest.approx(opt, abs=_TOL * p.n)  # nothing better than a schedule
    assert out.reevaluated == pytest.approx(opt, abs=_TOL)
    assert out.clipped <= _TOL * p.n


def test_instances_are_those_of_the_reach_experiment() -> None:
    """The benchmark solves the very instances ``python -m app.experiments.reach`` does."""
    from app.experiments.generator import Reading, generate
    from app.experiments.runner import rng_for

    reading = Reading.parse("uniform-lift-0.99")
    ours = reach_scip.instance(2024, 30, 5, 3, 0.35, 5.0, reading)
    theirs = generate(rng_for(2024, 99, 30 * 1000 + 5, 3), 30, 5, 0.35, mu=5.0, reading=reading)
    for name in ("deadline", "theta", "a_min", "a_max", "t_max", "speed", "available_at"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name))

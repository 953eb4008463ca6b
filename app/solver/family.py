"""Accuracy families: the concave curves ``a(work)`` the solvers maximise.

A family is a handful of primitives, per task:

- ``u``: the most work the task can use (``t_max``, capped where more adds no accuracy);
- ``value(work, idx)`` and ``derivative(work, idx)``: the curve and its slope (``idx``
  selects tasks; ``None`` is all of them);
- ``ramps()``: the work the task takes when a unit of work costs ``exp(x)``, that is
  ``argmax_{0 <= w <= u} a(w) - exp(x) w``, written as :class:`~app.solver.kernel.Ramps`.

Everything else (block prices, the sweep, pool-adjacent-violators, the residual spread) is
generic over ramps and lives in :mod:`app.solver.kernel` and :mod:`app.solver.fractional`.
To add a family, write a class with these four members (see ``docs/solver.md``).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .kernel import Ramps
from .problem import Problem

_SATURATION = 746.0  # exp(-746) underflows to 0.0


class AccuracyFamily(Protocol):
    #: per task, the most work it can use (``t_max``, capped where more adds no accuracy)
    u: np.ndarray

    def value(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray: ...

    def derivative(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray: ...

    def ramps(self) -> Ramps: ...


class ExponentialFamily:
    """``a(w) = a_min + da (1 - exp(-theta w))`` on ``0 <= w <= u`` (section IV-B).

    At log-price ``x`` a task takes ``w(x) = clip((ln(da theta) - x) / theta, 0, u)``: one
    ramp of top ``ln(da theta)`` and steepness ``theta``, whose roots are the paper's closed
    form (eq. 9).
    """

    def __init__(self, theta: np.ndarray, delta_a: np.ndarray, a_min: np.ndarray, u: np.ndarray):
        self.theta = np.asarray(theta, dtype=np.float64)
        self.delta_a = np.asarray(delta_a, dtype=np.float64)
        self.a_min = np.asarray(a_min, dtype=np.float64)
        # Past theta * w = 746, exp(-theta w) is 0 in double precision: more work adds no
        # representable accuracy, so cap it there. This keeps theta * work finite (no -inf
        # log-prices from overflow) without changing any value.
        with np.errstate(over="ignore"):
            self.u = np.minimum(np.asarray(u, dtype=np.float64), _SATURATION / self.theta)

    @classmethod
    def of(cls, problem: Problem) -> ExponentialFamily:
        return cls(problem.theta, problem.delta_a, problem.a_min, problem.t_max)

    def ramps(self) -> Ramps:
        return Ramps(top=np.log(self.delta_a) + np.log(self.theta), steep=self.theta, u=self.u)

    def _pick(self, name: str, idx: np.ndarray | None) -> np.ndarray:
        arr = getattr(self, name)
        return arr if idx is None else arr[idx]

    def value(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        w = np.maximum(work, 0.0)
        return self._pick("a_min", idx) + self._pick("delta_a", idx) * -np.expm1(
            -self._pick("theta", idx) * w
        )

    def derivative(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        th = self._pick("theta", idx)
        return self._pick("delta_a", idx) * th * np.exp(-th * np.maximum(work, 0.0))

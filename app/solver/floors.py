"""Accuracy floors as semi-continuous work, for ``exact``.

A curve task with an accuracy floor gets no work, or at least its floor's work ``L``
(:attr:`~app.solver.problem.Problem.floor_work`). Three pieces make that exact:

- **A task on a machine.** Once a floor task is put on a machine it takes ``L + v`` with
  ``v >= 0``. Substituting ``w = L + v`` keeps the single-machine problem of section V:
  ``a(L + v) = a(L) + (a_max - a(L)) (1 - exp(-theta v))`` is the same exponential curve
  with ``a_min`` raised to ``a(L)``, its range times ``exp(-theta L)`` and ``u`` lowered by
  ``L`` (:func:`shifted`), and every prefix constraint ``sum w <= cap`` loses the floors of
  its tasks. So a machine's exact optimum with its floors is one nested-constraints sweep
  (:func:`machine_works`), infeasible exactly when the floors alone overflow a prefix.
- **A free task** (not yet placed, or placed nowhere yet decided) may take no work or
  ``L`` or more. Its value as a function of work is ``a_min`` below ``L`` and ``a(w)`` from
  ``L`` on; the smallest concave function above it is the chord from ``(0, a_min)`` to
  ``(L, a(L))`` followed by the curve (:class:`FloorFamily`: a step of slope
  ``(a(L) - a_min) / L`` and length ``L``, then the exponential ramp). Relaxations with this
  envelope are upper bounds on every schedule that respects the floors, and much tighter
  than the plain curve when the floor is near ``a_max``.
- **Where it cannot run**: a pair (task, machine) whose capacity before the task's deadline
  (or whose ``t_max``) is below ``L`` is unusable (:func:`usable_pairs`).

Complexity: O(k log k) per machine evaluation (one sweep), O(n) to build a family.
"""

from __future__ import annotations

import numpy as np

from .family import ExponentialFamily
from .fractional import nested_allocation
from .kernel import Ramps
from .problem import UNSCHEDULED, Problem
from .schedule import machine_chains

__all__ = ["FloorFamily", "chain_floor_caps", "chain_works", "drop_to_feasible", "floor_work", "machine_works", "shifted",
           "usable_pairs"]


def floor_work(problem: Problem) -> np.ndarray:
    """Per task, the least work it runs with when scheduled: its floor's work (``inf``: it
    can never meet its floor), 0 without a floor. O(n)."""
    if not problem.has_floors:
        return np.zeros(problem.n)
    return np.array(problem.floor_work, dtype=np.float64)


def usable_pairs(problem: Problem, floor: np.ndarray) -> np.ndarray:
    """``(n, m)``: the most work task ``j`` can take on machine ``r`` (``min(t_max,
    capacity before its deadline)``), 0 where that is below its floor's work. O(n m)."""
    u = np.minimum(problem.t_max[:, None], problem.machine_capacity(problem.deadline))
    return np.where(u >= floor[:, None], u, 0.0)


def shifted(theta: np.ndarray, delta_a: np.ndarray, a_min: np.ndarray, u: np.ndarray,
            floor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The curve of ``v = w - floor`` (module docs): ``(delta_a, a_min, u)`` after the shift."""
    keep = np.exp(-theta * floor)
    d = delta_a * keep
    return d, a_min + (delta_a - d), np.maximum(u - floor, 0.0)


def chord_then_curve(theta: np.ndarray, delta_a: np.ndarray, has: np.ndarray, knee: np.ndarray,
                     slope: np.ndarray, reach: np.ndarray) -> Ramps:
    """The ramps of concave envelopes made of a chord then an exponential curve: where
    ``has``, a flat-priced unit of ``knee`` work at marginal gain ``slope``, then for every
    task the curve ``delta_a (1 - exp(-theta w))`` past ``knee`` for ``reach`` more work."""
    count = np.where(has, 2, 1)
    task_start = np.zeros(theta.shape[0] + 1, dtype=np.intp)
    np.cumsum(count, out=task_start[1:])
    curve = task_start[1:] - 1  # each task's last unit: its exponential ramp
    total = int(task_start[-1])
    top, steep, u = np.empty(total), np.empty(total), np.empty(total)
    top[curve] = np.log(delta_a) + np.log(theta) - theta * knee
    steep[curve] = theta
    u[curve] = reach
    step = task_start[:-1][has]
    with np.errstate(divide="ignore"):
        top[step] = np.log(slope[has])
    steep[step] = 0.0
    u[step] = knee[has]
    return Ramps(top=top, steep=steep, u=u, task_start=task_start)


class FloorFamily:
    """Exponential curves with floors relaxed to their concave envelope (module docs).

    ``floor`` per task, 0 for none: a task with a floor is a step (the chord to its floor)
    and the exponential ramp past it; one whose floor is above ``u`` can take no work.
    Follows :class:`app.solver.family.AccuracyFamily`.
    """

    def __init__(self, theta: np.ndarray, delta_a: np.ndarray, a_min: np.ndarray, u: np.ndarray,
                 floor: np.ndarray):
        base = ExponentialFamily(theta, delta_a, a_min, u)
        self.theta, self.delta_a, self.a_min = base.theta, base.delta_a, base.a_min
        floor = np.asarray(floor, dtype=np.float64)
        self.u = np.where(floor <= base.u, base.u, 0.0)
        self.floor = np.where((floor > 0.0) & (self.u > 0.0), floor, 0.0)
        has = self.floor > 0.0
        self.has = has
        with np.errstate(divide="ignore", invalid="ignore"):
            self.a_floor = self.a_min + self.delta_a * -np.expm1(-self.theta * self.floor)
            self.chord = np.where(has, (self.a_floor - self.a_min) / self.floor, 0.0)

    def ramps(self) -> Ramps:
        return chord_then_curve(self.theta, self.delta_a, self.has, self.floor, self.chord, self.u - self.floor)

    def _pick(self, name: str, idx: np.ndarray | None) -> np.ndarray:
        arr = getattr(self, name)
        return arr if idx is None else arr[idx]

    def value(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        w = np.minimum(np.maximum(work, 0.0), self._pick("u", idx))
        floor = self._pick("floor", idx)
        a_min = self._pick("a_min", idx)
        curve = a_min + self._pick("delta_a", idx) * -np.expm1(-self._pick("theta", idx) * w)
        return np.where(w < floor, a_min + self._pick("chord", idx) * w, curve)

    def derivative(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        w = np.maximum(work, 0.0)
        th = self._pick("theta", idx)
        curve = self._pick("delta_a", idx) * th * np.exp(-th * w)
        return np.where(w < self._pick("floor", idx), self._pick("chord", idx), curve)


def chain_floor_caps(cap: np.ndarray, floor: np.ndarray, starts: np.ndarray,
                     clamp: bool = False) -> np.ndarray | None:
    """Prefix capacities of chains (``cap``, chains from ``starts``) left once every task has
    its ``floor``: minus the chain's cumulative floors, then the smallest of each later one
    of the chain (a prefix sum never decreases). None when the floors overflow a prefix,
    unless ``clamp`` (then such capacities are 0: for bounds, where a rounding error must
    not cut a feasible branch)."""
    n = cap.shape[0]
    bounds = np.append(np.asarray(starts, dtype=np.intp), n)
    out = np.empty(n)
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        rest = cap[lo:hi] - np.cumsum(floor[lo:hi])
        if (rest < 0.0).any():
            if not clamp:
                return None
            rest = np.maximum(rest, 0.0)
        out[lo:hi] = np.minimum.accumulate(rest[::-1])[::-1]
    return out


def chain_works(problem: Problem, idx: np.ndarray, cap: np.ndarray, starts: np.ndarray,
                floor: np.ndarray) -> np.ndarray | None:
    """The exact optimum of chains of tasks (``idx`` in chain order, chains from ``starts``,
    prefix capacities ``cap``) with every task given at least its ``floor`` (per position):
    works per position, or None when the floors alone overflow a prefix. One sweep."""
    fam = problem.family
    rest = chain_floor_caps(cap, floor, starts)
    if rest is None or (floor > fam.u[idx]).any():
        return None
    d, a0, u = shifted(fam.theta[idx], fam.delta_a[idx], fam.a_min[idx], fam.u[idx], floor)
    v, _ = nested_allocation(ExponentialFamily(fam.theta[idx], d, a0, u), np.arange(idx.shape[0]),
                             rest, starts)
    return floor + v


def machine_works(problem: Problem, machine: np.ndarray, floor: np.ndarray) -> np.ndarray | None:
    """Each machine's exact optimum for its tasks (``machine``, -1: none) with every floor
    task given at least its ``floor`` work (module docs); None when some machine cannot meet
    its floors. O(n log n)."""
    idx, starts = machine_chains(problem, machine)
    work = np.zeros(problem.n)
    if not idx.shape[0]:
        return work
    cap = problem.machine_capacity(problem.deadline[idx], machine[idx])
    w = chain_works(problem, idx, cap, starts, floor[idx])
    if w is None:
        return None
    work[idx] = w
    return work


def drop_to_feasible(problem: Problem, machine: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """``machine`` with floor tasks unassigned where their machine cannot meet them: per
    machine in deadline order, a floor task that the floors before it leave no room for is
    left out (as is one that no work can lift to its floor). O(n log n)."""
    out = machine.copy()
    out[~np.isfinite(floor)] = UNSCHEDULED
    u = usable_pairs(problem, floor)
    on = np.flatnonzero(out >= 0)
    out[on[u[on, out[on]] <= 0.0]] = UNSCHEDULED
    load = np.zeros(problem.m)
    for j in problem.order.tolist():
        r = int(out[j])
        if r < 0 or floor[j] <= 0.0:
            continue
        if load[r] + floor[j] > problem.machine_capacity(problem.deadline[j], r):
            out[j] = UNSCHEDULED
        else:
            load[r] += floor[j]
    return out

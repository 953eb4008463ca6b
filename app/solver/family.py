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

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from .kernel import Ramps, Stairs, ragged_searchsorted
from .problem import Models, Problem

_SATURATION = 746.0  # exp(-746) underflows to 0.0
#: a lookup table of models x distinct breakpoints up to this many cells is kept
_TABLE_CELLS = 1 << 16


@dataclass(frozen=True)
class BreakpointTable:
    """Where a work falls on every model's envelope, by one search among the distinct
    breakpoints of all models: a work in ``[levels[g - 1], levels[g])`` (``g`` from
    :func:`numpy.searchsorted`, side ``"right"``) lies on model ``k``'s segment that starts
    at breakpoint ``at[k * width + g]`` (an index into ``env_w``; its last breakpoint past
    the envelope's end), which is what a search in the model's own breakpoints finds.
    Column ``g = 0`` (a work below ``levels[0] = 0``) holds no breakpoint of the model and
    is never read: works are clipped at 0 first."""

    levels: np.ndarray
    at: np.ndarray
    width: int


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


def _hull(a_min: float, work: list[float], accuracy: list[float]) -> tuple[list[float], list[float]]:
    """The monotone chain of :func:`upper_envelope` on points sorted by work, the best
    accuracy first among equal works."""
    hull_w, hull_a = [0.0], [float(a_min)]
    for w, a in zip(work, accuracy, strict=True):
        if w == hull_w[-1] or a <= hull_a[-1]:
            continue  # same work as a kept point (which is at least as good), or no gain
        # drop the last point while it lies on or below the segment to the new point
        while len(hull_w) > 1 and (hull_a[-1] - hull_a[-2]) * (w - hull_w[-2]) <= (a - hull_a[-2]) * (hull_w[-1] - hull_w[-2]):
            hull_w.pop()
            hull_a.pop()
        hull_w.append(w)
        hull_a.append(a)
    return hull_w, hull_a


def upper_envelope(a_min: float, work: np.ndarray, accuracy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The upper concave envelope of ``(0, a_min)`` and the points ``(work, accuracy)``, up to
    its highest point: breakpoints ``(W, A)`` with ``W[0] = 0``, ``A[0] = a_min`` and slopes
    strictly decreasing and positive. Points below it (dominated, or beaten by a mix of two
    others) are never used by the relaxation. Monotone chain, O(k log k)."""
    order = np.lexsort((-accuracy, work))  # by work, the best accuracy first among equal works
    hull_w, hull_a = _hull(a_min, work[order].tolist(), accuracy[order].tolist())
    return np.array(hull_w), np.array(hull_a)


def upper_envelopes(models: Models) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`upper_envelope` of every model at once (one sort): breakpoints ``(W, A)`` in
    compressed rows, model ``k``'s ``start[k]:start[k + 1]``. O(C log C) for C
    configurations in all."""
    owner = np.repeat(np.arange(models.count), np.diff(models.start))
    order = np.lexsort((-models.accuracy, models.work, owner))
    work, accuracy = models.work[order].tolist(), models.accuracy[order].tolist()
    bounds = models.start.tolist()
    env_w: list[float] = []
    env_a: list[float] = []
    start = [0]
    for k, a_min in enumerate(models.a_min.tolist()):
        lo, hi = bounds[k], bounds[k + 1]
        w, a = _hull(a_min, work[lo:hi], accuracy[lo:hi])
        env_w += w
        env_a += a
        start.append(len(env_w))
    return np.array(env_w), np.array(env_a), np.array(start, dtype=np.intp)


class EnvelopeFamily:
    """Piecewise-linear concave accuracy: per task, its model's upper concave envelope of
    ``(0, a_min)`` and the model's configurations ``(work, accuracy)``
    (:func:`upper_envelope`), flat past the most accurate one.

    At price ``exp(x)`` a task takes every segment of its envelope whose slope exceeds the
    price: its work is a staircase, one step per segment (top ``ln(slope)``), one staircase
    per model shared by all its tasks (:class:`~app.solver.kernel.Stairs`): the kernel
    prices a task as one unit whose work is a lookup in its model's staircase, and finds
    each block's price among the steps' tops, exactly. Envelopes are computed once per
    model, O(k log k) for k configurations.

    ``model`` gives each task's model (an index into ``models``).
    """

    def __init__(self, models: Models, model: np.ndarray):
        self.model = np.asarray(model, dtype=np.intp)
        #: every model's envelope: breakpoints (W, A) in compressed rows from (0, a_min)
        self.env_w, self.env_a, self.env_start = upper_envelopes(models)
        # per model a staircase: its segments' log-slopes (decreasing) and the work at each
        # segment's end (none when no configuration beats a_min: the envelope is flat)
        seg = np.ones(self.env_w.shape[0], dtype=bool)
        seg[self.env_start[1:] - 1] = False  # a model's last breakpoint starts no segment
        seg = np.flatnonzero(seg)
        count = np.diff(self.env_start) - 1
        start = np.zeros(models.count + 1, dtype=np.intp)
        np.cumsum(count, out=start[1:])
        #: per breakpoint, the slope of the segment it starts (0 at a model's last breakpoint)
        self.env_slope = np.zeros(self.env_w.shape[0])
        self.env_slope[seg] = (self.env_a[seg + 1] - self.env_a[seg]) / (self.env_w[seg + 1] - self.env_w[seg])
        top = np.log(self.env_slope[seg])
        self.stairs = Stairs(top=top, start=start, end=self.env_w[seg + 1])
        #: per model, its highest step's top (-inf when flat)
        self._first_top = np.full(models.count, -np.inf)
        self._first_top[count > 0] = top[start[:-1][count > 0]]
        self.u = self.env_w[self.env_start[1:] - 1][self.model]  # the envelope's last work
        #: the fewest cells a :class:`BreakpointTable` could have (models times one more than
        #: the most breakpoints of one): a lookup of fewer works than that searches each
        #: work among its own model's breakpoints (:func:`ragged_searchsorted`)
        self._table_floor = models.count * (int(np.diff(self.env_start).max(initial=0)) + 1)

    def envelope(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Model ``k``'s envelope: breakpoints ``(work, accuracy)`` from ``(0, a_min)``."""
        rows = slice(self.env_start[k], self.env_start[k + 1])
        return self.env_w[rows], self.env_a[rows]

    def ramps(self) -> Ramps:
        n = self.model.shape[0]
        return Ramps(top=self._first_top[self.model], steep=np.zeros(n), u=self.u, stair=self.model,
                     stairs=self.stairs)

    @cached_property
    def _breakpoint_table(self) -> BreakpointTable | None:
        """:class:`BreakpointTable` of the envelopes, or None when models times distinct
        breakpoints exceed :data:`_TABLE_CELLS` (many models: one per task, say). Built once
        per family: O(K G + C log C) for K models, G distinct breakpoints, C in all."""
        count = self.env_start.shape[0] - 1
        if self._table_floor > _TABLE_CELLS:
            return None
        levels = np.unique(self.env_w)
        if count * (levels.shape[0] + 1) > _TABLE_CELLS:
            return None
        # a work in [levels[g - 1], levels[g]) lies after exactly the model's breakpoints at
        # or before levels[g - 1] (all of them are levels); none below levels[0]
        width = levels.shape[0] + 1
        owner = np.repeat(np.arange(count), np.diff(self.env_start))
        rank = np.searchsorted(levels, self.env_w)  # each breakpoint's level
        below = np.cumsum(np.bincount(owner * width + rank + 1, minlength=count * width).reshape(count, width), axis=1)
        at = np.minimum(self.env_start[:-1, None] + below - 1, self.env_start[1:, None] - 1)
        return BreakpointTable(levels=levels, at=at.ravel(), width=width)

    def _segment(self, work: np.ndarray, idx: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per task: its work (at least 0), the envelope breakpoint at or before it (an index
        into ``env_w``), and the slope of the segment that starts there (0 past the
        envelope's end). One binary search per task: among the distinct breakpoints of all
        models, then a lookup in :class:`BreakpointTable`, when models are few enough and
        the works many enough to pay for the table (built once): O(n log G) for G distinct
        breakpoints in all; otherwise in its model's breakpoints (:func:`ragged_searchsorted`:
        O(n log k) for models of at most k breakpoints, or a pass over the works per model
        when few models are asked)."""
        model = self.model if idx is None else self.model[idx]
        work = np.maximum(np.broadcast_to(np.asarray(work, dtype=np.float64), model.shape), 0.0)
        table = self._breakpoint_table if model.shape[0] >= self._table_floor else None
        if table is not None:
            at = table.at[model * table.width + np.searchsorted(table.levels, work, side="right")]
            return work, at, self.env_slope[at]
        at = ragged_searchsorted(self.env_w, self.env_start, model, work, side="right")
        last = self.env_start[model + 1] - 1
        at = np.minimum(self.env_start[model] + at - 1, last)
        return work, at, self.env_slope[at]

    def value(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        work, at, slope = self._segment(work, idx)
        return self.env_a[at] + slope * (work - self.env_w[at])

    def derivative(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """The right derivative (a supergradient): the slope of the segment that starts at or
        before ``work``, 0 past the envelope's end."""
        return self._segment(work, idx)[2]


class MixedFamily:
    """Curve tasks on :class:`ExponentialFamily` and model tasks on :class:`EnvelopeFamily`,
    in one relaxation: each task's ramps come from its own family."""

    def __init__(self, problem: Problem):
        self.is_model = problem.model >= 0
        self.curve_tasks = np.flatnonzero(~self.is_model)
        self.model_tasks = np.flatnonzero(self.is_model)
        c = self.curve_tasks
        self.curve = ExponentialFamily(problem.theta[c], problem.delta_a[c], problem.a_min[c], problem.t_max[c])
        self.envelope = EnvelopeFamily(problem.models, problem.model[self.model_tasks])
        #: each task's index inside its own family
        self.sub = np.empty(problem.n, dtype=np.intp)
        self.sub[c] = np.arange(c.shape[0])
        self.sub[self.model_tasks] = np.arange(self.model_tasks.shape[0])
        self.u = np.empty(problem.n)
        self.u[c] = self.curve.u
        self.u[self.model_tasks] = self.envelope.u

    def ramps(self) -> Ramps:
        env, curve = self.envelope.ramps(), self.curve.ramps()
        n = self.sub.shape[0]
        top, steep, u = np.empty(n), np.empty(n), np.empty(n)
        stair = np.full(n, -1, dtype=np.intp)
        c, mt = self.curve_tasks, self.model_tasks
        top[c], steep[c], u[c] = curve.top, curve.steep, curve.u
        top[mt], steep[mt], u[mt], stair[mt] = env.top, env.steep, env.u, env.stair
        return Ramps(top=top, steep=steep, u=u, stair=stair, stairs=env.stairs)

    def _split(self, work, idx, name: str) -> np.ndarray:
        tasks = np.arange(self.sub.shape[0]) if idx is None else np.asarray(idx)
        work = np.broadcast_to(np.asarray(work, dtype=np.float64), tasks.shape)
        out = np.empty(tasks.shape[0])
        is_model = self.is_model[tasks]
        for fam, sel in ((self.curve, ~is_model), (self.envelope, is_model)):
            if sel.any():
                out[sel] = getattr(fam, name)(work[sel], self.sub[tasks[sel]])
        return out

    def value(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        return self._split(work, idx, "value")

    def derivative(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        return self._split(work, idx, "derivative")


def family_of(problem: Problem) -> AccuracyFamily:
    """The accuracy family of a problem's tasks: exponential when every task is a curve task,
    the envelopes when every task runs a model, otherwise each task on its own
    (:class:`MixedFamily`)."""
    if problem.model is None or problem.n_model == 0:
        return ExponentialFamily.of(problem)
    if problem.n_model == problem.n:
        return EnvelopeFamily(problem.models, problem.model)
    return MixedFamily(problem)

"""The DSCT model as arrays: a :class:`Problem` in, a :class:`Solution` out.

The model (shared/papers/dsct-ccgrid2024.txt, section IV, generalised to busy machines):

Work units: a task's uncompressed size ``t_max`` is its processing time on a machine of
speed 1 (may be infinite: no cap). A machine of speed ``s`` that runs a task for
``duration`` does ``work = s * duration``. Accuracy is
``a(work) = a_min + (a_max - a_min) * (1 - exp(-theta * work))``. Each task runs on at most
one machine, in one piece, inside ``[available_at of its machine, its deadline]``; one task
at a time per machine; maximise the sum of accuracies. Machines may be busy until
``available_at`` (a generalisation of the paper, where all are free at 0). On one machine,
running its tasks in deadline order is optimal.

A task given no work scores ``a_min`` and counts as unscheduled (``machine == -1``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

__all__ = ["Problem", "Solution", "DomainError", "Models", "UNSCHEDULED"]

UNSCHEDULED = -1


class DomainError(ValueError):
    """Invalid problem data. ``field`` names the array, ``index`` the offending entry.

    ``kind`` is ``"invalid"`` for a value outside the model's domain and ``"overflow"`` for
    values valid one by one whose arithmetic overflows double precision.
    """

    def __init__(self, field: str, index: int | None, message: str, kind: str = "invalid"):
        self.field = field
        self.index = index
        self.message = message
        self.kind = kind
        where = field if index is None else f"{field}[{index}]"
        super().__init__(f"{where}: {message}")


def _array(name: str, values, length: int | None = None) -> np.ndarray:
    try:
        arr = np.array(values, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise DomainError(name, None, f"must be an array of numbers ({exc})") from None
    if arr.ndim != 1:
        raise DomainError(name, None, f"must be one-dimensional, got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise DomainError(name, None, f"must have length {length}, got {arr.shape[0]}")
    arr.setflags(write=False)
    return arr


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _require(name: str, arr: np.ndarray, bad: np.ndarray, message: str, kind: str = "invalid") -> None:
    if bad.any():
        raise DomainError(name, _first(bad), message, kind)


def _plausible(deadline, theta, a_min, a_max, t_max, speed, available_at) -> bool:
    """Whether every check of :func:`_diagnose` passes, from a few extremes and sums (about
    20 numpy calls instead of 45; the common case). Each check is monotone in the extreme
    taken here (all terms of the sums are positive), and a NaN makes a comparison False.
    False sends the problem to :func:`_diagnose`, which finds the first failing check."""
    _min, _max, _sum = np.minimum.reduce, np.maximum.reduce, np.add.reduce  # no dispatch layers
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        s_min, s_sum = float(_min(speed)), float(_sum(speed))
        a_lo, a_hi = float(_min(available_at)), float(_max(available_at))
        if not (s_min > 0.0 and math.isfinite(s_sum) and math.isfinite(1.0 / s_min)
                and a_lo >= 0.0 and math.isfinite(a_hi)):
            return False
        if deadline.shape[0] == 0:
            return True
        d_lo, d_hi = float(_min(deadline)), float(_max(deadline))
        spread = a_max - a_min
        if not (d_lo >= 0.0 and math.isfinite(d_hi * s_sum)
                and float(_min(theta)) > 0.0 and math.isfinite(float(_max(theta)))
                and float(_min(spread)) > 0.0 and math.isfinite(float(_max(spread)))
                and math.isfinite(float(_min(a_min))) and float(_min(t_max)) > 0.0):
            return False
        if not bool(np.isfinite(np.log(spread * theta) / theta).all()):
            return False
        return math.isfinite(float(_sum(np.where(available_at < d_hi, speed * available_at, 0.0))))


def _diagnose(deadline, theta, a_min, a_max, t_max, speed, available_at) -> None:
    """Raise :class:`DomainError` for the first failing check, in a fixed order."""
    n = deadline.shape[0]
    for name, arr in (("deadline", deadline), ("theta", theta), ("a_min", a_min),
                      ("a_max", a_max), ("speed", speed), ("available_at", available_at)):
        _require(name, arr, ~np.isfinite(arr), "must be a finite number")
    _require("t_max", t_max, np.isnan(t_max) | (t_max == -np.inf), "must be a number or inf")
    _require("deadline", deadline, deadline < 0, "must be >= 0")
    _require("theta", theta, theta <= 0, "must be > 0")
    _require("a_max", a_max, a_max <= a_min, "must be > a_min")
    _require("a_max", a_max, ~np.isfinite(a_max - a_min), "a_max - a_min overflows", "overflow")
    _require("t_max", t_max, t_max <= 0, "must be > 0")
    _require("speed", speed, speed <= 0, "must be > 0")
    _require("available_at", available_at, available_at < 0, "must be >= 0")
    # numbers that are valid one by one but make the arithmetic meaningless
    with np.errstate(over="ignore", divide="ignore"):
        _require("theta", theta, ~np.isfinite(np.log((a_max - a_min) * theta) / theta),
                 "too small: ln(theta (a_max - a_min)) / theta overflows", "overflow")
        _require("speed", speed, ~np.isfinite(np.cumsum(speed)),
                 "too large: the machines' speeds sum to more than double precision holds",
                 "overflow")
        _require("speed", speed, ~np.isfinite(1.0 / speed), "too small: 1/speed overflows",
                 "overflow")
        _require("deadline", deadline, ~np.isfinite(deadline * float(np.add.reduce(speed))),
                 "too large: deadline x the machines' total speed overflows", "overflow")
        if n:  # machines free before some deadline enter the capacity's prefix sums
            useful = available_at < np.max(deadline)
            sa = np.where(useful, speed * available_at, 0.0)
            _require("available_at", available_at, useful & ~np.isfinite(np.cumsum(sa)),
                     "too large: available_at x speed summed over machines overflows",
                     "overflow")


@dataclass(frozen=True, eq=False)
class Models:
    """Measured models: each a few concrete configurations instead of an accuracy curve.

    task_model  per task (length n), the index of its model, or -1 for a curve task
    first       per model k (length K + 1): its configurations are ``first[k]:first[k+1]``
                of the two arrays below (each model has at least one)
    work        per configuration: work units (seconds on a speed-1 machine), finite, > 0
    accuracy    per configuration: the accuracy it scores, in ``[a_min of its model, 1]``
    a_min       per model (length K): what a task of it scores given no time, in [0, 1]

    A model task runs exactly one configuration ``c`` of its model, for exactly
    ``work[c] / speed`` seconds, and scores exactly ``accuracy[c]``; given no time it
    scores ``a_min``. A configuration is named by its index into ``work`` (global over all
    models). Validated by :class:`Problem` (a :class:`DomainError` names ``models.<array>``).
    """

    task_model: np.ndarray
    first: np.ndarray
    work: np.ndarray
    accuracy: np.ndarray
    a_min: np.ndarray

    def __post_init__(self) -> None:
        for name in ("task_model", "first"):
            try:
                arr = np.array(getattr(self, name), dtype=np.int64, copy=True)
            except (TypeError, ValueError) as exc:
                raise DomainError(f"models.{name}", None, f"must be an array of integers ({exc})") from None
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        for name in ("work", "accuracy", "a_min"):
            object.__setattr__(self, name, _array(f"models.{name}", getattr(self, name)))
        k, first, c = self.a_min.shape[0], self.first, self.work.shape[0]
        if first.ndim != 1 or first.shape[0] != k + 1 or first[0] != 0 or first[-1] != c:
            raise DomainError("models.first", None, f"must run from 0 to {c} over {k + 1} entries")
        _require("models.first", first, np.diff(first) < 1, "every model needs at least one configuration")
        if self.accuracy.shape[0] != c:
            raise DomainError("models.accuracy", None, f"must have length {c}")
        _require("models.task_model", self.task_model, (self.task_model < -1) | (self.task_model >= k),
                 f"must be -1 or a model index below {k}")
        _require("models.a_min", self.a_min, ~((self.a_min >= 0.0) & (self.a_min <= 1.0)), "must be in [0, 1]")
        _require("models.work", self.work, ~((self.work > 0.0) & np.isfinite(self.work)), "must be finite and > 0")
        floor = np.repeat(self.a_min, np.diff(first))
        _require("models.accuracy", self.accuracy, ~((self.accuracy >= floor) & (self.accuracy <= 1.0)),
                 "must be in [a_min of its model, 1]")

    @property
    def k(self) -> int:
        return int(self.a_min.shape[0])

    @cached_property
    def model_of_config(self) -> np.ndarray:
        """The model of each configuration."""
        return np.repeat(np.arange(self.k), np.diff(self.first))

    @cached_property
    def largest_work(self) -> np.ndarray:
        """Per model, its largest configuration work (``compression`` is relative to it)."""
        return np.maximum.reduceat(self.work, self.first[:-1])

    @cached_property
    def best_accuracy(self) -> np.ndarray:
        """Per model, its highest configuration accuracy."""
        return np.maximum.reduceat(self.accuracy, self.first[:-1])

    def configs(self, model: int) -> range:
        """The configuration indices of ``model``."""
        return range(int(self.first[model]), int(self.first[model + 1]))

    def best_within(self, task_model: np.ndarray, budget: np.ndarray) -> np.ndarray:
        """Per task (model ``task_model >= 0``), the most accurate configuration whose work
        is at most ``budget`` (ties: the least work, then the lowest index); -1 where none
        fits or where the task has no model. O(total configurations of the tasks'
        models) through one sort of each model's configurations by work."""
        out = np.full(task_model.shape[0], -1, dtype=np.int64)
        for k in np.unique(task_model[task_model >= 0]).tolist():
            idx = np.flatnonzero(task_model == k)
            cs = np.arange(self.first[k], self.first[k + 1])
            by_work = cs[np.lexsort((cs, -self.accuracy[cs], self.work[cs]))]
            # running best (by accuracy, then least work) over configurations in work order
            acc = self.accuracy[by_work]
            best_pos = np.zeros(by_work.shape[0], dtype=np.int64)
            cur = 0
            for i in range(1, by_work.shape[0]):  # at most the model's configurations
                if acc[i] > acc[cur]:
                    cur = i
                best_pos[i] = cur
            pos = np.searchsorted(self.work[by_work], budget[idx], side="right") - 1
            ok = pos >= 0
            out[idx[ok]] = by_work[best_pos[pos[ok]]]
        return out


@dataclass(frozen=True, eq=False)
class Problem:
    """One DSCT instance: per-task arrays (length n) and per-machine arrays (length m).

    deadline      seconds from time zero, finite, >= 0
    theta         efficiency in 1/work-second, finite, > 0
    a_min, a_max  accuracy range, finite, a_max > a_min
    t_max         uncompressed size in work units, > 0, ``inf`` for no cap
    speed         work units per second, finite, > 0
    available_at  seconds from time zero when the machine becomes free, finite, >= 0

    Validated once on construction; a :class:`DomainError` names the field and index.
    Arrays are copied and made read-only.
    """

    deadline: np.ndarray
    theta: np.ndarray
    a_min: np.ndarray
    a_max: np.ndarray
    t_max: np.ndarray
    speed: np.ndarray
    available_at: np.ndarray
    models: Models | None = None
    order: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.models is not None:
            self._fill_model_tasks()
        deadline = _array("deadline", self.deadline)
        n = deadline.shape[0]
        theta = _array("theta", self.theta, n)
        a_min = _array("a_min", self.a_min, n)
        a_max = _array("a_max", self.a_max, n)
        t_max = _array("t_max", self.t_max, n)
        speed = _array("speed", self.speed)
        m = speed.shape[0]
        available_at = _array("available_at", self.available_at, m)
        if m < 1:
            raise DomainError("speed", None, "at least one machine is required")
        curve = None if self.models is None else np.flatnonzero(self.models.task_model < 0)
        if curve is not None and self.models.task_model.shape[0] != n:
            raise DomainError("models.task_model", None, f"must have length {n}")
        if curve is None or curve.shape[0] == n:
            if not _plausible(deadline, theta, a_min, a_max, t_max, speed, available_at):
                _diagnose(deadline, theta, a_min, a_max, t_max, speed, available_at)
        else:  # the curve's checks on curve tasks, the rest on every task with a neutral curve
            part = (deadline[curve], theta[curve], a_min[curve], a_max[curve], t_max[curve], speed, available_at)
            if curve.shape[0] and not _plausible(*part):
                try:
                    _diagnose(*part)
                except DomainError as exc:
                    index = None if exc.index is None or exc.field in ("speed", "available_at") \
                        else int(curve[exc.index])
                    raise DomainError(exc.field, index, exc.message, exc.kind) from None
            neutral = (deadline, np.ones(n), np.zeros(n), np.ones(n), np.ones(n), speed, available_at)
            if not _plausible(*neutral):
                _diagnose(*neutral)
        for name, arr in (("deadline", deadline), ("theta", theta), ("a_min", a_min),
                          ("a_max", a_max), ("t_max", t_max), ("speed", speed),
                          ("available_at", available_at)):
            object.__setattr__(self, name, arr)
        order = deadline.argsort(kind="stable")  # the method: no fromnumeric dispatch
        order.setflags(write=False)
        object.__setattr__(self, "order", order)

    def _fill_model_tasks(self) -> None:
        """A model task's curve fields, whatever the caller gave: ``a_min`` its model's,
        ``a_max`` its best accuracy, ``t_max`` its largest configuration work, and ``theta``
        NaN (it has no curve: code that reads one for a model task gets NaN, which the
        registry's finiteness check refuses, never a plausible wrong number)."""
        models = self.models
        tm = models.task_model
        on = tm >= 0
        if not on.any():
            return
        k = np.where(on, tm, 0)
        for name, values in (("theta", np.nan), ("a_min", models.a_min[k]), ("a_max", models.best_accuracy[k]),
                             ("t_max", models.largest_work[k])):
            arr = np.array(getattr(self, name), dtype=np.float64, copy=True)
            if arr.shape != tm.shape:
                raise DomainError(name, None, f"must have length {tm.shape[0]}")
            arr[on] = values if np.isscalar(values) else values[on]
            object.__setattr__(self, name, arr)

    @property
    def model_tasks(self) -> np.ndarray:
        """Indices of the tasks that run a measured model (empty when none)."""
        if self.models is None:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(self.models.task_model >= 0)

    @property
    def has_models(self) -> bool:
        """Whether some task runs a measured model (:class:`Models`)."""
        return self.models is not None and bool((self.models.task_model >= 0).any())

    @property
    def n(self) -> int:
        return int(self.deadline.shape[0])

    @property
    def m(self) -> int:
        return int(self.speed.shape[0])

    @property
    def delta_a(self) -> np.ndarray:
        """Accuracy range ``a_max - a_min`` per task."""
        return self.a_max - self.a_min

    def accuracy(self, work: np.ndarray) -> np.ndarray:
        """Accuracy of each task when it receives ``work`` units (``work`` clipped at >= 0)."""
        work = np.maximum(np.asarray(work, dtype=np.float64), 0.0)
        return self.a_min + self.delta_a * -np.expm1(-self.theta * work)

    def capacity(self, t: np.ndarray) -> np.ndarray:
        """Aggregate work all machines can do in ``[0, t]``: ``sum_r s_r max(0, t - available_at_r)``.

        O((n + m) log m) through sorted availability times and prefix sums. Written as
        ``D(a_k) + S_k (t - a_k)``, ``a_k`` the latest of the ``k`` machines free before ``t``
        and ``S_k`` their total speed: both terms are sums of non-negative numbers, so the
        capacity keeps its digits when ``t`` is close to a large ``available_at`` (the
        expanded ``S_k t - sum s_r a_r`` would cancel them).
        """
        t = np.asarray(t, dtype=np.float64)
        a, cs, at_a = self._capacity_table
        k = a.searchsorted(t, side="left")  # machines free strictly before t
        latest = a[np.maximum(k - 1, 0)]
        return np.where(k > 0, at_a[k] + cs[k] * np.maximum(t - latest, 0.0), 0.0)

    @cached_property
    def _capacity_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Availability times sorted; prefix sums of speed; and ``D(a_{k-1})`` per ``k``, the
        capacity of the first ``k`` machines when the ``k``-th becomes free."""
        idx = self.available_at.argsort(kind="stable")
        a = self.available_at[idx]
        s = self.speed[idx]
        cs = np.zeros(s.shape[0] + 1)
        at_a = np.zeros(s.shape[0] + 1)
        with np.errstate(over="ignore"):  # inf only past every deadline: never indexed
            np.cumsum(s, out=cs[1:])
            np.cumsum(cs[1:-1] * np.diff(a), out=at_a[2:])
        return a, cs, at_a

    def machine_capacity(self, t, machine=None) -> np.ndarray:
        """Work machine ``r`` can do in ``[0, t]``: ``s_r max(0, t - available_at_r)``.

        With ``machine`` (an index or array of indices broadcast against ``t``), one value per
        pair; without it, every machine: shape ``t.shape + (m,)``. O(size of the result).
        """
        t = np.asarray(t, dtype=np.float64)
        if machine is None:
            return self.speed * np.maximum(t[..., None] - self.available_at, 0.0)
        return self.speed[machine] * np.maximum(t - self.available_at[machine], 0.0)

    @cached_property
    def rank(self) -> np.ndarray:
        """Each task's position in deadline order (the inverse of ``order``). Read-only."""
        rank = np.empty(self.n, dtype=np.intp)
        rank[self.order] = np.arange(self.n)
        rank.setflags(write=False)
        return rank

    def guarantee(self) -> float | None:
        """Theorem 3's absolute guarantee ``G = m A (1 + ln(theta_max/theta_min) / e)``;
        None when some task runs a measured model (the theorem covers curves only)."""
        if self.has_models:
            return None
        if self.n == 0:
            return 0.0
        big_a = float(np.maximum.reduce(self.a_max - self.a_min))
        ratio = math.log(float(np.maximum.reduce(self.theta))) - math.log(float(np.minimum.reduce(self.theta)))
        return self.m * big_a * (1.0 + ratio / math.e)


@dataclass(frozen=True, eq=False)
class Solution:
    """A schedule: per-task arrays, in the problem's task order.

    machine   index of the machine that runs the task, -1 when unscheduled
    start     start time in seconds (0 when unscheduled)
    duration  seconds on that machine (0 when unscheduled)
    work      ``speed[machine] * duration`` work units (0 when unscheduled)
    accuracy  ``a(work)``
    total_accuracy  sum of ``accuracy``
    upper_bound     optimum of the fractional relaxation (no schedule can beat it)
    guarantee       Theorem 3's bound G on ``upper_bound - total_accuracy`` for dsct-approx
    algorithm       registry name that produced it
    status          "ok" for heuristics, "optimal" or "time_limit" for the exact solver
    reason          per task: "" when scheduled, otherwise a short machine-readable code
    proven_bound    a proven upper bound on the integral optimum, tighter than upper_bound
                    (the exact solver's; None for heuristics)
    config          per task, the configuration a model task runs (an index into
                    ``problem.models.work``), -1 for curve tasks and unscheduled ones;
                    None when the problem has no models
    """

    machine: np.ndarray
    start: np.ndarray
    duration: np.ndarray
    work: np.ndarray
    accuracy: np.ndarray
    total_accuracy: float
    upper_bound: float
    guarantee: float | None
    algorithm: str
    status: str = "ok"
    reason: tuple[str, ...] = ()
    proven_bound: float | None = None
    config: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("machine", "start", "duration", "work", "accuracy", "config"):
            arr = getattr(self, name)
            if arr is None:
                continue
            # a read-only array that owns its data is already what we keep (make_solution
            # hands over its fresh arrays so); anything else is copied and frozen
            if not (isinstance(arr, np.ndarray) and arr.flags.owndata and not arr.flags.writeable):
                arr = np.array(arr, copy=True)
                arr.setflags(write=False)
                object.__setattr__(self, name, arr)

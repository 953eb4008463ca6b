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

__all__ = ["Models", "Problem", "Solution", "DomainError", "UNSCHEDULED"]

UNSCHEDULED = -1
_EPS = float(np.finfo(np.float64).eps)
#: the most (task, machine) capacities :attr:`Problem.unreachable_floor` computes at once
_CAPACITY_BLOCK = 1_000_000


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


def _theorem_3(m: int, big_a, theta: np.ndarray):
    """``m A (1 + ln(theta_max / theta_min) / e)``, Theorem 3's guarantee, for ``A`` a number
    or an array (theta finite and > 0; none: the factor is ``m``). The one formula for the
    guarantee and for the checks that it does not overflow."""
    if theta.shape[0] == 0:
        return m * big_a
    ratio = math.log(float(np.maximum.reduce(theta))) - math.log(float(np.minimum.reduce(theta)))
    return m * big_a * (1.0 + ratio / math.e)


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
        if not math.isfinite(_theorem_3(speed.shape[0], float(_max(spread)), theta)):
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
        _require("a_max", a_max, ~np.isfinite(_theorem_3(speed.shape[0], a_max - a_min, theta)),
                 "too large: the guarantee, machines x (a_max - a_min) x "
                 "(1 + ln(theta_max / theta_min) / e), overflows", "overflow")
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
    """Measured models: each a few configurations ``(work, accuracy)``, one of which a task of
    that model runs. Configurations of model ``k`` are ``start[k]:start[k + 1]`` in ``work``
    and ``accuracy`` (compressed rows, in the caller's order, so a configuration's index
    names it).

    a_min     per model: what a task of it scores with no work, finite
    start     per model, offsets into the configuration arrays (length models + 1, from 0,
              every model with at least one configuration)
    work      per configuration: work units (seconds on a speed-1 machine), finite, > 0
    accuracy  per configuration: finite, >= its model's a_min
    """

    a_min: np.ndarray
    start: np.ndarray
    work: np.ndarray
    accuracy: np.ndarray

    def __post_init__(self) -> None:
        a_min = _array("models.a_min", self.a_min)
        try:
            start = np.array(self.start, dtype=np.intp, copy=True)
        except (TypeError, ValueError) as exc:
            raise DomainError("models.start", None, f"must be an array of integers ({exc})") from None
        work = _array("models.work", self.work)
        accuracy = _array("models.accuracy", self.accuracy, work.shape[0])
        k = a_min.shape[0]
        if start.shape != (k + 1,) or start[0] != 0 or start[-1] != work.shape[0]:
            raise DomainError("models.start", None,
                              f"must be {k + 1} offsets from 0 to {work.shape[0]}")
        _require("models.start", start, np.diff(start) < 1, "every model needs a configuration")
        _require("models.a_min", a_min, ~np.isfinite(a_min), "must be a finite number")
        _require("models.work", work, ~np.isfinite(work) | (work <= 0), "must be a finite number > 0")
        owner = np.repeat(np.arange(k), np.diff(start))
        _require("models.accuracy", accuracy, ~np.isfinite(accuracy) | (accuracy < a_min[owner]),
                 "must be a finite number >= its model's a_min")
        start.setflags(write=False)
        for name, arr in (("a_min", a_min), ("start", start), ("work", work), ("accuracy", accuracy)):
            object.__setattr__(self, name, arr)

    @property
    def count(self) -> int:
        return int(self.a_min.shape[0])

    def best(self) -> tuple[np.ndarray, np.ndarray]:
        """Per model: its best accuracy and its largest configuration work."""
        if self.work.shape[0] == 0:
            return np.zeros(0), np.zeros(0)
        return (np.maximum.reduceat(self.accuracy, self.start[:-1]),
                np.maximum.reduceat(self.work, self.start[:-1]))


@dataclass(frozen=True, eq=False)
class Problem:
    """One DSCT instance: per-task arrays (length n) and per-machine arrays (length m).

    deadline      seconds from time zero, finite, >= 0
    theta         efficiency in 1/work-second, finite, > 0
    a_min, a_max  accuracy range, finite, a_max > a_min
    t_max         uncompressed size in work units, > 0, ``inf`` for no cap
    speed         work units per second, finite, > 0
    available_at  seconds from time zero when the machine becomes free, finite, >= 0

    model         optional: per task, the index of its measured model in ``models``, or -1
                  for a curve task. A model task runs one of its model's configurations;
                  the relaxation gives it its model's upper concave envelope. Its curve
                  fields are filled here from the model (whatever was passed is ignored):
                  ``a_min`` the model's, ``a_max`` its best accuracy, ``t_max`` its largest
                  configuration work, ``theta`` NaN (no curve).
    models        the measured models (:class:`Models`), required with ``model``
    weight        optional: per task, its priority, finite, >= 0 (None: every weight 1). The
                  objective is ``sum weight * accuracy``; a task of weight 0 adds nothing
                  and is served only with time no other task can use
    min_accuracy  optional: per task, its accuracy floor, finite, or NaN for none (None:
                  no floors). A scheduled task scores at least its floor; one that cannot
                  is left unscheduled (reason ``below_min_accuracy``)

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
    model: np.ndarray | None = None
    models: Models | None = None
    weight: np.ndarray | None = None
    min_accuracy: np.ndarray | None = None
    order: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
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
        model = self._models(n)
        if model is None:
            if not _plausible(deadline, theta, a_min, a_max, t_max, speed, available_at):
                _diagnose(deadline, theta, a_min, a_max, t_max, speed, available_at)
        else:
            curve = np.flatnonzero(model < 0)
            task_arrays = (theta, a_min, a_max, t_max)
            c_theta, c_a_min, c_a_max, c_t_max = (arr[curve] for arr in task_arrays)
            try:
                if not _plausible(deadline[curve], c_theta, c_a_min, c_a_max, c_t_max, speed, available_at):
                    _diagnose(deadline[curve], c_theta, c_a_min, c_a_max, c_t_max, speed, available_at)
            except DomainError as exc:  # name the task in the whole problem, not the subset
                per_task = exc.index is not None and exc.field not in ("speed", "available_at")
                index = int(curve[exc.index]) if per_task else exc.index
                raise DomainError(exc.field, index, exc.message, exc.kind) from None
            ones = np.ones(n)  # every deadline, model tasks' too, under a neutral curve
            if not _plausible(deadline, ones, 0.0 * ones, ones, ones, speed, available_at):
                _diagnose(deadline, ones, 0.0 * ones, ones, ones, speed, available_at)
            of_model = model >= 0
            k = model[of_model]
            best, largest = self.models.best()
            theta, a_min, a_max, t_max = (arr.copy() for arr in task_arrays)
            theta[of_model] = np.nan
            a_min[of_model] = self.models.a_min[k]
            a_max[of_model] = best[k]
            t_max[of_model] = largest[k]
            for arr in (theta, a_min, a_max, t_max):
                arr.setflags(write=False)
            object.__setattr__(self, "model", model)
        for name, arr in (("deadline", deadline), ("theta", theta), ("a_min", a_min),
                          ("a_max", a_max), ("t_max", t_max), ("speed", speed),
                          ("available_at", available_at)):
            object.__setattr__(self, name, arr)
        self._priorities(n)
        order = deadline.argsort(kind="stable")  # the method: no fromnumeric dispatch
        order.setflags(write=False)
        object.__setattr__(self, "order", order)

    def _models(self, n: int) -> np.ndarray | None:
        """The validated ``model`` array, or None when every task is a curve task."""
        if self.model is None:
            if self.models is not None and not isinstance(self.models, Models):
                raise DomainError("models", None, "must be a Models")
            return None
        if not isinstance(self.models, Models):
            raise DomainError("models", None, "required when tasks name a model")
        try:
            model = np.array(self.model, dtype=np.intp, copy=True)
        except (TypeError, ValueError) as exc:
            raise DomainError("model", None, f"must be an array of integers ({exc})") from None
        if model.shape != (n,):
            raise DomainError("model", None, f"must have length {n}, got shape {model.shape}")
        _require("model", model, (model < -1) | (model >= self.models.count),
                 f"must be -1 (a curve task) or a model index below {self.models.count}")
        model.setflags(write=False)
        return model

    def _priorities(self, n: int) -> None:
        """Validate ``weight`` and ``min_accuracy`` (after the accuracies they scale)."""
        if self.weight is not None:
            weight = _array("weight", self.weight, n)
            _require("weight", weight, ~np.isfinite(weight) | (weight < 0), "must be a finite number >= 0")
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                scaled = weight * np.maximum(np.abs(self.a_min), np.abs(self.a_max))
                _require("weight", weight, ~np.isfinite(scaled) | ~np.isfinite(np.cumsum(scaled)),
                         "too large: weight x accuracy overflows", "overflow")
                # the weighted curve (range times the weight) must pass the theta check too
                ranged = weight * (self.a_max - self.a_min)
                curve = np.isfinite(self.theta) & (ranged > 0.0)  # model tasks' theta is NaN
                _require("weight", weight, curve & ~np.isfinite(np.log(ranged * self.theta) / self.theta),
                         "too large for this theta: ln(theta weight (a_max - a_min)) / theta overflows",
                         "overflow")
                theta = self.theta if self.model is None else self.theta[self.model < 0]
                _require("weight", weight, ~np.isfinite(_theorem_3(self.m, weight * (self.a_max - self.a_min), theta)),
                         "too large: the guarantee, machines x weight x (a_max - a_min) x "
                         "(1 + ln(theta_max / theta_min) / e), overflows", "overflow")
            object.__setattr__(self, "weight", weight)
        if self.min_accuracy is not None:
            floor = _array("min_accuracy", self.min_accuracy, n)
            _require("min_accuracy", floor, np.isinf(floor), "must be a finite number (NaN: no floor)")
            object.__setattr__(self, "min_accuracy", floor)

    @property
    def n(self) -> int:
        return int(self.deadline.shape[0])

    @property
    def weights(self) -> np.ndarray:
        """Per task, its weight (1 when none was given)."""
        return np.ones(self.n) if self.weight is None else self.weight

    @cached_property
    def has_floors(self) -> bool:
        """Whether any task has an accuracy floor."""
        return self.min_accuracy is not None and bool(np.isfinite(self.min_accuracy).any())

    @cached_property
    def weighted(self) -> bool:
        """Whether some weight differs from 1 (the objective is then not the plain sum)."""
        return self.weight is not None and bool((self.weight != 1.0).any())

    @property
    def prioritised(self) -> bool:
        """Whether weights or floors change the problem from the paper's plain sum."""
        return self.weighted or self.has_floors

    @cached_property
    def floor_work(self) -> np.ndarray:
        """Per task, the least work that meets its floor: 0 without a floor (or one at or
        below ``a_min``), ``inf`` when no work can (a floor at or above what the curve ever
        reaches within ``t_max``, or above every configuration of the task's model).
        Rounded up a few ulps, so that the accuracy computed at this work is not below the
        floor. O(n + configurations). Read-only."""
        out = np.zeros(self.n)
        if self.has_floors:
            floor = self.min_accuracy
            has = np.isfinite(floor) & (floor > self.a_min)
            curve = has if self.model is None else has & (self.model < 0)
            c = np.flatnonzero(curve)
            frac = (floor[c] - self.a_min[c]) / (self.a_max[c] - self.a_min[c])
            with np.errstate(divide="ignore", invalid="ignore"):
                w = -np.log1p(-np.minimum(frac, 1.0)) / self.theta[c]
            w = w * (1.0 + 8 * _EPS)
            w[(frac >= 1.0) | (w > self.t_max[c])] = np.inf
            out[c] = w
            if self.model is not None:
                for j in np.flatnonzero(has & (self.model >= 0)).tolist():
                    k = int(self.model[j])
                    cfg = slice(self.models.start[k], self.models.start[k + 1])
                    ok = self.models.accuracy[cfg] >= floor[j]
                    out[j] = float(self.models.work[cfg][ok].min()) if ok.any() else np.inf
        out.setflags(write=False)
        return out

    @cached_property
    def unreachable_floor(self) -> np.ndarray:
        """Per task, whether its floor can never be met: :attr:`floor_work` is infinite or
        more than any one machine can do before the task's deadline. O(n m) in min(n, m)
        numpy passes (a few thousand machines cost no Python loop per machine). Read-only."""
        out = np.zeros(self.n, dtype=bool)
        if self.has_floors:
            need = np.flatnonzero(self.floor_work > 0.0)
            best = np.zeros(need.shape[0])
            deadline = self.deadline[need]
            if self.m <= need.shape[0]:  # few machines: one pass over the tasks per machine
                for r in range(self.m):
                    best = np.maximum(best, self.machine_capacity(deadline, r))
            else:  # few tasks: blocks of (task, machine) pairs, of bounded memory
                rows = max(1, _CAPACITY_BLOCK // self.m)
                for lo in range(0, need.shape[0], rows):
                    best[lo:lo + rows] = self.machine_capacity(deadline[lo:lo + rows]).max(axis=1)
            out[need] = self.floor_work[need] > best
        out.setflags(write=False)
        return out

    @cached_property
    def family(self):
        """The accuracy family of the tasks (:func:`app.solver.family.family_of`), built once:
        a model's envelope is computed once per problem."""
        from .family import family_of  # the families build on Problem

        return family_of(self)

    @property
    def n_model(self) -> int:
        """How many tasks run a measured model."""
        return 0 if self.model is None else int(np.count_nonzero(self.model >= 0))

    @property
    def m(self) -> int:
        return int(self.speed.shape[0])

    @property
    def delta_a(self) -> np.ndarray:
        """Accuracy range ``a_max - a_min`` per task."""
        return self.a_max - self.a_min

    def accuracy(self, work: np.ndarray) -> np.ndarray:
        """Accuracy of each task when it receives ``work`` units (``work`` clipped at >= 0);
        a model task's on its model's upper concave envelope."""
        work = np.maximum(np.asarray(work, dtype=np.float64), 0.0)
        if self.n_model:
            return self.family.value(work)
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

    def guarantee(self) -> float:
        """Theorem 3's absolute guarantee ``G = m A (1 + ln(theta_max/theta_min) / e)``, ``A``
        the largest weighted range ``weight (a_max - a_min)``; NaN where the theorem does not
        apply (model tasks, floors)."""
        if self.n == 0:
            return 0.0
        if self.n_model or self.has_floors:
            return math.nan  # Theorem 3 covers the exponential curve only, without floors
        return _theorem_3(self.m, float(np.maximum.reduce(self.weights * (self.a_max - self.a_min))), self.theta)


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
    guarantee       Theorem 3's bound G on ``upper_bound - total_accuracy``, for the algorithms
                    never worse than dsct-approx (registered ``guaranteed``); None for the others
    algorithm       registry name that produced it
    status          "ok" for heuristics, "optimal" or "time_limit" for the exact solver
    reason          per task: "" when scheduled, otherwise a short machine-readable code
    proven_bound    a proven upper bound on the integral optimum, tighter than upper_bound
                    (the exact solver's; None for heuristics)
    config          per task, the configuration a model task runs (an index into
                    ``problem.models.work``), -1 for curve tasks and unscheduled ones;
                    None when no task runs a model
    weighted_accuracy  the objective, ``sum weight * accuracy`` (None on construction:
                    ``total_accuracy``, the objective when every weight is 1); ``upper_bound``,
                    ``guarantee`` and ``proven_bound`` refer to it
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
    weighted_accuracy: float | None = None

    def __post_init__(self) -> None:
        if self.weighted_accuracy is None:
            object.__setattr__(self, "weighted_accuracy", self.total_accuracy)
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

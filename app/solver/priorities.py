"""Priorities and accuracy floors on top of any algorithm: weights, admission, zero weights.

The paper maximises the plain sum of accuracies. A caller may also give each task a
``weight`` (the objective becomes ``sum weight * accuracy``) and a ``min_accuracy`` (a
scheduled task scores at least this; one that cannot is unscheduled with reason
``below_min_accuracy``). Every algorithm gets both through this module, in four steps:

1. **Screening.** A floor that no work can reach (above ``a_max``, above every
   configuration of the task's model, or more work than any one machine can do before the
   deadline: :attr:`~app.solver.problem.Problem.unreachable_floor`) is answered
   ``below_min_accuracy`` at once; no solve is spent on it.
2. **Weights by scaling.** ``weight * a(w)`` is again an accuracy curve of the same family
   (``a_min``, ``a_max`` and a model's accuracies times the weight; ``theta`` unchanged), so
   the algorithm solves a scaled copy of the problem and its objective *is* the weighted
   one: the relaxation stays exact and O(n log n), DSCT-APPROX's G uses the weighted ranges,
   and ``exact`` proves optimality for the weighted sum. The answer reports each task's own
   (unweighted) accuracy. The weights are first divided by a power of two near the largest
   (:func:`_unit`, exact in floating point), so the schedule does not depend on their unit.
3. **Floors.** A model task's floor is exact by construction: it is offered only the
   configurations at or above its floor (or nothing). A curve task's floor is semi-continuous
   (no work, or at least the floor's work). Algorithms that handle it natively (``exact``,
   registered with ``floors=True``) get it as is. For the others, admission is decided by a
   Lagrangian price on the floor (:func:`_admit`): a task scheduled below its floor has its
   weight raised by the factor that would lift it to its floor at the price it saw, and the
   problem is solved again; when raising stops paying (:data:`PATIENCE` rounds in a row
   without a better feasible schedule), the violator whose floor buys the least objective per
   unit of work is dropped (the lowest quarter of them when there are many) and its time goes
   to the others. Every round's schedule is made feasible by unscheduling whoever is still
   below its floor, and the best feasible schedule (real weights) is the answer. The rounds
   run first on the fractional relaxation (cheap: up to :data:`MAX_ROUNDS`), then on the
   algorithm itself from the prices found (:data:`INTEGRAL_ROUNDS`), and on batches up to
   :data:`FRESH_START` tasks also from scratch (:data:`MAX_ROUNDS`). On batches up to
   :data:`SMALL_BATCH` tasks, a last pass tries to take back each dropped floor task (a few
   raising rounds, :data:`ADD_ROUNDS`), then to drop each admitted one in turn, and keeps
   what raises the objective; finally the raised weights are brought back toward the
   callers' while that pays (``_TIGHTEN_STEPS``). The default algorithm also runs the
   admission with each algorithm of its portfolio (``dsct-refined``, ``dsct-approx``,
   ``edf-nocompression``, ``edf-3levels``; up to :data:`PORTFOLIO_TASKS` tasks and
   :data:`PORTFOLIO_PAIRS` task x machine pairs) and keeps the best, so with floors it stays
   never below them there.
   Complexity: a bounded number of solves. Per algorithm run: ``INTEGRAL_ROUNDS +
   _TIGHTEN_STEPS`` solves, plus ``MAX_ROUNDS`` up to ``FRESH_START`` tasks, plus
   ``ADD_ROUNDS`` per dropped and one per admitted floor task up to ``SMALL_BATCH`` tasks;
   and ``MAX_ROUNDS`` relaxations once. Measured costs are in docs/robustness.md.
4. **Zero weights.** A task of weight 0 adds nothing to the objective: it is left out of the
   solve and then served only with time nobody else uses (:func:`_fill_leftover`: at its
   deadline-order place on the machine where it gains the most, pushing later tasks only
   into their own slack). O(n + m) per such task, the whole fill within :data:`FILL_WORK`.

``upper_bound`` is the fractional relaxation of the scaled problem with the real weights,
the unreachable tasks left out and model configurations filtered by their floors, plus what
the tasks left out of the solve score (``weight * a_min`` for an unreachable floor, at most
``weight * a_max`` for a negligible weight): a bound on every schedule that respects the
floors. ``exact``'s proven bound is completed the same way. ``guarantee`` is G with the weighted ranges, and
none when any task has a floor (Theorem 3 does not cover them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .fractional import fractional_relaxation
from .problem import UNSCHEDULED, DomainError, Models, Problem, Solution
from .schedule import (
    BELOW_MIN_ACCURACY,
    COMPRESSED_TO_ZERO,
    DEADLINE_BEFORE_AVAILABLE,
    SCHEDULED,
    make_solution,
)

__all__ = ["ADD_ROUNDS", "FILL_WORK", "INTEGRAL_ROUNDS", "MAX_ROUNDS", "PATIENCE", "solve_prioritised"]

#: the most relaxations the admission's first phase spends (raising rounds and drops together)
MAX_ROUNDS = 24
#: the most solves of the algorithm itself the second phase spends, from the first's prices
INTEGRAL_ROUNDS = 6
#: the admission's last pass (try dropping each admitted floor task) runs up to this many tasks
SMALL_BATCH = 40
#: up to this many tasks, the admission also starts from scratch (not only from the relaxation's)
FRESH_START = 200
#: the admission also runs the algorithm's portfolio (:data:`app.solver.registry.PORTFOLIO`)
#: up to this many tasks and task x machine pairs (the EDF baselines are O(n m) a solve)
PORTFOLIO_TASKS = 5_000
PORTFOLIO_PAIRS = 1_000_000
#: the zero-weight fill stops after this much work: each machine examined for a task costs
#: its chain's length plus :data:`_SLOT_COST` (the fixed cost of a look, in task positions)
FILL_WORK = 1_000_000
_SLOT_COST = 64
#: raising rounds in a row without a better feasible schedule before a violator is dropped
PATIENCE = 2
#: on small batches, the solves spent to take back each dropped floor task
ADD_ROUNDS = 3
#: a raised weight is at most this many times the task's own
_MAX_RAISE = 1e6
#: the most solves spent bringing raised weights back down
_TIGHTEN_STEPS = 4


@dataclass(frozen=True, eq=False)
class _Scaled:
    """A problem an algorithm solves: the kept tasks, their accuracies times their weights.

    problem        the scaled problem (its plain objective is the weighted one)
    tasks          per task of ``problem``, its index in the caller's problem
    config_origin  per configuration of ``problem.models``, its index in the caller's models
    """

    problem: Problem
    tasks: np.ndarray
    config_origin: np.ndarray | None


@dataclass(eq=False)
class _Schedule:
    """A schedule of the caller's problem as mutable per-task arrays (unscheduled: -1, 0)."""

    machine: np.ndarray
    start: np.ndarray
    duration: np.ndarray
    work: np.ndarray
    config: np.ndarray
    reason: np.ndarray

    @classmethod
    def empty(cls, n: int, reason: str = COMPRESSED_TO_ZERO) -> _Schedule:
        return cls(np.full(n, UNSCHEDULED, dtype=np.int64), np.zeros(n), np.zeros(n), np.zeros(n),
                   np.full(n, -1, dtype=np.int64), np.full(n, reason, dtype=object))

    def copy(self) -> _Schedule:
        return _Schedule(*(a.copy() for a in (self.machine, self.start, self.duration, self.work,
                                               self.config, self.reason)))

    def drop(self, tasks: np.ndarray, reason: str) -> None:
        self.machine[tasks] = UNSCHEDULED
        self.start[tasks] = self.duration[tasks] = self.work[tasks] = 0.0
        self.config[tasks] = -1
        self.reason[tasks] = reason


def _scaled(problem: Problem, tasks: np.ndarray, weight: np.ndarray, native_floors: bool) -> _Scaled:
    """The problem over ``tasks`` (caller's indices) with accuracies times ``weight`` (one per
    kept task, > 0). A model task is offered only its model's configurations at or above its
    floor; a curve task's floor is kept (times its weight) when ``native_floors``. O(n +
    configurations)."""
    p = problem
    floor = p.min_accuracy[tasks] if p.min_accuracy is not None else np.full(tasks.shape[0], np.nan)
    model = None if p.model is None else p.model[tasks]
    is_model = np.zeros(tasks.shape[0], dtype=bool) if model is None else model >= 0
    a_min, a_max = p.a_min[tasks] * weight, p.a_max[tasks] * weight
    with np.errstate(invalid="ignore"):
        keep_floor = native_floors & ~is_model & np.isfinite(floor) & (floor > p.a_min[tasks])
    sub_floor = np.where(keep_floor, floor * weight, np.nan)
    models, sub_model, origin = None, None, None
    if is_model.any():
        models, sub_model, origin = _scaled_models(p, tasks, model, weight, floor)
    try:
        scaled = Problem(
            deadline=p.deadline[tasks], theta=np.where(is_model, 1.0, p.theta[tasks]),
            a_min=a_min, a_max=np.where(is_model, a_min + 1.0, a_max),
            t_max=np.where(is_model, 1.0, p.t_max[tasks]), speed=p.speed, available_at=p.available_at,
            model=sub_model, models=models,
            min_accuracy=sub_floor if keep_floor.any() else None,
        )
    except DomainError as exc:
        raise DomainError("weight", None if exc.index is None else int(tasks[exc.index]),
                          f"scaling the accuracies by the weights fails: {exc.message}", "overflow") from None
    return _Scaled(scaled, tasks, origin)


def _scaled_models(p: Problem, tasks: np.ndarray, model: np.ndarray, weight: np.ndarray, floor: np.ndarray):
    """One scaled model per distinct (model, weight, floor) among the kept model tasks."""
    models = p.models
    keys: dict[tuple[int, float, float], int] = {}
    a_min, start, work, acc, origin = [], [0], [], [], []
    sub_model = np.full(tasks.shape[0], -1, dtype=np.intp)
    for i in np.flatnonzero(model >= 0).tolist():
        k, w = int(model[i]), float(weight[i])
        f = float(floor[i]) if math.isfinite(floor[i]) and floor[i] > models.a_min[k] else -math.inf
        key = (k, w, f)
        if key not in keys:
            keys[key] = len(a_min)
            cfg = np.arange(models.start[k], models.start[k + 1])
            cfg = cfg[models.accuracy[cfg] >= f]
            a_min.append(models.a_min[k] * w)
            work.append(models.work[cfg])
            acc.append(models.accuracy[cfg] * w)
            origin.append(cfg)
            start.append(start[-1] + cfg.shape[0])
        sub_model[i] = keys[key]
    scaled = Models(a_min=np.array(a_min), start=np.array(start), work=np.concatenate(work),
                    accuracy=np.concatenate(acc))
    return scaled, sub_model, np.concatenate(origin)


def _lift(problem: Problem, scaled: _Scaled, sol: Solution, into: _Schedule) -> None:
    """Copy ``sol`` (a schedule of ``scaled.problem``) into the caller's tasks."""
    t = scaled.tasks
    into.machine[t] = sol.machine
    into.start[t] = sol.start
    into.duration[t] = sol.duration
    into.work[t] = sol.work
    if sol.config is not None and scaled.config_origin is not None:
        into.config[t] = np.where(sol.config >= 0, scaled.config_origin[np.maximum(sol.config, 0)], -1)
    into.reason[t] = np.array([r or SCHEDULED for r in sol.reason] if sol.reason else [SCHEDULED] * t.shape[0],
                              dtype=object)


def _accuracy(problem: Problem, s: _Schedule) -> np.ndarray:
    """Each task's own accuracy under ``s``: a model task's from its configuration, or, with
    work but none named (the admission's first phase, on the relaxation), its envelope's."""
    acc = problem.accuracy(s.work)
    if problem.n_model:
        on = problem.model >= 0
        named = on & (s.config >= 0)
        acc[named] = problem.models.accuracy[s.config[named]]
        idle = on & (s.config < 0) & ~(s.work > 0.0)
        acc[idle] = problem.models.a_min[problem.model[idle]]
    return acc


def _below_floor(problem: Problem, s: _Schedule) -> np.ndarray:
    """The scheduled curve tasks whose accuracy is under their floor (a model task is only
    ever offered the configurations at or above its floor: it cannot be below it)."""
    if not problem.has_floors:
        return np.zeros(0, dtype=np.intp)
    acc = _accuracy(problem, s)
    with np.errstate(invalid="ignore"):
        below = (s.machine >= 0) & np.isfinite(problem.min_accuracy) & (acc < problem.min_accuracy)
    if problem.model is not None:
        below &= problem.model < 0
    return np.flatnonzero(below)


def _objective(problem: Problem, s: _Schedule) -> float:
    return float(np.dot(problem.weights, _accuracy(problem, s)))


@dataclass(eq=False)
class _Admission:
    """The admission search's state: per task a weight multiplier, the floor tasks dropped,
    and the best feasible schedule so far."""

    multiplier: np.ndarray
    dropped: np.ndarray
    best: _Schedule | None = None
    best_value: float = -math.inf
    best_multiplier: np.ndarray | None = None
    best_dropped: np.ndarray | None = None
    solves: int = 0


def solve_prioritised(problem: Problem, name: str, fn: Callable[..., Solution], options: dict,
                      native_floors: bool, portfolio: Sequence[Callable[..., Solution]] = ()) -> Solution:
    """Solve ``problem`` (with weights or floors) with algorithm ``fn`` (registered as
    ``name``): see the module's docstring for the method. With curve floors admitted here,
    the admission also runs with each algorithm of ``portfolio`` (no options) and the best
    schedule wins, ties to ``fn``'s."""
    p = problem
    out = p.unreachable_floor.copy()
    unit = _unit(p.weights[~out])
    weight = p.weights / unit  # exact: a power of two (the solve does not depend on the unit)
    # weight 0, or too small to count beside the largest (its range underflows)
    zero = ~out & ~(weight * (p.a_max - p.a_min) > 0.0)
    kept = np.flatnonzero(~out & ~zero)
    bound_problem = _scaled(p, kept, weight[kept], native_floors=False)
    # the tasks left out of the solve still score: an unreachable floor's task its a_min (it
    # is never scheduled), a task of negligible weight at most its a_max (0 at weight 0)
    left_out = float(np.dot(p.weights[out], p.a_min[out])) + float(np.dot(p.weights[zero], p.a_max[zero]))
    relaxed: float | None = None  # the relaxation of bound_problem, from the solve when it is that one
    status, proven = "ok", None
    curve_floors = p.has_floors and bool((p.floor_work[kept] > 0.0).any()) and (
        p.model is None or bool(((p.floor_work[kept] > 0.0) & (p.model[kept] < 0)).any()))
    if native_floors or not curve_floors:
        s = _Schedule.empty(p.n)
        # solved even when no task is kept (exact then proves the empty problem optimal);
        # its proven bound, like upper_bound, counts the tasks left out of the solve
        scaled = bound_problem if not native_floors else _scaled(p, kept, weight[kept], True)
        sol = fn(scaled.problem, **options)
        _lift(p, scaled, sol, s)
        if scaled is bound_problem:  # every algorithm reports the relaxation of what it solved
            relaxed = sol.upper_bound
        status = sol.status
        proven = None if sol.proven_bound is None else left_out + sol.proven_bound * unit
        below = _below_floor(p, s)
        if below.shape[0]:  # a bug in the algorithm, never a silently missed floor
            raise AssertionError(f"{name} scheduled task {int(below[0])} below its min_accuracy")
    else:
        affordable = kept.shape[0] <= PORTFOLIO_TASKS and kept.shape[0] * p.m <= PORTFOLIO_PAIRS
        s = _admissions(p, kept, weight, [(fn, options)] + [(other, {}) for other in portfolio if affordable])
    s.drop(np.flatnonzero(out), BELOW_MIN_ACCURACY)
    _fill_leftover(p, s, np.flatnonzero(zero))
    if relaxed is None:
        relaxed = fractional_relaxation(bound_problem.problem).upper_bound if kept.shape[0] else 0.0
    return _finish(p, s, left_out + relaxed * unit, name, status, proven)


def _unit(weight: np.ndarray) -> float:
    """The smallest power of two at or above the largest weight (1 when none is positive; at
    most 2**1023): the solve sees weights in (0.5, 1] (below 2 past 2**1023), the same
    whatever unit the caller gives them in (dividing by a power of two is exact), and the
    caller's own accuracies when the largest weight is 1."""
    top = float(np.max(weight, initial=0.0))
    if not top > 0.0:
        return 1.0
    mantissa, exponent = math.frexp(top)  # top = mantissa 2**exponent, mantissa in [0.5, 1)
    return math.ldexp(1.0, min(exponent - 1 if mantissa == 0.5 else exponent, 1023))


def _solve_round(p: Problem, kept: np.ndarray, weight: np.ndarray, state: _Admission,
                 fn: Callable[..., Solution], options: dict) -> _Schedule:
    """One solve with the current multipliers and drops, made feasible and recorded."""
    s = _Schedule.empty(p.n)
    tasks = kept[~state.dropped[kept]]
    if tasks.shape[0]:
        scaled = _scaled(p, tasks, weight[tasks] * state.multiplier[tasks], native_floors=False)
        _lift(p, scaled, fn(scaled.problem, **options), s)
    state.solves += 1
    feasible = s.copy()
    feasible.drop(_below_floor(p, s), BELOW_MIN_ACCURACY)
    feasible.drop(np.flatnonzero(state.dropped), BELOW_MIN_ACCURACY)
    value = _objective(p, feasible)
    if value > state.best_value:
        state.best, state.best_value = feasible, value
        state.best_multiplier, state.best_dropped = state.multiplier.copy(), state.dropped.copy()
    return s


def _admissions(p: Problem, kept: np.ndarray, weight: np.ndarray,
                runs: list[tuple[Callable[..., Solution], dict]]) -> _Schedule:
    """The best admission over ``runs`` (algorithm, options), each started from the
    relaxation's admission and, on batches up to :data:`FRESH_START` tasks, also from scratch
    (the relaxation's drops can be too many there); ties to the first."""
    relaxed = _admit(p, kept, weight, _relaxed_solver, {}, start=None, rounds=MAX_ROUNDS)
    starts: list[tuple[_Admission | None, int]] = [(relaxed, INTEGRAL_ROUNDS)]
    if kept.shape[0] <= FRESH_START:
        starts.append((None, MAX_ROUNDS))
    best, best_value = None, -math.inf
    for fn, options in runs:
        for start, rounds in starts:
            state = _admit(p, kept, weight, fn, options, start=start, rounds=rounds)
            if state.best_value > best_value:
                best, best_value = state.best, state.best_value
    return best


def _relaxed_solver(problem: Problem) -> Solution:
    """The fractional relaxation as a "schedule" (every task on machine 0, no times): what
    the admission's first phase iterates on, at the cost of one relaxation a round."""
    frac = fractional_relaxation(problem)
    n = problem.n
    work = frac.work
    machine = np.where(work > 0.0, 0, UNSCHEDULED)
    return Solution(machine=machine, start=np.zeros(n), duration=np.zeros(n), work=work,
                    accuracy=np.zeros(n), total_accuracy=0.0, upper_bound=frac.upper_bound,
                    guarantee=None, algorithm="relaxation", reason=("",) * n)


def _admit(p: Problem, kept: np.ndarray, weight: np.ndarray, fn: Callable[..., Solution],
           options: dict, start: _Admission | None = None, rounds: int = MAX_ROUNDS) -> _Admission:
    """Admission of curve floors by a Lagrangian price (module docstring, step 3), from the
    multipliers and drops of ``start`` (fresh ones when None): at most ``rounds`` solves; on
    small batches then :data:`ADD_ROUNDS` per dropped floor task (taken back) and one per
    admitted one (dropped); then at most :data:`_TIGHTEN_STEPS` bringing raises down."""
    state = _Admission(multiplier=np.ones(p.n), dropped=np.zeros(p.n, dtype=bool))
    if start is not None:
        state.multiplier, state.dropped = start.best_multiplier.copy(), start.best_dropped.copy()
    last, stalled = -math.inf, 0
    while state.solves < rounds:
        s = _solve_round(p, kept, weight, state, fn, options)
        below = _below_floor(p, s)
        if not below.shape[0]:
            break
        raised = _raise(p, s, below, state)
        stalled = stalled + 1 if state.best_value <= last else 0
        if stalled >= PATIENCE or not raised:
            state.dropped[_least_valuable(p, below, weight)] = True
            stalled = 0
        last = max(last, state.best_value)
    if kept.shape[0] <= SMALL_BATCH:
        _try_adds(p, kept, weight, state, fn, options)
        _try_drops(p, kept, weight, state, fn, options)
    _tighten(p, kept, weight, state, fn, options)
    return state


def _tighten(p: Problem, kept: np.ndarray, weight: np.ndarray, state: _Admission,
             fn: Callable[..., Solution], options: dict) -> None:
    """Bring the raised multipliers back toward 1 (square roots, all together) while that
    pays: a raise overshoots, and a task lifted past its floor takes time others value more."""
    state.multiplier, state.dropped = state.best_multiplier.copy(), state.best_dropped.copy()
    for _ in range(_TIGHTEN_STEPS):
        raised = np.flatnonzero(state.multiplier > 1.0)
        if not raised.shape[0]:
            return
        before, old = state.best_value, state.multiplier.copy()
        state.multiplier[raised] = np.sqrt(state.multiplier[raised])
        _solve_round(p, kept, weight, state, fn, options)
        if state.best_value <= before:
            state.multiplier = old
            return


def _try_adds(p: Problem, kept: np.ndarray, weight: np.ndarray, state: _Admission,
              fn: Callable[..., Solution], options: dict) -> None:
    """On a small batch: for each floor task the rounds dropped, take it back and raise the
    violators for up to :data:`ADD_ROUNDS` solves; keep it when a better feasible schedule
    comes out (a drop decided early, while the prices still moved, is often wrong)."""
    for j in np.flatnonzero(state.dropped).tolist():
        before = state.best_value
        saved = state.multiplier.copy()
        state.dropped[j] = False
        for _ in range(ADD_ROUNDS):
            s = _solve_round(p, kept, weight, state, fn, options)
            below = _below_floor(p, s)
            if not below.shape[0] or not _raise(p, s, below, state):
                break
        if state.best_value <= before:
            state.dropped[j] = True
            state.multiplier[:] = saved


def _raise(p: Problem, s: _Schedule, below: np.ndarray, state: _Admission) -> bool:
    """Multiply each violator's weight by the factor that lifts its work to its floor at the
    price it saw (``exp(theta (floor_work - work))`` on the exponential curve), a little more
    since the price rises as others give way. False when every violator is at the cap."""
    gap = np.maximum(p.floor_work[below] - s.work[below], 0.0)
    with np.errstate(over="ignore"):
        factor = np.clip(np.exp(p.theta[below] * gap) * 1.25, 1.5, None)
    new = np.minimum(state.multiplier[below] * factor, _MAX_RAISE)
    moved = new > state.multiplier[below]
    state.multiplier[below] = new
    return bool(moved.any())


def _least_valuable(p: Problem, below: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The violators whose floors buy the least weighted accuracy per unit of work: one when
    there are few, the lowest quarter when there are many (a round per drop would not do)."""
    f = p.floor_work[below]
    density = weight[below] * (p.min_accuracy[below] - p.a_min[below]) / f
    order = below[np.lexsort((below, density))]
    return order[: max(1, order.shape[0] // 4)]


def _try_drops(p: Problem, kept: np.ndarray, weight: np.ndarray, state: _Admission,
               fn: Callable[..., Solution], options: dict) -> None:
    """On a small batch: for each floor task scheduled in the best schedule, solve once
    without it (the best multipliers kept for the others); keep a drop that pays."""
    state.multiplier, state.dropped = state.best_multiplier.copy(), state.best_dropped.copy()
    floors = kept[(p.floor_work[kept] > 0.0) & (state.best.machine[kept] >= 0)]
    for j in floors.tolist():
        if state.best.machine[j] < 0:
            continue
        before = state.best_value
        state.dropped[j] = True
        _solve_round(p, kept, weight, state, fn, options)
        if state.best_value <= before:
            state.dropped[j] = False


def _fill_leftover(p: Problem, s: _Schedule, tasks: np.ndarray) -> None:
    """Serve zero-weight tasks with time no other task uses (module docstring, step 4): each,
    in deadline order, on the machine where it gains the most. The machines' chains are built
    once and kept up to date; each task costs the chains of the machines free before its
    deadline, and the whole fill stops once it has spent :data:`FILL_WORK` (the tasks left
    are unscheduled, ``compressed_to_zero``): O(FILL_WORK) whatever the batch."""
    if not tasks.shape[0]:
        return
    tasks = tasks[np.argsort(p.rank[tasks], kind="stable")]
    chains = _chains(p, s)
    budget = FILL_WORK
    avail = p.available_at.tolist()
    for j in tasks.tolist():
        if budget <= 0:
            break
        d = float(p.deadline[j])
        best = None
        for r in range(p.m):
            budget -= 1
            if avail[r] >= d:
                continue
            budget -= _SLOT_COST + chains[r].shape[0]
            slot = _slot(p, s, j, r, chains[r])
            if slot is not None and (best is None or slot.accuracy > best.accuracy):
                best = slot
        if best is not None:
            chains[best.machine] = _insert(p, s, j, best, chains[best.machine])


def _chains(p: Problem, s: _Schedule) -> list[np.ndarray]:
    """Per machine, its tasks by start time (ties by index)."""
    on = np.flatnonzero(s.machine >= 0)
    on = on[np.lexsort((on, s.start[on], s.machine[on]))]
    bounds = np.searchsorted(s.machine[on], np.arange(p.m + 1))
    return [on[bounds[r]:bounds[r + 1]] for r in range(p.m)]


@dataclass(frozen=True)
class _Slot:
    """Where a zero-weight task could run: machine, start, work, configuration, accuracy."""

    machine: int
    start: float
    work: float
    config: int
    accuracy: float


def _slot(p: Problem, s: _Schedule, j: int, r: int, chain: np.ndarray) -> _Slot | None:
    """The most work task ``j`` can do on machine ``r`` (whose tasks are ``chain``, by start)
    at its deadline-order place, pushing the later tasks only into their slack (gaps before
    them, then time before their deadlines)."""
    later = chain[p.rank[chain] > p.rank[j]]
    before = chain[p.rank[chain] < p.rank[j]]
    t0 = float(p.available_at[r])
    if before.shape[0]:
        t0 = max(t0, float(np.max(s.start[before] + s.duration[before])))
    room = float(p.deadline[j]) - t0
    if later.shape[0]:
        ends = s.start[later] + s.duration[later]
        prev_end = np.concatenate(([t0], ends[:-1]))
        gaps = np.cumsum(np.maximum(s.start[later] - prev_end, 0.0))
        room = min(room, float(np.min(gaps + p.deadline[later] - ends)))
    room *= 1.0 - 8 * np.finfo(np.float64).eps
    if not room > 0.0:
        return None
    can = room * float(p.speed[r])
    floor_work = float(p.floor_work[j])
    if p.model is not None and p.model[j] >= 0:
        k = int(p.model[j])
        cfg = np.arange(p.models.start[k], p.models.start[k + 1])
        ok = cfg[(p.models.work[cfg] <= can) & (p.models.accuracy[cfg] > p.models.a_min[k])]
        if p.min_accuracy is not None and math.isfinite(p.min_accuracy[j]):
            ok = ok[p.models.accuracy[ok] >= p.min_accuracy[j]]
        if not ok.shape[0]:
            return None
        c = int(ok[np.lexsort((ok, p.models.work[ok], -p.models.accuracy[ok]))[0]])
        return _Slot(r, t0, float(p.models.work[c]), c, float(p.models.accuracy[c]))
    work = min(can, float(p.family.u[j]))
    if work < floor_work or not work > 0.0:
        return None
    accuracy = float(p.a_min[j] + (p.a_max[j] - p.a_min[j]) * -math.expm1(-p.theta[j] * work))
    return _Slot(r, t0, work, -1, accuracy)


def _insert(p: Problem, s: _Schedule, j: int, slot: _Slot, chain: np.ndarray) -> np.ndarray:
    """Run ``j`` in ``slot`` and push the later tasks on its machine just as far as needed;
    returns the machine's chain with ``j`` in it."""
    r = slot.machine
    duration = slot.work / float(p.speed[r])
    end = slot.start + duration
    at = int(np.count_nonzero(p.rank[chain] < p.rank[j]))
    for k in chain[at:].tolist():
        if s.start[k] >= end:
            break
        s.start[k] = end
        end = end + s.duration[k]
    s.machine[j], s.start[j], s.duration[j] = r, slot.start, duration
    s.work[j], s.config[j], s.reason[j] = slot.work, slot.config, SCHEDULED
    return np.insert(chain, at, j)


def _finish(p: Problem, s: _Schedule, upper: float, name: str, status: str, proven: float | None) -> Solution:
    reason = s.reason.copy()
    if p.has_floors:  # a floor task left out by the admission: the orchestrator sends it elsewhere
        with np.errstate(invalid="ignore"):
            floored = (s.machine < 0) & (p.floor_work > 0.0) & (reason != DEADLINE_BEFORE_AVAILABLE)
        reason[floored] = BELOW_MIN_ACCURACY
    reason[(s.machine < 0) & (reason == SCHEDULED)] = COMPRESSED_TO_ZERO
    return make_solution(p, machine=s.machine, start=s.start, duration=s.duration, work=s.work,
                         upper_bound=upper, algorithm=name, reason_if_empty=reason, status=status,
                         proven_bound=proven, config=s.config if p.n_model else None)

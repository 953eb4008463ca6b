"""Shared pieces for turning per-task decisions into a :class:`Solution`.

Reason codes for unscheduled tasks (``Solution.reason``), stable on the wire:

- ``deadline_before_available``: no machine is free before the task's deadline;
- ``compressed_to_zero``: the algorithm gave the task no work (its time was worth more to
  other tasks, or, for the baselines, no level or machine fitted before the deadline);
- ``cut_at_deadline``: dsct-approx's rounding pushed the task entirely past its deadline;
- ``no_fit``: a baseline found no machine where the task fits before its deadline;
- ``unbounded_t_max``: ``edf-nocompression`` cannot run a task without ``t_max`` uncompressed;
- ``below_min_accuracy``: the task's accuracy floor could not be met (it cannot be reached at
  all, or the time it needs was worth more to other tasks): send it elsewhere.
"""

from __future__ import annotations

import numpy as np

from .problem import UNSCHEDULED, Problem, Solution
from .registry import GUARANTEED

SCHEDULED = ""
DEADLINE_BEFORE_AVAILABLE = "deadline_before_available"
COMPRESSED_TO_ZERO = "compressed_to_zero"
CUT_AT_DEADLINE = "cut_at_deadline"
NO_FIT = "no_fit"
UNBOUNDED_T_MAX = "unbounded_t_max"
BELOW_MIN_ACCURACY = "below_min_accuracy"

_PAD = 1 << 16  # cells of padding a band of padded rows may add beyond twice its size (see bands)
_FEW_CHAINS = 16  # chains summed one at a time (ChainRows), at most
_LONG_CHAIN = 128  # places per chain, on average, from which chains are summed one at a time

REASONS = (DEADLINE_BEFORE_AVAILABLE, COMPRESSED_TO_ZERO, CUT_AT_DEADLINE, NO_FIT, UNBOUNDED_T_MAX,
           BELOW_MIN_ACCURACY)


def make_solution(
    problem: Problem,
    *,
    machine: np.ndarray,
    start: np.ndarray,
    duration: np.ndarray,
    work: np.ndarray,
    upper_bound: float,
    algorithm: str,
    reason_if_empty: np.ndarray | str = COMPRESSED_TO_ZERO,
    status: str = "ok",
    proven_bound: float | None = None,
    config: np.ndarray | None = None,
) -> Solution:
    """Normalise a schedule (no time -> unscheduled, with zeros) and compute accuracies.

    ``reason_if_empty`` is the reason code (one string, or one per task) for tasks that end
    up with no work; tasks that no machine can reach before their deadline always get
    ``deadline_before_available``. With measured models, ``config`` names the configuration
    of every scheduled model task (-1 elsewhere); its accuracy is that configuration's. O(n).
    """
    machine = np.array(machine, dtype=np.int64)
    start = np.array(start, dtype=np.float64)
    duration = np.array(duration, dtype=np.float64)
    work = np.array(work, dtype=np.float64)
    empty = ~((machine != UNSCHEDULED) & (duration > 0.0) & (work > 0.0))
    gone = empty.nonzero()[0]
    reasons = [SCHEDULED] * problem.n
    if gone.shape[0]:
        machine[gone] = UNSCHEDULED
        start[gone] = 0.0
        duration[gone] = 0.0
        work[gone] = 0.0
        if isinstance(reason_if_empty, str):
            given = [reason_if_empty] * gone.shape[0]
        else:
            given = np.asarray(reason_if_empty)[gone].tolist()
        no_capacity = (problem.capacity(problem.deadline[gone]) <= 0.0).tolist()
        for j, why, none in zip(gone.tolist(), given, no_capacity, strict=True):
            reasons[j] = DEADLINE_BEFORE_AVAILABLE if none else str(why)
    if problem.n_model:
        config = _model_configs(problem, config, empty)
        models = problem.models
        accuracy = np.empty(problem.n)
        if problem.n_model == problem.n:  # every task on a model: all of them, unmasked
            on: np.ndarray | slice = slice(None)
        else:
            on = problem.model >= 0
            curve = np.flatnonzero(~on)
            accuracy[curve] = problem.family.value(np.maximum(work[curve], 0.0), curve)
        # a model task's accuracy is its configuration's, not the envelope's
        chosen = config[on]
        accuracy[on] = np.where(chosen >= 0, models.accuracy[np.maximum(chosen, 0)], models.a_min[problem.model[on]])
        config.setflags(write=False)
    else:
        accuracy = problem.accuracy(work)
        config = None
    for arr in (machine, start, duration, work, accuracy):  # ours alone: Solution keeps them
        arr.setflags(write=False)
    return Solution(
        machine=machine,
        start=start,
        duration=duration,
        work=work,
        accuracy=accuracy,
        total_accuracy=float(np.add.reduce(accuracy)) if problem.n else 0.0,
        weighted_accuracy=float(np.dot(problem.weight, accuracy)) if problem.weighted else None,
        upper_bound=float(upper_bound),
        guarantee=(problem.guarantee() if algorithm in GUARANTEED and not problem.n_model
                   and not problem.has_floors else None),
        algorithm=algorithm,
        status=status,
        reason=tuple(reasons),
        proven_bound=proven_bound,
        config=config,
    )


def _model_configs(problem: Problem, config: np.ndarray | None, empty: np.ndarray) -> np.ndarray:
    """``config`` as a fresh array, -1 for curve tasks and tasks given no time; every
    scheduled model task must name a configuration of its own model (an algorithm that
    forgot one is a bug, never a silently wrong accuracy)."""
    models = problem.models
    out = np.full(problem.n, -1, dtype=np.int64) if config is None else np.array(config, dtype=np.int64)
    tm = problem.model
    out[(tm < 0) | empty] = -1
    need = (tm >= 0) & ~empty
    c = out[need]
    k = tm[need]
    bad = (c < models.start[k]) | (c >= models.start[k + 1])
    if bad.any():
        j = int(np.flatnonzero(need)[np.flatnonzero(bad)[0]])
        raise AssertionError(f"task {j} runs a model but was given no configuration of it")
    return out


def machine_chains(problem: Problem, machine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tasks grouped by machine, each group in deadline order (ties by input order).

    Returns ``(idx, group_starts)`` for :func:`app.solver.fractional.nested_allocation`;
    unassigned tasks (-1) are left out. O(n) past the problem's deadline order (O(n log n),
    made once) where machines fit 16 bits (a stable radix sort by machine), else O(n log n).
    """
    order = problem.order  # deadline order, ties by input order; then a stable sort by machine
    assigned = order[machine[order] >= 0]
    idx = assigned[_stable_order(machine[assigned], problem.m)]
    mach = machine[idx]
    group_starts = np.flatnonzero(np.diff(mach, prepend=-2) != 0) if idx.shape[0] else np.zeros(0, dtype=np.intp)
    return idx, group_starts


def _stable_order(machine: np.ndarray, m: int) -> np.ndarray:
    """Stable argsort of machine indices in ``[0, m)`` (the caller's to ensure: larger ones
    would wrap): numpy sorts 8- and 16-bit integers stably by radix, O(n), so they are
    narrowed first when ``m`` fits (the same permutation: a stable sort's is unique);
    otherwise a merge sort, O(n log n)."""
    if m <= np.iinfo(np.uint8).max + 1:
        machine = machine.astype(np.uint8)
    elif m <= np.iinfo(np.uint16).max + 1:
        machine = machine.astype(np.uint16)
    return np.argsort(machine, kind="stable")


def sequence_on_machines(
    problem: Problem, idx: np.ndarray, group_starts: np.ndarray, machine: np.ndarray, work: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Back-to-back start times and durations for chains of tasks, from each machine's
    ``available_at``: ``start_k = available_at + sum_{i<k} work_i / speed``, summed along
    each machine alone (:class:`ChainRows`). O(n)."""
    start = np.zeros(problem.n)
    duration = np.zeros(problem.n)
    if idx.shape[0] == 0:
        return start, duration
    mach = machine[idx]
    dur = work[idx] / problem.speed[mach]
    # one running sum per machine: a single global one would carry the rounding error of
    # every earlier machine into later ones
    bounds = np.append(group_starts, idx.shape[0])
    last = dur[bounds[1:] - 1]  # (left out of the sums: nothing starts after it)
    dur[bounds[1:] - 1] = 0.0
    ran = ChainRows(bounds).cumsum(dur)
    dur[bounds[1:] - 1] = last
    before = np.empty_like(dur)
    before[1:] = ran[:-1]
    before[group_starts] = 0.0
    start[idx] = problem.available_at[mach] + before
    duration[idx] = dur
    return start, duration


def bands(count: np.ndarray) -> list[np.ndarray]:
    """Rows of lengths ``count`` in bands, each padded to its longest row at most twice
    its own size plus :data:`_PAD` cells: from the longest row, a band takes the shorter
    ones while that holds. Few bands (one, for rows of similar lengths)."""
    order = np.argsort(count, kind="stable")
    c = count[order].astype(np.int64)
    total = np.concatenate(([0], np.cumsum(c)))
    out = []
    hi = c.shape[0]
    while hi > 0:
        lo = np.arange(hi)
        fits = (hi - lo) * c[hi - 1] <= 2 * (total[hi] - total[lo]) + _PAD
        start = int(np.flatnonzero(~fits)[-1]) + 1 if not fits.all() else 0
        out.append(order[start:hi])
        hi = start
    return out


class ChainRows:
    """Chains (runs of consecutive places: ``bounds`` holds each one's first place, then
    the end) for running sums and minima along every chain: a few long chains one at a
    time, many short ones as the rows of padded matrices, chains of similar length in one
    band (:func:`bands`), one numpy pass per band. Either way each chain's running sum is
    bit for bit :func:`numpy.cumsum` on that chain alone (a running sum along a row is
    sequential). O(n) per pass, padding included."""

    def __init__(self, bounds: np.ndarray):
        count = np.diff(bounds)
        #: with few chains or long ones (on average :data:`_LONG_CHAIN` places or more), a
        #: loop over them costs less than the matrices
        self.runs = None
        if count.shape[0] <= _FEW_CHAINS or bounds[-1] >= _LONG_CHAIN * count.shape[0]:
            self.runs = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
        #: per band: the places (into the chained arrays), their cells (raveled), their
        #: columns and the matrix's shape
        self.bands: list[tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]] = []
        for rows in bands(count) if self.runs is None else ():
            cnt = count[rows]
            row = np.repeat(np.arange(rows.shape[0]), cnt)
            col = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            width = int(cnt.max()) + 1  # one column more, past every chain's end
            self.bands.append((bounds[rows][row] + col, row * width + col, col, (rows.shape[0], width)))

    def cumsum(self, values: np.ndarray) -> np.ndarray:
        """Per place, the sum of its chain's ``values`` up to it, itself included."""
        out = np.empty(values.shape[0])
        for lo, hi in self.runs or ():
            np.cumsum(values[lo:hi], out=out[lo:hi])
        for at, cell, _, shape in self.bands:
            mat = np.zeros(shape)
            mat.ravel()[cell] = values[at]
            out[at] = np.cumsum(mat, axis=1, out=mat).ravel()[cell]
        return out

    def least_after(self, values: np.ndarray) -> np.ndarray:
        """Per place, the least of its chain's ``values`` after it (``+inf`` for the last)."""
        out = np.empty(values.shape[0])
        for lo, hi in self.runs or ():
            if hi > lo:
                out[hi - 1] = np.inf
                # from the last place back, the least so far
                out[lo:hi - 1] = np.minimum.accumulate(values[hi - 1:lo:-1])[::-1]
        for at, cell, col, shape in self.bands:
            mat = np.full(shape, np.inf)
            mat.ravel()[cell] = values[at]
            # each row reversed: place width - 1 - j holds the least from column j on
            back = np.minimum.accumulate(mat[:, ::-1], axis=1).ravel()
            out[at] = back[cell - col + (shape[1] - 2 - col)]
        return out

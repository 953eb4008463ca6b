"""The paper's baselines (section VII), for comparison with DSCT-APPROX.

``edf-nocompression`` (EDF-NOCOMPRESSION, after Zhang et al. [37])
    Tasks in earliest-deadline-first order, each run uncompressed (``work = t_max``) or not
    at all. Machine choice is *worst fit*: among the machines where the task would finish by
    its deadline, the one that keeps the most room, i.e. the largest
    ``s_r (d_j - free_r)`` (ties: lowest index). Reading: the paper names worst-fit without
    defining it for heterogeneous speeds; room is measured in work units, the currency of
    ``t_max``. A task without ``t_max`` cannot run uncompressed: it is left unscheduled
    with reason ``unbounded_t_max``.

``edf-3levels`` (EDF-3COMPRESSIONLEVELS, after Lee and Song [27])
    Three compression levels reaching 1/3, 2/3 and 3/3 of the task's reachable accuracy
    range ``[a_min, a(t_max)]`` (the paper's 27%, 55% and 82% when a(t_max) = 0.82). Tasks in
    EDF order; each takes the highest level that fits before its deadline on some machine,
    on the machine where that level finishes earliest (ties: lowest index). Reading: the
    paper only says "a heuristic based on the accuracy for choosing the node and the
    compression level"; highest-accuracy-first with earliest finish is the natural one and
    is Lee and Song's quality-first rule. With ``t_max`` infinite the top level needs
    infinite work, so only the two lower levels are available.

Both are O(n m) as a vectorised O(m) scan per task, in EDF order (inherently sequential);
with many machines of few distinct speeds they keep instead one sorted list of free times per speed
(:class:`_SpeedLists`: in a class, the machine free first is the best for both rules), so
O(n (classes + log m)), with the same schedule.

Tasks of measured models: a model's *levels* are its configurations that no other beats
(more accurate for no more work), most accurate first (:func:`model_levels`).
``edf-nocompression`` runs a model task's most accurate configuration or nothing;
``edf-3levels`` tries its levels in that order, as it tries a curve task's three levels.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from .fractional import fractional_relaxation
from .problem import UNSCHEDULED, Problem, Solution
from .registry import register
from .schedule import NO_FIT, UNBOUNDED_T_MAX, make_solution

#: the lists of :class:`_SpeedLists` replace the vectorised scan from this many machines, when
#: they have at most :data:`HEAP_CLASSES` distinct speeds (below, numpy's scan is faster)
HEAP_MACHINES = 256
HEAP_CLASSES = 16


class _SpeedLists:
    """Machines' free times, one sorted list per distinct speed, keyed ``(free, index)``:
    within a class, finish times and rooms are monotone in the free time (and so are their
    rounded values), so the machines that tie with the one free first, to the last bit, are
    the next few of its list; the lowest index among them is the scan's choice, and scanning
    the classes gives what a scan of every machine gives. O(classes + ties) a query,
    O(log m) plus a memory move an update."""

    def __init__(self, speed: np.ndarray, free: np.ndarray):
        speeds = speed.tolist()
        by_speed: dict[float, list[tuple[float, int]]] = {}
        for r, (v, f) in enumerate(zip(speeds, free.tolist(), strict=True)):
            by_speed.setdefault(v, []).append((f, r))
        self.speed = sorted(by_speed)
        self.lists = [sorted(by_speed[v]) for v in self.speed]
        self.class_of = [0] * len(speeds)
        self.free = free.tolist()
        for c, lst in enumerate(self.lists):
            for _, r in lst:
                self.class_of[r] = c

    @staticmethod
    def fits(speed: np.ndarray) -> bool:
        return speed.shape[0] >= HEAP_MACHINES and len(set(speed.tolist())) <= HEAP_CLASSES

    def earliest_finish(self, w: float) -> tuple[float, int]:
        """The machine where ``w`` work finishes first, and when (ties: lowest index)."""
        best = (np.inf, -1)
        for v, lst in zip(self.speed, self.lists, strict=True):
            f, r = lst[0]
            finish = f + w / v
            k = bisect.bisect_right(lst, (f, math.inf))  # past the machines free at f too (higher index)
            while k < len(lst) and lst[k][0] + w / v == finish:  # the same finish, to the bit
                r = min(r, lst[k][1])
                k += 1
            if (finish, r) < best:
                best = (finish, r)
        return best

    def most_room(self, w: float, d: float) -> int:
        """Among machines where ``w`` work finishes by ``d``, the one with the most room
        ``speed (d - free)`` (ties: lowest index); -1 when none fits."""
        best_room, best_r = -np.inf, -1
        for v, lst in zip(self.speed, self.lists, strict=True):
            f, r = lst[0]
            if not f + w / v <= d:
                continue
            room = v * (d - f)
            k = bisect.bisect_right(lst, (f, math.inf))
            while k < len(lst) and lst[k][0] + w / v <= d and v * (d - lst[k][0]) == room:
                r = min(r, lst[k][1])
                k += 1
            if room > best_room or (room == best_room and r < best_r):
                best_room, best_r = room, r
        return best_r

    def take(self, r: int, new_free: float) -> None:
        """Machine ``r`` is now free at ``new_free``."""
        lst = self.lists[self.class_of[r]]
        del lst[bisect.bisect_left(lst, (self.free[r], r))]
        bisect.insort(lst, (new_free, r))
        self.free[r] = new_free


def _empty(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (np.full(n, UNSCHEDULED, dtype=np.int64), np.zeros(n), np.zeros(n), np.zeros(n),
            np.full(n, NO_FIT, dtype=object))


def model_levels(problem: Problem) -> list[list[int]]:
    """Per model, its configurations that no other beats (more accurate for no more work),
    most accurate first (ties: least work, then lowest index): the levels the baselines
    try for a model task, as ``edf-3levels`` tries a curve task's three levels. O(C log C)."""
    models = problem.models
    out = []
    for k in range(models.count):
        cs = range(int(models.start[k]), int(models.start[k + 1]))
        ranked = sorted(cs, key=lambda c: (-models.accuracy[c], models.work[c], c))
        kept: list[int] = []
        for c in ranked:  # each kept one needs strictly less work than the more accurate ones
            if not kept or models.work[c] < models.work[kept[-1]]:
                kept.append(c)
        out.append(kept)
    return out


@register("edf-nocompression", polynomial=True, models=True)
def edf_nocompression(problem: Problem) -> Solution:
    """EDF-NOCOMPRESSION with worst-fit machine choice (section VII). O(n m), or
    O(n (classes + log m)) through :class:`_SpeedLists`.

    A model task runs its most accurate configuration (its model uncompressed) or nothing."""
    machine, start, duration, work, reason = _empty(problem.n)
    free = problem.available_at.copy()
    speed = problem.speed
    t_max = problem.t_max.copy()
    config = None
    if problem.n_model:
        tops = np.array([lv[0] for lv in model_levels(problem)], dtype=np.int64)
        on = problem.model >= 0
        config = np.where(on, tops[np.maximum(problem.model, 0)], -1)
        t_max[on] = problem.models.work[config[on]]
    lists = _SpeedLists(speed, free) if _SpeedLists.fits(speed) else None
    for j in problem.order.tolist():
        t = t_max[j]
        if not np.isfinite(t):
            reason[j] = UNBOUNDED_T_MAX
            continue
        d = problem.deadline[j]
        if lists is not None:
            r = lists.most_room(t, d)
            if r < 0:
                continue
            machine[j], start[j], duration[j], work[j] = r, free[r], t / speed[r], t
            free[r] = free[r] + t / speed[r]
            lists.take(r, free[r])
            continue
        finish = free + t / speed
        with np.errstate(over="ignore"):  # room past a deadline is never chosen
            room = np.where(finish <= d, speed * (d - free), -np.inf)
        r = int(np.argmax(room))
        if room[r] == -np.inf:
            continue
        machine[j], start[j], duration[j], work[j] = r, free[r], t / speed[r], t
        free[r] = finish[r]
    return make_solution(
        problem, machine=machine, start=start, duration=duration, work=work,
        upper_bound=fractional_relaxation(problem).upper_bound, algorithm="edf-nocompression",
        reason_if_empty=reason, config=config,
    )


def level_works(problem: Problem, levels: int = 3) -> np.ndarray:
    """Work needed per task (rows) to reach ``k/levels`` of its reachable accuracy range
    (columns, highest first). ``inf`` where unreachable (top level without ``t_max``)."""
    theta = problem.theta[:, None]
    with np.errstate(over="ignore"):  # theta * t_max may overflow to inf: reach is then 1
        reach = -np.expm1(-problem.theta * problem.t_max)[:, None]  # fraction of da reachable
    q = np.arange(levels, 0, -1)[None, :] / levels * reach
    with np.errstate(divide="ignore"):
        w = -np.log1p(-q) / theta
    top = np.isfinite(problem.t_max)
    w[:, 0] = np.where(top, problem.t_max, np.inf)  # exactly t_max, no rounding
    return w


@register("edf-3levels", polynomial=True, models=True)
def edf_3levels(problem: Problem) -> Solution:
    """EDF-3COMPRESSIONLEVELS (section VII): highest level that fits, earliest finish. O(n m),
    or O(n (classes + log m)) through :class:`_SpeedLists`.

    A model task's levels are its model's configurations that no other beats, most accurate
    first (:func:`model_levels`): it takes the most accurate one that fits before its
    deadline on some machine, on the machine where it finishes earliest, as a curve task
    takes the highest of its three levels. O(n m C) with C configurations per model."""
    machine, start, duration, work, reason = _empty(problem.n)
    free = problem.available_at.copy()
    speed = problem.speed
    works = level_works(problem)
    lists = _SpeedLists(speed, free) if _SpeedLists.fits(speed) else None
    config = None
    if problem.n_model:
        levels = model_levels(problem)
        config = np.full(problem.n, -1, dtype=np.int64)
    for j in problem.order.tolist():
        d = problem.deadline[j]
        k = -1 if config is None else int(problem.model[j])
        choices = works[j].tolist() if k < 0 else [problem.models.work[c] for c in levels[k]]
        for i, w in enumerate(choices):
            if not np.isfinite(w):
                continue
            if lists is not None:
                end, r = lists.earliest_finish(w)
            else:
                finish = free + w / speed
                r = int(np.argmin(finish))
                end = finish[r]
            if end <= d:
                machine[j], start[j], duration[j], work[j] = r, free[r], w / speed[r], w
                free[r] = end
                if lists is not None:
                    lists.take(r, end)
                if k >= 0:
                    config[j] = levels[k][i]
                break
    return make_solution(
        problem, machine=machine, start=start, duration=duration, work=work,
        upper_bound=fractional_relaxation(problem).upper_bound, algorithm="edf-3levels",
        reason_if_empty=reason, config=config,
    )


@register("edf-3levels-lee-song", polynomial=True)
def edf_3levels_lee_song(problem: Problem) -> Solution:
    """EDF-3COMPRESSIONLEVELS as the paper's section VII builds it after Lee and Song [27].

    Lee and Song's two-phase greedy ("first satisfies deadlines with low quality, then
    redistributes the workload to improve that quality while continuing to meet the
    deadlines"), with the three levels of :func:`level_works` as its presets:

    1. *Deadlines first.* In EDF order, each task takes its lowest level (the preset with the
       minimum processing time) on the machine where it finishes earliest; a task whose
       lowest level misses its deadline everywhere is left unscheduled (reason ``no_fit``).
    2. *Quality next.* Repeatedly, among every task and every machine, raise one task by one
       level, on its machine or moved to another one, where the accuracy gained per second
       of machine time added is largest (a change that adds no time first), provided every
       task on the machines involved still meets its deadline; stop when none fits. A task
       left out in phase 1 may enter here at its lowest level.

    Each machine runs its tasks in EDF order from its ``available_at``. Ties go to the lowest
    task rank, then the lowest machine index. At most ``3 n`` raises, each an O(n m)
    vectorised scan: O(n^2 m).
    """
    p = problem
    n = p.n
    order = p.order
    works = level_works(p)[order, ::-1]  # (rank, level), lowest level first
    with np.errstate(over="ignore"):  # theta * work past 1e308: the level saturates, expm1 -> -1
        acc = p.a_min[order, None] + p.delta_a[order, None] * -np.expm1(
            -p.theta[order, None] * np.where(np.isfinite(works), works, 0.0))
    d = p.deadline[order]
    speed, avail = p.speed, p.available_at
    times = works[:, :, None] / speed[None, None, :]  # (rank, level, machine), inf if unreachable
    node = np.full(n, UNSCHEDULED, dtype=np.int64)
    level = np.full(n, -1, dtype=np.int64)
    # phase 1: lowest level, earliest finish, in EDF order (inherently sequential)
    free = avail.copy()
    for k in range(n):
        finish = free + times[k, 0]
        r = int(np.argmin(finish))
        if finish[r] <= d[k]:
            node[k], level[k], free[r] = r, 0, finish[r]
    # phase 2: best gain per added time, one level at a time
    _raise_levels(_LeeSongState(p, works, acc, times, node, level))
    # start times: each machine runs its tasks in EDF order from its available_at
    machine, start, duration, work, reason = _empty(n)
    free = avail.copy()
    for k in np.flatnonzero(level >= 0).tolist():
        j, r = int(order[k]), int(node[k])
        t = times[k, level[k], r]
        machine[j], start[j], duration[j], work[j] = r, free[r], t, works[k, level[k]]
        free[r] += t
    return make_solution(
        problem, machine=machine, start=start, duration=duration, work=work,
        upper_bound=fractional_relaxation(problem).upper_bound, algorithm="edf-3levels-lee-song",
        reason_if_empty=reason,
    )


class _LeeSongState:
    """Phase 2 of :func:`edf_3levels_lee_song`, kept incrementally: per (rank, machine) the
    score of raising that task one level onto that machine. A raise changes the columns of
    the machines it touches and the row of the task it raises; only those are recomputed,
    so a raise costs O(n + m) numpy work instead of O(n m)."""

    def __init__(self, p: Problem, works, acc, times, node, level):
        self.n, self.m = p.n, p.m
        self.d = p.deadline[p.order]
        self.avail = p.available_at
        self.acc, self.times, self.node, self.level = acc, times, node, level
        self.a_min = p.a_min[p.order]
        n, m = self.n, self.m
        self.before = np.zeros((n, m))  # when machine r gets to rank k
        self.suffix = np.full((n, m), np.inf)  # min slack on r from rank k on
        self.after = np.full((n, m), np.inf)  # min slack on r strictly after rank k
        self.free_gain = np.full((n, m), -np.inf)  # raises that add no time: their gain
        self.ratio = np.full((n, m), -np.inf)  # others: gain per added second
        for r in range(m):
            self._column(r)

    def _cur(self, ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Current time and accuracy of tasks ``ranks``."""
        lv = self.level[ranks]
        t = np.where(lv >= 0, self.times[ranks, np.maximum(lv, 0), np.maximum(self.node[ranks], 0)], 0.0)
        a = np.where(lv >= 0, self.acc[ranks, np.maximum(lv, 0)], self.a_min[ranks])
        return t, a

    def _scores(self, ranks: np.ndarray, cols: np.ndarray) -> None:
        """Recompute the scores of tasks ``ranks`` on machines ``cols`` (a grid)."""
        rr, cc = np.ix_(ranks, cols)
        cur_t, cur_a = self._cur(ranks)
        up = self.level[ranks] + 1
        can = up < 3
        new_t = self.times[rr, np.minimum(up, 2)[:, None], cc]
        new_t = np.where(can[:, None] & np.isfinite(new_t), new_t, np.inf)
        added = new_t - cur_t[:, None]
        on = self.node[rr] == cc
        stay = on & (added <= self.suffix[rr, cc])
        move = ~on & (self.before[rr, cc] + new_t <= self.d[rr]) & (new_t <= self.after[rr, cc])
        ok = (stay | move) & np.isfinite(new_t)
        gain = (self.acc[ranks, np.minimum(up, 2)] - cur_a)[:, None]
        self.free_gain[rr, cc] = np.where(ok & (added <= 0.0), gain, -np.inf)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            self.ratio[rr, cc] = np.where(ok & (added > 0.0), gain / added, -np.inf)

    def _column(self, r: int) -> None:
        """Machine ``r``'s timeline and every task's score on it."""
        on = self.node == r
        cur_t, _ = self._cur(np.arange(self.n))
        dur = np.where(on, cur_t, 0.0)
        finish = self.avail[r] + np.cumsum(dur)
        self.before[:, r] = finish - dur
        slack = np.where(on, self.d - finish, np.inf)
        suffix = np.minimum.accumulate(slack[::-1])[::-1]
        self.suffix[:, r] = suffix
        self.after[:-1, r] = suffix[1:]
        self._scores(np.arange(self.n), np.array([r]))

    def best(self) -> tuple[int, int] | None:
        """The next raise (rank, machine): no added time first, then best gain per time."""
        for score in (self.free_gain, self.ratio):
            flat = int(np.argmax(score))
            if score.flat[flat] > -np.inf:
                return divmod(flat, self.m)
        return None

    def apply(self, k: int, r: int) -> None:
        old = int(self.node[k])
        self.node[k], self.level[k] = r, self.level[k] + 1
        for c in {old, r} - {UNSCHEDULED}:
            self._column(c)
        self._scores(np.array([k]), np.arange(self.m))


def _raise_levels(state: _LeeSongState) -> None:
    """Phase 2: raise the best task until none fits; at most 3 raises per task."""
    for _ in range(3 * state.n):
        step = state.best()
        if step is None:
            break
        state.apply(*step)

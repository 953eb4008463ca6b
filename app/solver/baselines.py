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

Both run in EDF order (inherently sequential). With few distinct machine speeds (at most
``HEAP_MAX_CLASSES``: homogeneous clusters), each speed's machines sit in a heap of free times,
and a task costs O(classes + log m): among machines of one speed the earliest free one both
finishes first and keeps the most room. With many distinct speeds, a vectorised O(m) scan per
task: O(n m). Both give the same answers, ties to the lowest machine index.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from .fractional import fractional_relaxation
from .problem import UNSCHEDULED, Problem, Solution
from .registry import register
from .schedule import NO_FIT, UNBOUNDED_T_MAX, make_solution


def _empty(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (np.full(n, UNSCHEDULED, dtype=np.int64), np.zeros(n), np.zeros(n), np.zeros(n),
            np.full(n, NO_FIT, dtype=object))


#: at most this many distinct machine speeds: per-speed heaps of free times (O(classes + log
#: m) a task in plain Python); more, and a vectorised O(m) scan of every machine is faster
HEAP_MAX_CLASSES = 16


class _SpeedClasses:
    """Machines grouped by speed, each group a heap of ``(free time, index)``.

    Among machines of one speed the earliest free one finishes first and keeps the most
    room, so a task only needs each group's top; the few machines whose rounded finish or
    room ties with the top's are looked at too, so ties go to the lowest index exactly as
    in a scan of every machine. O(log m) per update."""

    def __init__(self, problem: Problem):
        speeds = problem.speed.tolist()
        free = problem.available_at.tolist()
        groups: dict[float, list[tuple[float, int]]] = {}
        for r, (sp, f) in enumerate(zip(speeds, free, strict=True)):
            groups.setdefault(sp, []).append((f, r))
        self.classes = []
        self.heap_of: list[list[tuple[float, int]]] = [[] for _ in speeds]
        for sp, heap in groups.items():
            heapq.heapify(heap)
            self.classes.append((sp, heap))
            for _, r in heap:
                self.heap_of[r] = heap
        self.free = free

    def best(self, key) -> tuple[float, int] | None:
        """The machine minimising ``key(free, speed)`` (None where it returns None for all),
        ties to the lowest index. ``key`` must be non-decreasing in ``free``."""
        best = None
        for sp, heap in self.classes:
            f0, r0 = heap[0]
            k0 = key(f0, sp)
            if k0 is None:
                continue
            cand = r0
            if len(heap) > 1:  # machines whose key rounds to the same value: lowest index
                stack = [0]
                while stack:
                    i = stack.pop()
                    for c in (2 * i + 1, 2 * i + 2):
                        if c < len(heap):
                            f, r = heap[c]
                            if key(f, sp) == k0:
                                cand = min(cand, r)
                                stack.append(c)
            if best is None or k0 < best[0] or (k0 == best[0] and cand < best[1]):
                best = (k0, cand)
        return best

    def assign(self, r: int, free: float) -> None:
        """Machine ``r`` is now free at ``free`` (later than before)."""
        heap = self.heap_of[r]
        if heap[0][1] == r:  # the usual case: the group's top
            heapq.heapreplace(heap, (free, r))
        else:  # a tie below the top went to a lower index: O(group size), rare
            heap[heap.index((self.free[r], r))] = (free, r)
            heapq.heapify(heap)
        self.free[r] = free


@register("edf-nocompression", polynomial=True)
def edf_nocompression(problem: Problem) -> Solution:
    """EDF-NOCOMPRESSION with worst-fit machine choice (section VII).

    O(n (c + log m)) with per-speed heaps when the machines have at most
    :data:`HEAP_MAX_CLASSES` distinct speeds ``c``; a vectorised O(n m) scan otherwise."""
    machine, start, duration, work, reason = _empty(problem.n)
    speed = problem.speed
    classes = _SpeedClasses(problem) if len(set(speed.tolist())) <= HEAP_MAX_CLASSES else None
    free = problem.available_at.copy()
    t_max, deadline = problem.t_max.tolist(), problem.deadline.tolist()
    for j in problem.order.tolist():
        t = t_max[j]
        if not math.isfinite(t):
            reason[j] = UNBOUNDED_T_MAX
            continue
        d = deadline[j]
        if classes is not None:
            # most room s (d - free) among machines where the task ends by its deadline
            best = classes.best(lambda f, sp, t=t, d=d: -(sp * (d - f)) if f + t / sp <= d else None)
            if best is None:
                continue
            r = best[1]
            f, sp = classes.free[r], float(speed[r])
            machine[j], start[j], duration[j], work[j] = r, f, t / sp, t
            classes.assign(r, f + t / sp)
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
        reason_if_empty=reason,
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


@register("edf-3levels", polynomial=True)
def edf_3levels(problem: Problem) -> Solution:
    """EDF-3COMPRESSIONLEVELS (section VII): highest level that fits, earliest finish.

    O(n (c + log m)) with per-speed heaps when the machines have at most
    :data:`HEAP_MAX_CLASSES` distinct speeds ``c``; a vectorised O(n m) scan otherwise."""
    machine, start, duration, work, reason = _empty(problem.n)
    speed = problem.speed
    classes = _SpeedClasses(problem) if len(set(speed.tolist())) <= HEAP_MAX_CLASSES else None
    free = problem.available_at.copy()
    works = level_works(problem)
    deadline = problem.deadline.tolist()
    for j in problem.order.tolist():
        d = deadline[j]
        for w in works[j].tolist():
            if not math.isfinite(w):
                continue
            if classes is not None:
                k, r = classes.best(lambda f, sp, w=w: f + w / sp)  # earliest finish
                if k <= d:
                    sp = float(speed[r])
                    machine[j], start[j], duration[j], work[j] = r, classes.free[r], w / sp, w
                    classes.assign(r, k)
                    break
                continue
            finish = free + w / speed
            r = int(np.argmin(finish))
            if finish[r] <= d:
                machine[j], start[j], duration[j], work[j] = r, free[r], w / speed[r], w
                free[r] = finish[r]
                break
    return make_solution(
        problem, machine=machine, start=start, duration=duration, work=work,
        upper_bound=fractional_relaxation(problem).upper_bound, algorithm="edf-3levels",
        reason_if_empty=reason,
    )

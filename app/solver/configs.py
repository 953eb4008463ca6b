"""From time given to a configuration: rounding model tasks down, then spending what it frees.

A task of a measured model (:class:`~app.solver.problem.Models`) runs exactly one of its
model's configurations. The algorithms that work on the relaxation's envelope give such a
task some time on some machine; this module turns that into configurations:

- :func:`best_within`: per task, the most accurate configuration whose work fits a budget
  (ties: the least work, then the lowest index); O(configurations) per model, vectorised
  over the tasks through one sort per model.
- :func:`upgrade`: on a fixed assignment and order, the tasks run back to back; the time
  that rounding down freed is spent on upgrades, the best accuracy gain per second first,
  each only when the task and every later task on its machine still meet their deadlines.
  It only ever adds accuracy, so the result is never worse than plain rounding.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left

import numpy as np

from .problem import Problem

__all__ = ["best_within", "upgrade"]

_BLOCK = 1024  # positions per block of :class:`_Limits`


def best_within(problem: Problem, tasks: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """For each of ``tasks`` (model tasks), the most accurate configuration of its model
    whose work is at most ``budget`` (same length; ties: least work, then lowest index),
    or -1 where none fits. O(C log C) per model with C configurations, plus O(log C) a task."""
    models = problem.models
    out = np.full(tasks.shape[0], -1, dtype=np.int64)
    model = problem.model[tasks]
    for k in np.unique(model).tolist():
        mine = np.flatnonzero(model == k)
        cs = np.arange(models.start[k], models.start[k + 1])
        by_work = cs[np.lexsort((cs, -models.accuracy[cs], models.work[cs]))]
        acc = models.accuracy[by_work].tolist()
        best_pos = [0] * len(acc)
        cur = 0
        for i in range(1, len(acc)):  # running best over configurations in work order
            if acc[i] > acc[cur]:
                cur = i
            best_pos[i] = cur
        pos = np.searchsorted(models.work[by_work], budget[mine], side="right") - 1
        ok = pos >= 0
        out[mine[ok]] = by_work[np.asarray(best_pos, dtype=np.int64)[pos[ok]]]
    return out


class _Limits:
    """Per position of one machine's chain, the most its task may grow (seconds) while it
    and every later running task still meet their deadlines: ``min(own slack, least slack
    of the running tasks after it)``. A point read is O(1); when the task at ``p`` grows
    by ``dt`` every limit from ``p`` on drops by ``dt`` and the earlier ones are capped by
    the new limit at ``p``: O(B + n / B) vectorised, in blocks of B = :data:`_BLOCK`
    positions, each with a pending ``x -> min(x + add, cap)``."""

    def __init__(self, limit: np.ndarray):
        n = limit.shape[0]
        nb = max(1, -(-n // _BLOCK))
        self.v = np.full(nb * _BLOCK, np.inf)
        self.v[:n] = limit
        self.add = np.zeros(nb)
        self.cap = np.full(nb, np.inf)
        self.blocks = nb > 1

    def __getitem__(self, p: int) -> float:
        if not self.blocks:
            return float(self.v[p])
        b = p // _BLOCK
        x = float(self.v[p]) + float(self.add[b])
        cap = float(self.cap[b])
        return x if x < cap else cap

    def grow(self, p: int, dt: float) -> None:
        """The task at ``p`` runs ``dt`` seconds longer (it runs now, if it did not)."""
        v = self.v
        if not self.blocks:
            v[p:] -= dt
            np.minimum(v[:p], v[p], out=v[:p])
            return
        b = p // _BLOCK
        lo, hi = b * _BLOCK, (b + 1) * _BLOCK
        np.minimum(v[lo:hi] + self.add[b], self.cap[b], out=v[lo:hi])  # settle the block
        self.add[b], self.cap[b] = 0.0, np.inf
        v[p:hi] -= dt
        self.add[b + 1:] -= dt
        self.cap[b + 1:] -= dt
        np.minimum(v[lo:p], v[p], out=v[lo:p])
        np.minimum(self.cap[:b], v[p], out=self.cap[:b])


def chain_limits(deadline: np.ndarray, end: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """Per position of a chain (tasks back to back, ending at ``end``; ``runs``: given
    work), the most its task may grow: its own ``deadline - end`` and the least slack of
    the running tasks after it. O(n)."""
    own = deadline - end
    slack = np.where(runs, own, np.inf)
    after = np.append(np.minimum.accumulate(slack[::-1])[::-1][1:], np.inf)
    return np.minimum(own, after)


class _Upgrades:
    """Per (model, configuration, machine speed): every upgrade of a task of that model
    running that configuration (-1: none), best first (accuracy gain per second, then
    fewer extra seconds, then the lower index), with running minima of the extra seconds
    so that the best upgrade within a limit is a binary search. Built on first use, O(C log C)
    for C configurations of the model."""

    def __init__(self, models):
        self.work = models.work.tolist()
        self.accuracy = models.accuracy.tolist()
        self.start = models.start.tolist()
        self.a_min = models.a_min.tolist()
        self.lists: dict[tuple[int, int, float], tuple[list, list[float]]] = {}

    def _build(self, key: tuple[int, int, float]) -> tuple[list, list[float]]:
        k, c, speed = key
        w0 = 0.0 if c < 0 else self.work[c]
        a0 = self.a_min[k] if c < 0 else self.accuracy[c]
        options = []
        for c2 in range(self.start[k], self.start[k + 1]):
            gain = self.accuracy[c2] - a0
            if gain <= 0.0:
                continue
            dt = (self.work[c2] - w0) / speed
            options.append((-(math.inf if dt <= 0.0 else gain / dt), dt, c2))
        options.sort()
        least, neg_least = math.inf, []  # -(least extra seconds among the first i + 1)
        for _, dt, _ in options:
            least = min(least, dt)
            neg_least.append(-least)
        got = self.lists[key] = (options, neg_least)
        return got

    def best(self, k: int, c: int, speed: float, limit: float) -> tuple[float, float, int] | None:
        """The best upgrade needing at most ``limit`` more seconds:
        ``(-ratio, extra seconds, configuration)``, or None. O(log C)."""
        key = (k, c, speed)
        options, neg_least = self.lists.get(key) or self._build(key)
        # the first whose running minimum fits: that minimum is its own extra seconds
        i = bisect_left(neg_least, -limit)
        return options[i] if i < len(options) else None


def upgrade(problem: Problem, idx: np.ndarray, group_starts: np.ndarray, machine: np.ndarray,
            work: np.ndarray, config: np.ndarray) -> None:
    """Spend the slack of a schedule on model tasks' upgrades, in place on ``work`` and
    ``config``.

    ``idx`` and ``group_starts`` list each machine's tasks in deadline order
    (:func:`~app.solver.schedule.machine_chains`); they run back to back from the machine's
    ``available_at`` with the works given (zero: not run), and every task that runs ends
    by its deadline. An upgrade moves a model task to a more accurate configuration (or
    gives one to a model task that has none); it takes ``extra`` seconds and delays every
    later task of the machine by as much, so it is made only when ``extra`` is at most the
    least slack (deadline minus end) of the task and of every later running task. Upgrades
    go by the best accuracy gain per second first, ties to the fewer extra seconds, then
    the earlier position. Machines do not share time, so each is done on its own.

    Each machine keeps a heap with one entry per model task: its best upgrade within a limit
    at least its current one (a candidate that no longer fits is replaced by the best one
    that does, whose gain per second is no higher, so the heap's order stays exact), and the
    limits themselves (:class:`_Limits`). O(U (B + n_r / B) + P log n) for U upgrades made and
    P heap entries looked at (about one per task and one per upgrade), blocks of B."""
    options = _Upgrades(problem.models)
    best = options.best
    model = problem.model
    bounds = np.append(group_starts, idx.shape[0]).tolist()
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        tasks = idx[lo:hi]
        kinds = model[tasks]
        if not (kinds >= 0).any():
            continue
        r = int(machine[tasks[0]])
        speed = float(problem.speed[r])
        w = work[tasks]
        end = problem.available_at[r] + np.cumsum(w / problem.speed[r])
        limit = chain_limits(problem.deadline[tasks], end, w > 0.0)
        limits = _Limits(limit)
        ks, cs = kinds.tolist(), config[tasks].tolist()
        heap = []
        for p, (k, c, room) in enumerate(zip(ks, cs, limit.tolist(), strict=True)):
            if k >= 0:
                cand = best(k, c, speed, room)
                if cand is not None:
                    heap.append((cand[0], cand[1], p, cand[2]))
        heapq.heapify(heap)
        changed = []
        pop, push = heapq.heappop, heapq.heappush
        read = limits.v.item if not limits.blocks else limits.__getitem__
        # Inherently sequential: each upgrade changes the slack the next ones may use.
        while heap:
            _, dt, p, c2 = pop(heap)
            room = read(p)
            if dt <= room:
                cs[p] = c2
                changed.append(p)
                if dt < 0.0:  # less work (a dominated configuration left): limits rise
                    w[p] = problem.models.work[c2]
                    end = problem.available_at[r] + np.cumsum(w / problem.speed[r])
                    limits = _Limits(chain_limits(problem.deadline[tasks], end, w > 0.0))
                    read = limits.v.item if not limits.blocks else limits.__getitem__
                else:
                    limits.grow(p, dt)
                room -= dt
            cand = best(ks[p], cs[p], speed, room)
            if cand is not None:
                push(heap, (cand[0], cand[1], p, cand[2]))
        if changed:
            at = np.unique(np.array(changed))
            picked = np.array(cs)[at]
            config[tasks[at]] = picked
            work[tasks[at]] = problem.models.work[picked]

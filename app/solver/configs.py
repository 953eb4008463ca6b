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

import numpy as np

from .problem import Problem

__all__ = ["best_within", "upgrade"]

_BLOCK = 256  # positions per block of :class:`_SuffixSlack`


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


class _SuffixSlack:
    """Slack of the positions of one machine, with suffix updates and suffix minima in
    O(B + n / B) vectorised work (blocks of B positions, each with its minimum and a
    pending addition)."""

    def __init__(self, slack: np.ndarray):
        n = slack.shape[0]
        nb = max(1, -(-n // _BLOCK))
        self.n = n
        self.v = np.full(nb * _BLOCK, np.inf)
        self.v[:n] = slack
        self.lazy = np.zeros(nb)
        self.bmin = self.v.reshape(nb, _BLOCK).min(axis=1)

    def suffix_min(self, p: int) -> float:
        """The least slack at positions ``>= p`` (inf when there are none)."""
        if p >= self.n:
            return math.inf
        b = p // _BLOCK
        end = (b + 1) * _BLOCK
        x = float(self.v[p:end].min()) + float(self.lazy[b]) if p < end else math.inf
        if b + 1 < self.lazy.shape[0]:
            x = min(x, float((self.bmin[b + 1:] + self.lazy[b + 1:]).min()))
        return x

    def add_suffix(self, p: int, delta: float) -> None:
        """Add ``delta`` to the slack of every position ``>= p``."""
        if p >= self.n:
            return
        b = p // _BLOCK
        end = (b + 1) * _BLOCK
        self.v[p:end] += delta
        self.bmin[b] = self.v[b * _BLOCK:end].min()
        self.lazy[b + 1:] += delta

    def set(self, p: int, value: float) -> None:
        b = p // _BLOCK
        self.v[p] = value - self.lazy[b]
        self.bmin[b] = self.v[b * _BLOCK:(b + 1) * _BLOCK].min()


class _Lists:
    """A model table as Python lists (the upgrade loop reads single entries)."""

    def __init__(self, models):
        self.work = models.work.tolist()
        self.accuracy = models.accuracy.tolist()
        self.start = models.start.tolist()


def _next_upgrade(models: _Lists, k: int, c: int, a_min: float, speed: float, limit: float):
    """The upgrade of a task of model ``k`` now running configuration ``c`` (-1: none) with
    the best accuracy gain per second among those needing at most ``limit`` more seconds:
    ``(ratio, extra seconds, configuration)`` or None. O(configurations of the model)."""
    work, accuracy = models.work, models.accuracy
    w0 = 0.0 if c < 0 else work[c]
    a0 = a_min if c < 0 else accuracy[c]
    best = None
    for c2 in range(models.start[k], models.start[k + 1]):
        gain = accuracy[c2] - a0
        if gain <= 0.0:
            continue
        dt = (work[c2] - w0) / speed
        if dt > limit:
            continue
        ratio = math.inf if dt <= 0.0 else gain / dt
        if best is None or ratio > best[0] or (ratio == best[0] and dt < best[1]):
            best = (ratio, dt, c2)
    return best


class _Chain:
    """One machine's tasks in order: the end of each position (a Fenwick tree of
    durations, O(log n_r) per query and update) and the slack of each (:class:`_SuffixSlack`)."""

    def __init__(self, available_at: float, duration: np.ndarray, slack: np.ndarray):
        self.start = available_at
        n = duration.shape[0]
        tree = [0.0] * (n + 1)
        for i, d in enumerate(duration.tolist(), start=1):  # O(n) Fenwick build
            tree[i] += d
            parent = i + (i & -i)
            if parent <= n:
                tree[parent] += tree[i]
        self.tree = tree
        self.slack = _SuffixSlack(slack)

    def end(self, p: int) -> float:
        """End of position ``p`` (its start when it does not run)."""
        i, total, tree = p + 1, 0.0, self.tree
        while i > 0:
            total += tree[i]
            i -= i & -i
        return self.start + total

    def lengthen(self, p: int, dt: float, deadline: float) -> None:
        """Position ``p`` runs ``dt`` seconds longer: it and every later one end later."""
        i, tree = p + 1, self.tree
        while i < len(tree):
            tree[i] += dt
            i += i & -i
        self.slack.add_suffix(p + 1, -dt)
        self.slack.set(p, deadline - self.end(p))


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
    go by the best accuracy gain per second first (a heap; a candidate that no longer fits
    is replaced by the best one that does, so a task is looked at O(C) times per upgrade
    it gets). Ties: the earlier position. O(U (C + B + n_r / B + log n_r) + n log n) for U
    upgrades, C configurations per model, n_r tasks on a machine, blocks of B = 256."""
    models = _Lists(problem.models)
    cache: dict[tuple[int, int, float], tuple[float, float, int] | None] = {}

    def best_upgrade(k: int, c: int, speed: float, limit: float = math.inf):
        # without a limit the answer depends on (model, configuration, speed) alone: cached
        if limit != math.inf:
            return _next_upgrade(models, k, c, a_min[k], speed, limit)
        key = (k, c, speed)
        if key not in cache:
            cache[key] = _next_upgrade(models, k, c, a_min[k], speed, math.inf)
        return cache[key]

    deadline = problem.deadline.tolist()
    model = problem.model.tolist()
    speed_of = problem.speed.tolist()
    a_min = problem.models.a_min.tolist()
    heap: list[tuple[float, float, int, int, int]] = []
    chains: list[_Chain] = []
    place: dict[int, tuple[int, int]] = {}  # task -> (chain, position in it)
    bounds = np.append(group_starts, idx.shape[0]).tolist()
    for g, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        tasks = idx[lo:hi]
        r = int(machine[tasks[0]])
        dur = work[tasks] / problem.speed[r]
        end = problem.available_at[r] + np.cumsum(dur)
        chains.append(_Chain(float(problem.available_at[r]), dur,
                             np.where(work[tasks] > 0.0, problem.deadline[tasks] - end, np.inf)))
        for p, j in enumerate(tasks.tolist()):
            k = model[j]
            if k < 0:
                continue
            place[j] = (g, p)
            cand = best_upgrade(k, int(config[j]), speed_of[r])
            if cand is not None:
                heap.append((-cand[0], cand[1], lo + p, j, cand[2]))
    heapq.heapify(heap)
    # Inherently sequential: each upgrade changes the slack the next ones may use.
    while heap:
        _, dt, key, j, c2 = heapq.heappop(heap)
        g, p = place[j]
        speed = speed_of[int(machine[j])]
        k, c = model[j], int(config[j])
        w0 = 0.0 if c < 0 else models.work[c]
        if (models.work[c2] - w0) / speed != dt:  # stale: the task has moved on
            cand = best_upgrade(k, c, speed)
        else:
            chain = chains[g]
            limit = deadline[j] - chain.end(p)  # its own deadline first: no suffix scan when it fails
            if dt <= limit:
                limit = min(limit, chain.slack.suffix_min(p + 1))
            if dt <= limit:
                work[j] = models.work[c2]
                config[j] = c2
                chain.lengthen(p, dt, deadline[j])
                cand = best_upgrade(k, c2, speed)
            else:
                cand = best_upgrade(k, c, speed, limit)
        if cand is not None:
            heapq.heappush(heap, (-cand[0], cand[1], key, j, cand[2]))

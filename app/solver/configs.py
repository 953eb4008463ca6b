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
from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from .kernel import ragged_searchsorted
from .problem import Problem

__all__ = ["best_within", "upgrade"]

_BLOCK = 4096  # positions per block of :class:`_Limits`
_SWEEP = 16  # tasks found that can no longer be upgraded, before a sweep of the queue


def best_within(problem: Problem, tasks: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """For each of ``tasks`` (model tasks), the most accurate configuration of its model
    whose work is at most ``budget`` (same length; ties: least work, then lowest index),
    or -1 where none fits. One sort of the configurations (by model, then work) and a
    running best in that order, then a binary search per task: O((C + n) log(C + n))."""
    models = problem.models
    size = models.work.shape[0]
    owner = np.repeat(np.arange(models.count), np.diff(models.start))
    index = np.arange(size)
    by_work = np.lexsort((index, -models.accuracy, models.work, owner))
    # the running best of each model in that order: the most accurate so far, the first
    # among equals (a rank by accuracy, the earlier place higher among ties), restarting
    # at each model (whose keys all exceed the previous model's)
    rank = np.empty(size, dtype=np.int64)
    rank[np.lexsort((-index, models.accuracy[by_work]))] = index
    best = np.maximum.accumulate(owner[by_work].astype(np.int64) * size + rank)
    place_of_rank = np.empty(size, dtype=np.intp)
    place_of_rank[rank] = index
    best_place = place_of_rank[best - owner[by_work].astype(np.int64) * size]
    model = problem.model[tasks]
    fits = ragged_searchsorted(models.work[by_work], models.start, model, np.asarray(budget, dtype=np.float64),
                               side="right")
    out = np.full(tasks.shape[0], -1, dtype=np.int64)
    ok = fits > 0
    out[ok] = by_work[best_place[models.start[model[ok]] + fits[ok] - 1]]
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
        if nb == 1:  # one block: the limits themselves, no padding for whole-array passes to run over
            self.v = np.array(limit, dtype=np.float64)
        else:
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

    def values(self, p: np.ndarray) -> np.ndarray:
        """The limits at positions ``p``, vectorised."""
        if not self.blocks:
            return self.v[p]
        b = p // _BLOCK
        return np.minimum(self.v[p] + self.add[b], self.cap[b])

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


class _Queue:
    """One machine's model tasks, each with its first upgrade, in the order they are tried,
    and the fewest extra seconds any upgrade of each needs. Limits only fall, so a task
    whose limit is below that can never be upgraded: once a few tasks have been found so,
    every such task still queued is dropped at once (vectorised) rather than tried."""

    def __init__(self, negr: np.ndarray, dt: np.ndarray, pos: np.ndarray, cfg: np.ndarray,
                 least: np.ndarray):
        self.arrays = (negr, dt, pos, cfg)
        #: the entries as tuples ``(-ratio, extra seconds, position, configuration)``
        self.entries = list(zip(*(a.tolist() for a in self.arrays), strict=True))
        self.least = least
        #: a limit rose (an upgrade to less work): dropping is no longer safe
        self.rising = False

    def sweep(self, limits: _Limits, i: int) -> bool:
        """Drop every task from ``i`` on whose limit is below its fewest extra seconds (a
        sweep costs O(tasks left): the caller runs it once as many tasks as pay for it
        were found that can no longer be upgraded). Returns whether any was dropped (the
        lists are then replaced, from 0)."""
        keep = self.least[i:] <= limits.values(self.arrays[2][i:])
        if keep.all():
            return False
        self.arrays = tuple(a[i:][keep] for a in self.arrays)
        self.entries = list(zip(*(a.tolist() for a in self.arrays), strict=True))
        self.least = self.least[i:][keep]
        return True


@dataclass(frozen=True, eq=False)
class _Tables:
    """Tables of upgrades built at once (:meth:`_Upgrades.build_all`), key after key:
    ``span`` per key ``(lo, hi)`` into the per-upgrade arrays (``-ratio``, extra seconds,
    configuration, minus the running minimum of the extra seconds within the key)."""

    span: np.ndarray
    negr: np.ndarray
    dt: np.ndarray
    config: np.ndarray
    neg_least: np.ndarray


class _Upgrades:
    """Per (model, configuration, machine speed): every upgrade of a task of that model
    running that configuration (-1: none), best first (accuracy gain per second, then
    fewer extra seconds, then the lower index), with running minima of the extra seconds
    so that the best upgrade within a limit is a binary search.

    The tables sit end to end in flat lists (``negr``, ``dt``, ``config``: -ratio, extra
    seconds, configuration; ``neg_least``: minus the running minimum of the extra seconds),
    key by key, and ``span[key]`` gives each key's ``(lo, hi)`` there. The keys of the tasks'
    first configurations are built at once, vectorised (:meth:`build_all`); a key met later
    is built on first use (:meth:`build`), O(C log C) for C configurations of the model.
    Both compute every number with the same floating-point operations, so the tables do not
    depend on how they were built."""

    def __init__(self, models):
        self.models = models
        self.work = models.work.tolist()
        self.accuracy = models.accuracy.tolist()
        self.start = models.start.tolist()
        self.a_min = models.a_min.tolist()
        #: per upgrade, key after key: -ratio, extra seconds, configuration
        self.negr: list[float] = []
        self.dt: list[float] = []
        self.config: list[int] = []
        self.neg_least: list[float] = []
        self.span: dict[tuple[int, int, float], tuple[int, int]] = {}
        self._by_config: dict[tuple[int, int], tuple[list[float], list[float], list[int]]] = {}

    def _gains(self, k: int, c: int) -> tuple[list[float], list[float], list[int]]:
        """The upgrades of a task of model ``k`` running ``c`` (-1: none), on any machine:
        accuracy gains, extra works and configurations (cached per (model, configuration))."""
        key = (k, c)
        got = self._by_config.get(key)
        if got is None:
            work, accuracy = self.work, self.accuracy
            w0 = 0.0 if c < 0 else work[c]
            a0 = self.a_min[k] if c < 0 else accuracy[c]
            up = [c2 for c2 in range(self.start[k], self.start[k + 1]) if accuracy[c2] - a0 > 0.0]
            got = self._by_config[key] = ([accuracy[c2] - a0 for c2 in up], [work[c2] - w0 for c2 in up], up)
        return got

    def build(self, key: tuple[int, int, float]) -> tuple[int, int]:
        """Append the table of ``key`` (model, configuration or -1, speed); its span."""
        k, c, speed = key
        gains, extra, up = self._gains(k, c)
        dts = [w / speed for w in extra]
        options = sorted(zip([-(g / dt) if dt > 0.0 else -math.inf for g, dt in zip(gains, dts, strict=True)],
                             dts, up, strict=True))
        lo = len(self.dt)
        if options:
            negr, dt, config = zip(*options, strict=True)
            self.negr.extend(negr)
            self.dt.extend(dt)
            self.config.extend(config)
            self.neg_least.extend(accumulate([-x for x in dt], max))
        got = self.span[key] = (lo, len(self.dt))
        return got

    def build_all(self, k: np.ndarray, c: np.ndarray, speed: np.ndarray) -> _Tables:
        """Append the tables of the distinct keys ``(k, c, speed)`` (none built yet),
        vectorised: O(N log N) for N upgrades in all. Returns them as arrays."""
        ms = self.models
        size = (ms.start[k + 1] - ms.start[k]).astype(np.intp)
        first = np.zeros(k.shape[0] + 1, dtype=np.intp)
        np.cumsum(size, out=first[1:])
        group = np.repeat(np.arange(k.shape[0]), size)
        c2 = ms.start[k][group] + (np.arange(first[-1]) - first[:-1][group])
        has = c >= 0
        w0 = np.where(has, ms.work[np.maximum(c, 0)], 0.0)
        a0 = np.where(has, ms.accuracy[np.maximum(c, 0)], ms.a_min[k])
        gain = ms.accuracy[c2] - a0[group]
        keep = gain > 0.0
        group, c2, gain = group[keep], c2[keep], gain[keep]
        dt = (ms.work[c2] - w0[group]) / speed[group]
        with np.errstate(divide="ignore"):
            negr = np.where(dt > 0.0, -(gain / np.where(dt > 0.0, dt, 1.0)), -np.inf)
        order = np.lexsort((c2, dt, negr, group))
        group, c2, dt, negr = group[order], c2[order], dt[order], negr[order]
        # running maximum of -dt within each key: by rank among all values, the key's
        # number above every rank of the keys before it
        total = group.shape[0]
        rank = np.empty(total, dtype=np.int64)
        by_value = np.argsort(-dt, kind="stable")
        rank[by_value] = np.arange(total)
        best = np.maximum.accumulate(group.astype(np.int64) * total + rank) - group.astype(np.int64) * total
        neg_least = -dt[by_value[best]]
        counts = np.bincount(group, minlength=k.shape[0])
        lo = len(self.dt)
        span = np.empty((k.shape[0], 2), dtype=np.intp)
        span[:, 1] = lo + np.cumsum(counts)
        span[:, 0] = span[:, 1] - counts
        self.negr.extend(negr.tolist())
        self.dt.extend(dt.tolist())
        self.config.extend(c2.tolist())
        self.neg_least.extend(neg_least.tolist())
        self.span.update(zip(zip(k.tolist(), c.tolist(), speed.tolist(), strict=True),
                             map(tuple, span.tolist()), strict=True))
        return _Tables(span - lo, negr, dt, c2, neg_least)

    def first_fit(self, k: np.ndarray, c: np.ndarray, speed: np.ndarray,
                  limit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For many tasks at once (``speed``: each one's machine's), their best upgrade
        within ``limit``. Returns per task ``-ratio``, extra seconds and configuration of its
        best upgrade within ``limit`` (configuration -1 where none fits), and the fewest
        extra seconds of any of its upgrades (inf: none). One binary search per task,
        vectorised over the tasks."""
        code = np.where(c >= 0, c, -1 - k)  # names (model, configuration)
        speeds, speed_of = np.unique(speed, return_inverse=True)
        uniq, group = np.unique((code + k.max(initial=0) + 1) * speeds.shape[0] + speed_of, return_inverse=True)
        first = np.zeros(uniq.shape[0], dtype=np.intp)
        first[group] = np.arange(group.shape[0])  # a task of each group
        tables = self.build_all(k[first], np.where(c[first] >= 0, c[first], -1), speed[first])
        size = tables.span[:, 1] - tables.span[:, 0]
        offset = np.append(tables.span[:, 0], tables.dt.shape[0])
        neg_least = tables.neg_least
        i = ragged_searchsorted(neg_least, offset, group, -limit)
        has = i < size[group]
        at = (offset[group] + i)[has]
        negr = np.full(k.shape[0], np.inf)
        dt = np.full(k.shape[0], np.inf)
        cfg = np.full(k.shape[0], -1, dtype=np.int64)
        negr[has], dt[has], cfg[has] = tables.negr[at], tables.dt[at], tables.config[at]
        least = np.full(k.shape[0], np.inf)
        some = size[group] > 0
        least[some] = -neg_least[offset[group[some] + 1] - 1]
        return negr, dt, cfg, least


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
    the earlier position. Machines do not share time, so each is done on its own
    (:func:`_upgrade_machine`).

    O(U (B + n_r / B) + P log n + n log n) for U upgrades made, P candidates tried (about
    one per upgrade and per task that fits one when tried), n_r tasks on a machine, blocks
    of B = :data:`_BLOCK`."""
    options = _Upgrades(problem.models)
    if idx.shape[0] == 0:
        return
    bounds = np.append(group_starts, idx.shape[0])
    mach = machine[idx]
    speed = problem.speed[mach]
    w = work[idx]
    # every position's limit, machine by machine (no rounding carried from one to the next)
    limit = np.empty(idx.shape[0])
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        r = int(mach[lo])
        end = problem.available_at[r] + np.cumsum(w[lo:hi] / problem.speed[r])
        limit[lo:hi] = chain_limits(problem.deadline[idx[lo:hi]], end, w[lo:hi] > 0.0)
    # every model task's best upgrade within its limit, sorted by machine, then as tried
    kinds = problem.model[idx]
    on = np.flatnonzero(kinds >= 0)
    negr, dt, cfg, least = options.first_fit(kinds[on], config[idx][on], speed[on], limit[on])
    fits = cfg >= 0
    pos, negr, dt, cfg, least = on[fits], negr[fits], dt[fits], cfg[fits], least[fits]
    chain = np.searchsorted(bounds, pos, side="right") - 1
    order = np.lexsort((pos, dt, negr, chain))
    pos, negr, dt, cfg, least, chain = pos[order], negr[order], dt[order], cfg[order], least[order], chain[order]
    cut = np.searchsorted(chain, np.arange(bounds.shape[0]))
    for g, (lo, hi) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)):
        a, b = cut[g], cut[g + 1]
        if a < b:
            queue = _Queue(negr[a:b], dt[a:b], pos[a:b] - lo, cfg[a:b], least[a:b])
            _upgrade_machine(problem, options, idx[lo:hi], int(mach[lo]), limit[lo:hi], queue, work, config)


def _upgrade_machine(problem: Problem, options: _Upgrades, tasks: np.ndarray, r: int, limit: np.ndarray,
                     queue: _Queue, work: np.ndarray, config: np.ndarray) -> None:
    """:func:`upgrade` on machine ``r``'s ``tasks`` (in order, with their limits now), in
    place.

    The tasks are tried in the order of their best upgrades within their limits
    (``queue``); a task tried again (its candidate no longer fitted and a smaller one
    does, or it was upgraded and may be again) goes to a heap with its best upgrade within
    its limit then. A limit only falls, so that candidate's gain per second is no higher
    than the one it replaces and the order of trials stays that of the rule. Limits are
    kept explicitly (:class:`_Limits`)."""
    speed = float(problem.speed[r])
    w = work[tasks]
    limits = _Limits(limit)
    ks, cs = problem.model[tasks].tolist(), config[tasks].tolist()
    entries = queue.entries
    qi, q_len = 0, len(entries)
    drops = 0
    heap: list[tuple[float, float, int, int]] = []
    changed = []
    pop, push = heapq.heappop, heapq.heappush
    span, build, neg_least = options.span, options.build, options.neg_least
    local: dict[int, tuple[int, int]] = {}  # this machine's spans, by configuration
    o_negr, o_dt, o_cfg = options.negr, options.dt, options.config
    read = limits.v.item if not limits.blocks else limits.__getitem__
    # Inherently sequential: each upgrade changes the slack the next ones may use.
    while True:
        if qi < q_len and not (heap and heap[0] < entries[qi]):
            _, dt, p, c2 = entries[qi]
            qi += 1
        elif heap:
            _, dt, p, c2 = pop(heap)
        else:
            break
        room = read(p)
        if dt <= room:
            cs[p] = c2
            changed.append(p)
            if dt < 0.0:  # less work (a dominated configuration left): limits rise
                w[changed] = problem.models.work[np.array(cs)[changed]]
                end = problem.available_at[r] + np.cumsum(w / speed)
                limits = _Limits(chain_limits(problem.deadline[tasks], end, w > 0.0))
                read = limits.v.item if not limits.blocks else limits.__getitem__
                queue.rising = True
            else:
                limits.grow(p, dt)
            room -= dt
        c_now = cs[p]
        code = c_now if c_now >= 0 else -1 - ks[p]  # names (model, configuration) at this speed
        got = local.get(code)
        if got is None:
            key = (ks[p], c_now, speed)
            got = local[code] = span.get(key) or build(key)
        lo, hi = got
        # the first whose running minimum fits: that minimum is its own extra seconds
        i = bisect_left(neg_least, -room, lo, hi)
        if i < hi:
            push(heap, (o_negr[i], o_dt[i], p, o_cfg[i]))
        else:  # the task can no longer be upgraded; after enough such, sweep the queue
            drops += 1
            if drops >= _SWEEP and drops >= (q_len - qi) >> 3 and not queue.rising:
                drops = 0
                if queue.sweep(limits, qi):  # read it again
                    entries = queue.entries
                    qi, q_len = 0, len(entries)
    if changed:
        at = sorted(set(changed))
        picked = np.array([cs[p] for p in at], dtype=np.int64)
        config[tasks[at]] = picked
        work[tasks[at]] = problem.models.work[picked]

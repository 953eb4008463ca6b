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
from .schedule import ChainRows, bands

__all__ = ["best_within", "upgrade"]

_BLOCK = 64  # places per block of limits (:class:`_Limits`): the rounding of every limit
_ALL_TABLES = 1 << 12  # upgrades in all, up to which every table of the models run is built (_TableStore)
_COMPARE_ALL = 4096  # tasks per slice when short tables are compared whole (long ones: binary searches)
_SWEEP = 16  # tasks found that can no longer be upgraded, before a sweep of the queue
_LOCKSTEP = 1 << 14  # machines of at most this many tasks make their upgrades in lockstep (longer ones: alone,
#: where a Python loop of a few microseconds per trial costs less than a lockstep round per upgrade)


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
    positions, each with a pending ``x -> min(x + add, cap)``. These operations are the
    pass's rounding of every limit: the lockstep (:func:`_upgrade_lockstep`) makes the same
    ones, so that a machine's upgrades do not depend on which way ran it."""

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
    """Tables of upgrades built at once (:func:`_build_tables`), key after key:
    ``span`` per key ``(lo, hi)`` into the per-upgrade arrays (``-ratio``, extra work,
    configuration, minus the running minimum of the extra work within the key)."""

    span: np.ndarray
    negr: np.ndarray
    extra: np.ndarray
    config: np.ndarray
    neg_least: np.ndarray


def _ratio_order(gain: float, extra: float) -> float:
    """The sort key of an upgrade by accuracy gain per unit of extra work (per second on
    a machine: its speed is common to every upgrade compared there): ``-gain / extra``,
    ``-inf`` for no extra work."""
    return -(gain / extra) if extra > 0.0 else -math.inf


class _Upgrades:
    """Per (model, configuration): every upgrade of a task of that model running that
    configuration (-1: none), best first (accuracy gain per unit of extra work, then less
    extra work, then the lower index), with running minima of the extra work so that the
    best upgrade within a limit is a binary search. A machine's speed divides every extra
    work alike, so one table serves every machine: the extra seconds on a machine of speed
    s are ``extra / s`` (a division rounds monotonically, so the running minima in seconds
    are those of the works divided).

    The tables sit end to end in flat lists (``negr``, ``extra``, ``config``: -ratio,
    extra work, configuration; ``neg_least``: minus the running minimum of the extra work),
    key by key, and ``span[key]`` gives each key's ``(lo, hi)`` there. A key is built on
    first use (:meth:`build`), O(C log C) for C configurations of the model, with the
    floating-point operations of :func:`_build_tables` (all tables at once, vectorised),
    so the tables do not depend on how they were built."""

    def __init__(self, models):
        self.work = models.work.tolist()
        self.accuracy = models.accuracy.tolist()
        self.start = models.start.tolist()
        self.a_min = models.a_min.tolist()
        self.negr: list[float] = []
        self.extra: list[float] = []
        self.config: list[int] = []
        self.neg_least: list[float] = []
        self.span: dict[tuple[int, int], tuple[int, int]] = {}

    def build(self, key: tuple[int, int]) -> tuple[int, int]:
        """Append the table of ``key`` (model, configuration or -1); its span."""
        k, c = key
        work, accuracy = self.work, self.accuracy
        w0 = 0.0 if c < 0 else work[c]
        a0 = self.a_min[k] if c < 0 else accuracy[c]
        up = [c2 for c2 in range(self.start[k], self.start[k + 1]) if accuracy[c2] - a0 > 0.0]
        extra = [work[c2] - w0 for c2 in up]
        options = sorted(zip([_ratio_order(accuracy[c2] - a0, x) for c2, x in zip(up, extra, strict=True)],
                             extra, up, strict=True))
        lo = len(self.extra)
        if options:
            negr, extra, config = zip(*options, strict=True)
            self.negr.extend(negr)
            self.extra.extend(extra)
            self.config.extend(config)
            self.neg_least.extend(accumulate([-x for x in extra], max))
        got = self.span[key] = (lo, len(self.extra))
        return got


def _build_tables(models, k: np.ndarray, c: np.ndarray) -> _Tables:
    """The upgrade tables of the keys ``(k, c)`` (distinct), vectorised, with the
    floating-point operations of :meth:`_Upgrades.build`: O(N log N) for N upgrades in
    all."""
    ms = models
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
    extra = ms.work[c2] - w0[group]
    with np.errstate(divide="ignore", over="ignore"):  # a gain over a tiny extra work may overflow: -inf
        negr = np.where(extra > 0.0, -(gain / np.where(extra > 0.0, extra, 1.0)), -np.inf)
    order = np.lexsort((c2, extra, negr, group))
    group, c2, extra, negr = group[order], c2[order], extra[order], negr[order]
    # running maximum of -extra within each key: by rank among all values, the key's
    # number above every rank of the keys before it
    total = group.shape[0]
    rank = np.empty(total, dtype=np.int64)
    by_value = np.argsort(-extra, kind="stable")
    rank[by_value] = np.arange(total)
    best = np.maximum.accumulate(group.astype(np.int64) * total + rank) - group.astype(np.int64) * total
    neg_least = -extra[by_value[best]]
    counts = np.bincount(group, minlength=k.shape[0])
    span = np.empty((k.shape[0], 2), dtype=np.intp)
    span[:, 1] = np.cumsum(counts)
    span[:, 0] = span[:, 1] - counts
    return _Tables(span, negr, extra, c2, neg_least)


class _TableStore:
    """The upgrade tables every task may meet, built at once (:func:`_build_tables`) as
    flat arrays (``negr``, ``extra``, ``config``, ``neg_least`` as in :class:`_Tables`,
    one last entry past them standing for "none"), found by key ``(model, configuration or
    -1)`` for many tasks at once (:meth:`table`), with every entry's ``rank`` by
    ``(-ratio, extra work)`` (equal pairs, equal ranks) so that the best upgrade of many
    on one machine is one integer minimum."""

    def __init__(self, models, k: np.ndarray, c: np.ndarray, speed: np.ndarray, room: np.ndarray):
        """The tables of tasks of models ``k`` now running ``c`` (-1: none) on machines of
        speeds ``speed``, with limits ``room`` (seconds): their own and those of every more
        accurate configuration they may reach. A task's limit falls by the extra seconds
        of each of its upgrades, so it reaches only configurations whose work exceeds its
        own by at most its speed times its limit (a margin of 1e-9 relative to the works
        covers the rounding); :meth:`table` says where one is missing all the same."""
        self.n_configs = int(models.work.shape[0])
        possible = self.n_configs + int(models.a_min.shape[0])
        keys = np.flatnonzero(self._wanted(models, k, c, speed, room, possible))
        has = keys < self.n_configs
        kk = np.where(has, 0, keys - self.n_configs)
        kk[has] = np.searchsorted(models.start, keys[has], side="right") - 1
        tables = _build_tables(models, kk, np.where(has, keys, -1))
        #: every key's place among the keys (:attr:`missing`: not built)
        self.by_key = np.full(possible, keys.shape[0], dtype=np.intp)
        self.by_key[keys] = np.arange(keys.shape[0])
        self.negr = np.append(tables.negr, np.inf)
        self.extra = np.append(tables.extra, -np.inf)
        self.config = np.append(tables.config, -1)
        self.neg_least = np.append(tables.neg_least, np.inf)
        order = np.lexsort((self.extra, self.negr))
        new = np.ones(order.shape[0], dtype=bool)
        negr, extra = self.negr[order], self.extra[order]
        new[1:] = (negr[1:] != negr[:-1]) | (extra[1:] != extra[:-1])
        self.rank = np.empty(order.shape[0], dtype=np.int64)
        self.rank[order] = np.cumsum(new) - 1
        self.none = order.shape[0] - 1
        self.rank[self.none] = self.rank[:-1].max(initial=-1) + 1  # none: after every upgrade
        #: per table (one more, empty, for a table not built): its place in the flat arrays
        self.lo = np.append(tables.span[:, 0], self.none)
        self.hi = np.append(tables.span[:, 1], self.none)
        self.missing = keys.shape[0]
        #: per table, its running minima padded with +inf (one at least), when every table is short
        self.rows = None
        #: with :attr:`rows`, per table and column the place in the flat arrays (:attr:`none` past its end)
        self.place = None
        width = int((self.hi - self.lo).max(initial=0))
        if width <= 16:
            cols = np.arange(width + 1)
            at = self.lo[:, None] + cols
            inside = at < self.hi[:, None]
            self.rows = np.where(inside, self.neg_least[np.minimum(at, self.none)], np.inf)
            self.place = np.where(inside, at, self.none)

    def _wanted(self, models, k: np.ndarray, c: np.ndarray, speed: np.ndarray, room: np.ndarray,
                possible: int) -> np.ndarray:
        """Per key, whether its table is built: every key of every model the tasks run when
        those tables hold at most :data:`_ALL_TABLES` upgrades in all (a table more changes
        the order of no two upgrades), else the tasks' own keys and those they may reach."""
        wanted = np.zeros(possible, dtype=bool)
        present = np.zeros(possible - self.n_configs, dtype=bool)
        present[k] = True
        size = np.diff(models.start)
        if int((size * (size + 1))[present].sum()) <= _ALL_TABLES:
            wanted[:self.n_configs] = np.repeat(present, size)
            wanted[self.n_configs:] = present
            return wanted
        task_key = self._key(k, c)
        reach_of = np.full(possible, -np.inf)
        np.maximum.at(reach_of, task_key, speed * room)
        wanted[task_key] = True
        now = np.flatnonzero(wanted)
        has = now < self.n_configs
        kk = np.where(has, 0, now - self.n_configs)
        kk[has] = np.searchsorted(models.start, now[has], side="right") - 1
        a0 = np.where(has, models.accuracy[np.minimum(now, self.n_configs - 1)], models.a_min[kk])
        w0 = np.where(has, models.work[np.minimum(now, self.n_configs - 1)], 0.0)
        size = (models.start[kk + 1] - models.start[kk]).astype(np.intp)
        owner = np.repeat(np.arange(kk.shape[0]), size)
        c2 = models.start[kk][owner] + np.arange(owner.shape[0]) - np.repeat(np.cumsum(size) - size, size)
        reach = np.maximum(reach_of[now], 0.0)[owner]
        extra = models.work[c2] - w0[owner]
        better = (models.accuracy[c2] > a0[owner]) & (extra <= reach + 1e-9 * (models.work[c2] + w0[owner] + reach))
        wanted[c2[better]] = True
        return wanted

    def _key(self, k: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.where(c >= 0, c, self.n_configs + k)

    def table(self, k: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Per task (model ``k``, configuration ``c`` or -1): its table, :attr:`missing`
        where it was not built."""
        return self.by_key[self._key(k, c)]

    def first_within(self, table: np.ndarray, room: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """Per task, the first place in its ``table`` whose running minimum of the extra
        seconds (extra work over ``speed``) is at most ``room`` (its best upgrade within
        ``room``), or :attr:`none`: every entry compared at once when the tables are short,
        else a binary search per task, vectorised."""
        x = -room
        if self.rows is not None:  # the first that fits, in slices of a bounded size
            if table.shape[0] <= _COMPARE_ALL:
                return self._first_in_rows(table, x, speed)
            return np.concatenate([self._first_in_rows(table[i:i + _COMPARE_ALL], x[i:i + _COMPARE_ALL],
                                                       speed[i:i + _COMPARE_ALL])
                                   for i in range(0, table.shape[0], _COMPARE_ALL)])
        lo, hi = self.lo[table], self.hi[table]
        width = int((hi - lo).max(initial=0))
        at, end = lo.copy(), hi.copy()
        for _ in range(width.bit_length()):
            mid = (at + end) >> 1
            right = (self.neg_least[mid] / speed < x) & (at < end)
            at = np.where(right, mid + 1, at)
            end = np.where(right | (at >= end), end, mid)
        return np.where(at < hi, at, self.none)

    def _first_in_rows(self, table: np.ndarray, x: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """:meth:`first_within` (``x``: minus the room) of short tables, every entry compared."""
        column = (self.rows[table] / speed[:, None] < x[:, None]).argmin(axis=1)
        return self.place.ravel()[table * self.place.shape[1] + column]


def chain_limits(problem: Problem, idx: np.ndarray, chains: ChainRows, mach: np.ndarray,
                 w: np.ndarray) -> np.ndarray:
    """Per place of the chains ``chains`` (tasks ``idx`` back to back on machines ``mach``
    with works ``w``, zero: not run), the most its task may grow: its own deadline minus
    end and the least slack of the running tasks after it. Each chain's end times are
    summed left to right from its machine's ``available_at`` (the rounding of
    ``available_at + cumsum`` on the chain alone). O(n)."""
    end = problem.available_at[mach] + chains.cumsum(w / problem.speed[mach])
    own = problem.deadline[idx] - end
    return np.minimum(own, chains.least_after(np.where(w > 0.0, own, np.inf)))


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
    task's limit: the least slack (deadline minus end) of the task and of every later
    running task, kept in blocks of :data:`_BLOCK` places (:class:`_Limits`, whose
    rounding is the pass's). Upgrades go by the best accuracy gain per second first, ties
    to the fewer extra seconds, then the earlier position. Machines do not share time: the
    machines of at most :data:`_LOCKSTEP` tasks make their upgrades in lockstep, one
    upgrade per machine a round, vectorised over the machines (:func:`_upgrade_lockstep`);
    a longer machine, or one that meets an upgrade to less work, runs on its own
    (:func:`_upgrade_machine`). Both make the same upgrades, with the same floating-point
    operations.

    O(n log n + T) to set up (T: the entries of the upgrade tables the tasks may meet, at
    most C per model task's (model, configuration)), then O(B + n_r / B) numpy work per
    upgrade on a machine of n_r tasks (blocks of B places) plus a binary search per task
    whose best upgrade no longer fits; in lockstep, as many rounds as the most upgrades
    one machine makes, each O(m' (B + L / B)) for the m' machines still upgrading and L
    the longest of them (machines of similar length in one band, :func:`~app.solver.schedule.bands`)."""
    if idx.shape[0] == 0:
        return
    bounds = np.append(group_starts, idx.shape[0])
    mach = machine[idx]
    w = work[idx]
    limit = chain_limits(problem, idx, ChainRows(bounds), mach, w)
    # every model task's best upgrade within its limit
    kinds = problem.model[idx]
    on = np.flatnonzero(kinds >= 0)
    k_on, c_on, speed_on = kinds[on], config[idx][on], problem.speed[mach[on]]
    store = _TableStore(problem.models, k_on, c_on, speed_on, limit[on])
    tab = store.table(k_on, c_on)  # all built
    at = store.first_within(tab, limit[on], speed_on)
    fits = at != store.none
    first = _Candidates(pos=on[fits], at=at[fits], table=tab[fits])
    chain = np.searchsorted(bounds, first.pos, side="right") - 1
    length = np.diff(bounds)
    alone = length[chain] > _LOCKSTEP
    sequential = set(np.unique(chain[alone]).tolist())
    together = np.flatnonzero(~alone)
    used = np.where(np.bincount(chain[together], minlength=length.shape[0]) > 0, length, 0)
    for rows in bands(used):
        band = np.zeros(length.shape[0], dtype=bool)
        band[rows[used[rows] > 0]] = True
        mine = together[band[chain[together]]]
        if mine.shape[0]:
            sequential |= _upgrade_lockstep(problem, store, idx, bounds, chain[mine], first.take(mine), limit,
                                            problem.speed[mach], work, config)
    if sequential:
        _upgrade_alone(problem, store, idx, bounds, mach, chain, first, limit, sorted(sequential), work, config)


@dataclass(frozen=True, eq=False)
class _Candidates:
    """Model tasks with an upgrade within their limit: position in the chains, place of
    that upgrade in the tables and their own table."""

    pos: np.ndarray
    at: np.ndarray
    table: np.ndarray

    def take(self, which: np.ndarray) -> _Candidates:
        return _Candidates(self.pos[which], self.at[which], self.table[which])


def _upgrade_alone(problem: Problem, store: _TableStore, idx: np.ndarray, bounds: np.ndarray, mach: np.ndarray,
                   chain: np.ndarray, first: _Candidates, limit: np.ndarray, groups: list[int], work: np.ndarray,
                   config: np.ndarray) -> None:
    """:func:`_upgrade_machine` on the chains ``groups``, each from its first candidates."""
    options = _Upgrades(problem.models)
    for g in groups:
        lo, hi = int(bounds[g]), int(bounds[g + 1])
        mine = chain == g
        at = first.at[mine]
        pos, negr, extra, cfg = first.pos[mine], store.negr[at], store.extra[at], store.config[at]
        least = -store.neg_least[store.hi[first.table[mine]] - 1] / problem.speed[mach[lo]]
        order = np.lexsort((pos, extra, negr))
        queue = _Queue(negr[order], extra[order], pos[order] - lo, cfg[order], least[order])
        _upgrade_machine(problem, options, idx[lo:hi], int(mach[lo]), limit[lo:hi], queue, work, config)


class _Lockstep:
    """The state of machines making their upgrades in lockstep (:func:`_upgrade_lockstep`):
    per machine (a row) and place of its chain (a column, in blocks of :data:`_BLOCK`),
    the limit's stored part ``v`` (:class:`_Limits`: the limit is ``min(v + add, cap)``
    with ``add`` and ``cap`` per block), the task's best upgrade within its limit (table
    entry, extra seconds ``dt``, key ``rank * width + column``) and its table; per block,
    the least key, the most ``dt`` and ``room``, the least ``min(v + add, cap) - dt`` (kept
    up to rounding as the limits fall: below a tolerance, an upgrade in the block may no
    longer fit; ``+inf`` in a row whose machine is done, whose every ``dt`` is ``-inf``);
    per row, a bound on every ``|v|`` and ``|add|`` (the limits' largest size plus the
    extra seconds given so far), the scale of the rounding that tolerance allows for."""

    cells = ("v", "entry", "dt", "key", "table", "cand")
    blocks = ("add", "cap", "kmin", "room", "dmax")
    per_row = ("scale", "group", "speed")

    def __init__(self, rows: int, nb: int, store: _TableStore):
        self.shape = (rows, nb * _BLOCK)
        self.nb = nb
        #: per table entry, its key's rank part (a key: rank * width + column)
        self.rank_w = store.rank * self.shape[1]
        #: keys from here on: no upgrade
        self.dead = int(self.rank_w[store.none])
        self.v = np.full(self.shape, np.inf)
        self.entry = np.zeros(self.shape, dtype=np.int32)  # places in the tables, fewer than 2**31
        self.dt = np.full(self.shape, -np.inf)
        self.key = np.full(self.shape, self.dead, dtype=np.int64)
        self.table = np.zeros(self.shape, dtype=np.int32)
        self.cand = np.full(self.shape, -1, dtype=np.int32)  # tasks, fewer than 2**31
        self.add = np.zeros((rows, nb))
        self.cap = np.full((rows, nb), np.inf)
        self.kmin = np.full((rows, nb), self.dead, dtype=np.int64)
        self.room = np.full((rows, nb), np.inf)
        self.dmax = np.full((rows, nb), -np.inf)

    def limits(self, blocks: np.ndarray) -> np.ndarray:
        """The limits of whole blocks (raveled indices ``row * blocks per row + block``),
        ``min(v + add, cap)``, a row of :data:`_BLOCK` per block."""
        return np.minimum(np.take(self.v.reshape(-1, _BLOCK), blocks, axis=0) + self.add.ravel()[blocks][:, None],
                          self.cap.ravel()[blocks][:, None])

    def set_best(self, store: _TableStore, cells: np.ndarray, at: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """Cells (raveled) hold the upgrades at table places ``at`` on machines of ``speed``
        as their best: entry, extra seconds and key. Returns the extra seconds."""
        self.entry.ravel()[cells] = at
        dt = self.dt.ravel()[cells] = store.extra[at] / speed
        self.key.ravel()[cells] = self.rank_w[at] + cells % self.shape[1]
        return dt

    def keep(self, rows: np.ndarray) -> None:
        for name in self.cells + self.blocks + self.per_row:
            setattr(self, name, getattr(self, name)[rows])
        self.shape = self.v.shape

    def stop(self, rows: np.ndarray) -> None:
        """Rows ``rows`` make no more upgrades here: no upgrade, and no block ever flagged
        (room ``+inf`` against a tolerance of 0, even where the limits' scale overflowed)."""
        self.kmin[rows] = self.dead
        self.room[rows] = np.inf
        self.scale[rows] = 0.0

    def grow(self, r: np.ndarray, p: np.ndarray, step: np.ndarray) -> None:
        """Rows ``r``'s tasks at columns ``p`` run ``step`` seconds longer: the limits fall
        as :meth:`_Limits.grow` makes them (the task's block settled; in it, those from the
        task on minus ``step``, the earlier ones capped by the task's new limit; later
        blocks' pending add and cap minus ``step``, earlier blocks' cap capped), the blocks'
        rooms with them, the task's own block's to ``-inf`` (it is checked whole)."""
        b, i = np.divmod(p, _BLOCK)
        rb = r * self.nb + b  # the task's block, raveled
        vb = self.limits(rb)
        self.add.ravel()[rb], self.cap.ravel()[rb] = 0.0, np.inf
        later = np.arange(_BLOCK) >= i[:, None]
        np.subtract(vb, step[:, None], out=vb, where=later)
        now = vb[np.arange(r.shape[0]), i]
        np.minimum(vb, now[:, None], out=vb, where=~later)
        self.v.reshape(-1, _BLOCK)[rb] = vb
        # every row's blocks at once: a row that makes no upgrade has its own block past its
        # last, so that no block is after it, and every block before it is capped by +inf
        rows = self.shape[0]
        own, dt, cap = np.full(rows, self.nb), np.zeros(rows), np.full(rows, np.inf)
        own[r], dt[r], cap[r] = b, step, now
        blocks = np.arange(self.nb)
        after, before = blocks > own[:, None], blocks < own[:, None]
        np.subtract(self.add, dt[:, None], out=self.add, where=after)
        np.subtract(self.cap, dt[:, None], out=self.cap, where=after)
        np.minimum(self.cap, cap[:, None], out=self.cap, where=before)
        np.subtract(self.room, dt[:, None], out=self.room, where=after)
        np.minimum(self.room, cap[:, None] - self.dmax, out=self.room, where=before)
        self.room.ravel()[rb] = -np.inf
        self.scale += dt

    def search_again(self, store: _TableStore) -> None:
        """Every task whose upgrade may no longer fit (its block's room within the rounding
        tolerance, then checked exactly) gets its best within its limit now; the blocks
        checked are summed up again."""
        flagged = np.flatnonzero(self.room <= self.scale[:, None] * 1e-9)  # blocks, raveled
        lim = self.limits(flagged)
        dt = np.take(self.dt.reshape(-1, _BLOCK), flagged, axis=0)
        stale = np.flatnonzero(dt > lim)  # in the flagged blocks' cells, raveled
        block, col = np.divmod(stale, _BLOCK)
        block = flagged[block]
        cell = block * _BLOCK + col  # the cells, raveled
        speed = self.speed[block // self.nb]
        at = store.first_within(self.table.ravel()[cell], lim.ravel()[stale], speed)
        dt.ravel()[stale] = self.set_best(store, cell, at, speed)
        self.refresh(flagged, lim, dt)

    def refresh(self, flat: np.ndarray, lim: np.ndarray, dt: np.ndarray | None = None) -> None:
        """The per-block summaries of blocks ``flat`` (raveled), whose limits are ``lim``
        (and extra seconds ``dt``, when the caller has them)."""
        self.kmin.ravel()[flat] = np.take(self.key.reshape(-1, _BLOCK), flat, axis=0).min(axis=1)
        if dt is None:
            dt = np.take(self.dt.reshape(-1, _BLOCK), flat, axis=0)
        self.room.ravel()[flat] = (lim - dt).min(axis=1)
        self.dmax.ravel()[flat] = dt.max(axis=1)


def _upgrade_lockstep(problem: Problem, store: _TableStore, idx: np.ndarray, bounds: np.ndarray, chain: np.ndarray,
                      first: _Candidates, limit: np.ndarray, speed: np.ndarray, work: np.ndarray,
                      config: np.ndarray) -> set[int]:
    """:func:`upgrade` on many machines at once, in place; ``first``: their model tasks
    with an upgrade within their limit, by chain (``chain``) then position.

    A machine's chain is a row of padded matrices (:class:`_Lockstep`), kept so that every
    task's upgrade is its best within its limit now. Each round every machine makes its
    best one (the least rank, then the earliest position: the sequential rule's next
    upgrade, since its limits only fall, see :func:`_upgrade_machine`); its limits fall
    with the floating-point operations of :meth:`_Limits.grow` (:meth:`_Lockstep.grow`),
    and every task whose upgrade may no longer fit gets its best within its limit now (a
    task with none is out for good; :meth:`_Lockstep.search_again`). Rows of machines that
    are done are dropped as they grow many. A machine whose best upgrade is to less work
    (its limits would rise) or to a table not built is left out: returns those chains, for
    :func:`_upgrade_machine`. O(B + L / B) per row and round for rows of at most L places,
    plus the tasks whose upgrade no longer fits (each compared with its table)."""
    out: set[int] = set()
    new_row = np.ones(chain.shape[0], dtype=bool)  # chain: non-decreasing
    new_row[1:] = chain[1:] != chain[:-1]
    rows, row = chain[new_row], np.cumsum(new_row) - 1
    start = bounds[rows]
    col = first.pos - start[row]
    nb = max(1, -(-int((bounds[rows + 1] - start).max()) // _BLOCK))
    width = nb * _BLOCK
    s = _Lockstep(rows.shape[0], nb, store)
    tid = idx[first.pos]
    s.speed = speed[start]
    s.group = rows
    cell = row * width + col  # in the cells, raveled
    s.v.ravel()[cell] = limit[first.pos]
    s.scale = np.maximum.reduceat(np.abs(limit[first.pos]), np.flatnonzero(new_row))
    s.set_best(store, cell, first.at, s.speed[row])
    s.table.ravel()[cell] = first.table
    s.cand.ravel()[cell] = np.arange(chain.shape[0])
    s.refresh(np.arange(rows.shape[0] * nb), s.v.reshape(-1, _BLOCK))
    final = config[tid].copy()
    less = store.extra < 0.0
    # (checked per round only when some entry, "none" left out, could meet them)
    any_less = bool(less[:-1].any())
    any_lost = bool((store.by_key[store.config[:-1]] == store.missing).any())
    while True:
        best = s.kmin.min(axis=1)
        r = np.flatnonzero(best < s.dead)
        if r.shape[0] <= s.shape[0] >> 1:
            if r.shape[0] == 0:
                break
            s.keep(r)
            best, r = best[r], np.arange(r.shape[0])
        p = best[r] % width
        cell = r * width + p  # the task's cell, raveled
        e = s.entry.ravel()[cell]
        if any_less and less[e].any():  # its limits would rise: that machine runs alone
            rising = less[e]
            out.update(s.group[r[rising]].tolist())
            s.stop(r[rising])
            r, p, e, cell = r[~rising], p[~rising], e[~rising], cell[~rising]
            if r.shape[0] == 0:
                continue
        s.grow(r, p, s.dt.ravel()[cell])
        # the upgrade made; the task's table now
        up = store.config[e]
        final[s.cand.ravel()[cell]] = up
        tab = store.by_key[up]  # the table of (model, up), up >= 0
        lost = r[tab == store.missing] if any_lost else r[:0]
        if lost.shape[0]:  # not foreseen (see _TableStore): that machine runs alone
            out.update(s.group[lost].tolist())
        s.table.ravel()[cell] = tab
        s.dt.ravel()[cell] = np.inf  # its next upgrade is found below
        s.search_again(store)
        if lost.shape[0]:
            s.stop(lost)
    done = ~np.isin(chain, np.fromiter(out, dtype=np.int64, count=len(out))) & (final != config[tid])
    config[tid[done]] = final[done]
    work[tid[done]] = problem.models.work[final[done]]
    return out


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
    o_negr, o_extra, o_cfg = options.negr, options.extra, options.config
    read = limits.v.item if not limits.blocks else limits.__getitem__

    def seconds(x: float) -> float:
        return x / speed

    # Inherently sequential: each upgrade changes the slack the next ones may use.
    while True:
        if qi < q_len and not (heap and heap[0] < entries[qi]):
            _, extra, p, c2 = entries[qi]
            qi += 1
        elif heap:
            _, extra, p, c2 = pop(heap)
        else:
            break
        room = read(p)
        dt = extra / speed
        if dt <= room:
            cs[p] = c2
            changed.append(p)
            if dt < 0.0:  # less work (a dominated configuration left): limits rise
                w[changed] = problem.models.work[np.array(cs)[changed]]
                alone = ChainRows(np.array([0, tasks.shape[0]]))
                limits = _Limits(chain_limits(problem, tasks, alone, np.full(tasks.shape[0], r), w))
                read = limits.v.item if not limits.blocks else limits.__getitem__
                queue.rising = True
                room = read(p)
            else:
                limits.grow(p, dt)
                room = read(p)
        c_now = cs[p]
        code = c_now if c_now >= 0 else -1 - ks[p]  # names (model, configuration)
        got = local.get(code)
        if got is None:
            key = (ks[p], c_now)
            got = local[code] = span.get(key) or build(key)
        lo, hi = got
        # the first whose running minimum fits: that minimum is its own extra seconds
        i = bisect_left(neg_least, -room, lo, hi, key=seconds)
        if i < hi:
            push(heap, (o_negr[i], o_extra[i], p, o_cfg[i]))
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

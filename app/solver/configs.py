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
_COMPACT_EVERY = 16  # rounds of the lockstep between looks for columns to drop
_COMPACT_AT = 0.7  # columns are dropped when the longest row's upgradable tasks fill at most this share
_PAD = 1 << 16  # cells of padding a band of rows may add beyond twice its size
_LOCKSTEP = 1024  # machines of at most this many tasks make their upgrades in lockstep (longer ones: alone,
#: where one pass over a machine's limits per upgrade costs less than the lockstep's padded passes)


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
    """Tables of upgrades built at once (:func:`_build_tables`), key after key:
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
    key by key, and ``span[key]`` gives each key's ``(lo, hi)`` there. A key is built on
    first use (:meth:`build`), O(C log C) for C configurations of the model. It computes
    every number with the floating-point operations of :func:`_build_tables` (all tables
    at once, vectorised), so the tables do not depend on how they were built."""

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


def _build_tables(models, k: np.ndarray, c: np.ndarray, speed: np.ndarray) -> _Tables:
    """The upgrade tables of the keys ``(k, c, speed)`` (distinct), vectorised, with the
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
    span = np.empty((k.shape[0], 2), dtype=np.intp)
    span[:, 1] = np.cumsum(counts)
    span[:, 0] = span[:, 1] - counts
    return _Tables(span, negr, dt, c2, neg_least)


class _TableStore:
    """The upgrade tables every task may meet, built at once (:func:`_build_tables`) as
    flat arrays (``negr``, ``dt``, ``config``, ``neg_least`` as in :class:`_Tables`, one
    last entry past them standing for "none"), found by key ``(model, configuration or
    -1, speed)`` for many tasks at once (:meth:`spans`), with every entry's ``rank`` by
    ``(-ratio, extra seconds)`` (equal pairs, equal ranks) so that the best upgrade of
    many is one integer minimum."""

    def __init__(self, models, speeds: np.ndarray, k: np.ndarray, c: np.ndarray, sid: np.ndarray,
                 room: np.ndarray):
        """The tables of tasks of models ``k`` now running ``c`` (-1: none) on machines of
        speeds ``speeds[sid]``, with limits ``room``: their own and those of every more
        accurate configuration they may reach. A task's limit falls by the extra seconds
        of each of its upgrades, so it reaches only configurations whose work exceeds its
        own by at most its speed times its limit (a margin of 1e-9 relative to the works
        covers the rounding); :meth:`spans` says where a table is missing all the same."""
        self.models = models
        self.speeds = speeds
        self.n_configs = int(models.work.shape[0])
        now, task_key = np.unique(self._key(k, c, sid), return_inverse=True)
        most = np.full(now.shape[0], -np.inf)
        np.maximum.at(most, task_key, room)
        code, sid = np.divmod(now, speeds.shape[0])
        has = code < self.n_configs
        k = np.where(has, 0, code - self.n_configs)
        k[has] = np.searchsorted(models.start, code[has], side="right") - 1
        a0 = np.where(has, models.accuracy[np.minimum(code, self.n_configs - 1)], models.a_min[k])
        w0 = np.where(has, models.work[np.minimum(code, self.n_configs - 1)], 0.0)
        size = (models.start[k + 1] - models.start[k]).astype(np.intp)
        owner = np.repeat(np.arange(k.shape[0]), size)
        c2 = models.start[k][owner] + np.arange(owner.shape[0]) - np.repeat(np.cumsum(size) - size, size)
        reach = (speeds[sid] * np.maximum(most, 0.0))[owner]
        extra = models.work[c2] - w0[owner]
        better = (models.accuracy[c2] > a0[owner]) & (extra <= reach + 1e-9 * (models.work[c2] + w0[owner] + reach))
        keys = np.unique(np.concatenate((now, self._key(k[owner][better], c2[better], sid[owner][better]))))
        code, sid = np.divmod(keys, speeds.shape[0])
        has = code < self.n_configs
        k = np.where(has, 0, code - self.n_configs)
        k[has] = np.searchsorted(models.start, code[has], side="right") - 1
        tables = _build_tables(models, k, np.where(has, code, -1), speeds[sid])
        self.keys, self.lo, self.hi = keys, tables.span[:, 0], tables.span[:, 1]
        #: every key's place among the keys, when there are few possible keys
        self.by_key = None
        possible = (self.n_configs + int(models.a_min.shape[0])) * speeds.shape[0]
        if possible <= 4 * keys.shape[0] + 65536:
            self.by_key = np.full(possible, -1, dtype=np.intp)
            self.by_key[keys] = np.arange(keys.shape[0])
        self.negr = np.append(tables.negr, np.inf)
        self.dt = np.append(tables.dt, -np.inf)
        self.config = np.append(tables.config, -1)
        self.neg_least = np.append(tables.neg_least, np.inf)
        order = np.lexsort((self.dt, self.negr))
        new = np.ones(order.shape[0], dtype=bool)
        negr, dt = self.negr[order], self.dt[order]
        new[1:] = (negr[1:] != negr[:-1]) | (dt[1:] != dt[:-1])
        self.rank = np.empty(order.shape[0], dtype=np.int64)
        self.rank[order] = np.cumsum(new) - 1
        self.rank[-1] = np.iinfo(np.int64).max  # none
        self.none = order.shape[0] - 1

    def _key(self, k: np.ndarray, c: np.ndarray, sid: np.ndarray) -> np.ndarray:
        return np.where(c >= 0, c, self.n_configs + k).astype(np.int64) * self.speeds.shape[0] + sid

    def spans(self, k: np.ndarray, c: np.ndarray, sid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per task (model ``k``, configuration ``c`` or -1, speed index ``sid``): its
        table's ``(lo, hi)`` in the flat arrays, and whether it was built."""
        key = self._key(k, c, sid)
        if self.by_key is not None:
            at = self.by_key[key]
            built = at >= 0
        else:
            at = np.minimum(np.searchsorted(self.keys, key), self.keys.shape[0] - 1)
            built = self.keys[at] == key
        return self.lo[at], self.hi[at], built

    def first_within(self, lo: np.ndarray, hi: np.ndarray, room: np.ndarray) -> np.ndarray:
        """Per task, the first place in its table ``[lo, hi)`` whose running minimum of the
        extra seconds is at most ``room`` (its best upgrade within ``room``), as
        ``bisect_left(neg_least, -room, lo, hi)``, or :attr:`none`: a binary search per
        task, vectorised (few tasks and short tables: every entry compared at once)."""
        x = -room
        width = int((hi - lo).max(initial=0))
        if width <= 16 and lo.shape[0] <= 256:
            cols = np.arange(width)
            at = lo + ((self.neg_least[np.minimum(lo[:, None] + cols, hi[:, None])] < x[:, None])
                       & (cols < (hi - lo)[:, None])).sum(axis=1)
        else:
            at, end = lo.copy(), hi.copy()
            for _ in range(width.bit_length()):
                mid = (at + end) >> 1
                right = (self.neg_least[mid] < x) & (at < end)
                at = np.where(right, mid + 1, at)
                end = np.where(right | (at >= end), end, mid)
        return np.where(at < hi, at, self.none)


def _bands(count: np.ndarray) -> list[np.ndarray]:
    """Rows of lengths ``count`` in bands, each padded to its longest row at most twice
    its own size plus :data:`_PAD` cells: from the longest row, a band takes the shorter
    ones while that holds. Few bands (one, for rows of similar lengths)."""
    order = np.argsort(count, kind="stable")
    c = count[order].astype(np.int64)
    total = np.concatenate(([0], np.cumsum(c)))
    bands = []
    hi = c.shape[0]
    while hi > 0:
        lo = np.arange(hi)
        fits = (hi - lo) * c[hi - 1] <= 2 * (total[hi] - total[lo]) + _PAD
        start = int(np.flatnonzero(~fits)[-1]) + 1 if not fits.all() else 0
        bands.append(order[start:hi])
        hi = start
    return bands


def _all_chain_limits(problem: Problem, idx: np.ndarray, bounds: np.ndarray, mach: np.ndarray,
                      w: np.ndarray) -> np.ndarray:
    """:func:`chain_limits` of every chain at once, as rows of padded matrices (chains of
    similar length together, :func:`_bands`): each row's end times summed left to right
    from its machine's ``available_at`` (the rounding of ``available_at + cumsum`` on the
    chain alone). O(n)."""
    count = np.diff(bounds)
    limit = np.empty(idx.shape[0])
    for rows in _bands(count):
        cnt = count[rows]
        row = np.repeat(np.arange(rows.shape[0]), cnt)
        col = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        at = bounds[rows][row] + col
        r = mach[bounds[rows]]
        wr = w[at]
        mat = np.zeros((rows.shape[0], int(cnt.max())))
        mat[row, col] = wr / problem.speed[r][row]
        np.cumsum(mat, axis=1, out=mat)
        own = problem.deadline[idx[at]] - (problem.available_at[r][row] + mat[row, col])
        mat.fill(np.inf)
        mat[row, col] = np.where(wr > 0.0, own, np.inf)
        after = np.minimum.accumulate(mat[:, ::-1], axis=1)[:, ::-1]
        later = np.full(at.shape[0], np.inf)
        inside = col + 1 < cnt[row]
        later[inside] = after[row[inside], col[inside] + 1]
        limit[at] = np.minimum(own, later)
    return limit


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
    the earlier position. Machines do not share time: the machines of at most
    :data:`_LOCKSTEP` tasks make their upgrades in lockstep, one upgrade per machine a
    round, vectorised over the machines (:func:`_upgrade_lockstep`); a longer machine, or
    one that meets an upgrade to less work, runs on its own (:func:`_upgrade_machine`).
    Both make the same upgrades, with the same floating-point operations.

    O(n log n + T) to set up (T: the entries of the upgrade tables the tasks may meet, at
    most C per model task's configuration and machine speed), then O(sum over upgrades of
    the tasks still upgradable on the upgraded machine) in numpy passes, over as many
    rounds as the most upgrades one machine makes; per round O(m' L) for the m' machines
    still upgrading and L the most upgradable tasks on one of them (machines of similar
    length in one band, :func:`_bands`)."""
    if idx.shape[0] == 0:
        return
    bounds = np.append(group_starts, idx.shape[0])
    mach = machine[idx]
    speeds, speed_id = np.unique(problem.speed, return_inverse=True)
    w = work[idx]
    limit = _all_chain_limits(problem, idx, bounds, mach, w)
    # every model task's best upgrade within its limit
    kinds = problem.model[idx]
    on = np.flatnonzero(kinds >= 0)
    k_on, c_on, sid_on = kinds[on], config[idx][on], speed_id[mach[on]]
    store = _TableStore(problem.models, speeds, k_on, c_on, sid_on, limit[on])
    lo_t, hi_t, _ = store.spans(k_on, c_on, sid_on)  # all built
    at = store.first_within(lo_t, hi_t, limit[on])
    fits = at != store.none
    first = _Candidates(pos=on[fits], at=at[fits], lo=lo_t[fits], hi=hi_t[fits])
    chain = np.searchsorted(bounds, first.pos, side="right") - 1
    length = np.diff(bounds)
    # a chain longer than a block keeps its limits in blocks (another rounding): alone
    alone = length[chain] > min(_LOCKSTEP, _BLOCK)
    sequential = set(np.unique(chain[alone]).tolist())
    together = np.flatnonzero(~alone)
    per_chain = np.bincount(chain[together], minlength=length.shape[0])
    for rows in _bands(per_chain):
        mine = together[np.isin(chain[together], rows[per_chain[rows] > 0])]
        if mine.shape[0]:
            sequential |= _upgrade_lockstep(problem, store, idx, chain[mine], first.take(mine), limit,
                                            speed_id[mach], work, config)
    if sequential:
        _upgrade_alone(problem, store, idx, bounds, mach, chain, first, limit, sorted(sequential), work, config)


@dataclass(frozen=True, eq=False)
class _Candidates:
    """Model tasks with an upgrade within their limit: position in the chains, place of
    that upgrade in the tables and their own table's ``[lo, hi)``."""

    pos: np.ndarray
    at: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def take(self, which: np.ndarray) -> _Candidates:
        return _Candidates(self.pos[which], self.at[which], self.lo[which], self.hi[which])


def _upgrade_alone(problem: Problem, store: _TableStore, idx: np.ndarray, bounds: np.ndarray, mach: np.ndarray,
                   chain: np.ndarray, first: _Candidates, limit: np.ndarray, groups: list[int], work: np.ndarray,
                   config: np.ndarray) -> None:
    """:func:`_upgrade_machine` on the chains ``groups``, each from its first candidates."""
    options = _Upgrades(problem.models)
    for g in groups:
        lo, hi = int(bounds[g]), int(bounds[g + 1])
        mine = chain == g
        at = first.at[mine]
        pos, negr, dt, cfg = first.pos[mine], store.negr[at], store.dt[at], store.config[at]
        least = -store.neg_least[first.hi[mine] - 1]
        order = np.lexsort((pos, dt, negr))
        queue = _Queue(negr[order], dt[order], pos[order] - lo, cfg[order], least[order])
        _upgrade_machine(problem, options, idx[lo:hi], int(mach[lo]), limit[lo:hi], queue, work, config)


def _upgrade_lockstep(problem: Problem, store: _TableStore, idx: np.ndarray, chain: np.ndarray, first: _Candidates,
                      limit: np.ndarray, speed_id: np.ndarray, work: np.ndarray, config: np.ndarray) -> set[int]:
    """:func:`upgrade` on many machines at once, in place; ``first``: their model tasks
    with an upgrade within their limit, by chain (``chain``) then position.

    A machine's tasks are a row of padded matrices (limit, rank and extra seconds of the
    task's upgrade, ...), kept so that every task's upgrade is its best within its limit
    now. Each round every machine makes its best one (the least rank, then the earliest
    position: the sequential rule's next upgrade, since its limits only fall, see
    :func:`_upgrade_machine`); its limits fall as in :class:`_Limits` (with the same
    floating-point operations: those from the task on by the extra seconds, the earlier
    ones capped by the task's new limit), and every task whose upgrade no longer fits
    gets its best within its limit now (a task with none is out for good). Columns of
    tasks that are out, and rows of machines that are done, are dropped as they grow
    many. A machine whose best upgrade is to less work (its limits would rise) is left
    out: returns those chains, for :func:`_upgrade_machine`."""
    out: set[int] = set()
    if chain.shape[0] == 0:
        return out
    rows, row = np.unique(chain, return_inverse=True)
    count = np.bincount(row)
    col = np.arange(chain.shape[0]) - np.repeat(np.cumsum(count) - count, count)
    shape = (rows.shape[0], int(count.max()))
    tid = idx[first.pos]

    def matrix(fill, values):
        a = np.full(shape, fill, dtype=np.asarray(values).dtype)
        a[row, col] = values
        return a

    none = store.none
    v = matrix(0.0, limit[first.pos])
    entry = matrix(none, first.at)
    key = store.rank[entry]
    dt = store.dt[entry]
    cfg = matrix(-1, config[tid])
    kind = matrix(-1, problem.model[tid])
    lo = matrix(0, first.lo)
    hi = matrix(0, first.hi)
    cand = matrix(-1, np.arange(chain.shape[0]))  # the candidate's number, for the answer
    group = rows
    sid = speed_id[first.pos[np.cumsum(count) - count]]
    final = config[tid].copy()
    mats = [v, entry, key, dt, cfg, kind, lo, hi, cand]
    rounds = 0
    dead = store.rank[none]
    while mats[0].shape[0]:
        v, entry, key, dt, cfg, kind, lo, hi, cand = mats
        width = v.shape[1]
        q = key.argmin(axis=1)
        r = np.arange(q.shape[0])
        e = entry[r, q]
        step = store.dt[e]
        going = e != none
        rising = going & (step < 0.0)
        if rising.any():
            out.update(group[rising].tolist())
            going &= ~rising
            key[rising] = dead
            dt[rising] = -np.inf
        if not going.all():
            if not going.any():
                break
            if rounds % 8 == 0 and going.sum() <= 0.75 * going.shape[0]:
                mats = [a[going] for a in mats]
                group, sid = group[going], sid[going]
                continue
            q = np.where(going, q, width)
            step = np.where(going, step, 0.0)
        flat = r * width + np.minimum(q, width - 1)
        now = np.where(going, v.ravel()[flat] - step, np.inf)  # the task's limit once upgraded
        later = np.greater_equal(np.arange(width), q[:, None])
        np.subtract(v, step[:, None], out=v, where=later)
        np.minimum(v, now[:, None], out=v, where=~later)
        flat, e = flat[going], e[going]
        up = store.config[e]
        final[cand.ravel()[flat]] = up
        cfg.ravel()[flat] = up
        t_lo, t_hi, built = store.spans(kind.ravel()[flat], up, sid[going])
        if not built.all():  # not foreseen (see _TableStore): that machine runs alone
            lost = np.flatnonzero(going)[~built]
            out.update(group[lost].tolist())
            key[lost], dt[lost] = dead, -np.inf
            t_lo[~built] = t_hi[~built] = none
        lo.ravel()[flat], hi.ravel()[flat] = t_lo, t_hi
        dt.ravel()[flat] = np.inf  # its next upgrade is found below
        stale = np.flatnonzero(dt > v)
        at = store.first_within(lo.ravel()[stale], hi.ravel()[stale], v.ravel()[stale])
        entry.ravel()[stale] = at
        key.ravel()[stale] = store.rank[at]
        dt.ravel()[stale] = store.dt[at]
        rounds += 1
        if rounds % _COMPACT_EVERY == 0:
            live = key != dead
            keep_w = max(1, int(live.sum(axis=1).max(initial=0)))
            if keep_w <= _COMPACT_AT * width:
                keep = np.argsort(~live, axis=1, kind="stable")[:, :keep_w]
                mats = [np.take_along_axis(a, keep, axis=1) for a in mats]
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

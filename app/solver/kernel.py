"""The generic kernel of the relaxation: work as a function of the price, and block prices.

Every accuracy family we know is reduced to one unit per task (:class:`Ramps`, built by the
family in :mod:`app.solver.family`): a *ramp*, which takes ``clip((top_i - x) / steep_i, 0,
u_i)`` work when a unit of work costs ``exp(x)`` (``x`` is the *log-price*; ``-inf`` is price
0), or a unit on a *staircase* (:class:`Stairs`: a piecewise-linear concave curve, one step
per segment, shared by every task on the same curve), which takes every step whose top
exceeds ``x``. The sweep and pool-adjacent-violators in :mod:`app.solver.fractional` only
talk to :class:`WorkCurves`, which implements on them:

- ``work_at(x, idx)``: the work each unit takes at log-price ``x``;
- ``block_price(idx, starts, cap, x0)``: for contiguous segments of ``idx``, the log-price at
  which each segment's units take exactly ``cap`` work in total (or ``-inf`` when they
  cannot use ``cap`` even for free);
- ``sensitivity(x, idx)``: ``-d work / d x`` per unit, used to spread a rounding residual;
- ``take(idx)``: the same curves for units ``idx`` in that order (so the sweep reads its
  arrays sequentially instead of gathering through a random permutation);
- ``steps()``: the same curves with each staircase written as its steps, one unit each
  (a step is a ramp of ``steep = 0``), for the small-problem path;
- ``u``, and ``bounds()``: per unit as Python floats, ``u`` and the log-price at or below
  which the unit takes all of it;
- ``range_price(a, b, cap)`` and ``pool_price(...)``: scalar versions
  of ``block_price`` for units ``a..b-1``, in plain Python, for small problems where numpy's
  per-call overhead dominates. They return the linear :data:`Piece` of the block's total
  work around its price, which the small-problem sweep adds up to pool two blocks in O(1)
  when no unit changes status, and re-evaluates only on the side where some unit does;
- ``singleton_pieces(cap)``: every unit's price and piece alone, in closed form; and
  ``run_pieces(heads, cap, which)``: ``range_price`` for many blocks of several units at
  once (vectorised, the same numbers bit for bit).

Prices are handled as logarithms because the exponential family's price spans hundreds of
orders of magnitude on real instances (``theta`` from 1e-3 to 1e4, works from 1e-6 to 1e6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

_MAX_NEWTON = 200
#: pieces :meth:`WorkCurves.pool_price` steps through on a flat total before walking
_FLAT_STEPS = 8
#: a table of staircases x levels up to this many cells (or 16 per step) is kept dense
DENSE_CELLS = 1 << 16
#: otherwise staircases of at most this many steps are looked up by counting, not searching
_PADDED_STEPS = 16

#: a block's total work is linear in the log-price x on [xlo, xhi]:
#: ``total(x) = fixed + lin - x * slope`` (slope, lin, fixed, xlo, xhi)
Piece = tuple[float, float, float, float, float]


@dataclass(frozen=True)
class Stairs:
    """Staircases that units share (a measured model's concave envelope, one staircase per
    model): staircase ``k``'s steps are ``start[k]:start[k + 1]`` of ``top`` (the log of each
    step's slope, strictly decreasing along a staircase) and ``end`` (the work taken once
    that step and every higher one are: increasing). A staircase may have no step (it never
    takes work). At log-price ``x`` a unit on staircase ``k`` takes every step whose top
    exceeds ``x``: the ``end`` of the last of them, 0 if none; at ``x`` equal to a top it is
    indifferent between taking that step or not.

    The sweep evaluates a staircase at a price by a lookup: the distinct tops of all
    staircases, sorted (:attr:`levels`), and per staircase and level the work above it
    (:meth:`work`)."""

    top: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @cached_property
    def count(self) -> np.ndarray:
        """Steps per staircase."""
        return np.diff(self.start)

    @cached_property
    def levels(self) -> np.ndarray:
        """The distinct step tops of all staircases, highest first."""
        return np.unique(self.top)[::-1].copy()

    @cached_property
    def _lookup(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
        """(works per staircase from a leading 0, the dense table or None, the steps' sort
        keys or, for staircases of at most :data:`_PADDED_STEPS` steps, their levels padded
        to a matrix, each staircase's first work); see :meth:`work`."""
        k_count = self.count.shape[0]
        g = self.levels.shape[0]
        owner = np.repeat(np.arange(k_count), self.count)
        rank = g - 1 - np.searchsorted(self.levels[::-1], self.top)  # 0 for the highest level
        row = self.start[:-1] + np.arange(k_count)  # staircase k's works, from 0, at row[k]
        wz = np.zeros(self.top.shape[0] + k_count)
        wz[np.arange(self.top.shape[0]) + owner + 1] = self.end
        keys = owner.astype(np.int64) * (g + 1) + rank  # sorted: by staircase, then level
        if self._dense(k_count * (g + 1), wz.shape[0]):
            # dense: table[k * (g + 1) + q] = work of staircase k above level q, O(1) a lookup
            steps_before = np.zeros((k_count, g + 1), dtype=np.intp)
            np.add.at(steps_before, (owner, rank + 1), 1)
            np.cumsum(steps_before, axis=1, out=steps_before)
            return wz, wz[row[:, None] + steps_before].ravel(), keys, row
        most = int(self.count.max(initial=0))
        if most <= _PADDED_STEPS:  # each staircase's levels in a row, padded with g (never above)
            padded = np.full((k_count, max(most, 1)), g, dtype=np.int64)
            padded[owner, np.arange(self.top.shape[0]) - self.start[owner]] = rank
            return wz, None, padded, row
        return wz, None, keys, row

    @cached_property
    def _step_lengths(self) -> np.ndarray | None:
        """In the dense table's layout (:meth:`rows`), per staircase and level ``q``: the
        length of its step at that level, ``work(k, q + 1) - work(k, q)`` (0 past the last
        level); None without the dense table."""
        _, table, _, _ = self._lookup
        if table is None:
            return None
        works = table.reshape(-1, self.levels.shape[0] + 1)
        out = np.zeros_like(works)
        out[:, :-1] = works[:, 1:] - works[:, :-1]
        return out.ravel()

    def rows(self, k: np.ndarray) -> np.ndarray:
        """Where staircases ``k`` start in the lookup of :meth:`work` (computed once per call
        site when the same units are looked up at several levels)."""
        return k.astype(np.int64) * (self.levels.shape[0] + 1)

    @staticmethod
    def _dense(cells: int, steps: int) -> bool:
        """Whether a dense table of ``cells`` (staircases x levels) is worth keeping."""
        return cells <= max(DENSE_CELLS, 16 * steps)

    def work(self, k: np.ndarray, q: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Work of units on staircases ``k`` when they take the steps of the ``q`` highest
        levels (every step whose top is above ``levels[q]``; ``q`` from 0 to ``len(levels)``).
        A table lookup when staircases times levels are few; otherwise (many distinct
        staircases: one per task, say) a count of the unit's steps above the level, O(steps
        of a staircase), or a binary search in all the steps, O(log steps), when a
        staircase has more than :data:`_PADDED_STEPS`. ``rows``: :meth:`rows` of ``k``, if
        known."""
        wz, table, keys, row = self._lookup
        if table is not None:
            return table[(self.rows(k) if rows is None else rows) + q]
        if keys.ndim == 2:  # few steps each: count the unit's steps above the level
            if keys.shape[1] == 1:  # one step each (ramps flat to rounding): above or not
                return wz[row[k] + (keys[k, 0] < q)]
            return wz[row[k] + np.count_nonzero(keys[k] < np.asarray(q)[:, None], axis=1)]
        # the steps of staircase k above level q end at its (position in keys) - start[k];
        # its works from 0 start at start[k] + k
        return wz[k + np.searchsorted(keys, (self.rows(k) if rows is None else rows) + q)]

    def level_totals(self, k: np.ndarray, seg: np.ndarray, nseg: int) -> np.ndarray | None:
        """Per segment (units on staircases ``k``, in segments ``seg`` of ``nseg``) and per
        ``q`` from 0 to ``len(levels)``: the segment's work when its units take the steps of
        the ``q`` highest levels; each unit counted once per staircase, so O(units +
        segments x staircases x levels). None when that table would be larger than a few
        passes over the units (many staircases or levels: bisect instead)."""
        _, table, _, _ = self._lookup
        k_count = self.count.shape[0]
        width = self.levels.shape[0] + 1
        if table is None or nseg * k_count * width > 8 * k.shape[0] + 4096:
            return None
        units = np.bincount(seg * k_count + k, minlength=nseg * k_count).reshape(nseg, k_count)
        return units.astype(np.float64) @ table.reshape(k_count, width)

    def above(self, x: np.ndarray) -> np.ndarray:
        """Per log-price, how many levels lie above it."""
        asc = self.levels[::-1]
        return asc.shape[0] - np.searchsorted(asc, x, side="right")

    def step_at(self, k: np.ndarray, x: np.ndarray, work: np.ndarray | None = None,
                above: np.ndarray | None = None) -> np.ndarray:
        """Per unit on staircase ``k`` at log-price ``x``: the length of its step whose top is
        exactly ``x`` (0 if none), that is the work between taking that step and not.
        ``work``: the unit's work above ``x``, if known; it must be exactly :meth:`work` at
        :meth:`above` (a saving, not an input: the dense table's step lengths, read when
        the units are many, do not use it); ``above``: :meth:`above` of ``x``, if known."""
        out = np.zeros(x.shape[0])
        g = self.levels.shape[0]
        if g == 0:
            return out
        q = self.above(x) if above is None else above
        is_level = self.levels[np.minimum(q, g - 1)] == x  # x is a level (then q < g)
        _, table, _, _ = self._lookup
        if table is not None and x.shape[0] >= table.shape[0]:  # units enough to pay for it once:
            # every unit's step at its level, one lookup in the dense table's step lengths
            return np.where(is_level, self._step_lengths[self.rows(k) + q], 0.0)
        at = np.flatnonzero(is_level)
        if 2 * at.shape[0] > x.shape[0]:  # most units: look every one up, keep those at a level
            rows = self.rows(k)
            taken = self.work(k, np.minimum(q + 1, g), rows) - (self.work(k, q, rows) if work is None else work)
            return np.where(is_level, taken, out)
        if at.shape[0]:
            k, q = k[at], q[at]
            rows = self.rows(k)
            out[at] = self.work(k, q + 1, rows) - (self.work(k, q, rows) if work is None else work[at])
        return out


@dataclass(frozen=True)
class Ramps:
    """What a family tells the sweep: per unit (one per task), the work it takes at
    log-price ``x``, either ``clip((top - x) / steep, 0, u)`` (a ramp) or a staircase.

    top     log of the marginal gain at zero work: above it the unit takes nothing
    steep   how far the log-price drops per unit of work taken, > 0 for a ramp (0 for a unit
            on a staircase)
    u       the most work the unit can use (``inf``: no cap)
    stair   ``None`` when every unit is a ramp; otherwise per unit its staircase in
            ``stairs`` (``-1``: a ramp); a staircase unit's ``top`` is its highest step's
            (``-inf`` with no step) and its ``u`` its total work
    stairs  the staircases (:class:`Stairs`), shared by the units on them
    """

    top: np.ndarray
    steep: np.ndarray
    u: np.ndarray
    stair: np.ndarray | None = None
    stairs: Stairs | None = None
    #: ``None`` when unit ``i`` is task ``i``; otherwise task ``j``'s units are
    #: ``task_start[j]:task_start[j + 1]`` (at least one each), its work their sum (a concave
    #: curve made of pieces, such as a chord to an accuracy floor then the curve past it)
    task_start: np.ndarray | None = None


#: at most this many groups asked: one search per group (:func:`ragged_searchsorted`)
_FEW_GROUPS = 16


def ragged_searchsorted(values: np.ndarray, offset: np.ndarray, group: np.ndarray, x: np.ndarray,
                        side: str = "left") -> np.ndarray:
    """Per query ``q``: ``searchsorted(values[offset[g]:offset[g + 1]], x[q], side)`` with
    ``g = group[q]`` (each group's values sorted, none NaN), vectorised for any number of
    groups: a binary search per query within its group, all queries a step at a time (NaN
    queries after every value, as :func:`numpy.searchsorted` puts them), or one
    :func:`numpy.searchsorted` per group when at most :data:`_FEW_GROUPS` groups are asked
    (fewer passes over the queries). O(Q log L + G) for Q queries and G groups of at most L
    values."""
    present = np.flatnonzero(np.bincount(group, minlength=offset.shape[0] - 1))
    if present.shape[0] <= _FEW_GROUPS:
        out = np.empty(group.shape[0], dtype=np.intp)
        for g in present.tolist():
            sel = group == g
            out[sel] = np.searchsorted(values[offset[g]:offset[g + 1]], x[sel], side=side)
        return out
    lo = offset[group].astype(np.intp)
    first = lo.copy()
    hi = offset[group + 1].astype(np.intp)
    last = max(values.shape[0] - 1, 0)
    for _ in range(int((hi - lo).max(initial=0)).bit_length()):
        mid = (lo + hi) >> 1
        v = values[np.minimum(mid, last)]
        # the answer is past mid: "left", the first value >= x; "right", the first value > x
        past = ~(v >= x) if side == "left" else ~(v > x)
        past &= lo < hi
        lo = np.where(past, mid + 1, lo)
        hi = np.where(past, hi, mid)
    return lo - first


#: groups up to this long are summed all at once, longer ones one by one
_ROW = 64
#: ... by whole-array steps, one per place in a group, when none is longer than this
_STEPS = 16


def _grouped_cumsum(v: np.ndarray, first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Running sums of ``v`` restarting at each group (``first[g]``, ``count[g]`` positions),
    each in plain left-to-right order (the order, and so the rounding, of a Python loop
    that adds them one by one). Groups up to :data:`_ROW` long: when none is longer than
    :data:`_STEPS`, step ``j`` adds the ``j``-th value of every group that long at once
    (groups sorted by length, so those are a prefix); otherwise as rows of a padded matrix.
    One ``cumsum`` per longer group. O(len(v))."""
    out = np.empty_like(v)
    short = np.flatnonzero(count <= _ROW)
    if short.shape[0]:
        cnt = count[short]
        if int(cnt.max()) <= _STEPS:
            out[first[short]] = v[first[short]]  # a group's first running sum is its first value
            by_length = np.argsort(-cnt, kind="stable")
            start, neg_len = first[short][by_length], -cnt[by_length]
            for j in range(1, -int(neg_len[0])):
                pos = start[:np.searchsorted(neg_len, -j, side="left")] + j  # groups longer than j
                out[pos] = out[pos - 1] + v[pos]
        else:
            row = np.repeat(np.arange(short.shape[0]), cnt)
            col = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            src = np.repeat(first[short], cnt) + col
            mat = np.zeros((short.shape[0], int(cnt.max())))
            mat[row, col] = v[src]
            np.cumsum(mat, axis=1, out=mat)
            out[src] = mat[row, col]
    for g in np.flatnonzero(count > _ROW).tolist():
        a = int(first[g])
        out[a:a + int(count[g])] = np.cumsum(v[a:a + int(count[g])])
    return out


def _before(incl: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Exclusive running sums from inclusive ones: the previous position's, 0 at a group's
    first."""
    out = np.zeros_like(incl)
    out[1:] = incl[:-1]
    out[offset == 0] = 0.0
    return out


def _seg_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over contiguous segments beginning at ``starts`` (all non-empty)."""
    if values.shape[0] == 0:
        return np.zeros(starts.shape[0])
    return np.add.reduceat(values, starts)


def _plain_prices(top: np.ndarray, u: np.ndarray, starts: np.ndarray,
                  cap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The segments whose price needs no root: ``-inf`` where everything fits uncompressed
    (``sum(u) <= cap``), ``max top`` where the capacity is 0 (every unit takes nothing).
    Returns the prices (unset where a root is needed), ``max top`` per segment, and the
    mask of segments that need a root."""
    hi = np.maximum.reduceat(top, starts) if top.shape[0] else np.zeros(0)
    x = np.empty(starts.shape[0])
    free = _seg_sum(u, starts) <= cap  # price 0: everything fits uncompressed
    zero = (cap <= 0) & ~free
    x[free] = -np.inf
    x[zero] = hi[zero]
    return x, hi, ~(free | zero)


class WorkCurves:
    """The work each unit takes at a log-price, as ramps, and the roots a sweep needs.

    Unit ``i`` takes ``clip((top_i - x) / steep_i, 0, u_i)`` work at log-price ``x``: nothing
    above ``top_i`` (the log of its marginal gain at zero work), all of ``u_i`` at or below
    ``top_i - steep_i u_i``, linear in between. The total work of a block of units is then a
    non-increasing piecewise-linear function of ``x`` with two breakpoints per unit; its root
    is found by Newton steps on that function, which are exactly the paper's closed form
    (eq. 9) for the current set of unconstrained units (a step that keeps the set unchanged
    lands on the exact root), kept safe by a bracket, or by walking the breakpoints in order
    (:meth:`range_price`). Nothing here knows which accuracy family the ramps came from.
    """

    def __init__(self, top: np.ndarray, steep: np.ndarray, u: np.ndarray,
                 stair: np.ndarray | None = None, stairs: Stairs | None = None):
        self.top = np.asarray(top, dtype=np.float64)
        self.steep = np.asarray(steep, dtype=np.float64)
        self.u = np.asarray(u, dtype=np.float64)
        #: per unit its staircase in ``stairs`` (-1: a ramp), or None when all are ramps
        self.stair = None if stairs is None else np.asarray(stair, dtype=np.intp)
        self.stairs = stairs
        self.stair_count = 0 if self.stair is None else int(np.count_nonzero(self.stair >= 0))
        self.has_stairs = self.stair_count > 0
        #: units whose work jumps from 0 to ``u`` at ``top`` (``steep == 0``, not on a
        #: staircase: one step each, as :meth:`steps` writes staircases); None if none
        jump = self.steep == 0.0
        if self.has_stairs:
            jump &= self.stair < 0
        self.has_jumps = bool(jump.any())
        self.jump = jump if self.has_jumps else None
        with np.errstate(divide="ignore"):
            self.inv = 1.0 / self.steep  # inf for a step

    @classmethod
    def of(cls, ramps: Ramps) -> WorkCurves:
        return cls(ramps.top, ramps.steep, ramps.u, ramps.stair, ramps.stairs)

    def take(self, idx: np.ndarray) -> WorkCurves:
        out = object.__new__(WorkCurves)
        for name in ("steep", "u", "inv", "top"):
            setattr(out, name, getattr(self, name)[idx])
        out.jump = self.jump[idx] if self.has_jumps else None
        out.has_jumps = self.has_jumps and bool(out.jump.any())
        out.stairs = self.stairs
        out.stair = self.stair[idx] if self.stair is not None else None
        out.stair_count = 0 if out.stair is None else int(np.count_nonzero(out.stair >= 0))
        out.has_stairs = out.stair_count > 0
        return out

    def unit_count(self) -> int:
        """How many units :meth:`steps` writes: one per ramp, one per step of a staircase."""
        if not self.has_stairs:
            return self.top.shape[0]
        on = self.stair >= 0
        return int(np.count_nonzero(~on) + np.maximum(self.stairs.count[self.stair[on]], 1).sum())

    def steps(self) -> tuple[WorkCurves, np.ndarray]:
        """The same curves with every staircase written as its steps, one unit each (a
        staircase without a step as one unit that never takes work), for the plain-Python
        small-problem path. Returns the curves and ``unit_start``: unit ``j``'s are
        ``unit_start[j]:unit_start[j + 1]``, highest step first."""
        n = self.top.shape[0]
        on = np.flatnonzero(self.stair >= 0) if self.has_stairs else np.zeros(0, dtype=np.intp)
        k = self.stair[on] if self.has_stairs else on
        count = np.ones(n, dtype=np.intp)
        count[on] = np.maximum(self.stairs.count[k], 1) if self.has_stairs else 1
        unit_start = np.zeros(n + 1, dtype=np.intp)
        np.cumsum(count, out=unit_start[1:])
        total = int(unit_start[-1])
        top, steep, u = np.empty(total), np.zeros(total), np.zeros(total)
        ramp = np.ones(n, dtype=bool)
        ramp[on] = False
        at = unit_start[:-1][ramp]
        top[at], steep[at], u[at] = self.top[ramp], self.steep[ramp], self.u[ramp]
        if on.shape[0]:
            st = self.stairs
            c = count[on]
            offset = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
            at = np.repeat(unit_start[on], c) + offset
            has = np.repeat(st.count[k] > 0, c)
            step = np.minimum(np.repeat(st.start[k], c) + offset, max(st.top.shape[0] - 1, 0))
            if st.top.shape[0]:
                prev = np.where(offset > 0, st.end[np.maximum(step - 1, 0)], 0.0)
                top[at] = np.where(has, st.top[step], -np.inf)
                u[at] = np.where(has, st.end[step] - prev, 0.0)
            else:
                top[at] = -np.inf
        return WorkCurves(top, steep, u), unit_start

    def _lists(self) -> tuple[list[float], list[float], list[float]]:
        cached = getattr(self, "_py", None)
        if cached is None:
            cached = (self.top.tolist(), self.inv.tolist(), self.u.tolist())
            self._py = cached
        return cached

    def _piece_lists(self) -> tuple[list[float], list[float], list[float], list[float], list[float]]:
        """Per task, as Python floats: ``top``, ``1 / steep``, ``top / steep``, ``u`` and
        ``top - steep u`` (the log-price below which the task takes all of ``u``): the
        operands of :meth:`_piece`, computed once."""
        cached = getattr(self, "_py_piece", None)
        if cached is None:
            top, inv, u = self._lists()
            cached = (top, inv, self._top_inv().tolist(), u, self._saturation().tolist())
            self._py_piece = cached
        return cached

    def _saturation(self) -> np.ndarray:
        """``top - steep u`` per task: at or below this log-price the task takes all of ``u``
        (``-inf`` without a cap). Cached."""
        lo = getattr(self, "_lo", None)
        if lo is None:
            lo = self._lo = self.top - self.u * self.steep
        return lo

    def _top_inv(self) -> np.ndarray:
        top_inv = getattr(self, "_top_inv_arr", None)
        if top_inv is None:
            if self.has_jumps:  # a step never enters a piece's slope
                with np.errstate(invalid="ignore", over="ignore"):
                    top_inv = np.where(self.jump, 0.0, self.top * self.inv)
            else:
                top_inv = self.top * self.inv
            self._top_inv_arr = top_inv
        return top_inv

    def bounds(self) -> tuple[list[float], list[float]]:
        """Per task, as Python floats: ``u`` and the log-price at or below which the task
        takes all of it, ``top - steep u`` (``-inf`` without a cap). Cached."""
        pieces = self._piece_lists()
        return pieces[3], pieces[4]

    def range_price(self, a: int, b: int, cap: float) -> tuple[float, int, Piece]:
        """``block_price`` for the one segment ``a..b-1``, in plain Python.

        Returns the log-price, the number of task evaluations it took (callers budget them)
        and the linear :data:`Piece` of the segment's total work around that price (the
        small-problem sweep pools blocks with it). Same method as ``block_price``: Newton on
        the piecewise-linear total, each step the closed form (eq. 9) on the current piece,
        safeguarded by a bracket. O(b - a) per round.
        """
        top, inv, u = self._lists()
        if b - a == 1:  # one task: its work is min(cap, u), its price in closed form
            lo = top[a] - u[a] / inv[a]
            if u[a] <= cap:
                return -math.inf, 1, (0.0, 0.0, u[a], -math.inf, lo)
            if cap <= 0.0 or inv[a] == math.inf:  # a step's price is its top
                return top[a], 1, (0.0, 0.0, 0.0, top[a], math.inf)
            return top[a] - cap / inv[a], 1, (inv[a], top[a] * inv[a], 0.0, lo, top[a])
        if sum(u[a:b]) <= cap:
            x = -math.inf
        elif cap <= 0.0:
            x = max(top[a:b])
        else:
            x = self._range_root(a, b, cap)
        return (x, 3 * (b - a)) + (self._piece(a, b, x),)

    def run_pieces(self, heads: np.ndarray, cap: np.ndarray,
                   which: np.ndarray) -> tuple[np.ndarray, ...]:
        """The log-price and the :data:`Piece` of the runs ``which`` (a mask over the runs;
        each such run has two or more units): arrays ``x, slope, lin, fixed, xlo, xhi``, one
        entry per run in ``which``. The runs partition the units and begin at ``heads``
        (sorted, first 0); run ``r`` takes ``cap[r]``. The same breakpoint walk as
        :meth:`_range_root` (events sorted by price within each run, running sums by a
        doubling scan), with each run's sums added left to right as the Python loop adds
        them, so the prices are :meth:`range_price`'s bit for bit. O(n) plus O(k log k) for
        the k units of the runs in ``which``."""
        n = self.top.shape[0]
        length = np.diff(np.append(heads, n))
        top, inv, u = self.top, self.inv, self.u
        lo, top_inv = self._saturation(), self._top_inv()
        usum = np.add.reduceat(u, heads)
        x = np.where(usum <= cap, -np.inf, np.maximum.reduceat(top, heads))  # (the zero-cap price)
        walk = which & (usum > cap) & (cap > 0.0)
        if walk.any():
            x[walk] = self._walk(heads, length, walk, cap)
        sel = np.flatnonzero(which)
        count = length[sel]
        first = np.zeros(sel.shape[0], dtype=np.intp)  # each selected run's first unit, compacted
        np.cumsum(count[:-1], out=first[1:])
        unit = np.repeat(heads[sel] - first, count) + np.arange(int(count.sum()))
        xe = np.repeat(x[sel], count)
        top, inv, u, lo, top_inv = top[unit], inv[unit], u[unit], lo[unit], top_inv[unit]
        nothing = xe >= top
        full = ~nothing & (xe <= lo)
        mid = ~(nothing | full)
        last = first + count - 1
        with np.errstate(invalid="ignore"):
            slope = _grouped_cumsum(np.where(mid, inv, 0.0), first, count)[last]
            lin = _grouped_cumsum(np.where(mid, top_inv, 0.0), first, count)[last]
        fixed = _grouped_cumsum(np.where(full, u, 0.0), first, count)[last]
        xlo = np.maximum.reduceat(np.where(nothing, top, np.where(mid, lo, -np.inf)), first)
        xhi = np.minimum.reduceat(np.where(full, lo, np.where(mid, top, np.inf)), first)
        return x[sel], slope, lin, fixed, xlo, xhi

    def _walk(self, heads: np.ndarray, length: np.ndarray, walk: np.ndarray, cap: np.ndarray) -> np.ndarray:
        """:meth:`_range_root` for the runs ``walk`` (each ``0 < cap < sum u``), vectorised."""
        unit = np.flatnonzero(np.repeat(walk, length))
        run = np.repeat(np.arange(heads.shape[0]), length)[unit]
        jump = self.inv[unit] == np.inf
        ramp = unit[~jump]
        # events: (price, kind, unit); kind 2 a unit starts taking work, 1 a step of u, 0 a
        # unit saturates
        price = np.concatenate((self.top[unit], self._saturation()[ramp]))
        kind = np.concatenate((np.where(jump, 1, 2), np.zeros(ramp.shape[0], dtype=np.intp)))
        who = np.concatenate((unit, ramp))
        ev_run = np.concatenate((run, run[~jump]))
        order = np.lexsort((-who, -kind, -price, ev_run))
        price, kind, who, ev_run = price[order], kind[order], who[order], ev_run[order]
        inv, top_inv, u = self.inv[who], self._top_inv()[who], self.u[who]
        d_slope = np.where(kind == 2, inv, np.where(kind == 0, -inv, 0.0))
        d_lin = np.where(kind == 2, top_inv, np.where(kind == 0, -top_inv, 0.0))
        d_fixed = np.where(kind == 2, 0.0, u)
        first = np.flatnonzero(np.diff(ev_run, prepend=-1))
        count = np.diff(np.append(first, ev_run.shape[0]))
        offset = np.arange(ev_run.shape[0]) - np.repeat(first, count)
        s_slope, s_lin, s_fixed = (_before(_grouped_cumsum(v, first, count), offset)
                                   for v in (d_slope, d_lin, d_fixed))
        c = cap[ev_run]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            reach = (s_slope > 0.0) & (s_fixed + s_lin - price * s_slope >= c)
            after = (kind == 1) & (s_fixed + u + s_lin - price * s_slope > c)
            root = (s_lin - (c - s_fixed)) / s_slope
        prev = np.where(offset > 0, np.roll(price, 1), np.inf)
        key = np.where(reach, 2 * offset, np.where(after, 2 * offset + 1, 2 * ev_run.shape[0]))
        hit = np.minimum.reduceat(key, first)
        last = first + count - 1
        e = np.minimum(hit // 2, count - 1) + first
        out = np.where(hit % 2 == 0, np.minimum(np.maximum(root[e], price[e]), prev[e]), price[e])
        return np.where(hit >= 2 * ev_run.shape[0], price[last], out)

    def singleton_pieces(self, cap: np.ndarray) -> tuple[np.ndarray, ...]:
        """Every unit's log-price and :data:`Piece` alone under ``cap[i]`` (what
        ``range_price(i, i + 1, cap[i])`` computes, to rounding), in closed form for all at
        once: arrays ``x, slope, lin, fixed, xlo, xhi``, one entry per unit. O(n)."""
        top, inv, u = self.top, self.inv, self.u
        lo = self._saturation()
        full = u <= cap
        zero = ~full & (cap <= 0.0)
        if self.has_jumps:
            zero |= ~full & self.jump  # a step's price is its top
        mid = ~(full | zero)
        with np.errstate(over="ignore"):  # overflow only where another branch is taken
            x = np.where(full, -np.inf, np.where(zero, top, top - cap * self.steep))
        return (x, np.where(mid, inv, 0.0), np.where(mid, self._top_inv(), 0.0), np.where(full, u, 0.0),
                np.where(full, -np.inf, np.where(zero, top, lo)), np.where(full, lo, np.where(zero, np.inf, top)))

    def pool_price(
        self, a: int, mid: int, b: int, cap: float, lo: float, hi: float, x0: float,
        left: Piece, right: Piece,
    ) -> tuple[float, int, Piece]:
        """``range_price`` for two adjacent blocks ``a..mid-1`` and ``mid..b-1`` pooled into
        one, whose price is known to lie in ``[lo, hi]`` (the two blocks' prices; ``lo`` may
        be ``-inf``: a block with capacity to spare), starting from the guess ``x0``. The
        caller has checked that the pooled tasks do not all fit uncompressed
        (``sum(u) > cap``), so the price is finite.

        ``left`` and ``right`` are the blocks' pieces around their own prices. Each round
        finds the linear piece of the pooled block at ``x`` and its root, exact once the
        root stays on its piece; a side's piece is re-evaluated (one pass over its tasks)
        only when ``x`` leaves the interval where it holds. Usually only one side has a task
        that changes status, and often it is the short one (the block just formed), so
        this costs O(that side) rather than O(b - a). When no Newton step stays inside the
        bracket, the root comes from the one exact root-finder, :meth:`range_price`."""
        if not math.isfinite(hi) or cap <= 0.0:
            return self.range_price(a, b, cap)
        evals = 0
        if math.isfinite(x0):
            x = min(max(x0, lo), hi)
        else:
            x = 0.5 * (lo + hi) if math.isfinite(lo) else hi - 1.0
        piece_of = self._piece
        for _ in range(_MAX_NEWTON):
            if not left[3] <= x <= left[4]:
                left = piece_of(a, mid, x)
                evals += mid - a
            if not right[3] <= x <= right[4]:
                right = piece_of(mid, b, x)
                evals += b - mid
            slope = left[0] + right[0]
            lin = left[1] + right[1]
            fixed = left[2] + right[2]
            xlo = left[3] if left[3] > right[3] else right[3]
            xhi = left[4] if left[4] < right[4] else right[4]
            total = fixed + lin - x * slope
            if total == cap:
                return x, evals, (slope, lin, fixed, xlo, xhi)
            if slope > 0.0:
                x_new = (lin - (cap - fixed)) / slope
                if xlo <= x_new <= xhi:
                    return x_new, evals, (slope, lin, fixed, xlo, xhi)
            if total > cap:
                lo = x
            else:
                hi = x
            if not (slope > 0.0 and lo < x_new < hi):
                break  # no Newton step inside the bracket: walk the breakpoints instead
            x = x_new
        # a flat piece (every unit a step or at a bend: no slope): the root is where a step
        # crosses cap, found by stepping from piece to piece, a few at most when the blocks
        # just pooled were each priced
        for _ in range(_FLAT_STEPS):
            if slope != 0.0 or total == cap:
                break
            up = total > cap  # too much work at x: the root is at or above the piece's top
            nx = xhi if up else math.nextafter(xlo, -math.inf)
            if not math.isfinite(nx):
                break
            # a piece whose top end is nx may end there (a step at nx takes nothing at nx)
            if not left[3] <= nx < left[4]:
                left = piece_of(a, mid, nx)
                evals += mid - a
            if not right[3] <= nx < right[4]:
                right = piece_of(mid, b, nx)
                evals += b - mid
            n_piece = (left[0] + right[0], left[1] + right[1], left[2] + right[2],
                       left[3] if left[3] > right[3] else right[3], left[4] if left[4] < right[4] else right[4])
            n_total = n_piece[2] + n_piece[1] - nx * n_piece[0]
            if up and n_total <= cap:  # the step at nx (= xhi) takes what is left
                return nx, evals, n_piece
            if not up and n_total >= cap:
                if n_total == cap:
                    return nx, evals, n_piece
                return xlo, evals, (slope, lin, fixed, xlo, xhi)  # the step at xlo
            x, total = nx, n_total
            slope, lin, fixed, xlo, xhi = n_piece
        x, e, piece = self.range_price(a, b, cap)
        return x, evals + e, piece

    def _range_root(self, a: int, b: int, cap: float) -> float:
        """The log-price at which tasks ``a..b-1`` take ``cap`` in total (``0 < cap < sum u``).

        Walks the total's breakpoints from the highest price down (a task starts taking work
        below ``top``, and takes all of ``u`` below ``top - steep u``) until the total reaches
        ``cap``, then solves the linear piece there (eq. 9): exact, O(k log k) for k tasks,
        whatever the spread of theta (Newton with bisection needed up to 50 rounds of O(k)
        when theta mixed 1e-3 and 1e3)."""
        top, inv, top_inv, u, lo = self._piece_lists()
        # (log-price, kind, unit): kind 2 a unit starts taking work, 1 a step of u, 0 a unit
        # saturates; from the highest price down
        events = sorted([(top[i], 1 if inv[i] == math.inf else 2, i) for i in range(a, b)]
                        + [(lo[i], 0, i) for i in range(a, b) if inv[i] != math.inf],
                        reverse=True)
        slope = lin = fixed = 0.0
        prev = math.inf
        for xe, kind, i in events:
            if slope > 0.0 and fixed + lin - xe * slope >= cap:
                x = (lin - (cap - fixed)) / slope
                return min(max(x, xe), prev)
            if kind == 2:
                slope += inv[i]
                lin += top_inv[i]
            elif kind == 1:
                fixed += u[i]
                if fixed + lin - xe * slope > cap:  # the step crosses cap: the price is its top
                    return xe
            else:
                slope -= inv[i]
                lin -= top_inv[i]
                fixed += u[i]
            prev = xe
        return prev

    def _piece(self, a: int, b: int, x: float) -> Piece:
        """The linear piece of the total work of ``a..b-1`` that contains log-price ``x``."""
        tops, inv, top_inv, u, lo = self._piece_lists()
        slope = lin = fixed = 0.0
        xlo, xhi = -math.inf, math.inf
        for i in range(a, b):
            top = tops[i]
            if x >= top:  # takes nothing until the price drops below top
                if top > xlo:
                    xlo = top
                continue
            bottom = lo[i]
            if x <= bottom:  # takes u until the price rises above top - steep u
                fixed += u[i]
                if bottom < xhi:
                    xhi = bottom
            else:
                slope += inv[i]
                lin += top_inv[i]
                if bottom > xlo:
                    xlo = bottom
                if top < xhi:
                    xhi = top
        return slope, lin, fixed, xlo, xhi

    def _pick(self, name: str, idx: np.ndarray | None) -> np.ndarray:
        arr = getattr(self, name)
        return arr if idx is None else arr[idx]

    def work_at(self, x: np.ndarray, idx: np.ndarray | None, above: np.ndarray | None = None) -> np.ndarray:
        """Optimal work of tasks ``idx`` (``None``: all) at log-prices ``x`` (one per task).
        O(len(x)). At ``x = -inf`` (price 0) the raw work is ``inf``, clipped to ``u``. A
        step exactly at its price is not taken (the residual spread gives it its share).
        ``above``: :meth:`Stairs.above` of ``x``, if known (a sweep prices whole segments:
        it looks their prices up once, not once per unit)."""
        if self.has_stairs:
            on, k = self._on_stairs(idx)
            if on is None:  # every unit on a staircase
                return self.stairs.work(k, self.stairs.above(x) if above is None else above)
        u = self._pick("u", idx)
        with np.errstate(over="ignore", invalid="ignore"):  # inf is clipped below
            w = (self._pick("top", idx) - x) * self._pick("inv", idx)
        if self.has_jumps or self.has_stairs:  # fmax: a step at exactly its top gives 0 * inf = nan, read as 0
            w = np.minimum(np.fmax(w, 0.0), u)
        else:
            w = np.minimum(np.maximum(w, 0.0), u)
        if self.has_stairs:
            w[on] = self.stairs.work(k, self.stairs.above(x[on]) if above is None else above[on])
        return w

    def _on_stairs(self, idx: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray]:
        """Positions (in ``idx``) of the units on staircases (None: all of them), and their
        staircases."""
        stair = self._pick("stair", idx)
        if self.stair_count == self.stair.shape[0]:
            return None, stair
        on = np.flatnonzero(stair >= 0)
        return on, stair[on]

    def sensitivity(self, x: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
        """``-dw/dx``: ``1/steep`` for tasks strictly between 0 and ``u`` at log-price ``x``, else 0."""
        inv = self._pick("inv", idx)
        with np.errstate(over="ignore", invalid="ignore"):  # inf is clipped below
            raw = (self._pick("top", idx) - x) * inv
        return np.where((raw > 0.0) & (raw < self._pick("u", idx)), inv, 0.0)

    def shares(self, x: np.ndarray, idx: np.ndarray | None, starts: np.ndarray,
               seg_of: np.ndarray, work: np.ndarray | None = None,
               above: np.ndarray | None = None) -> np.ndarray:
        """How a segment's residual work is spread over its units at log-price ``x``: in
        proportion to ``-dw/dx``. A step exactly at ``x`` has an infinite one: where a
        segment has steps at its price, they alone share it, in proportion to their ``u``
        (the limit of steep ramps; every such unit is indifferent at that price). ``work``:
        :meth:`work_at` at ``x``, if known (saves a lookup); ``above``: :meth:`Stairs.above`
        of ``x``, if known."""
        if not (self.has_jumps or self.has_stairs):
            return self.sensitivity(x, idx)
        if self.has_stairs:
            on, k = self._on_stairs(idx)
            if on is None:  # every unit on a staircase (so no jump, no ramp): steps alone
                # (a segment without a step at its price has only zeros to share it by)
                return self.stairs.step_at(k, x, work, above)
        step = np.zeros(x.shape[0])
        if self.has_jumps:
            at = self._pick("jump", idx) & (self._pick("top", idx) == x)
            step[at] = self._pick("u", idx)[at]
        if self.has_stairs:  # a staircase's step at x: the work between taking it and not
            step[on] = self.stairs.step_at(k, x[on], None if work is None else work[on],
                                           None if above is None else above[on])
        ramp = self._pick("steep", idx) > 0.0
        sens = self.sensitivity(x, idx) if ramp.any() else np.zeros(x.shape[0])
        if not step.any():
            return sens
        has_step = np.add.reduceat(step, starts) > 0.0
        return np.where(has_step[seg_of], step, sens)

    def block_price(
        self, idx: np.ndarray, starts: np.ndarray, cap: np.ndarray, x0: np.ndarray | None = None
    ) -> np.ndarray:
        """Log-price per segment at which its tasks take exactly ``cap`` work.

        Segments are the contiguous runs of ``idx`` starting at ``starts``. Returns ``-inf``
        where the segment's whole ``sum(u) <= cap`` (price 0, every task uncompressed), and
        a root otherwise (for ``cap == 0``: ``max top``, where every task takes zero).
        Cost: O(len(idx)) per Newton round; rounds are few (the piecewise-linear total has
        2 breakpoints per task and each Newton step is the exact closed form on its piece).
        """
        if self.has_stairs:
            return self._block_stairs(idx, starts, cap, x0)
        return self._block_newton(idx, starts, cap, x0)

    def _block_newton(
        self, idx: np.ndarray, starts: np.ndarray, cap: np.ndarray, x0: np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`block_price` on ramps: Newton on the piecewise-linear total, safeguarded by
        a bracket."""
        nseg = starts.shape[0]
        top = self.top[idx]
        u = self.u[idx]
        inv = self.inv[idx]
        seg_of = np.repeat(np.arange(nseg), np.diff(np.append(starts, idx.shape[0])))

        x, hi, todo = _plain_prices(top, u, starts, cap)
        self.last_rounds = 0
        if not todo.any():
            return x

        # start: parent's price when given, else the closed form with every task unconstrained
        if x0 is None:  # (0/0 or inf - inf where a segment is not sought: any start will do)
            with np.errstate(divide="ignore", invalid="ignore"):
                x_init = (_seg_sum(top * inv, starts) - cap) / _seg_sum(inv, starts)
            x_init = np.where(np.isnan(x_init), hi - 1.0, x_init)
        else:
            x_init = np.where(np.isfinite(x0), x0, hi - 1.0)
        # total work > cap here: at or below every task's saturation price all take u, and
        # sum(u) > cap where a root is sought (a finite start keeps bisection from stepping
        # down through hundreds of orders of magnitude)
        xl = np.minimum.reduceat(self._saturation()[idx], starts)
        xh = hi.copy()  # total work == 0 < cap here
        x[todo] = np.minimum(x_init[todo], xh[todo])
        active = todo.copy()
        eps4 = 4 * np.finfo(float).eps
        top_inv = top * inv
        u_fin = np.where(np.isinf(u), 0.0, u)
        with np.errstate(over="ignore", invalid="ignore"):  # inf is clipped below
            raw = (top - x[seg_of]) * inv
        for rounds in range(1, _MAX_NEWTON + 1):  # noqa: B007 (kept for last_rounds)
            at_zero = raw <= 0.0
            at_top = raw >= u
            interior = ~(at_zero | at_top)
            slope = np.add.reduceat(inv * interior, starts)
            lin = np.add.reduceat(top_inv * interior, starts)
            fixed = np.add.reduceat(u_fin * at_top, starts)
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                # the paper's closed form (eq. 9) on the piece that contains x
                x_new = (lin - (cap - fixed)) / slope
                total = fixed + lin - np.where(slope > 0, x * slope, 0.0)
            hit = active & (total == cap)
            over = total > cap
            xl = np.where(active & over, np.maximum(xl, x), xl)
            xh = np.where(active & ~over, np.minimum(xh, x), xh)
            newton = active & ~hit & (slope > 0) & (((x_new > xl) & (x_new < xh)) | (x_new == x))
            bisect = np.where(np.isfinite(xl), 0.5 * (xl + xh), xh - 2.0 * (1.0 + np.abs(xh - x)))
            cand = np.where(newton, x_new, bisect)
            # a Newton step that stays on its piece has landed on the exact root
            with np.errstate(over="ignore", invalid="ignore"):  # inf is clipped below
                raw = (top - cand[seg_of]) * inv
            moved = ((raw <= 0.0) != at_zero) | ((raw >= u) != at_top)
            landed = newton & ~np.logical_or.reduceat(moved, starts)
            x = np.where(active & ~hit, cand, x)
            collapsed = np.isfinite(xl) & (xh - xl <= eps4 * np.maximum(1.0, np.abs(xh)))
            active &= ~(hit | landed | collapsed)
            if not active.any():
                break
        self.last_rounds = rounds  # what the call cost, in passes over idx (the sweep budgets it)
        return x

    def _block_stairs(
        self, idx: np.ndarray, starts: np.ndarray, cap: np.ndarray, x0: np.ndarray | None
    ) -> np.ndarray:
        """:meth:`block_price` where some units are on staircases, exactly.

        A segment's total work is non-increasing in the price; its staircase units change
        their work only at the levels (the distinct step tops, highest first). The first
        level ``q`` at which the segment, taking its steps there, reaches ``cap`` is found
        for all segments at once (:meth:`_StairSegments.first_level`). If the segment does
        not reach ``cap`` when its steps at ``q`` are left out, the price is that level (the
        steps there share the rest). Otherwise the price lies strictly between two levels,
        where every staircase unit's work is fixed: the ramps take the rest, priced by
        Newton (:meth:`_block_newton`) and kept inside that interval."""
        n = idx.shape[0]
        lengths = np.diff(np.append(starts, n))
        x, _, todo = _plain_prices(self.top[idx], self.u[idx], starts, cap)
        self.last_rounds = 1
        if not todo.any():
            return x
        segs = _StairSegments(self, idx[np.repeat(todo, lengths)], lengths[todo])
        c = cap[todo]
        q, rounds = segs.first_level(c)
        levels, g = self.stairs.levels, self.stairs.levels.shape[0]
        at_level = q < g
        x_level = np.where(at_level, levels[np.minimum(q, max(g - 1, 0))] if g else -np.inf, -np.inf)
        root = x_level.copy()
        if not segs.only_stairs:
            # between levels q - 1 and q where the segment, leaving out its steps at level
            # q, still takes more than cap (or below every level): the ramps take the rest
            fixed = segs.totals(q, 0, None)  # the staircases' work strictly above the price
            between = ((segs.totals(q, 0, x_level) > c) | ~at_level) & segs.has_ramp
            if between.any():
                rsel = between[segs.seg] & (segs.stair < 0)
                r_seg = segs.seg[rsel]
                r_starts = np.flatnonzero(np.diff(r_seg, prepend=-1))
                which = r_seg[r_starts]
                guess = None if x0 is None else x0[todo][which]
                xr = self._block_newton(segs.units[rsel], r_starts, c[which] - fixed[which], guess)
                rounds += self.last_rounds
                upper = np.where(q[which] > 0, levels[np.maximum(q[which] - 1, 0)] if g else np.inf, np.inf)
                root[which] = np.minimum(np.maximum(xr, x_level[which]), upper)
        x[todo] = root
        self.last_rounds = rounds + 3
        return x


class _StairSegments:
    """The segments of a :meth:`WorkCurves.block_price` call that need a root, compacted:
    their units, which of them are on staircases, and each segment's total work at a level
    of the staircases (:meth:`totals`)."""

    def __init__(self, curves: WorkCurves, units: np.ndarray, lengths: np.ndarray):
        self.curves, self.units = curves, units
        self.starts = np.zeros(lengths.shape[0], dtype=np.intp)
        np.cumsum(lengths[:-1], out=self.starts[1:])
        self.seg = np.repeat(np.arange(lengths.shape[0]), lengths)
        self.stair = curves.stair[units]
        if curves.stair_count == curves.stair.shape[0]:  # every unit on a staircase
            self.on, self.k, self.on_seg = np.arange(units.shape[0]), self.stair, self.seg
            ramp = np.zeros(0, dtype=np.intp)
            self.has_ramp = np.zeros(lengths.shape[0], dtype=bool)
        else:
            self.on = np.flatnonzero(self.stair >= 0)
            self.k = self.stair[self.on]
            self.on_seg = self.seg[self.on]
            ramp = np.flatnonzero(self.stair < 0)
            self.has_ramp = np.add.reduceat((self.stair < 0).astype(np.intp), self.starts) > 0
        self.rows = curves.stairs.rows(self.k)
        self.ramp, self.ramp_seg = ramp, self.seg[ramp]
        self.only_stairs = ramp.shape[0] == 0
        r = units[ramp]
        self.r_top, self.r_inv, self.r_u = curves.top[r], curves.inv[r], curves.u[r]
        self.w = np.zeros(units.shape[0])

    def totals(self, q: np.ndarray, taken: int, ramps_at: np.ndarray | None) -> np.ndarray:
        """Per segment: its staircase units' work above level ``q`` (``taken`` = 1: at or
        above), plus its ramps' work at the log-price ``ramps_at`` (None: leave them out)."""
        st = self.curves.stairs
        if self.only_stairs:
            return np.add.reduceat(st.work(self.k, q[self.on_seg] + taken, self.rows), self.starts)
        w = self.w
        w[self.on] = st.work(self.k, q[self.on_seg] + taken, self.rows)
        if ramps_at is None:
            w[self.ramp] = 0.0
        else:
            with np.errstate(invalid="ignore"):
                w[self.ramp] = np.minimum(np.maximum((self.r_top - ramps_at[self.ramp_seg]) * self.r_inv, 0.0),
                                          self.r_u)
        return np.add.reduceat(w, self.starts)

    def first_level(self, cap: np.ndarray) -> tuple[np.ndarray, int]:
        """Per segment, the first level (0 the highest; ``len(levels)``: none) at which it
        reaches ``cap`` taking its steps there, and the passes over the units it took: with
        staircases only and few of them, every level at once
        (:meth:`Stairs.level_totals`), otherwise a bisection over the levels, O(log levels)
        passes."""
        st = self.curves.stairs
        g = st.levels.shape[0]
        if self.only_stairs:
            per_level = st.level_totals(self.k, self.on_seg, cap.shape[0])
            if per_level is not None:
                return np.count_nonzero(per_level[:, 1:] < cap[:, None], axis=1), 1
        lo = np.zeros(cap.shape[0], dtype=np.intp)
        hi = np.full(cap.shape[0], g, dtype=np.intp)
        rounds = 0
        while True:
            active = lo < hi
            if not active.any():
                return lo, rounds
            mid = np.minimum((lo + hi) // 2, max(g - 1, 0))
            reach = self.totals(mid, 1, st.levels[mid]) >= cap
            hi = np.where(active & reach, mid, hi)
            lo = np.where(active & ~reach, mid + 1, lo)
            rounds += 1

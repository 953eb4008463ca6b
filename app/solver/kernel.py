"""The generic kernel of the relaxation: work as a function of the price, and block prices.

Every accuracy family we know is reduced to *ramps* (:class:`Ramps`, built by the family in
:mod:`app.solver.family`): unit ``i`` takes ``clip((top_i - x) / steep_i, 0, u_i)`` work when
a unit of work costs ``exp(x)`` (``x`` is the *log-price*; ``-inf`` is price 0). The sweep
and pool-adjacent-violators in :mod:`app.solver.fractional` only talk to :class:`WorkCurves`,
which implements on ramps:

- ``work_at(x, idx)``: the work each unit takes at log-price ``x``;
- ``block_price(idx, starts, cap, x0)``: for contiguous segments of ``idx``, the log-price at
  which each segment's units take exactly ``cap`` work in total (or ``-inf`` when they
  cannot use ``cap`` even for free);
- ``sensitivity(x, idx)``: ``-d work / d x`` per unit, used to spread a rounding residual;
- ``take(idx)``: the same curves for units ``idx`` in that order (so the sweep reads its
  arrays sequentially instead of gathering through a random permutation);
- ``u``, and ``bounds()``: per unit as Python floats, ``u`` and the log-price at or below
  which the unit takes all of it;
- ``singletons(cap)``, ``range_price(a, b, cap)`` and ``pool_price(...)``: scalar versions
  of ``block_price`` for units ``a..b-1``, in plain Python, for small problems where numpy's
  per-call overhead dominates. They return the linear :data:`Piece` of the block's total
  work around its price, which the small-problem sweep adds up to pool two blocks in O(1)
  when no unit changes status, and re-evaluates only on the side where some unit does.

Prices are handled as logarithms because the exponential family's price spans hundreds of
orders of magnitude on real instances (``theta`` from 1e-3 to 1e4, works from 1e-6 to 1e6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_MAX_NEWTON = 200

#: a block's total work is linear in the log-price x on [xlo, xhi]:
#: ``total(x) = fixed + lin - x * slope`` (slope, lin, fixed, xlo, xhi)
Piece = tuple[float, float, float, float, float]


@dataclass(frozen=True)
class Ramps:
    """What a family tells the sweep: per unit, the work it takes at log-price ``x`` is
    ``clip((top - x) / steep, 0, u)``.

    top         log of the marginal gain at zero work: above it the unit takes nothing
    steep       how far the log-price drops per unit of work taken, >= 0; 0 is a step: the
                unit takes nothing above ``top`` and all of ``u`` below it (a linear piece
                of a piecewise-linear curve, whose slope is ``exp(top)``)
    u           the most work the unit can use (``inf``: no cap; finite for a step)
    task_start  ``None`` when unit ``i`` is task ``i``; otherwise task ``j``'s units are
                ``task_start[j]:task_start[j + 1]`` (at least one each), and its work is
                their sum
    """

    top: np.ndarray
    steep: np.ndarray
    u: np.ndarray
    task_start: np.ndarray | None = None


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

    def __init__(self, top: np.ndarray, steep: np.ndarray, u: np.ndarray):
        self.top = np.asarray(top, dtype=np.float64)
        self.steep = np.asarray(steep, dtype=np.float64)
        self.u = np.asarray(u, dtype=np.float64)
        #: units whose work jumps from 0 to ``u`` at ``top`` (``steep == 0``); None if none
        jump = self.steep == 0.0
        self.has_jumps = bool(jump.any())
        self.jump = jump if self.has_jumps else None
        if self.has_jumps:
            with np.errstate(divide="ignore"):
                self.inv = 1.0 / self.steep  # inf for a step
        else:
            self.inv = 1.0 / self.steep

    @classmethod
    def of(cls, ramps: Ramps) -> WorkCurves:
        return cls(ramps.top, ramps.steep, ramps.u)

    def take(self, idx: np.ndarray) -> WorkCurves:
        out = object.__new__(WorkCurves)
        for name in ("steep", "u", "inv", "top"):
            setattr(out, name, getattr(self, name)[idx])
        out.jump = self.jump[idx] if self.has_jumps else None
        out.has_jumps = self.has_jumps and bool(out.jump.any())
        return out

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

    def singletons(self, cap: np.ndarray) -> tuple[list[float], list[Piece]]:
        """``range_price(i, i + 1, cap[i])`` for every task at once (vectorised)."""
        top, inv, u = self.top, self.inv, self.u
        lo = self._saturation()
        full = u <= cap
        zero = ~full & (cap <= 0.0)
        if self.has_jumps:
            zero |= ~full & self.jump  # a step's price is its top
        mid = ~(full | zero)
        with np.errstate(over="ignore"):  # overflow only where another branch is taken
            x = np.where(full, -np.inf, np.where(zero, top, top - cap * self.steep))
        pieces = zip(
            np.where(mid, inv, 0.0).tolist(),
            np.where(mid, self._top_inv(), 0.0).tolist(),
            np.where(full, u, 0.0).tolist(),
            np.where(full, -np.inf, np.where(zero, top, lo)).tolist(),
            np.where(full, lo, np.where(zero, np.inf, top)).tolist(),
            strict=True,
        )
        return x.tolist(), list(pieces)

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

    def work_at(self, x: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
        """Optimal work of tasks ``idx`` (``None``: all) at log-prices ``x`` (one per task).
        O(len(x)). At ``x = -inf`` (price 0) the raw work is ``inf``, clipped to ``u``."""
        u = self._pick("u", idx)
        with np.errstate(over="ignore", invalid="ignore"):  # inf is clipped below
            w = (self._pick("top", idx) - x) * self._pick("inv", idx)
        if self.has_jumps:  # fmax: a step at exactly its top gives 0 * inf = nan, read as 0
            return np.minimum(np.fmax(w, 0.0), u)
        return np.minimum(np.maximum(w, 0.0), u)

    def sensitivity(self, x: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
        """``-dw/dx``: ``1/steep`` for tasks strictly between 0 and ``u`` at log-price ``x``, else 0."""
        inv = self._pick("inv", idx)
        with np.errstate(over="ignore", invalid="ignore"):  # inf is clipped below
            raw = (self._pick("top", idx) - x) * inv
        return np.where((raw > 0.0) & (raw < self._pick("u", idx)), inv, 0.0)

    def shares(self, x: np.ndarray, idx: np.ndarray | None, starts: np.ndarray,
               seg_of: np.ndarray) -> np.ndarray:
        """How a segment's residual work is spread over its units at log-price ``x``: in
        proportion to ``-dw/dx``. A step exactly at ``x`` has an infinite one: where a
        segment has steps at its price, they alone share it, in proportion to their ``u``
        (the limit of steep ramps; every such unit is indifferent at that price)."""
        sens = self.sensitivity(x, idx)
        if not self.has_jumps:
            return sens
        at = self._pick("jump", idx) & (self._pick("top", idx) == x)
        if not at.any():
            return sens
        step = np.where(at, self._pick("u", idx), 0.0)
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
        if self.has_jumps:
            return self._block_walk(idx, starts, cap)
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
        if x0 is None:
            x_init = (_seg_sum(top * inv, starts) - cap) / _seg_sum(inv, starts)
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

    def _event_ranks(self) -> tuple[np.ndarray, np.ndarray]:
        """Per unit, the rank of its ``top`` and of its saturation price among all of them,
        from the highest down (computed once: the walk then sorts integers)."""
        ranks = getattr(self, "_ranks", None)
        if ranks is None:
            n = self.top.shape[0]
            order = np.argsort(-np.concatenate((self.top, self._saturation())), kind="stable")
            rank = np.empty(2 * n, dtype=np.int64)
            rank[order] = np.arange(2 * n)
            ranks = self._ranks = (rank[:n], rank[n:])
        return ranks

    def _block_walk(self, idx: np.ndarray, starts: np.ndarray, cap: np.ndarray) -> np.ndarray:
        """:meth:`block_price` by walking each segment's breakpoints from the highest price
        down (the vectorised :meth:`_range_root`): exact where units have steps, at which the
        total jumps and Newton has no slope to follow. O(k log k) for k units (one sort)."""
        n = idx.shape[0]
        nseg = starts.shape[0]
        lengths = np.diff(np.append(starts, n))
        seg_of = np.repeat(np.arange(nseg), lengths)
        top, u, inv, jump = self.top[idx], self.u[idx], self.inv[idx], self.jump[idx]
        lo = self._saturation()[idx]
        x, _, todo = _plain_prices(top, u, starts, cap)
        self.last_rounds = 1
        if not todo.any():
            return x
        sel = todo[seg_of]
        ramp = sel & ~jump
        step = sel & jump
        top_inv = self._top_inv()[idx]
        rank_top, rank_lo = self._event_ranks()
        # events: a ramp starts (at top) and saturates (at lo); a step jumps by u (at top);
        # in each segment from the highest price down: one integer sort on (segment, rank)
        n_ev = rank_top.shape[0] * 2
        ev_seg = np.concatenate((seg_of[ramp], seg_of[ramp], seg_of[step]))
        key = ev_seg * n_ev + np.concatenate((rank_top[idx[ramp]], rank_lo[idx[ramp]], rank_top[idx[step]]))
        order = key.argsort()
        n_ramp, n_step = int(np.count_nonzero(ramp)), int(np.count_nonzero(step))
        ev_x = np.concatenate((top[ramp], lo[ramp], top[step]))[order]
        ev_seg = ev_seg[order]
        if n_ramp:
            d_slope = np.concatenate((inv[ramp], -inv[ramp], np.zeros(n_step)))[order]
            d_lin = np.concatenate((top_inv[ramp], -top_inv[ramp], np.zeros(n_step)))[order]
        else:
            d_slope = d_lin = np.zeros(n_step)
        d_fixed = np.concatenate((np.zeros(n_ramp), u[ramp], u[step]))[order]
        first = np.flatnonzero(np.diff(ev_seg, prepend=-1))
        base = np.repeat(first, np.diff(np.append(first, ev_seg.shape[0])))

        def running(d: np.ndarray) -> np.ndarray:  # inclusive sums restarting at each segment
            cs = np.cumsum(d)
            return cs - (cs[base] - d[base])

        slope, lin, fixed = running(d_slope), running(d_lin), running(d_fixed)
        slope_b, lin_b, fixed_b = slope - d_slope, lin - d_lin, fixed - d_fixed
        c = cap[ev_seg]
        with np.errstate(invalid="ignore", over="ignore"):
            before = np.where(slope_b > 0.0, fixed_b + lin_b - ev_x * slope_b, fixed_b)
            after = np.where(slope > 0.0, fixed + lin - ev_x * slope, fixed)
            piece_hit = (slope_b > 0.0) & (before >= c)
            hit = piece_hit | (after > c)
        cand = np.flatnonzero(hit)
        cand_seg = ev_seg[cand]
        e = cand[np.diff(cand_seg, prepend=-1) != 0]  # the first hit of each segment
        segs = ev_seg[e]
        prev = np.where(e == base[e], np.inf, ev_x[np.maximum(e - 1, 0)])
        with np.errstate(invalid="ignore", divide="ignore"):
            on_piece = (lin_b[e] - (c[e] - fixed_b[e])) / slope_b[e]
        root = np.where(piece_hit[e], np.minimum(np.maximum(on_piece, ev_x[e]), prev), ev_x[e])
        x[segs] = root
        missed = todo.copy()
        missed[segs] = False
        x[missed] = -np.inf  # not reached: sum(u) passes cap by rounding only, so all of u
        return x

"""Accuracy families: the concave curves ``a(work)`` the solvers maximise.

The nested-constraints sweep (:mod:`app.solver.fractional`) only talks to a family through
these operations, so another concave family can be added without touching it:

- ``value(work, idx)`` and ``derivative(work, idx)``: the curve and its slope;
- ``work_at(x, idx)``: the work ``argmax_{0 <= w <= u} a(w) - exp(x) * w`` each task takes
  when a unit of work costs ``exp(x)`` (``x`` is the *log-price*; ``-inf`` is price 0);
- ``block_price(idx, starts, cap, x0)``: for contiguous segments of ``idx``, the log-price at
  which each segment's tasks take exactly ``cap`` work in total (or ``-inf`` when they
  cannot use ``cap`` even for free);
- ``sensitivity(x, idx)``: ``-d work / d x`` per task, used to spread a rounding residual;
- ``take(idx)``: the same family for tasks ``idx`` in that order (so the sweep reads its
  arrays sequentially instead of gathering through a random permutation);
- ``u``, and ``bounds()``: per task as Python floats, ``u`` and the log-price at or below
  which the task takes all of it;
- ``singletons(cap)``, ``range_price(a, b, cap)`` and ``pool_price(...)``: scalar versions
  of ``block_price`` for tasks ``a..b-1``, in plain Python, for small problems where numpy's
  per-call overhead dominates. They return the linear :data:`Piece` of the block's total
  work around its price, which the small-problem sweep adds up to pool two blocks in O(1)
  when no task changes status, and re-evaluates only on the side where some task does.

Prices are handled as logarithms because the exponential family's price spans hundreds of
orders of magnitude on real instances (``theta`` from 1e-3 to 1e4, works from 1e-6 to 1e6).
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from .problem import Problem

_MAX_NEWTON = 200
_EPS = float(np.finfo(float).eps)
_SATURATION = 746.0  # exp(-746) underflows to 0.0

#: a block's total work is linear in the log-price x on [xlo, xhi]:
#: ``total(x) = fixed + lin - x * slope`` (slope, lin, fixed, xlo, xhi)
Piece = tuple[float, float, float, float, float]


class AccuracyFamily(Protocol):
    #: per task, the most work it can use (``t_max``, capped where more adds no accuracy)
    u: np.ndarray

    def value(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray: ...

    def derivative(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray: ...

    def work_at(self, x: np.ndarray, idx: np.ndarray | None) -> np.ndarray: ...

    def block_price(
        self, idx: np.ndarray, starts: np.ndarray, cap: np.ndarray, x0: np.ndarray | None
    ) -> np.ndarray: ...

    def sensitivity(self, x: np.ndarray, idx: np.ndarray | None) -> np.ndarray: ...

    def take(self, idx: np.ndarray) -> AccuracyFamily: ...

    def range_price(self, a: int, b: int, cap: float) -> tuple[float, int, Piece]: ...

    def singletons(self, cap: np.ndarray) -> tuple[list[float], list[Piece]]: ...

    def bounds(self) -> tuple[list[float], list[float]]: ...

    def pool_price(
        self, a: int, mid: int, b: int, cap: float, lo: float, hi: float, x0: float,
        left: Piece, right: Piece,
    ) -> tuple[float, int, Piece]: ...


def _seg_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over contiguous segments beginning at ``starts`` (all non-empty)."""
    if values.shape[0] == 0:
        return np.zeros(starts.shape[0])
    return np.add.reduceat(values, starts)


class ExponentialFamily:
    """``a(w) = a_min + da (1 - exp(-theta w))`` on ``0 <= w <= u`` (section IV-B).

    In log-price space the optimal work of one task at log-price ``x`` is piecewise linear:
    ``w(x) = clip((ln(da theta) - x) / theta, 0, u)``, so the total work of a block is a
    non-increasing piecewise-linear function of ``x`` with two breakpoints per task. Its root
    is found by Newton steps on that function, which are exactly the paper's closed form
    (eq. 9) for the current set of unconstrained tasks; a step that keeps the set unchanged
    lands on the exact root. A bracket keeps the iteration safe.
    """

    def __init__(self, theta: np.ndarray, delta_a: np.ndarray, a_min: np.ndarray, u: np.ndarray):
        self.theta = np.asarray(theta, dtype=np.float64)
        self.delta_a = np.asarray(delta_a, dtype=np.float64)
        self.a_min = np.asarray(a_min, dtype=np.float64)
        # Past theta * w = 746, exp(-theta w) is 0 in double precision: more work adds no
        # representable accuracy, so cap it there. This keeps theta * work finite (no -inf
        # log-prices from overflow) without changing any value.
        with np.errstate(over="ignore"):
            self.u = np.minimum(np.asarray(u, dtype=np.float64), _SATURATION / self.theta)
        self.inv_theta = 1.0 / self.theta
        #: log of the marginal gain at zero work: above it a task takes nothing
        self.lk = np.log(self.delta_a) + np.log(self.theta)

    def take(self, idx: np.ndarray) -> ExponentialFamily:
        out = object.__new__(ExponentialFamily)
        for name in ("theta", "delta_a", "a_min", "u", "inv_theta", "lk"):
            setattr(out, name, getattr(self, name)[idx])
        return out

    def _lists(self) -> tuple[list[float], list[float], list[float]]:
        cached = getattr(self, "_py", None)
        if cached is None:
            cached = (self.lk.tolist(), self.inv_theta.tolist(), self.u.tolist())
            self._py = cached
        return cached

    def _piece_lists(self) -> tuple[list[float], list[float], list[float], list[float], list[float]]:
        """Per task, as Python floats: ``lk``, ``1 / theta``, ``lk / theta``, ``u`` and
        ``lk - theta u`` (the log-price below which the task takes all of ``u``): the
        operands of :meth:`_piece`, computed once."""
        cached = getattr(self, "_py_piece", None)
        if cached is None:
            lk, inv, u = self._lists()
            cached = (lk, inv, self._lk_inv().tolist(), u, self._saturation().tolist())
            self._py_piece = cached
        return cached

    def _saturation(self) -> np.ndarray:
        """``lk - theta u`` per task: at or below this log-price the task takes all of ``u``
        (``-inf`` without a cap). Cached."""
        lo = getattr(self, "_lo", None)
        if lo is None:
            lo = self._lo = self.lk - self.u * self.theta
        return lo

    def _lk_inv(self) -> np.ndarray:
        lk_inv = getattr(self, "_lk_inv_arr", None)
        if lk_inv is None:
            lk_inv = self._lk_inv_arr = self.lk * self.inv_theta
        return lk_inv

    def bounds(self) -> tuple[list[float], list[float]]:
        """Per task, as Python floats: ``u`` and the log-price at or below which the task
        takes all of it, ``lk - theta u`` (``-inf`` without a cap). Cached."""
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
        lk, inv, u = self._lists()
        if b - a == 1:  # one task: its work is min(cap, u), its price in closed form
            lo = lk[a] - u[a] / inv[a]
            if u[a] <= cap:
                return -math.inf, 1, (0.0, 0.0, u[a], -math.inf, lo)
            if cap <= 0.0:
                return lk[a], 1, (0.0, 0.0, 0.0, lk[a], math.inf)
            return lk[a] - cap / inv[a], 1, (inv[a], lk[a] * inv[a], 0.0, lo, lk[a])
        if sum(u[a:b]) <= cap:
            x = -math.inf
        elif cap <= 0.0:
            x = max(lk[a:b])
        else:
            x = self._range_root(a, b, cap)
        return (x, 3 * (b - a)) + (self._piece(a, b, x),)

    def singletons(self, cap: np.ndarray) -> tuple[list[float], list[Piece]]:
        """``range_price(i, i + 1, cap[i])`` for every task at once (vectorised)."""
        lk, inv, u = self.lk, self.inv_theta, self.u
        lo = self._saturation()
        top = u <= cap
        zero = ~top & (cap <= 0.0)
        mid = ~(top | zero)
        with np.errstate(over="ignore"):  # overflow only where another branch is taken
            x = np.where(top, -np.inf, np.where(zero, lk, lk - cap * self.theta))
        pieces = zip(
            np.where(mid, inv, 0.0).tolist(),
            np.where(mid, self._lk_inv(), 0.0).tolist(),
            np.where(top, u, 0.0).tolist(),
            np.where(top, -np.inf, np.where(zero, lk, lo)).tolist(),
            np.where(top, lo, np.where(zero, np.inf, lk)).tolist(),
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
        this costs O(that side) rather than O(b - a)."""
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
            if hi - lo <= 4 * _EPS * max(1.0, abs(hi)):
                return hi, evals, self._piece(a, b, hi)
            if slope > 0.0 and lo < x_new < hi:
                x = x_new
            elif math.isfinite(lo):
                x = 0.5 * (lo + hi)
            else:  # no lower end of the bracket yet: step down, doubling
                x = hi - 2.0 * (1.0 + abs(hi - x))
        return x, evals, self._piece(a, b, x)

    def _range_root(self, a: int, b: int, cap: float) -> float:
        """The log-price at which tasks ``a..b-1`` take ``cap`` in total (``0 < cap < sum u``).

        Walks the total's breakpoints from the highest price down (a task starts taking work
        below ``lk``, and takes all of ``u`` below ``lk - theta u``) until the total reaches
        ``cap``, then solves the linear piece there (eq. 9): exact, O(k log k) for k tasks,
        whatever the spread of theta (Newton with bisection needed up to 50 rounds of O(k)
        when theta mixed 1e-3 and 1e3)."""
        lk, inv, lk_inv, u, lo = self._piece_lists()
        events = sorted([(lk[i], 1, i) for i in range(a, b)] + [(lo[i], 0, i) for i in range(a, b)],
                        reverse=True)
        slope = lin = fixed = 0.0
        prev = math.inf
        for xe, starts_taking, i in events:
            if slope > 0.0 and fixed + lin - xe * slope >= cap:
                x = (lin - (cap - fixed)) / slope
                return min(max(x, xe), prev)
            if starts_taking:
                slope += inv[i]
                lin += lk_inv[i]
            else:
                slope -= inv[i]
                lin -= lk_inv[i]
                fixed += u[i]
            prev = xe
        return prev

    def _piece(self, a: int, b: int, x: float) -> Piece:
        """The linear piece of the total work of ``a..b-1`` that contains log-price ``x``."""
        lk, inv, lk_inv, u, lo = self._piece_lists()
        slope = lin = fixed = 0.0
        xlo, xhi = -math.inf, math.inf
        for i in range(a, b):
            top = lk[i]
            if x >= top:  # takes nothing until the price drops below lk
                if top > xlo:
                    xlo = top
                continue
            bottom = lo[i]
            if x <= bottom:  # takes u until the price rises above lk - theta u
                fixed += u[i]
                if bottom < xhi:
                    xhi = bottom
            else:
                slope += inv[i]
                lin += lk_inv[i]
                if bottom > xlo:
                    xlo = bottom
                if top < xhi:
                    xhi = top
        return slope, lin, fixed, xlo, xhi

    @classmethod
    def of(cls, problem: Problem) -> ExponentialFamily:
        return cls(problem.theta, problem.delta_a, problem.a_min, problem.t_max)

    def _pick(self, name: str, idx: np.ndarray | None) -> np.ndarray:
        arr = getattr(self, name)
        return arr if idx is None else arr[idx]

    def value(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        w = np.maximum(work, 0.0)
        return self._pick("a_min", idx) + self._pick("delta_a", idx) * -np.expm1(
            -self._pick("theta", idx) * w
        )

    def derivative(self, work: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        th = self._pick("theta", idx)
        return self._pick("delta_a", idx) * th * np.exp(-th * np.maximum(work, 0.0))

    def work_at(self, x: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
        """Optimal work of tasks ``idx`` (``None``: all) at log-prices ``x`` (one per task).
        O(len(x)). At ``x = -inf`` (price 0) the raw work is ``inf``, clipped to ``u``."""
        u = self._pick("u", idx)
        with np.errstate(over="ignore", invalid="ignore"):  # inf is clipped below
            w = (self._pick("lk", idx) - x) * self._pick("inv_theta", idx)
        return np.minimum(np.maximum(w, 0.0), u)

    def sensitivity(self, x: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
        """``-dw/dx``: ``1/theta`` for tasks strictly between 0 and ``u`` at log-price ``x``, else 0."""
        inv = self._pick("inv_theta", idx)
        with np.errstate(over="ignore", invalid="ignore"):  # inf is clipped below
            raw = (self._pick("lk", idx) - x) * inv
        return np.where((raw > 0.0) & (raw < self._pick("u", idx)), inv, 0.0)

    def block_price(
        self, idx: np.ndarray, starts: np.ndarray, cap: np.ndarray, x0: np.ndarray | None = None
    ) -> np.ndarray:
        """Log-price per segment at which its tasks take exactly ``cap`` work.

        Segments are the contiguous runs of ``idx`` starting at ``starts``. Returns ``-inf``
        where the segment's whole ``sum(u) <= cap`` (price 0, every task uncompressed), and
        a root otherwise (for ``cap == 0``: ``max ln(da theta)``, where every task takes zero).
        Cost: O(len(idx)) per Newton round; rounds are few (the piecewise-linear total has
        2 breakpoints per task and each Newton step is the exact closed form on its piece).
        """
        nseg = starts.shape[0]
        lk = self.lk[idx]
        u = self.u[idx]
        inv = self.inv_theta[idx]
        seg_of = np.repeat(np.arange(nseg), np.diff(np.append(starts, idx.shape[0])))

        sum_u = _seg_sum(u, starts)
        hi = np.maximum.reduceat(lk, starts) if idx.shape[0] else np.zeros(0)
        x = np.empty(nseg)
        free = sum_u <= cap  # price 0: everything fits uncompressed
        zero = (cap <= 0) & ~free
        x[free] = -np.inf
        x[zero] = hi[zero]
        todo = ~(free | zero)
        self.last_rounds = 0
        if not todo.any():
            return x

        # start: parent's price when given, else the closed form with every task unconstrained
        if x0 is None:
            x_init = (_seg_sum(lk * inv, starts) - cap) / _seg_sum(inv, starts)
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
        lk_inv = lk * inv
        u_fin = np.where(np.isinf(u), 0.0, u)
        with np.errstate(over="ignore", invalid="ignore"):  # inf is clipped below
            raw = (lk - x[seg_of]) * inv
        for rounds in range(1, _MAX_NEWTON + 1):  # noqa: B007 (kept for last_rounds)
            at_zero = raw <= 0.0
            at_top = raw >= u
            interior = ~(at_zero | at_top)
            slope = np.add.reduceat(inv * interior, starts)
            lin = np.add.reduceat(lk_inv * interior, starts)
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
                raw = (lk - cand[seg_of]) * inv
            moved = ((raw <= 0.0) != at_zero) | ((raw >= u) != at_top)
            landed = newton & ~np.logical_or.reduceat(moved, starts)
            x = np.where(active & ~hit, cand, x)
            collapsed = np.isfinite(xl) & (xh - xl <= eps4 * np.maximum(1.0, np.abs(xh)))
            active &= ~(hit | landed | collapsed)
            if not active.any():
                break
        self.last_rounds = rounds  # what the call cost, in passes over idx (the sweep budgets it)
        return x

"""A set-partitioning bound for ``exact``, by column generation (paper section VI-A).

Program (10) lets a task spread over machines in its relaxation. Here a *column* is a pair
(machine class ``k``, task set ``S``): machines of a class are identical (same speed and
``available_at``; ``c_k`` of them), and the column's value ``v_k(S)`` is the exact
single-machine optimum of ``S`` on such a machine (section V, one nested-constraints sweep),
counted as accuracy above ``a_min``. The master LP

    maximise  sum_col v_col lambda_col
    s.t.      sum_{col containing i} lambda_col <= 1        for every task i   (dual pi_i >= 0)
              sum_{col of class k}   lambda_col <= c_k      for every class k  (dual mu_k >= 0)
              lambda >= 0

is a relaxation of the schedules (each schedule is one column per used machine), and much
tighter than the fractional one: a column is a whole single-machine schedule.

**The bound at every iteration** (Lagrangian, or Farley's, bound). For any ``pi >= 0`` and
``mu >= 0`` and any schedule (columns ``S_1..S_q``, at most ``c_k`` of class ``k``, the sets
disjoint)::

    sum_col v(S) = sum_col [v(S) - pi(S) - mu_k] + sum_col pi(S) + sum_col mu_k
                 <= sum_k c_k max(0, R_k) + sum_i pi_i + sum_k c_k mu_k

where ``R_k`` is any upper bound on the best reduced cost ``max_S v_k(S) - pi(S) - mu_k`` of
class ``k`` (``pi(S) <= sum_i pi_i`` since the sets are disjoint and ``pi >= 0``; at most
``c_k`` columns of class ``k``, each at most ``max(0, R_k)``). So the bound holds whatever the
duals are (we clip the LP's to ``>= 0``), at the first iteration as at the last; when no column
has a positive reduced cost it equals the master LP's optimum.

**Stabilisation.** The master is very degenerate: its LP value often equals the best
schedule's from the first iteration, and its optimal duals jump between vertices whose
bounds fall slowly (docs/results.md gives an instance). So the duals priced are smoothed (Wentges) towards
a *centre*, the duals with the best bound so far, which starts at duals built from the
fractional relaxation's prices of work (:meth:`ColumnGeneration.starting_duals`, whose bound
is the fractional optimum where the relaxation reports every price): the bound then falls
from there, not from the first vertex's.

**Pricing** class ``k``: ``max_{S, w} sum_{i in S} (g_i(w_i) - pi_i)`` over the machine's
prefix capacities, ``g_i(w) = a_i(w) - a_min_i`` (concave, increasing, ``g_i(0) = 0``). Per
task the function "0 at ``w = 0``, ``g_i(w) - pi_i`` for ``w > 0``" is not concave; its upper
concave envelope is the chord from the origin to the tangent point ``t_i`` (where
``g_i'(t) t = g_i(t) - pi_i``), then the curve (only the chord up to ``u_i`` when the tangent
point lies beyond the task's usable work ``u_i``; nothing when ``g_i(u_i) <= pi_i``). The
envelope is a concave resource allocation under nested prefix constraints, solved exactly by
the sweep of :mod:`app.solver.fractional`: an upper bound ``R_k``. Numerically we take the
tangent point from below (``t <= t_i``) and the chord's slope ``g_i'(t)``: the function is then
the exact envelope of a penalty ``g(t) - t g'(t) <= pi_i``, so still above the true one.

**Pricing to any precision** by dynamic programming (:meth:`_Pricing.grid_bound`): in
deadline order, over the machine's cumulative work rounded down to a grid of step
``delta``. A task whose work moves the rounded cumulative from ``a`` to ``b`` did less than
``b - a + delta``; crediting it ``g(min(b - a + delta, u)) - pi`` over-estimates it, so the
programme's optimum is an upper bound on the best reduced cost (by at most about
``delta`` times the chosen tasks' slopes), and its trace-back is a column (evaluated
exactly). The credit is concave in ``b - a``, so each task's step is a max-plus convolution
with a concave function, O(N log N) for ``N`` grid points (:func:`maxplus_concave`). Columns
also come from the envelope's optimum and a local search (add or remove one task). When no
class yields an improving column the grid is refined: the bound tends to the master LP's
optimum. (A branch and bound over in/out decisions with the envelope as its bound was
tried first: at the master's optimal duals, where many columns have a reduced cost near
zero, it needed thousands of nodes per class on 30 tasks, where the grid programme takes
a tenth of a second.)

**Incumbents**: the best integer combination of the generated columns (``scipy.optimize.milp``
on the pool, node-limited), evaluated exactly.

Complexity per column-generation iteration: one LP over the pool (HiGHS); per class one
envelope sweep (O(n log n)), one grid programme (O(n N log N)) and a local search of
``_LOCAL_PASSES`` passes of ``n`` cached column evaluations (one sweep each). The number of
iterations is bounded by ``_MAX_ITERATIONS`` and the grid by ``_GRID_MAX``, both counts: the
result does not depend on the clock unless a time limit stops it first (``stop_at``, or the
integer master's safety stop: :meth:`ColumnGeneration.run`).

Scope: curve tasks without floors. Batches with floors or measured models skip this step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csc_matrix

from .floors import chord_then_curve
from .fractional import fractional_relaxation, nested_allocation
from .kernel import Ramps
from .problem import UNSCHEDULED, Problem

__all__ = ["ColumnGeneration", "PricingFamily", "envelope_points", "CGResult"]

_MAX_ITERATIONS = 400  # column-generation iterations at most (then the assignment search has the time)
_GRID_POINTS = 4096  # the pricing grid's points at first
_GRID_REFINE = 4  # how much finer the grid gets when it finds no improving column
_GRID_MAX = 1 << 18  # the finest grid
_TRACE_POINTS = 1 << 18  # finer grids give bounds only (no trace-back)
_TRACES = 6  # extra trace-backs per grid programme (the best sets ending at a task)
_SMOOTHING = 0.8  # Wentges: price at this mix of the centre (best-bound duals) and the master's
_MILP_SECONDS = 2.0  # the integer master's time limit (a safety stop)
_MILP_NODES = 500  # the integer master's budget, in nodes (deterministic)
_RC_TOL = 1e-9  # a column improves when its reduced cost exceeds this (relative to the scale)
_COLUMNS_PER_CLASS = 24  # improving columns kept per class and iteration
_MILP_EVERY = 50  # integer master every this many iterations (and when no column improves)
_MILP_NEAR = 5  # ... and when the master's value is within the gap of the bound, first after this
# many iterations, then twice as many after each call that finds nothing better
_LOCAL_PASSES = 2  # add/remove passes of the pricing's local search
_SAFETY = 1e-10  # relative margin added to every bound (rounding of sums and sweeps)


def envelope_points(theta: np.ndarray, delta_a: np.ndarray, u: np.ndarray,
                    pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per task, the chord of the envelope of "0 at 0, ``g(w) - pi`` for ``w > 0``" on
    ``[0, u]``, with ``g(w) = delta_a (1 - exp(-theta w))`` (module docs): its length ``t``
    (``0 <= t <= u``) and slope ``s``; past ``t`` the function is ``s t + g(w) - g(t)``.

    ``pi <= 0``: no chord (``t = 0``, the plain curve). The tangent point beyond ``u``: the chord
    to ``(u, g(u) - pi)``. ``g(u) <= pi``: the task is dropped (``t = u``, ``s = 0``). Else the
    tangent point, found by bisection on ``x = theta t`` in ``1 - (1 + x) e^{-x} = pi / delta_a``
    from below, and ``s = g'(t)`` (then ``s t >= g(t) - pi``: an envelope for a penalty at most
    ``pi``). O(n) per bisection step, 60 steps.
    """
    theta = np.asarray(theta, dtype=np.float64)
    delta_a = np.asarray(delta_a, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    pi = np.maximum(np.asarray(pi, dtype=np.float64), 0.0)
    t = np.zeros(theta.shape[0])
    s = delta_a * theta  # g'(0): the plain curve
    g_u = delta_a * -np.expm1(-theta * u)
    p = pi / delta_a
    xu = theta * u

    def phi(x):  # (g(t) - t g'(t)) / delta_a at x = theta t, increasing from 0 to 1
        return -np.expm1(-x) - x * np.exp(-x)

    charged = pi > 0.0
    dropped = charged & (g_u <= pi)
    beyond = charged & ~dropped & (phi(xu) <= p)  # the tangent point is past u: chord to u
    inner = charged & ~dropped & ~beyond
    with np.errstate(divide="ignore", invalid="ignore"):
        t[dropped] = u[dropped]
        s[dropped] = 0.0
        t[beyond] = u[beyond]
        s[beyond] = (g_u[beyond] - pi[beyond]) / u[beyond]
    if inner.any():
        lo = np.zeros(int(inner.sum()))
        hi = xu[inner].copy()
        target = p[inner]
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            below = phi(mid) <= target
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        th = theta[inner]
        t[inner] = lo / th
        s[inner] = delta_a[inner] * th * np.exp(-lo)
    return t, s


class PricingFamily:
    """The pricing functions as an accuracy family for the sweep: per task a chord of slope
    ``s`` and length ``t`` (none when ``t = 0``), then the exponential curve up to ``u``
    (a step unit then a ramp unit, like :class:`app.solver.floors.FloorFamily`). Values are
    ``s min(w, t) + g(max(w, t)) - g(t)``, without any constant."""

    def __init__(self, theta: np.ndarray, delta_a: np.ndarray, u: np.ndarray, t: np.ndarray,
                 s: np.ndarray):
        self.theta, self.delta_a, self.u = theta, delta_a, u
        self.t, self.s = t, s
        self.has = t > 0.0
        self.g_t = delta_a * -np.expm1(-theta * t)

    def ramps(self) -> Ramps:
        return chord_then_curve(self.theta, self.delta_a, self.has, self.t, self.s,
                                np.maximum(self.u - self.t, 0.0))

    def value(self, work: np.ndarray, idx: np.ndarray) -> np.ndarray:
        w = np.minimum(np.maximum(work, 0.0), self.u[idx])
        t = self.t[idx]
        g = self.delta_a[idx] * -np.expm1(-self.theta[idx] * np.maximum(w, t))
        return self.s[idx] * np.minimum(w, t) + g - self.g_t[idx]


def maxplus_concave(F: np.ndarray, G: np.ndarray, flat: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``out[b] = max_{0 <= a <= b} F[a] + G[b - a]`` and its leftmost ``a``, for ``G`` concave.

    With ``G`` concave the matrix ``F[a] + G[b - a]`` is inverse Monge, so the leftmost best
    ``a`` does not decrease with ``b``: divide and conquer over rows (the middle row's best
    column splits the columns of the rows above and below), one level at a time, every
    level a few numpy passes over at most ``2 N`` entries. O(N log N).

    ``flat``: ``G`` is constant from there on and ``F`` does not decrease, so ``a`` need not
    go below ``b - flat`` (a best ``a`` is the larger of the leftmost one and ``b - flat``).
    """
    size = F.shape[0]
    out = np.empty(size)
    arg = np.empty(size, dtype=np.intp)
    # per open interval of rows [rlo, rhi], the columns [clo, chi] its best ``a`` lies in
    rlo, rhi = np.array([0]), np.array([size - 1])
    clo, chi = np.array([0]), np.array([size - 1])
    while rlo.shape[0]:
        mid = (rlo + rhi) // 2
        hc = np.minimum(chi, mid)
        lo = clo if flat is None else np.minimum(np.maximum(clo, mid - flat), hc)
        lengths = hc - lo + 1
        starts = np.zeros(lengths.shape[0], dtype=np.intp)
        np.cumsum(lengths[:-1], out=starts[1:])
        total = int(lengths.sum())
        a = np.arange(total) - np.repeat(starts - lo, lengths)
        b = np.repeat(mid, lengths)
        vals = F[a] + G[b - a]
        mx = np.maximum.reduceat(vals, starts)
        pos = np.where(vals >= np.repeat(mx, lengths), np.arange(total), total)
        first = np.minimum.reduceat(pos, starts)
        out[mid] = mx
        best = a[first]
        arg[mid] = best
        left = rlo <= mid - 1
        right = mid + 1 <= rhi
        rlo, rhi = np.concatenate((rlo[left], mid[right] + 1)), np.concatenate((mid[left] - 1, rhi[right]))
        clo, chi = np.concatenate((clo[left], best[right])), np.concatenate((best[left], chi[right]))
    return out, arg


@dataclass
class _Class:
    """Identical machines: their indices, and per task (by rank) the capacity before its
    deadline on one of them and its usable work there."""

    machines: list[int]
    cap: np.ndarray
    u: np.ndarray

    @property
    def count(self) -> int:
        return len(self.machines)


class _Pricing:
    """Pricing one class at given duals (module docs): columns with a positive reduced cost
    and upper bounds on the best reduced cost. Tasks by rank."""

    def __init__(self, cg: ColumnGeneration, k: int, pi: np.ndarray, mu: float):
        self.cg, self.k, self.mu = cg, k, mu
        self.cls = cg.classes[k]
        self.pi = pi
        th, da = cg.theta, cg.delta_a
        self.g_u = da * -np.expm1(-th * self.cls.u)
        self.seen: dict[tuple[int, ...], float] = {}  # columns tried: their reduced costs

    def _column(self, tasks: tuple[int, ...]) -> float:
        got = self.seen.get(tasks)
        if got is None:
            got = self.cg.value(self.k, tasks) - float(np.sum(self.pi[list(tasks)])) - self.mu
            self.seen[tasks] = got
        return got

    def envelope(self) -> float:
        """The envelope's bound on the best reduced cost (one sweep), and as columns the tasks
        its optimum uses, then without those whose accuracy does not pay their dual."""
        cg, cls = self.cg, self.cls
        pos = np.flatnonzero(cls.u > 0.0)
        if pos.shape[0] == 0:
            return -self.mu
        t, s = envelope_points(cg.theta[pos], cg.delta_a[pos], cls.u[pos], self.pi[pos])
        fam = PricingFamily(cg.theta[pos], cg.delta_a[pos], cls.u[pos], t, s)
        sub = np.arange(pos.shape[0])
        w, _ = nested_allocation(fam, sub, cls.cap[pos], np.zeros(1, dtype=np.intp))
        tasks = tuple(pos[w > 0.0].tolist())
        for _ in range(3):
            self._column(tasks)
            if not tasks:
                break
            idx = np.array(tasks)
            gain = cg.delta_a[idx] * -np.expm1(-cg.theta[idx] * cg.works(self.k, tasks))
            keep = gain >= self.pi[idx]
            if keep.all():
                break
            tasks = tuple(idx[keep].tolist())
        return float(np.sum(fam.value(w, sub))) - self.mu

    def improve(self, tasks: tuple[int, ...], passes: int = _LOCAL_PASSES) -> tuple[int, ...]:
        """Local search on a column: the best single task added or removed, while it raises
        the reduced cost. O(passes * n) column evaluations (cached sweeps)."""
        usable = np.flatnonzero(self.cls.u > 0.0).tolist()
        cur = set(tasks)
        val = self._column(tuple(sorted(cur)))
        for _ in range(passes):
            best_val, best_set = val, None
            for i in usable:
                cand = tuple(sorted(cur ^ {i}))
                v = self._column(cand)
                if v > best_val + 1e-15 * self.cg.scale:
                    best_val, best_set = v, cand
            if best_set is None:
                break
            cur, val = set(best_set), best_val
        return tuple(sorted(cur))

    def grid_bound(self, points: int, stop_at: float = np.inf) -> tuple[float, tuple[int, ...] | None]:
        """An upper bound on the class's best reduced cost by dynamic programming over the
        machine's cumulative work on a grid of ``points`` steps ``delta``, and the column it
        traces back (module docs).

        In deadline order, ``F_k(b)`` bounds the best of the first ``k`` tasks whose
        cumulative work, rounded down to the grid, is at most ``b``. A task of work ``w``
        moves the rounded cumulative from ``a`` to ``b`` with ``w < b - a + delta``, and its
        gain is increasing, so crediting it ``g(min(b - a + delta, u)) - pi`` over-estimates
        it; ``b`` stays within its capacity rounded down. The credit is concave in ``b - a``:
        each step is one :func:`maxplus_concave`. O(n N log N) for ``N`` points. Above
        ``_TRACE_POINTS`` points only the bound (no column: the trace-back would need n N
        entries); past the wall-clock ``stop_at``, ``inf``.
        """
        cls, cg = self.cls, self.cg
        n = self.pi.shape[0]
        top = float(cls.cap.max()) if n else 0.0
        if top <= 0.0:
            return -self.mu, ()
        delta = top / (points - 1)
        F = np.zeros(points)
        steps = []
        x = np.arange(points) + 1.0
        trace = points <= _TRACE_POINTS
        for k in range(n):
            if cls.u[k] <= 0.0 or self.g_u[k] <= self.pi[k]:
                continue
            if time.perf_counter() > stop_at:
                return np.inf, None
            cg_k = min(int(np.floor(cls.cap[k] / delta * (1 + 1e-12))), points - 1)
            G = cg.delta_a[k] * -np.expm1(-cg.theta[k] * np.minimum(x[: cg_k + 1] * delta, cls.u[k])) - self.pi[k]
            flat = int(np.ceil(cls.u[k] / delta))  # G is constant from there on
            conv, arg = maxplus_concave(F[: cg_k + 1], G, flat)
            new = F.copy()
            new[: cg_k + 1] = np.maximum(F[: cg_k + 1], conv)
            new[cg_k + 1:] = np.maximum(F[cg_k + 1:], conv[cg_k])
            if trace:
                take = np.empty(points, dtype=bool)
                take[: cg_k + 1] = conv > F[: cg_k + 1]
                take[cg_k + 1:] = conv[cg_k] > F[cg_k + 1:]
                steps.append((k, cg_k, take, arg.astype(np.int32), float(conv[cg_k])))
            F = new
        b = int(np.argmax(F))
        bound = float(F[b]) - self.mu + _SAFETY * self.cg.scale
        if not trace:
            return bound, None
        col = self._trace(steps, len(steps), b)
        # more columns: the best set whose last task is each step's, for the best few steps
        ends = sorted(range(len(steps)), key=lambda q: -steps[q][4])[:_TRACES]
        for q in ends:
            k, cg_k, _, arg, best = steps[q]
            if best - self.mu > 0.0:
                self._trace(steps, q, int(arg[cg_k]), (k,))
        return bound, col

    def _trace(self, steps: list, upto: int, b: int, last: tuple[int, ...] = ()) -> tuple[int, ...]:
        """The grid programme's set: back from step ``upto - 1`` at grid point ``b`` (then
        the tasks ``last``)."""
        tasks = list(last)
        for k, cg_k, take, arg, _ in reversed(steps[:upto]):
            if take[b]:
                tasks.append(k)
                b = int(arg[min(b, cg_k)])
        col = tuple(sorted(tasks))
        self._column(col)
        return col

    def improving(self) -> list[tuple[int, ...]]:
        """The best columns seen with a positive reduced cost, at most ``_COLUMNS_PER_CLASS``."""
        tol = _RC_TOL * self.cg.scale
        cols = sorted((c for c, v in self.seen.items() if v > tol), key=lambda c: -self.seen[c])
        return cols[:_COLUMNS_PER_CLASS]


@dataclass
class CGResult:
    """What column generation proved and found.

    bound       a proven upper bound on every schedule's total accuracy
    machine     the best schedule found among the columns (``None``: none)
    value       its exact total accuracy (``-inf`` without one)
    converged   no improving column on the finest grid: ``bound`` is the master LP's optimum
                plus the grid's over-estimate (about its step times the tasks' slopes)
    iterations  column-generation iterations done
    """

    bound: float
    machine: np.ndarray | None
    value: float
    converged: bool
    iterations: int
    lp_value: float = -np.inf
    columns: int = 0


class ColumnGeneration:
    """The set-partitioning master of one problem and its column pool (module docs).

    ``evaluate(r, tasks)`` is machine ``r``'s exact optimum of ``tasks`` (task indices in
    deadline order), above ``a_min``: :class:`app.solver.exact._Evaluator`'s ``value``.
    Internally tasks are numbered by rank (deadline order).
    """

    def __init__(self, problem: Problem, classes: list[list[int]]):
        prob = problem
        if prob.has_floors or prob.n_model:
            raise ValueError("column generation handles curve tasks without floors")
        self.prob = prob
        order = prob.order
        self.order = order
        self.n = prob.n
        fam = prob.family
        self.theta = prob.theta[order].astype(np.float64)
        self.delta_a = prob.delta_a[order].astype(np.float64)
        self.u_task = fam.u[order]
        d = prob.deadline[order]
        self.classes = []
        for cls in classes:
            cap = prob.machine_capacity(d, cls[0])
            self.classes.append(_Class(list(cls), cap, np.minimum(self.u_task, cap)))
        self.a_min_total = float(np.sum(prob.a_min))
        self.scale = max(float(np.sum(self.delta_a)), 1e-300)
        self._values: dict[tuple[int, tuple[int, ...]], tuple[float, np.ndarray]] = {}
        self.pool: list[tuple[int, tuple[int, ...]]] = []
        self.pool_value: list[float] = []
        self._in_pool: set[tuple[int, tuple[int, ...]]] = set()
        self.exact_pricings = 0
        self.last_x: np.ndarray | None = None  # the last master LP's solution

    # ------------------------------------------------------------------ columns
    def _solve(self, k: int, tasks: tuple[int, ...]) -> tuple[float, np.ndarray]:
        key = (k, tasks)
        got = self._values.get(key)
        if got is None:
            if not tasks:
                got = (0.0, np.zeros(0))
            else:
                idx = np.array(tasks, dtype=np.intp)
                cls = self.classes[k]
                fam = PricingFamily(self.theta[idx], self.delta_a[idx], cls.u[idx], np.zeros(idx.shape[0]),
                                    self.delta_a[idx] * self.theta[idx])
                sub = np.arange(idx.shape[0])
                w, _ = nested_allocation(fam, sub, cls.cap[idx], np.zeros(1, dtype=np.intp))
                got = (float(np.sum(fam.value(w, sub))), w)
            self._values[key] = got
        return got

    def value(self, k: int, tasks: tuple[int, ...]) -> float:
        """The exact optimum of ``tasks`` (ranks, increasing) on a machine of class ``k``,
        above ``a_min``: one sweep (section V), cached."""
        return self._solve(k, tasks)[0]

    def works(self, k: int, tasks: tuple[int, ...]) -> np.ndarray:
        return self._solve(k, tasks)[1]

    def add(self, k: int, tasks: tuple[int, ...]) -> bool:
        key = (k, tasks)
        if key in self._in_pool or not tasks:
            return False
        self._in_pool.add(key)
        self.pool.append(key)
        self.pool_value.append(self.value(k, tasks))
        return True

    def add_schedule(self, machine: np.ndarray) -> None:
        """The columns of a schedule (task -> machine, -1: none)."""
        rank = self.prob.rank
        for k, cls in enumerate(self.classes):
            for r in cls.machines:
                on = np.flatnonzero(machine == r)
                self.add(k, tuple(sorted(rank[on].tolist())))

    # ------------------------------------------------------------------ the master
    def _matrix(self) -> csc_matrix:
        rows, cols = [], []
        n = self.n
        for c, (k, tasks) in enumerate(self.pool):
            rows.extend(tasks)
            rows.append(n + k)
            cols.extend([c] * (len(tasks) + 1))
        return csc_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + len(self.classes), len(self.pool)))

    def _rhs(self) -> np.ndarray:
        return np.concatenate((np.ones(self.n), [float(c.count) for c in self.classes]))

    def solve_master(self) -> tuple[float, np.ndarray, np.ndarray]:
        """The restricted master LP: its value and the duals ``pi`` (by rank) and ``mu``
        (per class), both clipped to ``>= 0``."""
        if not self.pool:
            return 0.0, np.zeros(self.n), np.zeros(len(self.classes))
        v = np.array(self.pool_value)
        res = linprog(-v, A_ub=self._matrix(), b_ub=self._rhs(), bounds=(0, None), method="highs")
        if res.status != 0:
            raise RuntimeError(f"master LP failed: {res.message}")
        y = np.maximum(-np.asarray(res.ineqlin.marginals), 0.0)  # marginals <= 0 (minimising -v)
        self.last_x = np.asarray(res.x)
        return float(-res.fun), y[: self.n], y[self.n:]

    def rounded_master(self) -> tuple[np.ndarray | None, float]:
        """A schedule from the last master LP's solution: its columns above one half (no
        two share a task, since each task's row sums to at most 1), the largest first, at
        most ``c_k`` of class ``k``. When the LP's solution is integral this is its optimum.
        O(pool)."""
        x = self.last_x
        if x is None:
            return None, -np.inf
        over = np.flatnonzero(x > 0.5)
        return self._schedule_of(over[np.argsort(-x[over], kind="stable")].tolist())

    def _schedule_of(self, columns: list[int]) -> tuple[np.ndarray, float]:
        """The schedule made of pool ``columns`` (in that order of preference; a column over
        its class's count or sharing a task with an earlier one is skipped): the assignment
        (task -> machine) and its value above ``a_min``."""
        machine = np.full(self.n, UNSCHEDULED, dtype=np.int64)
        used = [0] * len(self.classes)
        taken: set[int] = set()
        total = 0.0
        for c in columns:
            k, tasks = self.pool[c]
            if used[k] >= self.classes[k].count or taken.intersection(tasks):
                continue
            taken.update(tasks)
            r = self.classes[k].machines[used[k]]
            used[k] += 1
            machine[self.order[list(tasks)]] = r
            total += self.pool_value[c]
        return machine, total

    def lagrangian_bound(self, pi: np.ndarray, mu: np.ndarray, reduced: list[float]) -> float:
        """The bound of the module docs, in total accuracy (``a_min`` included)."""
        counts = np.array([c.count for c in self.classes], dtype=np.float64)
        above = float(np.sum(pi)) + float(np.dot(counts, mu)) + float(np.dot(counts, np.maximum(reduced, 0.0)))
        total = above + self.a_min_total
        return total + _SAFETY * max(abs(total), 1.0)

    def integer_master(self, time_limit: float) -> tuple[np.ndarray | None, float]:
        """The best schedule made of pool columns (HiGHS's MILP, ``time_limit`` seconds): the
        assignment (task -> machine) and its value above ``a_min`` (``-inf``: none found)."""
        if not self.pool or time_limit <= 0:
            return None, -np.inf
        v = np.array(self.pool_value)
        A = self._matrix()
        res = milp(-v, constraints=LinearConstraint(A, -np.inf, self._rhs()),
                   integrality=np.ones(v.shape[0]), bounds=Bounds(0, 1),
                   options={"time_limit": max(time_limit, 0.01), "presolve": True,
                            "node_limit": _MILP_NODES})
        if res.x is None:
            return None, -np.inf
        return self._schedule_of(np.flatnonzero(res.x > 0.5).tolist())

    # ------------------------------------------------------------------ the loop
    def _price(self, pi: np.ndarray, mu: np.ndarray, points: int,
               stop_at: float) -> tuple[list[float], list[list[tuple[int, ...]]]]:
        """Price every class at duals ``(pi, mu)``: per class an upper bound on the best
        reduced cost and candidate columns: the envelope (a bound, and its best two columns
        improved by local search), then the grid programme on ``points`` points (a tighter
        bound, and its column improved the same way); the smaller bound."""
        reduced, cols = [], []
        for k in range(len(self.classes)):
            pr = _Pricing(self, k, pi, float(mu[k]))
            bound = pr.envelope()
            for tasks in pr.improving()[:2]:
                pr.improve(tasks, _LOCAL_PASSES)
            fine, col = pr.grid_bound(points, stop_at)
            if col is not None:
                pr.improve(col, _LOCAL_PASSES)
            bound = min(bound, fine)
            reduced.append(bound)
            cols.append(pr.improving())
        return reduced, cols

    def _add_priced(self, cols: list[list[tuple[int, ...]]]) -> int:
        """Add the priced columns (each with a positive reduced cost at the duals it was
        priced at) that are not in the pool yet; how many."""
        return sum(self.add(k, tasks) for k, ks in enumerate(cols) for tasks in ks)

    def starting_duals(self) -> tuple[np.ndarray, np.ndarray]:
        """Duals whose Lagrangian bound is the fractional relaxation's optimum where it reports
        every task's price (module docs):
        the relaxation's prices of work ``lambda`` (non-increasing in deadline order, so
        prefix prices ``y_j = lambda_j - lambda_{j+1} >= 0``), each task's surplus
        ``pi_i = max_w g_i(w) - lambda_i w`` and each machine's time at those prices,
        ``mu_k = sum_j y_j cap_k(d_j)``. Any single-machine column has a reduced cost at
        most 0 there (weak duality of its own nested constraints), so the bound starts at
        the fractional optimum instead of the far weaker one of the first master's vertex.
        O(n log n) (one sweep)."""
        frac = fractional_relaxation(self.prob)
        th, da, u = self.theta, self.delta_a, self.u_task
        slope0 = da * th
        log_price = frac.log_price[self.order]  # by rank
        with np.errstate(over="ignore"):
            lam = np.exp(log_price)
        # no price reported (a task solved as a step): its marginal gain where it stops
        # short of ``u``, else 0. Any prices >= 0 give a valid bound; these only tighten it.
        work = frac.work[self.order]
        lam = np.where(np.isfinite(log_price), lam, np.where(work < u, slope0 * np.exp(-th * work), 0.0))
        lam = np.maximum.accumulate(np.where(np.isfinite(lam), lam, 0.0)[::-1])[::-1]
        y = lam - np.append(lam[1:], 0.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            w = np.where(lam < slope0, np.log(slope0 / lam) / th, 0.0)  # g'(w) = lambda (inf: lambda 0)
        w = np.minimum(np.nan_to_num(w, nan=0.0, posinf=np.inf), u)
        pi = np.maximum(da * -np.expm1(-th * w) - np.where(lam > 0.0, lam * w, 0.0), 0.0)
        mu = np.array([float(np.dot(y, cls.cap)) for cls in self.classes])
        return pi, mu

    def _finer(self, points: int, reduced: list[float]) -> int:
        """The next grid when the current one finds no improving column (0: stop):
        ``_GRID_REFINE`` times finer, up to ``_GRID_MAX``. Stop at the finest grid, or when
        no class's bound is positive (the bound is then the master's optimum)."""
        if points >= _GRID_MAX:
            return 0
        counts = np.array([c.count for c in self.classes], dtype=np.float64)
        excess = float(np.dot(counts, np.maximum(reduced, 0.0)))
        if excess <= _RC_TOL * self.scale * float(counts.sum()):
            return 0  # no column improves: the bound is the master's optimum
        return min(_GRID_MAX, _GRID_REFINE * points)

    def run(self, incumbent: float, gap_tol: float, stop_at: float,
            max_iterations: int = _MAX_ITERATIONS) -> CGResult:
        """Column generation from the pool until the bound is within ``gap_tol`` of the best
        schedule (``incumbent``, total accuracy, or a better one made of columns), no column
        improves on the finest useful grid, ``max_iterations`` or the wall-clock ``stop_at``.

        **Stabilised** (Wentges' smoothing): the master's optimal duals jump between the
        vertices of a very degenerate dual (its value often equals the best schedule's from
        the first iteration), and priced there the bound falls slowly. So a *centre* is
        kept, the duals with the best bound so far, starting from
        :meth:`starting_duals` (bound: the fractional optimum), and each iteration prices
        at ``_SMOOTHING`` times the centre plus the rest times the master's duals, on the
        grid (``_GRID_POINTS`` at first). When that point yields no new column (a
        mis-pricing), it prices at the master's own duals; when those yield none either,
        the grid is refined ``_GRID_REFINE`` times (its over-estimate shrinks like its
        step), up to ``_GRID_MAX`` (:meth:`_finer`), and kept for the iterations after:
        the duals settle as it converges, and pricing on a coarser grid again gave worse
        bounds in the same time. Every priced point gives a valid bound (module docs); the
        smallest is returned.

        Schedules: the last master LP's columns above one half at every iteration
        (:meth:`rounded_master`), and the integer master (:meth:`integer_master`) every
        ``_MILP_EVERY`` iterations, at the end, and when the master's value would close
        the gap. The integer master's time limit ``_MILP_SECONDS`` is a safety stop, a
        clock like ``stop_at``: where it binds before its node budget, which schedule it
        finds depends on the machine's speed, as any time-limited result of ``exact``.
        """
        for k, cls in enumerate(self.classes):  # singletons: every task can be priced
            for i in np.flatnonzero(cls.u > 0.0).tolist():
                self.add(k, (i,))
        best_machine, best_val = None, incumbent
        converged = False
        lp = -np.inf
        it = 0
        points = _GRID_POINTS  # kept once refined: the master's duals settle as it converges
        last_milp, wait = 0, _MILP_NEAR
        centre = self.starting_duals()
        reduced, cols = self._price(*centre, points, stop_at)
        bound = self.lagrangian_bound(*centre, reduced)
        self._add_priced(cols)

        def closed() -> bool:
            return bound - best_val <= gap_tol * max(abs(bound), 1e-12)

        for it in range(1, max_iterations + 1):
            if time.perf_counter() >= stop_at or closed():
                it -= 1  # this one did not run
                break
            lp, pi, mu = self.solve_master()
            machine, val = self.rounded_master()
            if machine is not None and val + self.a_min_total > best_val:
                best_machine, best_val = machine, val + self.a_min_total
            added = 0
            done = False
            while not added:
                for alpha in (_SMOOTHING, 0.0):  # the smoothed point, then the master's (mis-pricing)
                    ps, ms = alpha * centre[0] + (1 - alpha) * pi, alpha * centre[1] + (1 - alpha) * mu
                    reduced, cols = self._price(ps, ms, points, stop_at)
                    here = self.lagrangian_bound(ps, ms, reduced)
                    if here < bound:
                        bound, centre = here, (ps, ms)
                    added = self._add_priced(cols)
                    if added or closed():
                        break
                if added or closed():
                    break
                points = self._finer(points, reduced)  # a finer grid
                if points == 0 or time.perf_counter() >= stop_at:
                    converged, done = points == 0, True
                    break
            # the integer master: every _MILP_EVERY iterations, at the end, and as soon as
            # the master's value alone would close the gap (then only a schedule is missing)
            # (then waiting twice as long after each one that finds nothing better)
            near = bound - (lp + self.a_min_total) <= gap_tol * max(abs(bound), 1e-12)
            if it % _MILP_EVERY == 0 or added == 0 or closed() or (near and it - last_milp >= wait):
                last_milp = it
                machine, val = self.integer_master(min(_MILP_SECONDS, stop_at - time.perf_counter()))
                if machine is not None and val + self.a_min_total > best_val:
                    best_machine, best_val = machine, val + self.a_min_total
                else:
                    wait *= 2
            if done:
                break
        return CGResult(bound, best_machine, best_val if best_machine is not None else -np.inf,
                        converged, it, lp + self.a_min_total, len(self.pool))

"""``exact`` for batches that mix curve tasks and tasks of measured models: one MILP.

Program (10) of the paper (section VI-A) for the curve tasks, with the model tasks' choices
of :mod:`app.solver.exact_models` in the same rows:

- a model task ``j`` chooses at most one (machine ``r``, configuration ``c``): a binary
  ``y[j, r, c]``, offered only where the configuration fits before the deadline and scores
  more than ``a_min``;
- a curve task ``j`` chooses at most one machine: a binary ``x[j, r]`` and its work there
  ``w[j, r]`` with ``w <= U x`` (``U`` the most it can use there, so ``w = 0`` off its
  machine) and, for a task with an accuracy floor, ``w >= L x`` (``L`` the floor's work; a
  machine where ``U < L`` is not offered); its accuracy above ``a_min`` is ``z_j`` with
  ``z_j <= (a_max - a_min) sum_r x[j, r]`` and tangent cuts
  ``z_j <= a(w0) - a_min + a'(w0) (sum_r w[j, r] - w0)``, which over-estimate the concave
  curve, so the MILP's optimum (and HiGHS's dual bound at any time) bounds every schedule;
- per machine and distinct deadline ``d``, the work of every task on the machine with a
  deadline up to ``d`` (configurations' works and curve works alike) fits
  ``s_r (d - available_at_r)^+``. Written without big-M: each machine runs its tasks in
  deadline order, so the tasks up to ``d`` on it end by the last of their deadlines, at
  most ``d``; the row is valid whether or not a task with deadline ``d`` is on the machine,
  and dominates the big-M form of :mod:`app.solver.exact_models`. The rows go through a
  running total per machine (one continuous variable per deadline), so they cost O(n m C)
  non-zeros rather than O(n^2 m C);
- the same over all machines together with :func:`app.solver.exact.prefix_capacities`.

Maximise ``sum (accuracy_c - a_min) y + sum z`` (plus every task's ``a_min``). A solution
of the MILP is evaluated exactly (:func:`evaluate`): its assignment and configurations are
kept (a model task that does not fit by HiGHS's tolerances is dropped), and each machine's
curve tasks get their exact optimum in what the model tasks leave (section V, the
nested-constraints sweep, floors met). Kelley's cutting planes: tangents are added at the
MILP's curve works and at their exact re-evaluation, and the MILP solved again, until the
gap is within ``gap_tol``, the time is up, or no new tangent is found.

Complexity: exponential in the worst case (the problem contains the knapsack problem); the
MILP has ``n m C`` binaries for model tasks and ``n m`` for curve tasks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from .family import ExponentialFamily
from .floors import chain_floor_caps, floor_work, shifted, usable_pairs
from .fractional import nested_allocation
from .problem import UNSCHEDULED, Problem, Solution
from .schedule import (
    BELOW_MIN_ACCURACY,
    COMPRESSED_TO_ZERO,
    machine_chains,
    make_solution,
    sequence_on_machines,
)

__all__ = ["Evaluated", "evaluate", "exact_mixed"]

_GRID = 12  # initial tangents per curve task, evenly spaced over its work
_MAX_ROUNDS = 50


@dataclass(frozen=True, eq=False)
class Evaluated:
    """A schedule's decisions, evaluated exactly: per task its machine (-1: none), model
    configuration (-1: none or a curve task) and work, and the total accuracy."""

    machine: np.ndarray
    config: np.ndarray
    work: np.ndarray
    value: float


def _fits(problem: Problem, machine: np.ndarray, need: np.ndarray) -> np.ndarray:
    """``machine`` with tasks dropped where they do not fit: per machine in deadline order,
    a task whose ``need`` (a configuration's work, a floor's work, 0 for a curve task
    without floor) does not fit before its deadline after the tasks kept before it is
    left out. O(n log n)."""
    out = machine.copy()
    out[~np.isfinite(need)] = UNSCHEDULED
    load = np.zeros(problem.m)
    speed, avail = problem.speed.tolist(), problem.available_at.tolist()
    deadline = problem.deadline.tolist()
    for j in problem.order[need[problem.order] > 0.0].tolist():
        r = int(out[j])
        if r < 0:
            continue
        # to a relative 1e-12: a schedule that fits only by its times' rounding still fits
        if load[r] + need[j] <= speed[r] * max(deadline[j] - avail[r], 0.0) * (1.0 + 1e-12):
            load[r] += need[j]
        else:
            out[j] = UNSCHEDULED
    return out


def evaluate(problem: Problem, machine: np.ndarray, config: np.ndarray) -> Evaluated:
    """The exact schedule of an assignment (``machine``) and model tasks' configurations
    (``config``): model tasks and curve floors that do not fit are dropped (:func:`_fits`),
    then each machine's curve tasks take their exact optimum in what the model tasks leave
    of every prefix (their floors met). O(n log n)."""
    p = problem
    models, model = p.models, p.model
    is_model = model >= 0
    machine = np.where(is_model & (config < 0), UNSCHEDULED, machine).astype(np.int64)
    floor = floor_work(p)
    need = np.where(is_model, models.work[np.maximum(config, 0)], floor)
    machine = _fits(p, machine, need)
    config = np.where(is_model & (machine >= 0), config, -1).astype(np.int64)
    work = np.where(config >= 0, models.work[np.maximum(config, 0)], 0.0)
    idx, starts = machine_chains(p, machine)
    chains, caps = [], []
    bounds = np.append(starts, idx.shape[0]).tolist()
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        tasks = idx[lo:hi]
        curve = ~is_model[tasks]
        if not curve.any():
            continue
        r = int(machine[tasks[0]])
        left = p.machine_capacity(p.deadline[tasks], r) - np.cumsum(np.where(curve, 0.0, work[tasks]))
        room = np.maximum(np.minimum.accumulate(left[::-1])[::-1], 0.0)
        chains.append(tasks[curve])
        caps.append(room[curve])
    if chains:
        sizes = np.array([c.shape[0] for c in chains])
        group_starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        c = np.concatenate(chains)
        fl = floor[c]
        rest = chain_floor_caps(np.concatenate(caps), fl, group_starts, clamp=True)
        fam = ExponentialFamily(p.theta[c], p.delta_a[c], p.a_min[c], p.t_max[c])
        d, a0, u = shifted(fam.theta, fam.delta_a, fam.a_min, fam.u, fl)
        v, _ = nested_allocation(ExponentialFamily(fam.theta, d, a0, u), np.arange(c.shape[0]), rest, group_starts)
        work[c] = fl + v
    machine = np.where(work > 0.0, machine, UNSCHEDULED)
    acc = p.a_min.copy()
    curve = np.flatnonzero(~is_model & (work > 0.0))
    acc[curve] = p.family.value(work[curve], curve)
    on = config >= 0
    acc[on] = models.accuracy[config[on]]
    return Evaluated(machine=machine, config=config, work=work, value=float(acc.sum()))


class _MixedMILP:
    """The MILP of the module docs, built once; tangents are added between solves."""

    def __init__(self, problem: Problem, shared_capacity: np.ndarray):
        p = self.p = problem
        n, m = p.n, p.m
        ms, model = p.models, p.model
        self.curve = np.flatnonzero(model < 0)
        # model tasks: (task, machine, configuration) that fit and gain
        vt, vr, vc = [], [], []
        for j in np.flatnonzero(model >= 0).tolist():
            k = int(model[j])
            cs = np.arange(ms.start[k], ms.start[k + 1])
            cs = cs[ms.accuracy[cs] > ms.a_min[k]]
            room = p.machine_capacity(p.deadline[j])
            for r in range(m):
                for c in cs[ms.work[cs] <= room[r]].tolist():
                    vt.append(j)
                    vr.append(r)
                    vc.append(c)
        self.vt, self.vr, self.vc = (np.array(a, dtype=np.int64) for a in (vt, vr, vc))
        self.floor = floor_work(p)
        usable = usable_pairs(p, self.floor)
        pairs = np.argwhere(usable[self.curve] > 0.0)
        self.pt = self.curve[pairs[:, 0]]  # curve pairs: task, machine, most work
        self.pr = pairs[:, 1].astype(np.int64)
        self.pu = usable[self.pt, self.pr]
        ny, npair, nc = self.vt.shape[0], self.pt.shape[0], self.curve.shape[0]
        # deadline groups: positions in deadline order sharing a deadline
        d_sorted = p.deadline[p.order]
        last = np.append(d_sorted[1:] != d_sorted[:-1], True)
        group_of_rank = np.concatenate(([0], np.cumsum(last)[:-1]))
        self.ng = int(last.sum())
        group_deadline = d_sorted[last]
        group = group_of_rank[p.rank]  # per task
        # variable layout: y, x, w, z, S (per machine and group), T (per group)
        self.iy = np.arange(ny)
        self.ix = ny + np.arange(npair)
        self.iw = ny + npair + np.arange(npair)
        self.iz = ny + 2 * npair + np.arange(nc)
        z_of = np.full(n, -1, dtype=np.int64)
        z_of[self.curve] = self.iz
        self.z_of = z_of
        s0 = ny + 2 * npair + nc
        self.iS = s0 + np.arange(m * self.ng).reshape(m, self.ng)
        self.iT = s0 + m * self.ng + np.arange(self.ng)
        self.nvar = s0 + m * self.ng + self.ng
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        lo: list[np.ndarray] = []
        hi: list[np.ndarray] = []
        count = 0

        def add(r_idx, c_idx, v, l_, h_):
            nonlocal count
            rows.append(np.asarray(r_idx, dtype=np.int64) + count)
            cols.append(np.asarray(c_idx, dtype=np.int64))
            vals.append(np.asarray(v, dtype=np.float64))
            lo.append(np.asarray(l_, dtype=np.float64))
            hi.append(np.asarray(h_, dtype=np.float64))
            count += np.asarray(l_).shape[0]

        # one choice per task: sum_{r, c} y + sum_r x <= 1
        add(np.concatenate((self.vt, self.pt)), np.concatenate((self.iy, self.ix)), np.ones(ny + npair),
            np.full(n, -np.inf), np.ones(n))
        # linking: w - U x <= 0; floors: w - L x >= 0
        q = np.arange(npair)
        add(np.concatenate((q, q)), np.concatenate((self.iw, self.ix)), np.concatenate((np.ones(npair), -self.pu)),
            np.full(npair, -np.inf), np.zeros(npair))
        fl = self.floor[self.pt]
        has = np.flatnonzero(fl > 0.0)
        k = np.arange(has.shape[0])
        add(np.concatenate((k, k)), np.concatenate((self.iw[has], self.ix[has])),
            np.concatenate((np.ones(has.shape[0]), -fl[has])), np.zeros(has.shape[0]), np.full(has.shape[0], np.inf))
        # z_j - delta_a sum_r x <= 0
        zrow = np.searchsorted(self.curve, self.pt)
        add(np.concatenate((np.arange(nc), zrow)), np.concatenate((self.iz, self.ix)),
            np.concatenate((np.ones(nc), -p.delta_a[self.pt])), np.full(nc, -np.inf), np.zeros(nc))
        # running totals per machine: S[r, g] - S[r, g-1] - (work of group g on r) = 0
        srow = self.vr * self.ng + group[self.vt]
        prow = self.pr * self.ng + group[self.pt]
        prev = self.iS[:, :-1].ravel()
        prev_row = (np.arange(m)[:, None] * self.ng + np.arange(1, self.ng)[None, :]).ravel()
        add(np.concatenate((np.arange(m * self.ng), prev_row, srow, prow)),
            np.concatenate((self.iS.ravel(), prev, self.iy, self.iw)),
            np.concatenate((np.ones(m * self.ng), -np.ones(prev.shape[0]), -ms.work[self.vc], -np.ones(npair))),
            np.zeros(m * self.ng), np.zeros(m * self.ng))
        # all machines: T[g] - T[g-1] - (work of group g) = 0
        g = np.arange(self.ng)
        add(np.concatenate((g, g[1:], group[self.vt], group[self.pt])),
            np.concatenate((self.iT, self.iT[:-1], self.iy, self.iw)),
            np.concatenate((np.ones(self.ng), -np.ones(self.ng - 1), -ms.work[self.vc], -np.ones(npair))),
            np.zeros(self.ng), np.zeros(self.ng))
        self.rows, self.cols, self.vals = (np.concatenate(a) for a in (rows, cols, vals))
        self.lo, self.hi = np.concatenate(lo), np.concatenate(hi)
        self.count = count
        #: per curve task (in ``self.curve`` order), its pairs
        self.pair_of = [np.flatnonzero(self.pt == j) for j in self.curve.tolist()]
        # variable bounds: S at most each machine's capacity, T at most the shared one
        self.lb = np.zeros(self.nvar)
        self.ub = np.empty(self.nvar)
        self.ub[self.iy] = 1.0
        self.ub[self.ix] = 1.0
        self.ub[self.iw] = self.pu
        self.ub[self.iz] = p.delta_a[self.curve]
        self.ub[self.iS] = p.machine_capacity(group_deadline).T
        self.ub[self.iT] = shared_capacity[last]
        self.gain = ms.accuracy[self.vc] - ms.a_min[model[self.vt]] if ny else np.zeros(0)
        self.tangents: list[set[float]] = [set() for _ in range(nc)]
        self.top = np.zeros(nc)
        np.maximum.at(self.top, np.searchsorted(self.curve, self.pt), self.pu)
        self.family = ExponentialFamily(p.theta[self.curve], p.delta_a[self.curve], p.a_min[self.curve],
                                        p.t_max[self.curve])

    def add_grid(self, k: int) -> None:
        for i, top in enumerate(self.top.tolist()):
            for x in np.linspace(0.0, top, k).tolist():
                self.tangents[i].add(round(x, 9))

    def add_tangents(self, work: np.ndarray) -> int:
        """Tangents at the curve tasks' ``work`` (per task of the problem); returns how many
        are new."""
        added = 0
        for i, j in enumerate(self.curve.tolist()):
            w = round(float(min(max(work[j], 0.0), self.top[i])), 9)
            if w not in self.tangents[i]:
                self.tangents[i].add(w)
                added += 1
        return added

    def solve(self, incumbent: float, time_limit: float, gap: float):
        """One MILP solve. Returns (scipy status, proven bound or None, machine, config,
        curve works) with None for the last three when HiGHS found no solution."""
        p = self.p
        count = self.count
        r_t, c_t, v_t, lo_t, hi_t = [self.rows], [self.cols], [self.vals], [self.lo], [self.hi]
        pair_of = self.pair_of
        for i in range(self.curve.shape[0]):
            w0 = np.array(sorted(self.tangents[i]))
            ii = np.full(w0.shape[0], i)
            val = self.family.value(w0, ii) - self.family.a_min[i]
            der = self.family.derivative(w0, ii)
            qs = pair_of[i]
            t = np.arange(w0.shape[0]) + count
            r_t.append(np.concatenate((t, np.repeat(t, qs.shape[0]))))
            c_t.append(np.concatenate((np.full(w0.shape[0], self.iz[i]), np.tile(self.iw[qs], w0.shape[0]))))
            v_t.append(np.concatenate((np.ones(w0.shape[0]), np.repeat(-der, qs.shape[0]))))
            lo_t.append(np.full(w0.shape[0], -np.inf))
            hi_t.append(val - der * w0)
            count += w0.shape[0]
        base_total = float(p.a_min.sum())
        # the objective cut: the incumbent's value (accuracies above a_min)
        r_t.append(np.full(self.iy.shape[0] + self.iz.shape[0], count))
        c_t.append(np.concatenate((self.iy, self.iz)))
        v_t.append(np.concatenate((self.gain, np.ones(self.iz.shape[0]))))
        lo_t.append(np.array([incumbent - base_total - 1e-9 * max(1.0, abs(incumbent))]))
        hi_t.append(np.array([np.inf]))
        count += 1
        A = coo_matrix((np.concatenate(v_t), (np.concatenate(r_t), np.concatenate(c_t))),
                       shape=(count, self.nvar)).tocsr()
        c = np.zeros(self.nvar)
        c[self.iy] = -self.gain
        c[self.iz] = -1.0
        integrality = np.zeros(self.nvar)
        integrality[self.iy] = 1
        integrality[self.ix] = 1
        res = milp(c, constraints=LinearConstraint(A, np.concatenate(lo_t), np.concatenate(hi_t)),
                   integrality=integrality, bounds=Bounds(self.lb, self.ub),
                   options={"time_limit": max(time_limit, 0.01), "mip_rel_gap": gap, "presolve": True})
        bound = None
        if res.status == 2:  # nothing beats the incumbent (the objective cut is infeasible)
            bound = incumbent
        elif getattr(res, "mip_dual_bound", None) is not None and np.isfinite(res.mip_dual_bound):
            bound = base_total - float(res.mip_dual_bound)
        elif res.status == 0 and res.x is not None:
            bound = base_total - float(res.fun)
        if res.x is None:
            return res.status, bound, None, None, None
        machine = np.full(p.n, UNSCHEDULED, dtype=np.int64)
        config = np.full(p.n, -1, dtype=np.int64)
        on = res.x[self.iy] > 0.5
        machine[self.vt[on]] = self.vr[on]
        config[self.vt[on]] = self.vc[on]
        xon = res.x[self.ix] > 0.5
        machine[self.pt[xon]] = self.pr[xon]
        work = np.zeros(p.n)
        np.add.at(work, self.pt, res.x[self.iw])
        return res.status, bound, machine, config, work


def exact_mixed(problem: Problem, stop_at: float, gap_tol: float, upper_bound: float,
                shared_capacity: np.ndarray, fallback: Solution) -> Solution:
    """The optimal schedule of a batch mixing curve and model tasks (module docs), or at
    ``stop_at`` (a :func:`time.perf_counter` time) the best found, never worse than ``fallback``'s assignment and
    configurations evaluated exactly (:func:`evaluate`), with status ``"time_limit"``.
    ``shared_capacity``: :func:`app.solver.exact.prefix_capacities` of the problem."""
    p = problem
    base_config = fallback.config if fallback.config is not None else np.full(p.n, -1, dtype=np.int64)
    best = evaluate(p, fallback.machine, base_config)
    proven = upper_bound

    def gap() -> float:
        return (proven - best.value) / max(abs(proven), 1e-12)

    if gap() > gap_tol:
        mip = _MixedMILP(p, shared_capacity)
        mip.add_grid(_GRID)
        mip.add_tangents(best.work)
        for _ in range(_MAX_ROUNDS):
            remaining = stop_at - time.perf_counter()
            if gap() <= gap_tol or remaining <= 0:
                break
            status, bound, machine, config, work = mip.solve(best.value, remaining, max(gap_tol / 4, 1e-10))
            if bound is not None:
                proven = min(proven, bound)
            added = 0
            if machine is not None:
                found = evaluate(p, machine, config)
                if found.value > best.value + 1e-15 * abs(best.value):
                    best = found
                added = mip.add_tangents(found.work) + mip.add_tangents(work)
            if added == 0 or status != 0:
                break
    return _solution(p, best, upper_bound, proven, gap_tol)


def _solution(p: Problem, best: Evaluated, upper: float, proven: float, gap_tol: float) -> Solution:
    idx, starts = machine_chains(p, best.machine)
    start, duration = sequence_on_machines(p, idx, starts, best.machine, best.work)
    reason = np.where(floor_work(p) > 0.0, BELOW_MIN_ACCURACY, COMPRESSED_TO_ZERO)
    sol = make_solution(p, machine=best.machine, start=start, duration=duration, work=best.work,
                        upper_bound=upper, algorithm="exact", reason_if_empty=reason, config=best.config)
    proven = max(min(proven, upper), sol.total_accuracy)
    status = "optimal" if (proven - sol.total_accuracy) / max(abs(proven), 1e-12) <= gap_tol else "time_limit"
    return Solution(
        machine=sol.machine, start=sol.start, duration=sol.duration, work=sol.work, accuracy=sol.accuracy,
        total_accuracy=sol.total_accuracy, upper_bound=upper, guarantee=sol.guarantee, algorithm="exact",
        status=status, reason=sol.reason, proven_bound=float(proven), config=sol.config,
    )

"""``exact``: DSCT solved to proven optimality (the paper's DSCT-Opt, section VI-A, program (10)).

The paper solves its mixed-integer program (10) with MOSEK. We use only open-source code
(scipy's HiGHS MILP) and the structure of the problem:

1. **Incumbent.** ``dsct-refined`` (DSCT-APPROX's assignment, each machine re-solved exactly)
   improved by a deterministic local search: move one task to another machine, or swap two
   tasks, accepted when the two affected machines' exact single-machine optima (section V,
   through :func:`app.solver.fractional.nested_allocation`) improve. A schedule is an
   assignment plus each machine's exact optimum, so every incumbent is evaluated exactly.
2. **A stronger root bound.** The fractional relaxation (Algorithm 2) lets a task run on all
   machines at once. In a schedule a task runs on one machine, so its work is at most
   ``max_r s_r (d_j - available_at_r)^+``; and the ``k`` earliest-deadline tasks occupy at most
   ``k`` machines, so their total work by ``d_k`` is at most the sum of the ``min(k, m)``
   largest machine capacities at ``d_k``. Both keep the nested (prefix) structure, so the
   strengthened relaxation is solved exactly by the same O(n log n) sweep. If the incumbent
   is already within ``gap_tol`` of it, we stop.
3. **Outer approximation and branch and bound (HiGHS).** Program (10) with the concave
   accuracy replaced by tangent cuts ``z_j <= a_j(w0) + a_j'(w0) (w_j - w0)``: tangents
   over-estimate a concave function, so the MILP optimum, and HiGHS's dual bound at any
   time, is a proven upper bound on the DSCT optimum. Rows: per machine and deadline the
   prefix capacities ``sum_{i <= k} w_{i,r} <= s_r (d_k - available_at_r)^+``; linking
   ``w_{j,r} <= U_{j,r} x_{j,r}`` with ``U_{j,r} = min(t_max_j, s_r (d_j - available_at_r)^+)``;
   ``sum_r x_{j,r} <= 1``; symmetry breaking between identical machines (same speed and
   ``available_at``): in deadline order, the ``c``-th machine of a class may take task ``j``
   only if the ``(c-1)``-th took some earlier task; and the objective cut
   ``sum_j z_j >= incumbent`` (the optimum satisfies it, so the bound stays valid).
   Tangents start at the works of the incumbent and of the strengthened relaxation (so the
   root LP bound equals that relaxation's value); after each MILP, its assignment is
   evaluated exactly (a feasible schedule, maybe a new incumbent) and tangents are added at
   the MILP's works and at that schedule's works (Kelley's cutting planes), until the proven
   bound and the incumbent meet within ``gap_tol`` or time runs out.

Result: the incumbent's schedule; ``upper_bound`` is the plain fractional relaxation's value
(the wire contract), ``proven_bound`` the best proven bound (``<= upper_bound``), ``status``
``"optimal"`` when ``(proven_bound - total) / max(|proven_bound|, 1e-12) <= gap_tol``, else
``"time_limit"``.

Complexity: exponential in the worst case (DSCT is NP-hard for m >= 2, Theorem 2); the MILP
has ``2 n m + n`` variables and ``O(n m + n T)`` rows for ``T`` tangents per task. Apart from
where it stops at ``time_limit``, the search is deterministic: the local search is bounded
by counts, not by time, and HiGHS's MILP search is deterministic.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from .approx import list_schedule, solve_on_machines
from .family import ExponentialFamily
from .fractional import fractional_relaxation, nested_allocation
from .problem import UNSCHEDULED, Problem, Solution
from .registry import register

DEFAULT_TIME_LIMIT = 60.0
_MAX_ROUNDS = 50
# once the gap is within gap_tol, a few node-limited MILP rounds try to close it entirely
_POLISH_TOL = 1e-7
_POLISH_NODES = 500
_POLISH_ROUNDS = 3
_LOCAL_PASSES = 4
_GRID = 12  # initial tangents per task, evenly spaced in theta * work


def _rel_gap(bound: float, value: float) -> float:
    return (bound - value) / max(abs(bound), 1e-12)


class _Evaluator:
    """Exact single-machine optima (section V) of task sets, cached by (machine, tasks).

    ``value(r, tasks)`` is machine ``r``'s best total accuracy over ``tasks`` (a tuple in
    deadline order). One nested-constraints sweep per new set: O(k log k) for k tasks.
    """

    def __init__(self, problem: Problem):
        self.p = problem
        self.fam = ExponentialFamily.of(problem)
        self.cache: dict[tuple[int, tuple[int, ...]], float] = {}

    def value(self, r: int, tasks: tuple[int, ...]) -> float:
        key = (r, tasks)
        got = self.cache.get(key)
        if got is not None:
            return got
        p = self.p
        if not tasks:
            v = 0.0
        else:
            idx = np.fromiter(tasks, dtype=np.intp, count=len(tasks))
            cap = p.speed[r] * np.maximum(p.deadline[idx] - p.available_at[r], 0.0)
            cap_inc = np.diff(cap, prepend=0.0)
            w, _ = nested_allocation(self.fam, idx, cap_inc, np.zeros(1, dtype=np.intp))
            # accuracy above a_min: unscheduled tasks contribute a_min wherever they are
            v = float(np.sum(self.fam.value(w, idx) - p.a_min[idx]))
        self.cache[key] = v
        return v


def _local_search(problem: Problem, machine: np.ndarray, rank: np.ndarray, deadline_at: float,
                  passes: int = _LOCAL_PASSES) -> np.ndarray:
    """Deterministic first-improvement moves and swaps between machines.

    Each pass tries every (task, other machine) move and every swap of two tasks on
    different machines, in deadline order; a change is kept when the two machines' exact
    optima gain more than 1e-12 (relative). Stops after ``passes`` passes without the clock,
    or at the wall-clock ``deadline_at`` (the time limit). O(passes * n^2) evaluations.
    """
    p = problem
    ev = _Evaluator(p)
    m = p.m
    mach = machine.copy()
    usable = [np.flatnonzero(p.speed * np.maximum(p.deadline[j] - p.available_at, 0.0) > 0)
              for j in range(p.n)]

    def tasks_on(r: int) -> tuple[int, ...]:
        on = np.flatnonzero(mach == r)
        return tuple(on[np.argsort(rank[on], kind="stable")].tolist())

    sets = [tasks_on(r) for r in range(m)]
    vals = [ev.value(r, sets[r]) for r in range(m)]

    def with_task(s: tuple[int, ...], j: int) -> tuple[int, ...]:
        return tuple(sorted((*s, j), key=lambda i: rank[i]))

    def without(s: tuple[int, ...], j: int) -> tuple[int, ...]:
        return tuple(i for i in s if i != j)

    order = p.order.tolist()
    for _ in range(passes):
        improved = False
        for j in order:
            if time.perf_counter() > deadline_at:
                return mach
            a = int(mach[j])
            for b in usable[j].tolist():
                if b == a:
                    continue
                sa = without(sets[a], j) if a >= 0 else ()
                sb = with_task(sets[b], j)
                va = ev.value(a, sa) if a >= 0 else 0.0
                vb = ev.value(b, sb)
                old = (vals[a] if a >= 0 else 0.0) + vals[b]
                if va + vb > old + 1e-12 * max(1.0, abs(old)):
                    if a >= 0:
                        sets[a], vals[a] = sa, va
                    sets[b], vals[b] = sb, vb
                    mach[j] = b
                    a = b
                    improved = True
        for j in order:
            for i in order:
                if time.perf_counter() > deadline_at:
                    return mach
                a, b = int(mach[j]), int(mach[i])
                if rank[i] <= rank[j] or a == b or a < 0 or b < 0:
                    continue
                sa = with_task(without(sets[a], j), i)
                sb = with_task(without(sets[b], i), j)
                va, vb = ev.value(a, sa), ev.value(b, sb)
                old = vals[a] + vals[b]
                if va + vb > old + 1e-12 * max(1.0, abs(old)):
                    sets[a], vals[a], sets[b], vals[b] = sa, va, sb, vb
                    mach[j], mach[i] = b, a
                    improved = True
        if not improved:
            break
    return mach


def strengthened_bound(problem: Problem) -> float:
    """The fractional relaxation with two single-machine cuts (module docs, step 2).

    Valid for every schedule: task ``j``'s work is at most ``max_r s_r (d_j - a_r)^+``, and
    the ``k`` earliest-deadline tasks use at most ``min(k, m)`` machines. Exact, O(n (m + log n)).
    """
    p = problem
    if p.n == 0:
        return 0.0
    order = p.order
    d = p.deadline[order]
    caps = p.speed[None, :] * np.maximum(d[:, None] - p.available_at[None, :], 0.0)  # (n, m)
    single = caps.max(axis=1)
    u = np.minimum(p.t_max[order], single)
    # sum of the min(k, m) largest capacities at d_k
    srt = -np.sort(-caps, axis=1)
    csum = np.cumsum(srt, axis=1)
    k = np.minimum(np.arange(1, p.n + 1), p.m)
    cap = np.minimum(csum[np.arange(p.n), k - 1], p.capacity(d))
    cap = np.maximum.accumulate(cap)  # a prefix bound at d_k also holds for later prefixes' start
    # the constraint for prefix k is sum_{i<=k} w_i <= cap_k; keep it non-decreasing so the
    # increments are >= 0 (a larger prefix can never have a smaller capacity bound: the
    # bound for prefix k+1 is at least the one for k because deadlines are sorted)
    fam = ExponentialFamily(p.theta[order], p.delta_a[order], p.a_min[order], u)
    idx = np.arange(p.n)
    w, _ = nested_allocation(fam, idx, np.diff(cap, prepend=0.0), np.zeros(1, dtype=np.intp))
    return float(np.sum(fam.value(w, idx)))


def _exact_works(problem: Problem, machine: np.ndarray) -> tuple[np.ndarray, float]:
    sol = solve_on_machines(problem, machine, 0.0, "exact")
    return sol.work, sol.total_accuracy


class _OuterMILP:
    """Program (10) with tangent cuts for HiGHS (module docs, step 3)."""

    def __init__(self, problem: Problem):
        p = problem
        self.p = p
        n, m = p.n, p.m
        order = p.order
        rank = np.empty(n, dtype=np.intp)
        rank[order] = np.arange(n)
        self.rank = rank
        U = np.minimum(p.t_max[:, None], p.speed[None, :] * np.maximum(
            p.deadline[:, None] - p.available_at[None, :], 0.0))
        pairs = np.argwhere(U > 0)  # (task, machine) pairs that can do work
        # sort pairs by machine, then deadline rank
        pairs = pairs[np.lexsort((rank[pairs[:, 0]], pairs[:, 1]))]
        self.pairs = pairs
        self.U = U[pairs[:, 0], pairs[:, 1]]
        npair = pairs.shape[0]
        self.npair = npair
        # variables: x (npair), w (npair), z (n)
        self.ix = np.arange(npair)
        self.iw = npair + np.arange(npair)
        self.iz = 2 * npair + np.arange(n)
        self.nvar = 2 * npair + n
        rows, cols, vals, lb, ub = [], [], [], [], []
        nrow = 0

        def add(r_cols, r_vals, lo, hi):
            nonlocal nrow
            rows.extend([nrow] * len(r_cols))
            cols.extend(r_cols)
            vals.extend(r_vals)
            lb.append(lo)
            ub.append(hi)
            nrow += 1

        # linking w <= U x
        for q in range(npair):
            add([self.iw[q], self.ix[q]], [1.0, -self.U[q]], -np.inf, 0.0)
        # one machine per task
        by_task: dict[int, list[int]] = {}
        for q, (j, _r) in enumerate(pairs.tolist()):
            by_task.setdefault(j, []).append(q)
        self.by_task = by_task
        for _j, qs in by_task.items():
            if len(qs) > 1:
                add([self.ix[q] for q in qs], [1.0] * len(qs), -np.inf, 1.0)
        # per machine prefix capacities, at the last task of each distinct deadline
        for r in range(m):
            qs = np.flatnonzero(pairs[:, 1] == r)
            tasks = pairs[qs, 0]
            dl = p.deadline[tasks]
            for t in range(len(qs)):
                if t + 1 < len(qs) and dl[t + 1] == dl[t]:
                    continue
                cap = p.speed[r] * max(dl[t] - p.available_at[r], 0.0)
                if np.sum(self.U[qs[: t + 1]]) <= cap:
                    continue  # cannot bind
                add(self.iw[qs[: t + 1]].tolist(), [1.0] * (t + 1), -np.inf, cap)
        # symmetry: identical machines (same speed and available_at), in index order
        key = {}
        classes: list[list[int]] = []
        for r in range(m):
            k = (float(p.speed[r]), float(p.available_at[r]))
            if k not in key:
                key[k] = len(classes)
                classes.append([])
            classes[key[k]].append(r)
        qmap = {(int(j), int(r)): q for q, (j, r) in enumerate(pairs.tolist())}
        for cls in classes:
            for c in range(1, len(cls)):
                prev, cur = cls[c - 1], cls[c]
                earlier: list[int] = []  # x of tasks before j on machine prev
                for j in order.tolist():
                    q = qmap.get((j, cur))
                    if q is not None:
                        cs = [self.ix[q]] + [self.ix[e] for e in earlier]
                        add(cs, [1.0] + [-1.0] * len(earlier), -np.inf, 0.0)
                    qp = qmap.get((j, prev))
                    if qp is not None:
                        earlier.append(qp)
        self.base = (rows, cols, vals, lb, ub, nrow)
        self.tangents: list[set[float]] = [set() for _ in range(n)]
        fam = ExponentialFamily.of(p)
        self.fam = fam
        self.top = np.array([max((self.U[q] for q in by_task.get(j, [])), default=0.0)
                             for j in range(n)])

    def add_grid(self, k: int) -> None:
        for j in range(self.p.n):
            for x in np.linspace(0.0, self.top[j], k):
                self.tangents[j].add(float(np.round(x, 9)))

    def add_tangents(self, work: np.ndarray) -> int:
        added = 0
        for j in range(self.p.n):
            w = float(min(max(work[j], 0.0), self.top[j]))
            # round to keep the set small and the rows well conditioned
            w = float(np.round(w, 9))
            if w not in self.tangents[j]:
                self.tangents[j].add(w)
                added += 1
        return added

    def solve(self, incumbent: float, time_limit: float, gap: float, node_limit: int | None = None):
        p = self.p
        rows, cols, vals, lb, ub, nrow = self.base
        rows, cols, vals, lb, ub = list(rows), list(cols), list(vals), list(lb), list(ub)
        a_min_total = float(np.sum(p.a_min))
        for j in range(p.n):
            qs = self.by_task.get(j, [])
            for w0 in sorted(self.tangents[j]):
                val = float(self.fam.value(np.array([w0]), np.array([j]))[0]) - p.a_min[j]
                der = float(self.fam.derivative(np.array([w0]), np.array([j]))[0])
                # z_j - der * sum_r w_jr <= val - der * w0
                rows.extend([nrow] * (1 + len(qs)))
                cols.extend([self.iz[j]] + [self.iw[q] for q in qs])
                vals.extend([1.0] + [-der] * len(qs))
                lb.append(-np.inf)
                ub.append(val - der * w0)
                nrow += 1
        # objective cut: sum z >= incumbent (in accuracy above a_min)
        rows.extend([nrow] * p.n)
        cols.extend(self.iz.tolist())
        vals.extend([1.0] * p.n)
        lb.append(incumbent - a_min_total - 1e-9 * max(1.0, abs(incumbent)))
        ub.append(np.inf)
        nrow += 1
        A = coo_matrix((vals, (rows, cols)), shape=(nrow, self.nvar)).tocsr()
        c = np.zeros(self.nvar)
        c[self.iz] = -1.0
        lo = np.zeros(self.nvar)
        hi = np.empty(self.nvar)
        hi[self.ix] = 1.0
        hi[self.iw] = self.U
        hi[self.iz] = p.delta_a
        integrality = np.zeros(self.nvar)
        integrality[self.ix] = 1
        options = {"time_limit": max(time_limit, 0.01), "mip_rel_gap": gap, "presolve": True}
        if node_limit is not None:
            options["node_limit"] = node_limit
        res = milp(c, constraints=LinearConstraint(A, np.array(lb), np.array(ub)),
                   integrality=integrality, bounds=Bounds(lo, hi), options=options)
        bound = None
        if res.status == 0 and res.x is not None:
            bound = a_min_total - float(res.fun) if res.mip_dual_bound is None else \
                a_min_total - float(res.mip_dual_bound)
        elif getattr(res, "mip_dual_bound", None) is not None and np.isfinite(res.mip_dual_bound):
            bound = a_min_total - float(res.mip_dual_bound)
        machine = None
        work = None
        if res.x is not None:
            x = res.x[self.ix]
            machine = np.full(p.n, UNSCHEDULED, dtype=np.int64)
            chosen = x > 0.5
            machine[self.pairs[chosen, 0]] = self.pairs[chosen, 1]
            work = np.zeros(p.n)
            np.add.at(work, self.pairs[:, 0], res.x[self.iw])
        return res.status, bound, machine, work


@register("exact", guaranteed=True)  # never worse than its dsct-refined incumbent
def exact(problem: Problem, time_limit: float | None = None, gap_tol: float = 1e-4, **_) -> Solution:
    """Best schedule with a proven bound: DSCT-Opt (section VI-A, program (10)).

    Incumbent from dsct-refined plus local search, root bound from the strengthened
    relaxation, then HiGHS branch and bound on a tangent outer approximation refined around
    its solutions (module docs). Exponential worst case (Theorem 2: NP-hard); stops at
    ``time_limit`` seconds (default 60) with status ``"time_limit"`` and the proven bound.
    """
    t0 = time.perf_counter()
    limit = DEFAULT_TIME_LIMIT if time_limit is None else float(time_limit)
    stop_at = t0 + limit
    p = problem
    frac = fractional_relaxation(p)
    upper = frac.upper_bound
    if p.n == 0:
        sol = solve_on_machines(p, np.zeros(0, dtype=np.int64), upper, "exact")
        return _finish(p, sol.machine, upper, upper, gap_tol)

    rank = np.empty(p.n, dtype=np.intp)
    rank[p.order] = np.arange(p.n)
    machine0, _, _, _ = list_schedule(p, frac.work)
    best = {"machine": machine0.copy(), "val": _exact_works(p, machine0)[1]}
    proven = min(upper, strengthened_bound(p))

    def gap() -> float:
        return _rel_gap(proven, best["val"])

    if gap() > _POLISH_TOL:
        ls = _local_search(p, best["machine"], rank, stop_at)
        ls_work, ls_val = _exact_works(p, ls)
        if ls_val > best["val"]:
            best = {"machine": ls, "val": ls_val}
    if gap() <= _POLISH_TOL or time.perf_counter() >= stop_at:
        return _finish(p, best["machine"], upper, proven, gap_tol)

    model = _OuterMILP(p)
    model.add_grid(_GRID)
    model.add_tangents(frac.work)
    model.add_tangents(_exact_works(p, best["machine"])[0])

    # Kelley rounds: until the gap is within gap_tol (bounded by time only), then a few
    # node-limited polishing rounds towards _POLISH_TOL (bounded by counts: deterministic)
    for phase_tol, node_limit, rounds in ((gap_tol, None, _MAX_ROUNDS),
                                          (_POLISH_TOL, _POLISH_NODES, _POLISH_ROUNDS)):
        for _round in range(rounds):
            remaining = stop_at - time.perf_counter()
            if gap() <= phase_tol or remaining <= 0:
                break
            status, bound, machine, work = model.solve(
                best["val"], remaining, max(phase_tol / 4, 1e-10), node_limit)
            if bound is not None:
                proven = min(proven, bound)
            added = 0
            if machine is not None:
                w_exact, v = _exact_works(p, machine)
                if v > best["val"] + 1e-15 * abs(best["val"]):
                    best = {"machine": machine, "val": v}
                added = model.add_tangents(w_exact) + model.add_tangents(work)
            if added == 0 or (status != 0 and node_limit is None):
                break
        if gap() > gap_tol:
            break  # out of time: no polishing
    return _finish(p, best["machine"], upper, proven, gap_tol)


def _finish(p: Problem, machine: np.ndarray, upper: float, proven: float, gap_tol: float) -> Solution:
    sol = solve_on_machines(p, machine, upper, "exact")
    proven = max(min(proven, upper), sol.total_accuracy)
    status = "optimal" if _rel_gap(proven, sol.total_accuracy) <= gap_tol else "time_limit"
    return Solution(
        machine=sol.machine, start=sol.start, duration=sol.duration, work=sol.work,
        accuracy=sol.accuracy, total_accuracy=sol.total_accuracy, upper_bound=upper,
        guarantee=sol.guarantee, algorithm="exact", status=status, reason=sol.reason,
        proven_bound=float(proven),
    )

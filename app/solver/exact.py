"""``exact``: DSCT solved to proven optimality (the paper's DSCT-Opt, section VI-A, program (10)).

The paper solves its mixed-integer program (10) with MOSEK. We use only open-source code and
the structure of the problem:

1. **Incumbent.** ``dsct-refined`` (DSCT-APPROX's assignment, each machine re-solved exactly)
   improved by a deterministic local search: move one task to another machine, or swap two
   tasks, accepted when the two affected machines' exact single-machine optima (section V,
   through :func:`app.solver.fractional.nested_allocation`) improve. A schedule is an
   assignment plus each machine's exact optimum, so every incumbent is evaluated exactly.
2. **Root bound.** The fractional relaxation (Algorithm 2) lets a task run on all machines
   at once; its weakness is exactly that. In a schedule each machine runs its tasks in
   deadline order, so its share of the first ``k`` tasks ends by the deadline of the last of
   them it runs, and these last tasks are distinct: the first ``k`` tasks' total work is at
   most the capacity of the machines up to the ``min(k, m)`` latest deadlines of the prefix
   (:func:`prefix_capacities`), and a task's work at most its best machine's capacity. Both
   are prefix constraints, so the strengthened relaxation is solved exactly by the same
   O(n log n) sweep (:func:`strengthened_bound`). On identical machines it is the
   preemptive relaxation (machines shared over time, a task never on two at once). If the
   incumbent is within ``gap_tol`` of it, we stop.
3. **Set-partitioning bound** (:mod:`app.solver.colgen`, curve tasks without floors): a
   column is a machine class and a task set valued by its exact single-machine optimum; the
   master LP over columns is solved by column generation. Its Lagrangian bound (the LP's
   duals plus each class's best reduced cost, bounded by a concave envelope and by a grid
   dynamic programme) is valid at every iteration, and at convergence it is the master
   LP's optimum, which leaves almost no gap on deadlines drawn at random. New schedules
   come from the best integer combination of the columns (HiGHS, node-limited). Per
   iteration: one LP over the columns, and per class O(n log n) for the envelope plus
   O(n N log N) for the programme on ``N`` grid points (refined when it finds no column).
   If the gap is within ``gap_tol``, we stop. It runs up to ``_SP_TASKS_PER_MACHINE`` tasks
   per machine: with more, the root bound is already tight and the assignment search needs
   the time.
4. **Branch and bound over assignments** (:mod:`app.solver.assignment`): tasks in deadline
   order, each put on a machine; the bound below a node keeps the assigned tasks on their
   machines' own chains and lets the free tasks share what the machines have left, solved
   by the sweep and a one-dimensional price search. A depth-first dive for good schedules,
   then best first, for at most ``_MAX_NODES`` nodes.
5. **Outer approximation and HiGHS**, if the search stopped on its node budget before the
   time limit, and for a few node-limited rounds that try to close a gap already within
   ``gap_tol`` down to 1e-7: program (10) with the concave accuracy replaced by tangent cuts
   ``z_j <= a_j(w0) + a_j'(w0) (w_j - w0)`` (tangents over-estimate a concave function, so the
   MILP optimum, and HiGHS's dual bound at any time, is a proven upper bound). Rows: per
   machine and deadline the prefix capacities; the shared prefix capacities of step 2;
   linking ``w_{j,r} <= U_{j,r} x_{j,r}``; ``sum_r x_{j,r} <= 1``; symmetry breaking between
   identical machines; the objective cut ``sum_j z_j >= incumbent``. Tangents are added at
   each MILP solution and at its exact re-evaluation (Kelley's cutting planes).

**Measured models.** A batch whose tasks all run measured models is a MILP over
configurations (:mod:`app.solver.exact_models`); one that mixes them with curve tasks, the
MILP of :mod:`app.solver.exact_mixed` (program (10) for the curve tasks, configurations as
binaries, tangent cuts, Kelley rounds), started from ``dsct-best``'s schedule.

**Accuracy floors** (curve tasks' ``min_accuracy``: no work, or at least the floor's work):
every machine evaluation meets them (:mod:`app.solver.floors`); the local search may also
move a floor task out and back in; the root bound relaxes each floor task to its concave
envelope; step 3 is skipped; step 4 becomes the two-level search of
:mod:`app.solver.exact_floors` (which floor tasks run, then where); step 5 adds ``w_{j,r} >= L_j x_{j,r}``. A gap already within
``gap_tol`` is polished by a node-limited search instead of HiGHS.

Result: the incumbent's schedule; ``upper_bound`` is the plain fractional relaxation's value
(the wire contract), ``proven_bound`` the best proven bound (``<= upper_bound``), ``status``
``"optimal"`` when ``(proven_bound - total) / max(|proven_bound|, 1e-12) <= gap_tol``, else
``"time_limit"``.

Complexity: exponential in the worst case (DSCT is NP-hard for m >= 2, Theorem 2). Steps 1-4
are bounded by counts (local-search passes, search nodes), so where they prove optimality
the answer is deterministic; the time limit is a safety stop, and HiGHS's MILP search is
deterministic too.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from .approx import list_schedule, solve_on_machines
from .assignment import AssignmentSearch
from .colgen import ColumnGeneration
from .exact_floors import admission_search
from .exact_mixed import exact_mixed
from .exact_models import exact_configs
from .family import ExponentialFamily
from .floors import (
    FloorFamily,
    chain_works,
    drop_to_feasible,
    floor_work,
    machine_works,
    usable_pairs,
)
from .fractional import fractional_relaxation, nested_allocation
from .problem import UNSCHEDULED, Problem, Solution
from .registry import ALGORITHMS, register
from .schedule import (
    BELOW_MIN_ACCURACY,
    COMPRESSED_TO_ZERO,
    machine_chains,
    make_solution,
    sequence_on_machines,
)

DEFAULT_TIME_LIMIT = 60.0
_MAX_ROUNDS = 50
_MAX_NODES = 200_000  # the assignment search's budget, in nodes (deterministic)
_DIVE_NODES = 300  # of which depth first, for good schedules early
# once the gap is within gap_tol, a few node-limited MILP rounds try to close it entirely
_POLISH_TOL = 1e-7
_POLISH_NODES = 500
_POLISH_ROUNDS = 3
_FLOOR_POLISH_NODES = 100  # with floors, the search's budget for that (in nodes)
_LOCAL_PASSES = 4
# the set-partitioning step runs up to this many tasks per machine: beyond, the root bound is
# already tight and the step's time is better left to the assignment search (measured on the
# paper's generator: docs/results.md, "Exact solver reach")
_SP_TASKS_PER_MACHINE = 10
_GRID = 12  # initial tangents per task, evenly spaced in theta * work


def _rel_gap(bound: float, value: float) -> float:
    return (bound - value) / max(abs(bound), 1e-12)


class _Evaluator:
    """Exact single-machine optima (section V) of task sets, cached by (machine, tasks).

    ``value(r, tasks)`` is machine ``r``'s best total accuracy over ``tasks`` (a tuple in
    deadline order), every floor task at or above its floor (``-inf`` when the floors do not
    fit: :func:`app.solver.floors.chain_works`). One nested-constraints sweep per new set:
    O(k log k) for k tasks.
    """

    def __init__(self, problem: Problem):
        self.p = problem
        self.fam = problem.family  # built once per problem
        self.floor = floor_work(problem)
        self.floors = problem.has_floors
        self.cache: dict[tuple[int, tuple[int, ...]], float] = {}

    def value(self, r: int, tasks: tuple[int, ...]) -> float:
        key = (r, tasks)
        got = self.cache.get(key)
        if got is not None:
            return got
        prob = self.p
        if not tasks:
            v = 0.0
        else:
            idx = np.fromiter(tasks, dtype=np.intp, count=len(tasks))
            cap = prob.machine_capacity(prob.deadline[idx], r)
            zero = np.zeros(1, dtype=np.intp)
            if self.floors:
                w = chain_works(prob, idx, cap, zero, self.floor[idx])
            else:
                w, _ = nested_allocation(self.fam, idx, cap, zero)
            # accuracy above a_min: unscheduled tasks contribute a_min wherever they are
            v = -np.inf if w is None else float(np.sum(self.fam.value(w, idx) - prob.a_min[idx]))
        self.cache[key] = v
        return v


def _local_search(problem: Problem, machine: np.ndarray, rank: np.ndarray, wall_clock_stop: float,
                  passes: int = _LOCAL_PASSES) -> np.ndarray:
    """Deterministic first-improvement moves and swaps between machines.

    Each pass tries every (task, other machine) move and every swap of two tasks on
    different machines, in deadline order; a change is kept when the two machines' exact
    optima gain more than 1e-12 (relative). Stops after ``passes`` passes without the clock,
    or at the wall-clock ``wall_clock_stop`` (the time limit). A task with a floor may also
    move out of the schedule (machine -1) and back in. O(passes * n^2) evaluations.
    """
    prob = problem
    ev = _Evaluator(prob)
    m = prob.m
    mach = machine.copy()
    floor = ev.floor
    usable = [np.append(np.flatnonzero(u > 0), [UNSCHEDULED] if f > 0 else [])
              for u, f in zip(usable_pairs(prob, floor), floor.tolist(), strict=True)]

    def tasks_on(r: int) -> tuple[int, ...]:
        on = np.flatnonzero(mach == r)
        return tuple(on[np.argsort(rank[on], kind="stable")].tolist())

    sets = [tasks_on(r) for r in range(m)]
    vals = [ev.value(r, sets[r]) for r in range(m)]

    def with_task(s: tuple[int, ...], j: int) -> tuple[int, ...]:
        return tuple(sorted((*s, j), key=lambda i: rank[i]))

    def without(s: tuple[int, ...], j: int) -> tuple[int, ...]:
        return tuple(i for i in s if i != j)

    order = prob.order.tolist()
    for _ in range(passes):
        improved = False
        for j in order:
            if time.perf_counter() > wall_clock_stop:
                return mach
            a = int(mach[j])
            for b in usable[j].astype(np.int64).tolist():
                if b == a:
                    continue
                sa = without(sets[a], j) if a >= 0 else ()
                sb = with_task(sets[b], j) if b >= 0 else ()
                va = ev.value(a, sa) if a >= 0 else 0.0
                vb = ev.value(b, sb) if b >= 0 else 0.0
                old = (vals[a] if a >= 0 else 0.0) + (vals[b] if b >= 0 else 0.0)
                if va + vb > old + 1e-12 * max(1.0, abs(old)):
                    if a >= 0:
                        sets[a], vals[a] = sa, va
                    if b >= 0:
                        sets[b], vals[b] = sb, vb
                    mach[j] = b
                    a = b
                    improved = True
        for j in order:
            for i in order:
                if time.perf_counter() > wall_clock_stop:
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


def prefix_capacities(problem: Problem) -> np.ndarray:
    """A bound on the total work of the ``k`` earliest-deadline tasks, for every ``k``.

    In a schedule each machine runs its tasks in deadline order, so its share of the first
    ``k`` tasks ends by the deadline of the last of them it runs; these last tasks are
    distinct. So the total is at most the best pairing of machines with distinct deadlines
    among the first ``k``: with every ``available_at`` lowered to the smallest one, pairing
    the fastest machine with the latest deadline and so on (rearrangement inequality), a
    sum over the ``min(k, m)`` latest deadlines of the prefix. It is also at most the sum of
    the ``min(k, m)`` largest machine capacities at ``d_k`` and the shared capacity
    ``D(d_k)``; and a bound for a longer prefix holds for a shorter one. Identical machines
    free at 0 give ``sum_{t < m} d_{k-t}``: the k-th bound of the preemptive relaxation
    (machines shared over time, but a task never on two machines at once), which is what
    lets a task spread over machines in the plain relaxation. O(n m log m).
    """
    prob = problem
    n, m = prob.n, prob.m
    d = prob.deadline[prob.order]
    caps = prob.machine_capacity(d)  # (n, m)
    srt = -np.sort(-caps, axis=1)
    k = np.minimum(np.arange(1, n + 1), m)
    by_capacity = np.cumsum(srt, axis=1)[np.arange(n), k - 1]
    speeds = -np.sort(-prob.speed)
    a0 = float(np.min(prob.available_at))
    latest = np.zeros(n)
    for t in range(min(n, m)):  # t-th latest deadline of each prefix, with the t-th speed
        dt = np.concatenate((np.full(t, a0), d[: n - t]))
        latest += speeds[t] * np.maximum(dt - a0, 0.0)
    cap = np.minimum(np.minimum(by_capacity, latest), prob.capacity(d))
    return np.minimum.accumulate(cap[::-1])[::-1]


def strengthened_bound(problem: Problem) -> float:
    """The fractional relaxation with single-machine cuts (module docs, step 2).

    Valid for every schedule: task ``j``'s work is at most ``max_r s_r (d_j - a_r)^+``, and
    the first ``k`` tasks' total work at most :func:`prefix_capacities`. Both keep the
    nested (prefix) structure, so the sweep of :mod:`.fractional` solves it exactly. With
    floors, each floor task's curve is relaxed to its concave envelope
    (:class:`app.solver.floors.FloorFamily`), a bound on every schedule that meets them.
    O(n (m log m + log n)).
    """
    prob = problem
    if prob.n == 0:
        return 0.0
    order = prob.order
    u = np.minimum(prob.t_max[order], prob.machine_capacity(prob.deadline[order]).max(axis=1))
    cap = prefix_capacities(prob)
    if prob.has_floors:
        fam = FloorFamily(prob.theta[order], prob.delta_a[order], prob.a_min[order], u,
                          floor_work(prob)[order])
    else:
        fam = ExponentialFamily(prob.theta[order], prob.delta_a[order], prob.a_min[order], u)
    idx = np.arange(prob.n)
    w, _ = nested_allocation(fam, idx, cap, np.zeros(1, dtype=np.intp))
    return float(np.sum(fam.value(w, idx)))


def _exact_works(problem: Problem, machine: np.ndarray) -> tuple[np.ndarray, float]:
    """Each machine's exact optimum for ``machine``, floors met: works and total accuracy
    (``-inf`` when some machine cannot meet its floors)."""
    if not problem.has_floors:
        sol = solve_on_machines(problem, machine, 0.0, "exact")
        return sol.work, sol.total_accuracy
    work = machine_works(problem, machine, floor_work(problem))
    if work is None:
        return np.zeros(problem.n), -np.inf
    return work, float(np.sum(problem.accuracy(work)))


class _Rows:
    """A sparse constraint matrix built row by row: ``lo <= sum(vals * x[cols]) <= hi``."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    @property
    def count(self) -> int:
        return len(self.lo)

    def add(self, cols, vals, lo: float, hi: float) -> None:
        cols = list(cols)
        self.rows.extend([self.count] * len(cols))
        self.cols.extend(cols)
        self.vals.extend(vals)
        self.lo.append(lo)
        self.hi.append(hi)

    def copy(self) -> _Rows:
        other = _Rows()
        for name in ("rows", "cols", "vals", "lo", "hi"):
            setattr(other, name, list(getattr(self, name)))
        return other


def machine_classes(problem: Problem) -> list[list[int]]:
    """Identical machines (same speed and ``available_at``), each class in index order."""
    key: dict[tuple[float, float], int] = {}
    classes: list[list[int]] = []
    for r in range(problem.m):
        k = (float(problem.speed[r]), float(problem.available_at[r]))
        if k not in key:
            key[k] = len(classes)
            classes.append([])
        classes[key[k]].append(r)
    return classes


class _OuterMILP:
    """Program (10) with tangent cuts for HiGHS (module docs, step 5).

    Variables: ``x`` (one per usable (task, machine) pair, binary), ``w`` (its work), ``z``
    (one per task, its accuracy above ``a_min``). Pairs are sorted by machine, then deadline.
    A task with a floor is semi-continuous: ``w_{j,r} >= L_j x_{j,r}`` (its floor's work),
    and a pair whose capacity is below ``L_j`` is not offered.
    """

    def __init__(self, problem: Problem):
        prob = problem
        self.prob = prob
        n = prob.n
        rank = prob.rank
        self.rank = rank
        self.floor = floor_work(prob)
        U = usable_pairs(prob, self.floor)
        pairs = np.argwhere(U > 0)  # (task, machine) pairs that can do work
        pairs = pairs[np.lexsort((rank[pairs[:, 0]], pairs[:, 1]))]
        self.pairs = pairs
        self.U = U[pairs[:, 0], pairs[:, 1]]
        npair = pairs.shape[0]
        self.ix = np.arange(npair)
        self.iw = npair + np.arange(npair)
        self.iz = 2 * npair + np.arange(n)
        self.nvar = 2 * npair + n
        self.by_task: dict[int, list[int]] = {}
        for q, j in enumerate(pairs[:, 0].tolist()):
            self.by_task.setdefault(j, []).append(q)
        self.base = _Rows()
        self._link_rows()
        self._one_machine_rows()
        self._capacity_rows()
        self._shared_capacity_rows()
        self._symmetry_rows()
        self.tangents: list[set[float]] = [set() for _ in range(n)]
        self.fam = prob.family  # built once per problem
        self.top = np.array([max((self.U[q] for q in self.by_task.get(j, [])), default=0.0)
                             for j in range(n)])

    def _link_rows(self) -> None:
        """``w_{j,r} <= U_{j,r} x_{j,r}``: work only on the chosen machine; and
        ``w_{j,r} >= L_j x_{j,r}`` for a task with a floor."""
        floor = self.floor[self.pairs[:, 0]]
        for q in range(self.pairs.shape[0]):
            self.base.add([self.iw[q], self.ix[q]], [1.0, -self.U[q]], -np.inf, 0.0)
            if floor[q] > 0.0:
                self.base.add([self.iw[q], self.ix[q]], [1.0, -floor[q]], 0.0, np.inf)

    def _one_machine_rows(self) -> None:
        """``sum_r x_{j,r} <= 1``: one machine per task."""
        for qs in self.by_task.values():
            if len(qs) > 1:
                self.base.add(self.ix[qs], [1.0] * len(qs), -np.inf, 1.0)

    def _capacity_rows(self) -> None:
        """Per machine, in deadline order: the work of the first tasks fits before the last
        one's deadline (only at the last task of each distinct deadline, only if it can bind)."""
        prob, pairs = self.prob, self.pairs
        for r in range(prob.m):
            qs = np.flatnonzero(pairs[:, 1] == r)
            dl = prob.deadline[pairs[qs, 0]]
            for t in range(len(qs)):
                if t + 1 < len(qs) and dl[t + 1] == dl[t]:
                    continue
                cap = float(prob.machine_capacity(dl[t], r))
                if np.sum(self.U[qs[: t + 1]]) > cap:
                    self.base.add(self.iw[qs[: t + 1]], [1.0] * (t + 1), -np.inf, cap)

    def _shared_capacity_rows(self) -> None:
        """All machines together: the ``k`` earliest-deadline tasks' total work is at most
        :func:`prefix_capacities` (each machine's work ends by its last task's deadline)."""
        prob = self.prob
        cap = prefix_capacities(prob)
        loose = prob.capacity(prob.deadline[prob.order])
        qrank = self.rank[self.pairs[:, 0]]
        for k in range(prob.n):
            if k + 1 < prob.n and prob.deadline[prob.order[k + 1]] == prob.deadline[prob.order[k]]:
                continue
            if cap[k] < loose[k] * (1 - 1e-12):
                qs = np.flatnonzero(qrank <= k)
                self.base.add(self.iw[qs], [1.0] * len(qs), -np.inf, cap[k])

    def _symmetry_rows(self) -> None:
        """Identical machines: in deadline order, the ``c``-th machine of a class may take
        task ``j`` only if the ``(c-1)``-th took some earlier task."""
        qmap = {(int(j), int(r)): q for q, (j, r) in enumerate(self.pairs.tolist())}
        for cls in machine_classes(self.prob):
            for prev, cur in zip(cls, cls[1:], strict=False):
                earlier: list[int] = []  # x of tasks before j on machine prev
                for j in self.prob.order.tolist():
                    q = qmap.get((j, cur))
                    if q is not None:
                        cols = [self.ix[q]] + [self.ix[e] for e in earlier]
                        self.base.add(cols, [1.0] + [-1.0] * len(earlier), -np.inf, 0.0)
                    qp = qmap.get((j, prev))
                    if qp is not None:
                        earlier.append(qp)

    def add_grid(self, k: int) -> None:
        for j in range(self.prob.n):
            for x in np.linspace(0.0, self.top[j], k):
                self.tangents[j].add(float(np.round(x, 9)))

    def add_tangents(self, work: np.ndarray) -> int:
        added = 0
        for j in range(self.prob.n):
            w = float(min(max(work[j], 0.0), self.top[j]))
            # round to keep the set small and the rows well conditioned
            w = float(np.round(w, 9))
            if w not in self.tangents[j]:
                self.tangents[j].add(w)
                added += 1
        return added

    def _tangent_rows(self, rows: _Rows, incumbent: float) -> None:
        """``z_j <= a_j(w0) + a_j'(w0) (sum_r w_{j,r} - w0)`` at every stored ``w0``, and the
        objective cut ``sum_j z_j >= incumbent`` (accuracies above ``a_min``)."""
        prob = self.prob
        for j in range(prob.n):
            qs = self.by_task.get(j, [])
            w0 = np.array(sorted(self.tangents[j]))
            jj = np.full(w0.shape[0], j)
            val = self.fam.value(w0, jj) - prob.a_min[j]
            der = self.fam.derivative(w0, jj)
            for v, g, x in zip(val.tolist(), der.tolist(), w0.tolist(), strict=True):
                rows.add([self.iz[j], *self.iw[qs]], [1.0] + [-g] * len(qs), -np.inf, v - g * x)
        a_min_total = float(np.sum(prob.a_min))
        rows.add(self.iz, [1.0] * prob.n,
                 incumbent - a_min_total - 1e-9 * max(1.0, abs(incumbent)), np.inf)

    def solve(self, incumbent: float, time_limit: float, gap: float, node_limit: int | None = None):
        prob = self.prob
        rows = self.base.copy()
        self._tangent_rows(rows, incumbent)
        a_min_total = float(np.sum(prob.a_min))
        A = coo_matrix((rows.vals, (rows.rows, rows.cols)), shape=(rows.count, self.nvar)).tocsr()
        c = np.zeros(self.nvar)
        c[self.iz] = -1.0
        lo = np.zeros(self.nvar)
        hi = np.empty(self.nvar)
        hi[self.ix] = 1.0
        hi[self.iw] = self.U
        hi[self.iz] = prob.delta_a
        integrality = np.zeros(self.nvar)
        integrality[self.ix] = 1
        options = {"time_limit": max(time_limit, 0.01), "mip_rel_gap": gap, "presolve": True}
        if node_limit is not None:
            options["node_limit"] = node_limit
        res = milp(c, constraints=LinearConstraint(A, np.array(rows.lo), np.array(rows.hi)),
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
            machine = np.full(prob.n, UNSCHEDULED, dtype=np.int64)
            chosen = x > 0.5
            machine[self.pairs[chosen, 0]] = self.pairs[chosen, 1]
            work = np.zeros(prob.n)
            np.add.at(work, self.pairs[:, 0], res.x[self.iw])
        return res.status, bound, machine, work


@register("exact", guaranteed=True, models=True, floors=True)  # never worse than dsct-refined
def exact(problem: Problem, time_limit: float | None = None, gap_tol: float = 1e-4) -> Solution:
    """Best schedule with a proven bound: DSCT-Opt (section VI-A, program (10)).

    Incumbent from dsct-refined plus local search, root bound from the strengthened
    relaxation, the set-partitioning bound by column generation, branch and bound over
    assignments, then HiGHS on a tangent outer
    approximation if time remains (module docs). Exponential worst case (Theorem 2: NP-hard); stops at
    ``time_limit`` seconds (default 60) with status ``"time_limit"`` and the proven bound.
    """
    t0 = time.perf_counter()
    limit = DEFAULT_TIME_LIMIT if time_limit is None else float(time_limit)
    stop_at = t0 + limit
    prob = problem
    frac = fractional_relaxation(prob)
    upper = frac.upper_bound
    if prob.n_model == prob.n and prob.n:  # measured models only: app.solver.exact_models
        return exact_configs(prob, limit, gap_tol, upper, ALGORITHMS["dsct-refined"](prob))
    if prob.n_model:  # curve and model tasks: one MILP (app.solver.exact_mixed)
        return exact_mixed(prob, stop_at, gap_tol, upper, prefix_capacities(prob), ALGORITHMS["dsct-best"](prob))
    if prob.n == 0:
        sol = solve_on_machines(prob, np.zeros(0, dtype=np.int64), upper, "exact")
        return _finish(prob, sol.machine, upper, upper, gap_tol)

    rank = prob.rank
    machine0, _, _, _ = list_schedule(prob, frac.work)
    if prob.has_floors:
        machine0 = drop_to_feasible(prob, machine0, floor_work(prob))
    best = {"machine": machine0.copy(), "val": _exact_works(prob, machine0)[1]}
    proven = min(upper, strengthened_bound(prob))

    def gap() -> float:
        return _rel_gap(proven, best["val"])

    if gap() > _POLISH_TOL:
        ls = _local_search(prob, best["machine"], rank, stop_at)
        ls_val = _exact_works(prob, ls)[1]
        if ls_val > best["val"]:
            best = {"machine": ls, "val": ls_val}
    if gap() <= _POLISH_TOL or time.perf_counter() >= stop_at:
        return _finish(prob, best["machine"], upper, proven, gap_tol)

    if gap() > gap_tol and not prob.has_floors and prob.n <= _SP_TASKS_PER_MACHINE * prob.m:  # step 3
        cg = ColumnGeneration(prob, machine_classes(prob))
        cg.add_schedule(best["machine"])
        got = cg.run(best["val"], gap_tol, stop_at)
        if got.machine is not None and got.value > best["val"]:
            best = {"machine": got.machine, "val": _exact_works(prob, got.machine)[1]}
        proven = min(proven, got.bound)
        if gap() <= gap_tol or time.perf_counter() >= stop_at:
            return _finish(prob, best["machine"], upper, proven, gap_tol)

    if gap() > gap_tol or prob.has_floors:
        if prob.has_floors:
            # a gap already within gap_tol: a node-limited search towards _POLISH_TOL (HiGHS's
            # polishing rounds are slow on the floors' rows); otherwise the full search
            polish = gap() <= gap_tol
            tol = _POLISH_TOL if polish else gap_tol
            found = admission_search(prob, best["machine"], best["val"], tol,
                                     prefix_capacities(prob), _inner_search(tol),
                                     _FLOOR_POLISH_NODES if polish else _MAX_NODES, stop_at)
        else:
            search = AssignmentSearch(prob, _Evaluator(prob).value, prefix_capacities(prob),
                                      machine_classes(prob))
            found = search.run(best["machine"], best["val"], gap_tol, _MAX_NODES, stop_at,
                               _DIVE_NODES)
        if found.value > best["val"]:
            best = {"machine": found.machine, "val": found.value}
        proven = min(proven, found.bound)
        if found.complete or gap() <= gap_tol or time.perf_counter() >= stop_at:
            return _finish(prob, best["machine"], upper, proven, gap_tol)

    model = _OuterMILP(prob)
    model.add_grid(_GRID)
    model.add_tangents(frac.work)
    model.add_tangents(_exact_works(prob, best["machine"])[0])
    # Kelley rounds: until the gap is within gap_tol (bounded by time only), then a few
    # node-limited polishing rounds towards _POLISH_TOL (bounded by counts: deterministic)
    polish_rounds = 0 if prob.has_floors else _POLISH_ROUNDS
    for phase_tol, node_limit, rounds in ((gap_tol, None, _MAX_ROUNDS),
                                          (_POLISH_TOL, _POLISH_NODES, polish_rounds)):
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
                w_exact, v = _exact_works(prob, machine)
                if v > best["val"] + 1e-15 * abs(best["val"]):
                    best = {"machine": machine, "val": v}
                added = model.add_tangents(w_exact) + model.add_tangents(work)
            if added == 0 or (status != 0 and node_limit is None):
                break
        if gap() > gap_tol:
            break  # out of time: no polishing
    return _finish(prob, best["machine"], upper, proven, gap_tol)


def _inner_search(gap_tol: float):
    """The assignment search below an admission leaf (:mod:`app.solver.exact_floors`)."""

    def run(sub: Problem, value: float, max_nodes: int, stop_at: float):
        search = AssignmentSearch(sub, _Evaluator(sub).value, prefix_capacities(sub),
                                  machine_classes(sub), floor_work(sub))
        return search.run(np.full(sub.n, UNSCHEDULED, dtype=np.int64), value, gap_tol,
                          max_nodes, stop_at, min(_DIVE_NODES, max_nodes))

    return run


def _finish(prob: Problem, machine: np.ndarray, upper: float, proven: float, gap_tol: float) -> Solution:
    sol = _schedule(prob, machine, upper)
    proven = max(min(proven, upper), sol.total_accuracy)
    status = "optimal" if _rel_gap(proven, sol.total_accuracy) <= gap_tol else "time_limit"
    return Solution(
        machine=sol.machine, start=sol.start, duration=sol.duration, work=sol.work,
        accuracy=sol.accuracy, total_accuracy=sol.total_accuracy, upper_bound=upper,
        guarantee=sol.guarantee, algorithm="exact", status=status, reason=sol.reason,
        proven_bound=float(proven),
    )


def _schedule(prob: Problem, machine: np.ndarray, upper: float) -> Solution:
    """The schedule of an assignment: each machine's exact optimum, floors met (a floor task
    left out is reported ``below_min_accuracy``)."""
    if not prob.has_floors:
        return solve_on_machines(prob, machine, upper, "exact")
    floor = floor_work(prob)
    work = machine_works(prob, machine, floor)
    if work is None:  # every incumbent is checked for its floors: a bug, never a silent miss
        raise AssertionError("exact: an assignment whose floors do not fit")
    idx, starts = machine_chains(prob, machine)
    start, duration = sequence_on_machines(prob, idx, starts, machine, work)
    reason = np.where(floor > 0.0, BELOW_MIN_ACCURACY, COMPRESSED_TO_ZERO)
    return make_solution(prob, machine=machine, start=start, duration=duration, work=work,
                         upper_bound=upper, algorithm="exact", reason_if_empty=reason)

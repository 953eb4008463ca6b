"""Branch and bound over machine assignments in deadline order, for ``exact``.

A schedule is an assignment of tasks to machines plus each machine's exact single-machine
optimum (section V), so the search enumerates assignments only: tasks are taken in deadline
order and each is put on a machine (or left out when no machine can run it before its
deadline). A leaf is evaluated exactly by the nested-constraints sweep, one machine at a time.

**The bound at a node** (tasks of rank ``< k`` assigned). In every completion, each machine
runs its tasks in deadline order, so its share of the first ``q`` tasks ends by the deadline
of the last of them it runs. Hence the total work of the first ``q`` tasks is at most

* ``q < k``: ``C_q = sum_r cap_r(L_r(q))``, with ``L_r(q)`` the latest deadline among the
  first ``q`` tasks assigned to machine ``r`` (exact for the assigned part);
* ``q >= k``: ``C_{k-1}`` plus what the free tasks ``k..q`` can add by becoming the last task
  of at most ``min(m, q - k + 1)`` distinct machines: each such machine ``r`` gains at most
  ``cap_r(d_i) - cap_r(L_r)``. On identical machines this is exact: the latest free deadlines
  paired with the machines whose last deadline is earliest. Otherwise each free task is
  credited its best machine (an over-estimate, so still a bound).

with ``cap_r(t) = s_r (t - available_at_r)^+``; also every root bound of
:func:`app.solver.exact.prefix_capacities`, and each assigned task's work is capped by its own
machine's capacity at its deadline. All these constraints are on prefixes in deadline order,
so this *aggregate* relaxation is one nested chain, solved exactly by the O(n log n) sweep of
:mod:`app.solver.fractional`: a valid upper bound on every schedule below the node. It orders
the children and prunes cheaply. It forgets which machine holds which assigned task, so the
*split* bound (:meth:`AssignmentSearch.split_bound`) keeps the assigned tasks on their own
machines' chains and lets the free tasks share the prefix bounds minus the assigned work: a
laminar problem, solved through a price on the assigned work (a few sweeps). It is exact at
a leaf, and the search uses the smaller of the two.

**Floors.** Given the floors' works ``L`` (:mod:`app.solver.exact_floors` removes the floor
tasks that do not run, so every floor task here runs): a floor task is offered only the
machines whose floors before it leave room for its own, and in every bound it is its curve
past its floor with ``L`` taken out of each prefix it is in (:func:`app.solver.floors.shifted`):
an exact change of variables, so the bounds stay as tight as without floors.

**Search.** A depth-first dive (children in decreasing bound, ties: lowest machine index)
for good schedules early, then best first from the root; among identical machines with no
task yet only the first is tried (they are interchangeable). A node is pruned when its bound
is within ``gap_tol`` of the incumbent; the largest pruned bound, together with the bounds
of the nodes left open when the node budget runs out, is the proven bound. The budget is
counted in nodes, so the search is deterministic; a wall-clock time limit is only a safety
stop. Worst case ``O(m^n)`` nodes (DSCT is NP-hard, Theorem 2), each O(n m) plus a few
sweeps per child.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .family import ExponentialFamily
from .floors import chain_floor_caps, shifted
from .fractional import nested_allocation
from .problem import UNSCHEDULED, Problem


@dataclass
class SearchResult:
    """Best assignment found, its exact value and the proven upper bound."""

    machine: np.ndarray
    value: float
    bound: float
    complete: bool  # the whole tree was explored (or pruned)
    nodes: int


class _Budget(Exception):
    """Raised when the node budget or the wall clock runs out."""


class AssignmentSearch:
    """Depth-first branch and bound over assignments (module docs)."""

    def __init__(self, problem: Problem, evaluate, root_caps: np.ndarray, classes: list[list[int]],
                 floor: np.ndarray | None = None):
        prob = problem
        self.prob = prob
        self.evaluate = evaluate  # (machine, tasks in deadline order) -> value above a_min
        order = prob.order
        self.order = order
        n, m = prob.n, prob.m
        self.n, self.m = n, m
        d = prob.deadline[order]
        self.caps = prob.machine_capacity(d)
        self.u_on = np.minimum(prob.t_max[order][:, None], self.caps)  # (rank, machine)
        # floors (by rank): the least work of a task when placed; pairs below it unusable
        self.floor = np.zeros(n) if floor is None else np.asarray(floor, dtype=np.float64)[order]
        self.floors = bool((self.floor > 0.0).any())
        if self.floors:
            self.u_on = np.where(self.u_on >= self.floor[:, None], self.u_on, 0.0)
        self.floor_cum = np.cumsum(self.floor)
        self.u_free = self.u_on.max(axis=1) if m else np.zeros(n)
        self.root_caps = root_caps
        self.identical = len(classes) == 1
        self.class_of = np.empty(m, dtype=np.intp)
        for c, cls in enumerate(classes):
            self.class_of[cls] = c
        self.fam = ExponentialFamily(prob.theta[order], prob.delta_a[order], prob.a_min[order],
                                     self.u_free)
        self.theta, self.delta_a = prob.theta[order], prob.delta_a[order]
        self.a_min = prob.a_min[order]
        self.lk = np.log(self.delta_a) + np.log(self.theta)
        self.cs_caps = np.concatenate(([0.0], np.cumsum(self.caps[:, 0])))
        self.idx = np.arange(n)
        self.zero = np.zeros(1, dtype=np.intp)
        self.a_min_total = float(np.sum(prob.a_min))

    # ------------------------------------------------------------------ the bound
    def _free_caps(self, k: int, last: np.ndarray, c_prev: float) -> np.ndarray:
        """Prefix bounds for ``q = k..n-1`` (module docs), given each machine's ``cap_r(L_r)``."""
        n, m = self.n, self.m
        f = np.arange(1, n - k + 1)
        j = np.minimum(f, m)
        q = np.arange(k, n)
        if self.identical:
            top = self.cs_caps[q + 1] - self.cs_caps[q + 1 - j]
            csb = np.concatenate(([0.0], np.cumsum(np.sort(last))))
            return c_prev + top - csb[j]
        gain = np.max(self.caps[k:] - last[None, :], axis=1)
        out = np.empty(n - k)
        best: list[float] = []  # the m largest gains so far, ascending
        total = 0.0
        for i, g in enumerate(gain.tolist()):
            if len(best) < m:
                best.append(g)
                best.sort()
                total += g
            elif g > best[0]:
                total += g - best[0]
                best[0] = g
                best.sort()
            out[i] = c_prev + total
        return out

    def aggregate_bound(self, k: int, last: np.ndarray) -> float:
        """The one-chain bound below a node (module docs): cheap, used to order children."""
        c_prev = float(self.assigned_caps[k - 1]) if k else 0.0
        cap = np.empty(self.n)
        cap[:k] = self.assigned_caps[:k]
        cap[k:] = self._free_caps(k, last, c_prev)
        cap = np.minimum(cap, self.root_caps)
        u = self.u_free.copy()
        u[:k] = self.u_assigned[:k]
        if self.floors:
            fam, cap = self._floor_chain(k, cap, u)
        else:
            fam = ExponentialFamily(self.theta, self.delta_a, self.a_min, u)
        cap = np.minimum.accumulate(cap[::-1])[::-1]
        w, _ = nested_allocation(fam, self.idx, cap, self.zero)
        return float(np.sum(fam.value(w)))

    def _floor_chain(self, k: int, cap: np.ndarray, u: np.ndarray) -> tuple[ExponentialFamily, np.ndarray]:
        """The one-chain bound's curves and capacities with floors: every task with a floor
        runs (the search places it), so it is its curve past its floor and its floor is
        taken out of every prefix it is in (:mod:`app.solver.floors`)."""
        d, a0, u = shifted(self.theta, self.delta_a, self.a_min, u, self.floor)
        cap = np.maximum(cap - self.floor_cum, 0.0)
        return ExponentialFamily(self.theta, d, a0, u), cap

    def split_bound(self, k: int, last: np.ndarray, threshold: float) -> float:
        """The machine-chains-plus-shared-tail bound below a node (module docs).

        Assigned tasks keep their machines' own chains; free tasks share the tail capacity
        ``C_q - W`` with ``W`` the assigned work. Solved through a price ``lam`` on ``W``: at
        ``lam`` the machines' best ``value - lam W`` is their chains with each task capped
        where its marginal gain falls to ``lam`` (greedy optimality on polymatroids:
        Federgruen and Groenevelt 1986), and the tail's value is concave in ``W`` with
        supergradient ``-pi`` (``pi``: its first task's price), so every ``lam`` gives the
        valid bound ``A + B(W) + max((lam - pi)(W_max - W), (pi - lam) W)``. A root search on
        ``log lam`` (regula falsi, Illinois) drives the last term to 0; it stops early once the
        bound is at most ``threshold`` (the node is pruned anyway). Each step: two sweeps.
        """
        split = _Split(self, k, last)
        if k == self.n:  # a leaf: the machines' own chains, exactly
            return split.machines_value(split.u_a)
        if split.ranks.size == 0 or split.w_max <= 0.0:  # no work can go to the assigned tasks
            return split.at(np.inf).value

        def done(p: _PricePoint) -> bool:
            return p.value + p.excess <= threshold or p.excess <= 1e-10 * max(abs(p.value), 1.0)

        return _price_search(split, done)

    # ------------------------------------------------------------------ the search
    def run(self, machine: np.ndarray, value: float, gap_tol: float, max_nodes: int,
            stop_at: float, dive_nodes: int = 0) -> SearchResult:
        """Search from the incumbent ``machine`` (total accuracy ``value``): depth first for
        ``dive_nodes`` nodes (good schedules early), then best first from the root with the
        best schedule found (the proven bound falls steadily), ``max_nodes`` in all."""
        n, m = self.n, self.m
        self.best_machine = machine.copy()
        self.best = value
        self.gap_tol = gap_tol
        self.stop_at = stop_at
        self.nodes = 0
        self.assign = np.full(n, UNSCHEDULED, dtype=np.int64)  # by rank
        self.assigned_caps = np.zeros(n)
        self.u_assigned = np.zeros(n)
        root = self.aggregate_bound(0, np.zeros(m))
        complete = False
        self.pruned, self.open = -np.inf, root  # nothing explored yet
        for phase, budget in (("dive", min(dive_nodes, max_nodes)), ("best", max_nodes)):
            if budget <= self.nodes:
                continue
            self.max_nodes = budget
            self.pruned = -np.inf
            self.open = -np.inf
            complete = True
            try:
                if self._prune(root):
                    self.pruned = max(self.pruned, root)
                elif phase == "dive":
                    self._dfs(0, np.zeros(m), 0.0, root)
                else:
                    self._best_first(root)
            except _Budget:
                complete = False
            if complete or time.perf_counter() > stop_at:
                break
        bound = max(self.best, self.pruned, self.open)
        return SearchResult(self.best_machine, self.best, bound, complete, self.nodes)

    def _threshold(self) -> float:
        """The largest bound that :meth:`_prune` accepts."""
        return self.best / (1.0 - self.gap_tol) if self.best > 0 else self.best

    def _prune(self, bound: float) -> bool:
        return bound - self.best <= self.gap_tol * max(abs(bound), 1e-12)

    def _options(self, k: int, last: np.ndarray) -> list[int]:
        """Machines for rank ``k``: those that can run it, one empty machine per class; a
        task with a floor only where the floors before it leave room for its own (none:
        the node has no child)."""
        usable = np.flatnonzero(self.u_on[k] > 0.0)
        fl = float(self.floor[k])
        if fl > 0.0 and usable.shape[0]:
            on = self.assign[:k] >= 0
            load = np.bincount(self.assign[:k][on], weights=self.floor[:k][on], minlength=self.m)
            usable = usable[load[usable] + fl <= self.caps[k, usable]]
        usable = usable.tolist()
        if not usable:
            return [] if fl > 0.0 else [UNSCHEDULED]
        used = set(self.assign[:k].tolist())
        seen_empty: set[int] = set()
        options = []
        for r in usable:
            if r not in used:
                c = int(self.class_of[r])
                if c in seen_empty:
                    continue  # an identical empty machine was already offered
                seen_empty.add(c)
            options.append(r)
        return options

    def _step(self, k: int, r: int, last: np.ndarray, c_prev: float) -> tuple[np.ndarray, float]:
        """Put rank ``k`` on machine ``r``: update the per-depth arrays, return the new state."""
        self.assign[k] = r
        if r == UNSCHEDULED:
            self.assigned_caps[k] = c_prev
            self.u_assigned[k] = 0.0
            return last, c_prev
        child_last = last.copy()
        c_new = c_prev + self.caps[k, r] - last[r]
        child_last[r] = self.caps[k, r]
        self.assigned_caps[k] = c_new
        self.u_assigned[k] = self.u_on[k, r]
        return child_last, c_new

    def _leaf(self) -> None:
        machine = np.full(self.n, UNSCHEDULED, dtype=np.int64)
        machine[self.order] = self.assign
        total = self.a_min_total
        for r in range(self.m):
            ranks = np.flatnonzero(self.assign == r)
            total += self.evaluate(r, tuple(self.order[ranks].tolist()))
        if total > self.best:
            self.best = total
            self.best_machine = machine

    def _best_first(self, root: float) -> None:
        """Expand the open node of largest bound first (module docs); raises :class:`_Budget`."""
        m = self.m
        # (-bound, sequence, depth, assign prefix, assigned caps, u caps, last, c_prev)
        heap = [(-root, 0, 0, self.assign[:0].copy(), self.assigned_caps[:0].copy(),
                 self.u_assigned[:0].copy(), np.zeros(m), 0.0)]
        seq = 1
        try:
            while heap:
                neg, _, k, assign, caps, u, last, c_prev = heapq.heappop(heap)
                bound = -neg
                if self._prune(bound):
                    self.pruned = max(self.pruned, bound)
                    continue
                self.nodes += 1
                if self.nodes > self.max_nodes or time.perf_counter() > self.stop_at:
                    self.open = max(self.open, bound)
                    raise _Budget
                self.assign[:k], self.assigned_caps[:k], self.u_assigned[:k] = assign, caps, u
                if k == self.n:
                    self._leaf()
                    continue
                for agg, r in self._children(k, last, c_prev):
                    child = self._child(k, agg, r, last, c_prev)
                    if child is None:
                        continue
                    b, child_last, c_new = child
                    if k + 1 == self.n:
                        self._leaf()
                        continue
                    heapq.heappush(heap, (-b, seq, k + 1, self.assign[:k + 1].copy(),
                                          self.assigned_caps[:k + 1].copy(),
                                          self.u_assigned[:k + 1].copy(), child_last, c_new))
                    seq += 1
        except _Budget:
            for item in heap:
                self.open = max(self.open, -item[0])
            raise

    def _children(self, k: int, last: np.ndarray, c_prev: float) -> list[tuple[float, int]]:
        """(aggregate bound, machine) of each child of a node at depth ``k``, best first."""
        children = []
        for r in self._options(k, last):
            child_last, _ = self._step(k, r, last, c_prev)
            children.append((self.aggregate_bound(k + 1, child_last), r))
        children.sort(key=lambda t: (-t[0], t[1]))
        return children

    def _child(self, k: int, agg: float, r: int, last: np.ndarray,
               c_prev: float) -> tuple[float, np.ndarray, float] | None:
        """The bound, last deadlines and capacity of the child that puts task ``k`` on machine
        ``r`` (``agg``: its aggregate bound); None when one of its bounds prunes it."""
        if self._prune(agg):
            self.pruned = max(self.pruned, agg)
            return None
        child_last, c_new = self._step(k, r, last, c_prev)
        b = min(agg, self.split_bound(k + 1, child_last, self._threshold()))
        if self._prune(b):
            self.pruned = max(self.pruned, b)
            return None
        return b, child_last, c_new

    def _dfs(self, k: int, last: np.ndarray, c_prev: float, bound: float) -> None:
        self.nodes += 1
        if self.nodes > self.max_nodes or time.perf_counter() > self.stop_at:
            self.open = max(self.open, bound)
            raise _Budget
        if k == self.n:
            self._leaf()
            return
        children = self._children(k, last, c_prev)
        for i, (agg, r) in enumerate(children):
            child = self._child(k, agg, r, last, c_prev)
            if child is None:
                continue
            b, child_last, c_new = child
            try:
                self._dfs(k + 1, child_last, c_new, b)
            except _Budget:
                for b2, _ in children[i + 1:]:
                    self.open = max(self.open, b2)
                raise


class _PricePoint(NamedTuple):
    """The split bound at one log-price: the relaxation's value at the split it induces, the
    excess that makes ``value + excess`` a valid bound, and ``log pi - x`` (root: optimal)."""

    value: float
    excess: float
    f: float


class _Split:
    """The split bound's data below a node (:meth:`AssignmentSearch.split_bound`): the
    assigned tasks grouped by machine in deadline order, and the free tail's capacities."""

    def __init__(self, s: AssignmentSearch, k: int, last: np.ndarray):
        ranks = np.flatnonzero(s.assign[:k] >= 0)
        mach = s.assign[ranks]
        grp = np.lexsort((ranks, mach))
        ranks, mach = ranks[grp], mach[grp]
        self.ranks = ranks
        self.starts = np.flatnonzero(np.r_[True, mach[1:] != mach[:-1]]) if ranks.size else s.zero
        ccap = s.caps[ranks, mach]
        self.u_a, self.lk_a, self.th_a = s.u_assigned[ranks], s.lk[ranks], s.theta[ranks]
        self.d_a, self.amin_a, self.aidx = s.delta_a[ranks], s.a_min[ranks], np.arange(ranks.size)
        placed = 0.0
        if s.floors:  # placed floor tasks: their curves past the floor (app.solver.floors)
            fl = s.floor[ranks]
            placed = float(np.sum(fl))
            ccap = chain_floor_caps(ccap, fl, self.starts, clamp=True)
            self.d_a, self.amin_a, self.u_a = shifted(self.th_a, self.d_a, self.amin_a, self.u_a, fl)
            self.lk_a = self.lk_a - self.th_a * fl
        self.ccap = ccap  # each machine's capacity up to each of its tasks' deadlines
        self.a_fixed = float(np.sum(s.a_min[:k][s.assign[:k] < 0]))  # tasks left out
        self.zero = s.zero
        if k == s.n:
            return
        c_prev = float(s.assigned_caps[k - 1]) if k else 0.0
        fcap = np.minimum(s._free_caps(k, last, c_prev), s.root_caps[k:])
        d_f, amin_f, u_f = s.delta_a[k:], s.a_min[k:], s.u_free[k:]
        if s.floors:  # free tasks with floors run too: past their floors, which leave the tail
            fl = s.floor[k:]
            fcap = np.maximum(fcap - placed - np.cumsum(fl), 0.0)
            d_f, amin_f, u_f = shifted(s.theta[k:], d_f, amin_f, u_f, fl)
        self.fcap = np.minimum.accumulate(fcap[::-1])[::-1]
        self.fam_f = ExponentialFamily(s.theta[k:], d_f, amin_f, u_f)
        self.fidx = np.arange(s.n - k)
        self.w_max = min(float(self.fcap[0]), float(np.sum(np.minimum(self.u_a, ccap))))

    def machines_value(self, cap_u: np.ndarray) -> float:
        """The assigned tasks' best value on their machines with works capped at ``cap_u``."""
        return self._machines(cap_u)[0]

    def _machines(self, cap_u: np.ndarray) -> tuple[float, float]:
        fam_a = ExponentialFamily(self.th_a, self.d_a, self.amin_a, cap_u)
        wa, _ = nested_allocation(fam_a, self.aidx, self.ccap, self.starts)
        va = float(np.sum(fam_a.value(wa))) if self.ranks.size else 0.0
        return va + self.a_fixed, float(np.sum(wa))

    def at(self, x: float) -> _PricePoint:
        """The bound at log-price ``x`` of the assigned work (``-inf``: price 0)."""
        cap_u = self.u_a if x == -np.inf else np.minimum(
            self.u_a, np.maximum((self.lk_a - x) / self.th_a, 0.0))
        va, wa = self._machines(cap_u)
        w = min(wa, self.w_max)
        wf, xf = nested_allocation(self.fam_f, self.fidx, self.fcap - w, self.zero)
        vb = float(np.sum(self.fam_f.value(wf)))
        lam = float(np.exp(x))
        pi = float(np.exp(xf[0])) if np.isfinite(xf[0]) else 0.0
        excess = (lam - pi) * (self.w_max - w) if lam > pi else (pi - lam) * w
        return _PricePoint(va + vb, excess, float(xf[0]) - x)


def _price_search(split: _Split, done) -> float:
    """The smallest ``value + excess`` over log-prices met by a safeguarded regula falsi
    (Illinois) on the decreasing ``f`` between the prices where the machines take nothing
    and where they take all they can; stops when ``done(point)``."""
    x_hi = float(np.max(split.lk_a))  # at and above: machines take nothing
    x_lo = float(np.min(split.lk_a - split.th_a * split.u_a))  # at and below: all they can
    hi = split.at(x_hi)
    best = hi.value + hi.excess
    if done(hi) or hi.f >= 0:
        return best
    lo = split.at(x_lo)
    best = min(best, lo.value + lo.excess)
    if done(lo):
        return best
    if lo.f <= 0:  # machines saturated: the tail's own price closes the bound
        x = x_lo + lo.f
        p = split.at(x if np.isfinite(x) else -np.inf)
        return min(best, p.value + p.excess)
    f_lo, f_hi, side = lo.f, hi.f, 0
    for _ in range(40):
        x = (x_lo * f_hi - x_hi * f_lo) / (f_hi - f_lo)
        if not x_lo < x < x_hi:
            x = 0.5 * (x_lo + x_hi)
        p = split.at(x)
        best = min(best, p.value + p.excess)
        if done(p) or x_hi - x_lo < 1e-12:
            break
        if p.f > 0:
            x_lo, f_lo = x, p.f
            if side == -1:
                f_hi *= 0.5
            side = -1
        else:
            x_hi, f_hi = x, p.f
            if side == 1:
                f_lo *= 0.5
            side = 1
    return best

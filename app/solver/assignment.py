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
so the relaxation is one nested chain, solved exactly by the O(n log n) sweep of
:mod:`app.solver.fractional`: a valid upper bound on every schedule below the node.

**Search.** Depth first, children in decreasing bound (ties: lowest machine index); among
identical machines with no task yet only the first is tried (they are interchangeable). A
node is pruned when its bound is within ``gap_tol`` of the incumbent; the largest pruned
bound, together with the bounds of the nodes left open when the node budget runs out, is the
proven bound. The budget is counted in nodes, so the search is deterministic; a wall-clock
time limit is only a safety stop. Worst case ``O(m^n)`` nodes (DSCT is NP-hard, Theorem 2),
each O(n m) plus one sweep.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

import numpy as np

from .family import ExponentialFamily
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

    def __init__(self, problem: Problem, evaluate, root_caps: np.ndarray, classes: list[list[int]]):
        prob = problem
        self.prob = prob
        self.evaluate = evaluate  # (machine, tasks in deadline order) -> value above a_min
        order = prob.order
        self.order = order
        n, m = prob.n, prob.m
        self.n, self.m = n, m
        d = prob.deadline[order]
        self.caps = prob.speed[None, :] * np.maximum(d[:, None] - prob.available_at[None, :], 0.0)
        self.u_on = np.minimum(prob.t_max[order][:, None], self.caps)  # (rank, machine)
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
        cap = np.minimum.accumulate(cap[::-1])[::-1]
        u = self.u_free.copy()
        u[:k] = self.u_assigned[:k]
        fam = ExponentialFamily(self.theta, self.delta_a, self.a_min, u)
        w, _ = nested_allocation(fam, self.idx, np.diff(cap, prepend=0.0), self.zero)
        return float(np.sum(fam.value(w)))

    def split_bound(self, k: int, last: np.ndarray, threshold: float) -> float:
        """The machine-chains-plus-shared-tail bound below a node (module docs).

        Assigned tasks keep their machines' own chains; free tasks share the tail capacity
        ``C_q - W`` with ``W`` the assigned work. Solved through a price ``lam`` on ``W``: at
        ``lam`` the machines' best ``value - lam W`` is their chains with each task capped
        where its marginal gain falls to ``lam`` (greedy optimality on polymatroids:
        Federgruen and Groenevelt 1986), and the tail's value is concave in ``W`` with
        supergradient ``-pi`` (``pi``: its first task's price), so every ``lam`` gives the
        valid bound ``A + B(W) + max((lam - pi)(W_max - W), (pi - lam) W)``. Bisection on
        ``log lam`` drives the last term to 0; it stops early once the bound is at most
        ``threshold`` (the node is pruned anyway). Each step: two sweeps.
        """
        n = self.n
        ranks = np.flatnonzero(self.assign[:k] >= 0)
        mach = self.assign[ranks]
        grp = np.lexsort((ranks, mach))
        ranks, mach = ranks[grp], mach[grp]
        starts = np.flatnonzero(np.r_[True, mach[1:] != mach[:-1]]) if ranks.size else self.zero
        ccap = self.caps[ranks, mach]
        cinc = np.diff(ccap, prepend=0.0)
        if ranks.size:
            cinc[starts] = ccap[starts]
        u_a = self.u_assigned[ranks]
        lk_a = self.lk[ranks]
        th_a = self.theta[ranks]
        a_fixed = float(np.sum(self.a_min[:k][self.assign[:k] < 0]))  # tasks left out
        if k == n:  # a leaf: the machines' own chains, exactly
            fam_a = ExponentialFamily(th_a, self.delta_a[ranks], self.a_min[ranks], u_a)
            wa, _ = nested_allocation(fam_a, np.arange(ranks.size), cinc, starts)
            return float(np.sum(fam_a.value(wa))) + a_fixed
        c_prev = float(self.assigned_caps[k - 1]) if k else 0.0
        fcap = np.minimum(self._free_caps(k, last, c_prev), self.root_caps[k:])
        fcap = np.minimum.accumulate(fcap[::-1])[::-1]
        finc = np.diff(fcap, prepend=0.0)
        fam_f = ExponentialFamily(self.theta[k:], self.delta_a[k:], self.a_min[k:], self.u_free[k:])
        fidx = np.arange(n - k)
        w_max = min(float(fcap[0]), float(np.sum(np.minimum(u_a, ccap))))
        d_a, amin_a, aidx = self.delta_a[ranks], self.a_min[ranks], np.arange(ranks.size)

        def at(x: float) -> tuple[float, float]:
            """(value of the split point, its bound's excess) at log-price ``x``; also
            returns ``log pi - x``, whose root is the optimal price."""
            cap_u = np.minimum(u_a, np.maximum((lk_a - x) / th_a, 0.0)) if x > -np.inf else u_a
            fam_a = ExponentialFamily(th_a, d_a, amin_a, cap_u)
            wa, _ = nested_allocation(fam_a, aidx, cinc, starts)
            va = float(np.sum(fam_a.value(wa))) if ranks.size else 0.0
            w = min(float(np.sum(wa)), w_max)
            finc[0] = fcap[0] - w
            wf, xf = nested_allocation(fam_f, fidx, finc, self.zero)
            vb = float(np.sum(fam_f.value(wf)))
            lam = float(np.exp(x))
            pi = float(np.exp(xf[0])) if np.isfinite(xf[0]) else 0.0
            extra = (lam - pi) * (w_max - w) if lam > pi else (pi - lam) * w
            return va + vb + a_fixed, extra, float(xf[0]) - x

        def done(v: float, extra: float) -> bool:
            return v + extra <= threshold or extra <= 1e-10 * max(abs(v), 1.0)

        if ranks.size == 0 or w_max <= 0.0:  # no work can go to the assigned tasks
            return at(np.inf)[0]
        x_hi = float(np.max(lk_a))  # at and above: machines take nothing
        x_lo = float(np.min(lk_a - th_a * u_a))  # at and below: machines take all they can
        v, extra, f_hi = at(x_hi)
        best = v + extra
        if done(v, extra) or f_hi >= 0:
            return best
        v, extra, f_lo = at(x_lo)
        best = min(best, v + extra)
        if done(v, extra):
            return best
        if f_lo <= 0:  # machines saturated: the tail's own price closes the bound
            x = x_lo + f_lo
            v, extra, _ = at(x) if np.isfinite(x) else at(-np.inf)
            return min(best, v + extra)
        side = 0
        for _ in range(40):  # Illinois regula falsi on f(x) = log pi - x, decreasing
            x = (x_lo * f_hi - x_hi * f_lo) / (f_hi - f_lo)
            if not x_lo < x < x_hi:
                x = 0.5 * (x_lo + x_hi)
            v, extra, fx = at(x)
            best = min(best, v + extra)
            if done(v, extra) or x_hi - x_lo < 1e-12:
                break
            if fx > 0:
                x_lo, f_lo = x, fx
                if side == -1:
                    f_hi *= 0.5
                side = -1
            else:
                x_hi, f_hi = x, fx
                if side == 1:
                    f_lo *= 0.5
                side = 1
        return best

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
        """Machines for rank ``k``: those that can run it, one empty machine per class."""
        usable = np.flatnonzero(self.u_on[k] > 0.0).tolist()
        if not usable:
            return [UNSCHEDULED]
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
                    if self._prune(agg):
                        self.pruned = max(self.pruned, agg)
                        continue
                    child_last, c_new = self._step(k, r, last, c_prev)
                    b = min(agg, self.split_bound(k + 1, child_last, self._threshold()))
                    if self._prune(b):
                        self.pruned = max(self.pruned, b)
                        continue
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
            if self._prune(agg):
                self.pruned = max(self.pruned, agg)
                continue
            child_last, c_new = self._step(k, r, last, c_prev)
            b = min(agg, self.split_bound(k + 1, child_last, self._threshold()))
            if self._prune(b):
                self.pruned = max(self.pruned, b)
                continue
            try:
                self._dfs(k + 1, child_last, c_new, b)
            except _Budget:
                for b2, _ in children[i + 1:]:
                    self.open = max(self.open, b2)
                raise

"""``exact`` with accuracy floors: which floor tasks run, then where (a two-level search).

A curve task with a floor gets no work, or at least its floor's work ``L``
(:mod:`app.solver.floors`). The search first decides *admission*, then *assignment*:

1. **Admission tree.** The floor tasks that can run at all, in deadline order, are decided
   one by one: in (it runs, at least ``L``) or out (it scores ``a_min``). The bound at a node
   is the strengthened relaxation (:func:`app.solver.exact.strengthened_bound`'s prefix
   capacities) with each admitted task as its curve past its floor and its floor taken out
   of every prefix it is in, each task left out given no work, and each undecided one relaxed
   to its concave envelope (:class:`app.solver.floors.FloorFamily`): one sweep, a valid
   upper bound on every schedule below the node. Best first; a node within ``gap_tol`` of
   the incumbent is pruned.
2. **Assignment.** At a leaf the tasks left out are removed and the branch and bound over
   assignments (:mod:`app.solver.assignment`) places the others, every floor task on a
   machine whose floors leave it room, its bounds shifted by the floors (all of them run).

The proven bound is the largest bound among pruned nodes, nodes left open when the node
budget ran out, and leaves whose assignment search did not finish. Node budgets are
counted, so the result is deterministic; the wall clock is a safety stop. Worst case
``2^f`` admission leaves for ``f`` floor tasks, each an ``O(m^n)`` search (DSCT is NP-hard,
Theorem 2); in practice the admission bound prunes most leaves at once.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

import numpy as np

from .assignment import SearchResult
from .family import ExponentialFamily
from .floors import FloorFamily, floor_work, shifted
from .fractional import nested_allocation
from .problem import UNSCHEDULED, Problem

__all__ = ["admission_search"]

#: an assignment search for a problem whose floor tasks all run: (sub-problem, incumbent
#: value to beat, node budget, wall-clock stop) -> result
InnerSearch = Callable[[Problem, float, int, float], SearchResult]


class _Admission:
    """The admission tree's bound (module docs, step 1) over a problem's tasks in deadline
    order; ``state`` per rank: 1 admitted, 0 left out, -1 undecided (or no floor)."""

    def __init__(self, problem: Problem, root_caps: np.ndarray):
        prob = problem
        order = prob.order
        self.floor = floor_work(prob)[order]
        self.u = np.minimum(prob.t_max[order], prob.machine_capacity(prob.deadline[order]).max(axis=1))
        self.theta, self.delta_a, self.a_min = prob.theta[order], prob.delta_a[order], prob.a_min[order]
        self.caps = root_caps
        self.idx = np.arange(prob.n)

    def bound(self, state: np.ndarray) -> float:
        fin = state == 1
        placed = np.where(fin, self.floor, 0.0)
        cap = self.caps - np.cumsum(placed)
        if (cap < -1e-9 * np.maximum(self.caps, 1.0)).any():
            return -np.inf  # the admitted floors alone overflow a prefix
        cap = np.minimum.accumulate(np.maximum(cap, 0.0)[::-1])[::-1]
        u = np.where(state == 0, 0.0, self.u)
        d, a0, u = shifted(self.theta, self.delta_a, self.a_min, u, placed)
        envelope = np.where(state == -1, self.floor, 0.0)
        fam = FloorFamily(self.theta, d, a0, u, envelope) if (envelope > 0).any() else \
            ExponentialFamily(self.theta, d, a0, u)
        w, _ = nested_allocation(fam, self.idx, cap, np.zeros(1, dtype=np.intp))
        return float(np.sum(fam.value(w)))


def _without(problem: Problem, keep: np.ndarray) -> Problem:
    """The problem over the tasks ``keep`` (same machines, floors kept)."""
    p = problem
    return Problem(p.deadline[keep], p.theta[keep], p.a_min[keep], p.a_max[keep], p.t_max[keep],
                   p.speed, p.available_at,
                   min_accuracy=None if p.min_accuracy is None else p.min_accuracy[keep])


def admission_search(problem: Problem, machine: np.ndarray, value: float, gap_tol: float,
                     root_caps: np.ndarray, inner: InnerSearch, max_nodes: int,
                     stop_at: float) -> SearchResult:
    """Best schedule with floors and a proven bound (module docs), from the incumbent
    ``machine`` of total accuracy ``value``; ``root_caps`` are the problem's prefix bounds
    (:func:`app.solver.exact.prefix_capacities`), ``inner`` the assignment search."""
    prob = problem
    adm = _Admission(prob, root_caps)
    usable = np.isfinite(adm.floor) & (adm.u >= adm.floor)
    decide = np.flatnonzero((adm.floor > 0.0) & usable).tolist()  # ranks, in deadline order
    base = np.full(prob.n, -1, dtype=np.int64)
    base[(adm.floor > 0.0) & ~usable] = 0  # floors no machine can meet: out
    best = {"machine": machine.copy(), "value": value}
    pruned, open_, nodes = -np.inf, -np.inf, 0

    def prune(bound: float) -> bool:
        return bound - best["value"] <= gap_tol * max(abs(bound), 1e-12)

    root = adm.bound(base)
    heap = [(-root, 0, base)]
    seq = 1
    complete = True
    while heap:
        neg, _, state = heapq.heappop(heap)
        bound = -neg
        if prune(bound):
            pruned = max(pruned, bound)
            continue
        if nodes >= max_nodes or time.perf_counter() > stop_at:
            open_ = max(open_, bound, *(-item[0] for item in heap))
            complete = False
            break
        nodes += 1
        depth = int(np.count_nonzero(state[decide] >= 0)) if decide else 0
        if depth < len(decide):
            for choice in (1, 0):
                child = state.copy()
                child[decide[depth]] = choice
                b = adm.bound(child)
                if prune(b):
                    pruned = max(pruned, b)
                else:
                    heapq.heappush(heap, (-b, seq, child))
                    seq += 1
            continue
        keep_rank = state != 0
        keep = np.sort(prob.order[keep_rank])
        offset = float(np.sum(prob.a_min[prob.order[~keep_rank]]))
        sub = _without(prob, keep)
        found = inner(sub, best["value"] - offset, max_nodes - nodes, stop_at)
        nodes += found.nodes
        if found.value + offset > best["value"]:
            full = np.full(prob.n, UNSCHEDULED, dtype=np.int64)
            full[keep] = found.machine
            best = {"machine": full, "value": found.value + offset}
        # the leaf's bound covers the nodes it pruned within gap_tol, so it always counts
        if found.complete:
            pruned = max(pruned, found.bound + offset)
        else:
            open_ = max(open_, found.bound + offset)
    bound = max(best["value"], pruned, open_)
    return SearchResult(best["machine"], best["value"], bound, complete and open_ == -np.inf, nodes)

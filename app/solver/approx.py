"""DSCT-APPROX (paper: section VI-C, Algorithm 3, Theorem 3) and its refined variant.

``dsct-approx``
    1. the exact fractional relaxation (:mod:`app.solver.fractional`) gives each task its work;
    2. tasks in deadline order go to the machine that becomes free earliest, counting
       uncompressed loads (a task keeps its work, so it takes ``work / s_r`` there);
    3. on each machine, a task still running at its deadline is cut there and the tasks after
       it shift earlier.
    Guarantee (Theorem 3): ``upper_bound - total <= G = m A (1 + ln(theta_max/theta_min)/e)``.
    Complexity: the relaxation's, plus O(n log m) for the rounding. The rounding is one
    tight Python loop (a heap of machines); it is inherently sequential.

``dsct-refined``
    Keeps dsct-approx's assignment and re-solves each machine's own tasks optimally with the
    exact single-machine solver (all machines in one nested-constraints sweep). The cut
    schedule is feasible for each machine's problem, so it is never worse than dsct-approx
    and keeps the same guarantee. Complexity: twice the relaxation's.

``dsct-approx`` is the default (the wire contract fixes it): it is the paper's algorithm,
and its guarantee is what the service promises. ``dsct-refined`` is the one to pick when the
last fraction of accuracy matters; it costs a second sweep.
"""

from __future__ import annotations

import heapq

import numpy as np

from .fractional import FractionalSolution, fractional_relaxation, nested_allocation
from .problem import UNSCHEDULED, Problem, Solution
from .registry import register
from .schedule import (
    COMPRESSED_TO_ZERO,
    CUT_AT_DEADLINE,
    machine_chains,
    make_solution,
    sequence_on_machines,
)


def list_schedule(problem: Problem, work: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Steps 2 and 3 of Algorithm 3: list scheduling in deadline order, then cut and shift.

    Every task (zero-work ones included, as in the paper) goes to the machine whose
    uncompressed load ends first (ties: lowest index). Returns ``machine``, ``start``,
    ``duration`` and ``cut`` (True where the deadline cut the task) per task. O(n log m).

    An uncut task's duration is ``work / speed``, never a difference of two large times (that
    would lose the digits of a short task that starts late); a cut task's is the time left
    before its deadline, and its work is then derived from it.
    """
    m = problem.m
    order = problem.order
    inv_speed = (1.0 / problem.speed).tolist()
    avail = problem.available_at.tolist()
    heap = [(avail[r], r) for r in range(m)]
    heapq.heapify(heap)
    end = list(avail)  # actual (cut and shifted) end of each machine
    n = problem.n
    mach = [0] * n
    st = [0.0] * n
    dur = [0.0] * n
    cut = [False] * n
    replace = heapq.heapreplace
    # Inherently sequential (each choice depends on all earlier loads): one tight loop over
    # plain Python floats, about 0.4 us a task.
    for k, w, d in zip(range(n), work[order].tolist(), problem.deadline[order].tolist()):  # noqa: B905
        load, r = heap[0]
        p = w * inv_speed[r]
        replace(heap, (load + p, r))
        e = end[r]
        fin = e + p
        if fin > d:  # cut at the deadline; the following tasks shift by the cut
            fin = d if d > e else e
            p = fin - e
            cut[k] = True
        end[r] = fin
        mach[k] = r
        st[k] = e
        dur[k] = p
    machine = np.empty(problem.n, dtype=np.int64)
    start = np.empty(problem.n)
    duration = np.empty(problem.n)
    was_cut = np.empty(problem.n, dtype=bool)
    machine[order] = mach
    start[order] = st
    duration[order] = dur
    was_cut[order] = cut
    return machine, start, duration, was_cut


def approx_from(problem: Problem, frac: FractionalSolution, name: str = "dsct-approx") -> Solution:
    """DSCT-APPROX's schedule from a solved relaxation (see :func:`dsct_approx`)."""
    machine, start, duration, cut = list_schedule(problem, frac.work)  # every task gets a machine
    work = np.where(cut, duration * problem.speed[machine], frac.work)
    reason = np.where(cut, CUT_AT_DEADLINE, COMPRESSED_TO_ZERO)
    return make_solution(
        problem, machine=machine, start=start, duration=duration, work=work,
        upper_bound=frac.upper_bound, algorithm=name, reason_if_empty=reason,
    )


@register("dsct-approx", polynomial=True)
def dsct_approx(problem: Problem, **_options) -> Solution:
    """DSCT-APPROX, Algorithm 3 of the paper (section VI-C).

    O(n log n) for the relaxation's sort plus its sweep, and O(n log m) for the rounding.
    """
    return approx_from(problem, fractional_relaxation(problem))


def solve_on_machines(problem: Problem, machine: np.ndarray, upper_bound: float, name: str) -> Solution:
    """Optimal schedule for a fixed assignment: each machine's own tasks solved exactly
    (section V: Algorithm 1's problem on one machine, machine ``r`` offering
    ``s_r (d - available_at_r)`` work by time ``d``), all machines in one sweep."""
    idx, starts = machine_chains(problem, machine)
    work = np.zeros(problem.n)
    if idx.shape[0]:
        cap = problem.machine_capacity(problem.deadline[idx], machine[idx])
        w, _ = nested_allocation(problem.family, idx, cap, starts)
        work[idx] = w
    start, duration = sequence_on_machines(problem, idx, starts, machine, work)
    machine = np.where(work > 0, machine, UNSCHEDULED)
    return make_solution(
        problem, machine=machine, start=start, duration=duration, work=work,
        upper_bound=upper_bound, algorithm=name,
    )


@register("dsct-refined", polynomial=True)
def dsct_refined(problem: Problem, **_options) -> Solution:
    """DSCT-APPROX's assignment, then each machine re-solved exactly.

    Never worse than dsct-approx; same guarantee. O(n log n) plus two sweeps.
    """
    frac = fractional_relaxation(problem)
    machine, _, _, _ = list_schedule(problem, frac.work)
    return solve_on_machines(problem, machine, frac.upper_bound, "dsct-refined")

"""An independent reference for the fractional relaxation: a general convex solver.

The relaxation is written the paper's way (section VI-A, program (10) without the binary
variables), per machine: ``t[j, r]`` seconds of task j on machine r, each machine's prefix
of tasks in deadline order inside ``[available_at_r, d_k]``, work ``sum_r s_r t[j, r]``. It
shares no code with the solver (not even the aggregated capacity function), so agreement
also checks the aggregation behind Lemma 2's generalisation to busy machines.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from app.solver import Problem


def reference_relaxation(p: Problem) -> float:
    n, m = p.n, p.m
    if n == 0:
        return 0.0
    order = np.argsort(p.deadline, kind="stable")
    d = p.deadline[order]
    t = cp.Variable((n, m), nonneg=True)
    w = t @ p.speed
    cons = []
    lower = np.tril(np.ones((n, n)))
    for r in range(m):
        room = np.maximum(d - p.available_at[r], 0.0)
        cons.append(lower @ t[:, r] <= room)
    fin = np.isfinite(p.t_max[order])
    if fin.any():
        cons.append(w[np.flatnonzero(fin)] <= p.t_max[order][fin])
    theta = p.theta[order]
    da = (p.a_max - p.a_min)[order]
    loss = cp.sum(cp.multiply(da, cp.exp(-cp.multiply(theta, w))))
    prob = cp.Problem(cp.Minimize(loss), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return float(np.sum(p.a_max) - prob.value)

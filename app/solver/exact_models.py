"""``exact`` for batches whose tasks all run measured models: a MILP over configurations.

Each task ``j`` chooses at most one (machine ``r``, configuration ``c``): a binary
``y[j, r, c]``. On one machine, running its tasks in deadline order is optimal (section
IV), so a choice is feasible exactly when, for every task ``k`` on machine ``r``, the work
of the tasks on ``r`` up to ``k`` in deadline order fits ``s_r (d_k - available_at_r)``:

    sum_{i <= k} sum_c w_c y[i, r, c] + M_k sum_c y[k, r, c] <= s_r (d_k - available_at_r) + M_k

with ``M_k`` the most work the tasks up to ``k`` can take (the constraint is void when ``k``
is not on ``r``). Maximise ``sum (accuracy_c - a_min) y`` (plus every task's ``a_min``).
HiGHS (``scipy.optimize.milp``) proves the optimum within ``gap_tol`` or stops at
``time_limit`` with its dual bound. n m C binaries and n m rows; exponential in the worst
case (the problem contains the knapsack problem), fine for a few dozen tasks.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from .problem import Problem, Solution
from .schedule import machine_chains, make_solution, sequence_on_machines

__all__ = ["exact_configs"]


def exact_configs(problem: Problem, time_limit: float, gap_tol: float, upper_bound: float,
                  fallback: Solution) -> Solution:
    """The optimal schedule of a batch of model tasks (see the module), or at
    ``time_limit`` the better of the MILP's incumbent and ``fallback``, with status
    ``"time_limit"`` and the proven bound."""
    ms, n, m = problem.models, problem.n, problem.m
    model = problem.model
    rank = problem.rank
    rows_task, cols, vals = [], [], []
    var_task, var_machine, var_config = [], [], []
    for j in range(n):
        k = int(model[j])
        for r in range(m):
            room = float(problem.speed[r]) * (float(problem.deadline[j]) - float(problem.available_at[r]))
            for c in range(int(ms.start[k]), int(ms.start[k + 1])):
                if ms.work[c] <= room:  # a configuration past the deadline is never chosen
                    var_task.append(j)
                    var_machine.append(r)
                    var_config.append(c)
    nv = len(var_task)
    vt, vr, vc = (np.array(a, dtype=np.int64) for a in (var_task, var_machine, var_config))
    w = ms.work[vc] if nv else np.zeros(0)
    gain = (ms.accuracy[vc] - ms.a_min[model[vt]]) if nv else np.zeros(0)
    base_total = float(ms.a_min[model].sum())
    if nv == 0:
        return _done(problem, np.full(n, -1), np.full(n, -1), upper_bound, base_total, "optimal")
    # one choice per task
    rows_task = vt
    a_one = coo_matrix((np.ones(nv), (rows_task, np.arange(nv))), shape=(n, nv))
    # prefix capacity per (machine, task k): rows r * n + k
    most = np.array([ms.work[ms.start[model[j]]:ms.start[model[j] + 1]].max() for j in range(n)])
    order = problem.order
    big = np.empty(n)
    big[order] = np.cumsum(most[order])
    rows, cols, vals = [], [], []
    by_machine_rank = [[] for _ in range(m)]  # variables per machine, with their task's rank
    for v in range(nv):
        by_machine_rank[vr[v]].append((int(rank[vt[v]]), v))
    cap = np.empty(n * m)
    for r in range(m):
        entries = sorted(by_machine_rank[r])
        for k in range(n):
            row = r * n + k
            cap[row] = float(problem.speed[r]) * (float(problem.deadline[k]) - float(problem.available_at[r])) + big[k]
            rk = int(rank[k])
            for rank_i, v in entries:
                if rank_i > rk:
                    break
                coef = w[v] + (big[k] if vt[v] == k else 0.0)
                rows.append(row)
                cols.append(v)
                vals.append(coef)
    a_cap = coo_matrix((vals, (rows, cols)), shape=(n * m, nv))
    res = milp(-gain, integrality=np.ones(nv), bounds=Bounds(0, 1),
               constraints=[LinearConstraint(a_one, -np.inf, 1.0), LinearConstraint(a_cap, -np.inf, cap)],
               options={"time_limit": max(time_limit, 0.01), "mip_rel_gap": gap_tol, "presolve": True})
    bound = upper_bound
    if getattr(res, "mip_dual_bound", None) is not None and np.isfinite(res.mip_dual_bound):
        bound = min(bound, base_total - float(res.mip_dual_bound))
    if res.x is None:
        return _replace(fallback, bound, "time_limit")
    chosen = np.flatnonzero(res.x > 0.5)
    machine = np.full(n, -1, dtype=np.int64)
    config = np.full(n, -1, dtype=np.int64)
    machine[vt[chosen]] = vr[chosen]
    config[vt[chosen]] = vc[chosen]
    status = "optimal" if res.status == 0 else "time_limit"
    sol = _done(problem, machine, config, upper_bound, bound, status)
    if sol.total_accuracy < fallback.total_accuracy:
        return _replace(fallback, bound, "time_limit")
    return sol


def _done(problem: Problem, machine: np.ndarray, config: np.ndarray, upper: float, bound: float,
          status: str) -> Solution:
    work = np.where(config >= 0, problem.models.work[np.maximum(config, 0)], 0.0)
    idx, starts = machine_chains(problem, machine)
    start, duration = sequence_on_machines(problem, idx, starts, machine, work)
    sol = make_solution(problem, machine=machine, start=start, duration=duration, work=work,
                        upper_bound=upper, algorithm="exact", config=config, status=status)
    return _replace(sol, bound, status)


def _replace(sol: Solution, bound: float, status: str) -> Solution:
    proven = max(min(bound, sol.upper_bound), sol.total_accuracy)
    return Solution(
        machine=sol.machine, start=sol.start, duration=sol.duration, work=sol.work, accuracy=sol.accuracy,
        total_accuracy=sol.total_accuracy, upper_bound=sol.upper_bound, guarantee=sol.guarantee,
        algorithm="exact", status=status, reason=sol.reason, proven_bound=float(proven), config=sol.config,
    )

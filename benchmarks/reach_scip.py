"""SCIP on program (10) as a convex MINLP: a general-solver peer for ``exact``'s reach table.

    pip install -e '.[scip]'     # pyscipopt, whose wheel bundles SCIP
    .venv/bin/python benchmarks/reach_scip.py --n 30 --m 3 --reading uniform-lift-0.99

Solves the same instances as ``python -m app.experiments.reach`` (same generator call and
seeds: ``rng_for(seed, 99, n * 1000 + m, i)``) with SCIP, one thread, a wall-clock limit
(60 s) and a relative gap limit (1e-4), one instance at a time. Per instance it prints (on
stderr) SCIP's status, whether the gap is proven within 1e-4, wall and CPU seconds, SCIP's
primal value and dual bound; then the same CSV summary line as ``app.experiments.reach`` on
stdout (count proven, median and max wall time, median CPU time, median and max gap).
With ``--exact-seconds S``, ``exact`` then solves the same instance for ``S`` seconds (after
SCIP's clock has stopped) and its value and proven bound are printed beside SCIP's: each
solver's schedule must be below the other's bound.

The model (section VI-A, program (10), in work units: ``w = s_r t``):

* ``x_{j,r}`` binary for each pair whose ``U_{j,r} = min(t_max_j, s_r (d_j - available_at_r))``
  is positive, ``0 <= w_{j,r} <= U_{j,r} x_{j,r}``, ``sum_r x_{j,r} <= 1``;
* per machine, in deadline order, at the last task of each distinct deadline ``d_k``:
  ``sum_{i <= k} w_{i,r} <= s_r (d_k - available_at_r)`` (the EDF prefix constraints; a row
  whose tasks' ``U`` cannot exceed it is left out);
* per task, ``z_j in [0, a_max - a_min]`` with the convex nonlinear constraint
  ``z_j <= (a_max - a_min)(1 - exp(-theta_j sum_r w_{j,r}))`` (the accuracy of the task's
  total work, as in program (10)); maximise ``sum_j a_min_j + z_j``;
* identical machines (same speed and ``available_at``): in deadline order, the ``c``-th
  machine of a class may take task ``j`` only if the ``(c-1)``-th took an earlier task
  (``exact``'s symmetry breaking, :func:`app.solver.exact.machine_classes`).

The gap is ``(dual - value) / max(|dual|, 1e-12)``, as ``app.experiments.reach`` computes
it, with ``value`` the best checked schedule built from SCIP's solution (below), not SCIP's
primal value: SCIP meets the accuracy constraints within its feasibility tolerance, so its
primal value is up to about ``n * 1e-6`` above what its works achieve, enough to put a gap
of 9.9e-5 by SCIP's count above 1e-4. SCIP's own gap is relative to the smaller of primal and
dual, so its gap limit stops no earlier than ours would.

SCIP's primal solution is turned into a :class:`app.solver.Solution` (each machine's tasks back
to back in deadline order, works clipped to the prefix constraints where SCIP's feasibility
tolerance let them exceed it, the clipped amount printed) and checked with
:func:`app.solver.check`. Also printed: the value of SCIP's assignment with each machine
re-solved exactly (section V), the best schedule with SCIP's choice of machines.

A benchmark, not part of the service: SCIP is an optional extra (``scip``), and nothing here
asserts a time. Exponential worst case, like every exact method (Theorem 2: NP-hard).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np
from pyscipopt import Model, exp, quicksum

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.experiments.generator import Reading  # noqa: E402
from app.experiments.reach import add_instance_arguments, instance  # noqa: E402
from app.solver import Problem, Solution, check, solve  # noqa: E402
from app.solver.approx import solve_on_machines  # noqa: E402
from app.solver.exact import machine_classes  # noqa: E402
from app.solver.problem import UNSCHEDULED  # noqa: E402
from app.solver.schedule import machine_chains, make_solution, sequence_on_machines  # noqa: E402

GAP_TOL = 1e-4  # "proven": the same tolerance as exact's default gap_tol



@dataclasses.dataclass
class Program10:
    """Program (10) built in a SCIP model (module docs); ``pairs`` are (task, machine)."""

    model: Model
    pairs: list[tuple[int, int]]
    x: list
    w: list


def build(problem: Problem, time_limit: float, gap: float = GAP_TOL) -> Program10:
    """Program (10) with one thread, a wall-clock ``time_limit`` and a relative ``gap`` limit.
    O(n m) variables; O(n m) prefix and symmetry rows, O(n^2 m) nonzeros. Curve tasks only:
    the generator's instances have no measured models, weights or floors."""
    p = problem
    if p.n_model or p.weighted or p.has_floors:
        raise ValueError("reach_scip models curve tasks without weights or floors only")
    mdl = Model("program-10")
    mdl.hideOutput()
    mdl.setIntParam("parallel/maxnthreads", 1)
    mdl.setIntParam("lp/threads", 1)
    mdl.setRealParam("limits/time", time_limit)
    mdl.setRealParam("limits/gap", gap)
    u = np.minimum(p.t_max[:, None], p.machine_capacity(p.deadline))  # (n, m) work units
    rank = p.rank
    pairs = sorted(((int(j), int(r)) for j, r in np.argwhere(u > 0)), key=lambda q: (q[1], rank[q[0]]))
    x = [mdl.addVar(f"x_{j}_{r}", vtype="B") for j, r in pairs]
    w = [mdl.addVar(f"w_{j}_{r}", lb=0.0, ub=float(u[j, r])) for j, r in pairs]
    by_task: dict[int, list[int]] = {}
    for q, (j, r) in enumerate(pairs):
        by_task.setdefault(j, []).append(q)
        mdl.addCons(w[q] <= float(u[j, r]) * x[q])
    for qs in by_task.values():
        if len(qs) > 1:
            mdl.addCons(quicksum(x[q] for q in qs) <= 1)
    _prefix_rows(mdl, p, pairs, w, u)
    _symmetry_rows(mdl, p, pairs, x)
    z = []
    for j in range(p.n):
        da = float(p.delta_a[j])
        zj = mdl.addVar(f"z_{j}", lb=0.0, ub=da)
        qs = by_task.get(j, [])
        if qs:
            work = quicksum(w[q] for q in qs)
            mdl.addCons(zj + da * exp(-float(p.theta[j]) * work) <= da)
        else:
            mdl.fixVar(zj, 0.0)
        z.append(zj)
    mdl.setObjective(quicksum(z), "maximize")
    mdl.addObjoffset(float(np.sum(p.a_min)))
    return Program10(mdl, pairs, x, w)


def _prefix_rows(mdl: Model, p: Problem, pairs: list[tuple[int, int]], w: list, u: np.ndarray) -> None:
    """Per machine, EDF order: the first tasks' work fits before the last one's deadline."""
    for r in range(p.m):
        qs = [q for q, (_, rr) in enumerate(pairs) if rr == r]  # already in deadline order
        dl = [float(p.deadline[pairs[q][0]]) for q in qs]
        for t in range(len(qs)):
            if t + 1 < len(qs) and dl[t + 1] == dl[t]:
                continue
            cap = float(p.machine_capacity(dl[t], r))
            if sum(float(u[pairs[q][0], r]) for q in qs[: t + 1]) > cap:
                mdl.addCons(quicksum(w[q] for q in qs[: t + 1]) <= cap)


def _symmetry_rows(mdl: Model, p: Problem, pairs: list[tuple[int, int]], x: list) -> None:
    """Identical machines: the ``c``-th of a class takes task ``j`` only if the ``(c-1)``-th
    took an earlier one (``exact``'s rows, in deadline order)."""
    qmap = {pq: q for q, pq in enumerate(pairs)}
    for cls in machine_classes(p):
        for prev, cur in zip(cls, cls[1:], strict=False):
            earlier: list[int] = []
            for j in p.order.tolist():
                q = qmap.get((j, cur))
                if q is not None:
                    mdl.addCons(x[q] <= quicksum(x[e] for e in earlier))
                qp = qmap.get((j, prev))
                if qp is not None:
                    earlier.append(qp)


@dataclasses.dataclass
class Outcome:
    status: str
    primal: float  # SCIP's objective value (nan without a solution)
    dual: float  # SCIP's dual bound
    wall: float
    cpu: float
    checked: float  # the checked Solution's total accuracy (nan without a solution)
    clipped: float  # total work removed to meet the prefix constraints exactly
    reevaluated: float  # SCIP's assignment, each machine solved exactly (section V)

    @property
    def value(self) -> float:
        """The best checked schedule's total accuracy."""
        return max(self.checked, self.reevaluated)

    @property
    def gap(self) -> float:
        return (self.dual - self.value) / max(abs(self.dual), 1e-12)

    @property
    def proven(self) -> bool:
        return bool(self.gap <= GAP_TOL)


def solve_scip(problem: Problem, time_limit: float, gap: float = GAP_TOL) -> Outcome:
    """Build, solve and check (module docs). The wall and CPU times cover building and solving."""
    t, c = time.perf_counter(), time.process_time()
    prog = build(problem, time_limit, gap)
    prog.model.optimize()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    mdl = prog.model
    status = mdl.getStatus()
    dual = float(mdl.getDualbound())
    if mdl.getNSols() == 0:
        nan = float("nan")
        return Outcome(status, nan, dual, wall, cpu, nan, nan, nan)
    best = mdl.getBestSol()
    machine = np.full(problem.n, UNSCHEDULED, dtype=np.int64)
    work = np.zeros(problem.n)
    for q, (j, r) in enumerate(prog.pairs):
        if mdl.getSolVal(best, prog.x[q]) > 0.5:
            machine[j] = r
            work[j] = max(mdl.getSolVal(best, prog.w[q]), 0.0)
    sol, clipped = to_solution(problem, machine, work)
    report = check(problem, sol)
    if not report.ok:
        raise AssertionError(f"SCIP's schedule fails the checker: {report.violations[:3]}")
    exact_sol = solve_on_machines(problem, machine, float("nan"), "scip-reevaluated")
    report = check(problem, exact_sol)
    if not report.ok:
        raise AssertionError(f"SCIP's assignment re-solved fails the checker: {report.violations[:3]}")
    return Outcome(status, float(mdl.getObjVal()), dual, wall, cpu, sol.total_accuracy, clipped,
                   exact_sol.total_accuracy)


def to_solution(problem: Problem, machine: np.ndarray, work: np.ndarray) -> tuple[Solution, float]:
    """A schedule from an assignment and works: each machine's tasks back to back in deadline
    order, each work clipped to ``t_max`` and to what its machine has left before its
    deadline (SCIP meets constraints within an absolute tolerance). Returns the schedule and
    the total work clipped. O(n log n)."""
    p = problem
    work = np.minimum(work, p.t_max)
    idx, starts = machine_chains(p, machine)
    bounds = np.append(starts, idx.shape[0])
    clipped = 0.0
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        used = 0.0
        for j in idx[lo:hi].tolist():
            room = max(float(p.machine_capacity(p.deadline[j], int(machine[j]))) - used, 0.0)
            if work[j] > room:
                clipped += work[j] - room
                work[j] = room
            used += work[j]
    start, duration = sequence_on_machines(p, idx, starts, machine, work)
    sol = make_solution(p, machine=np.where(work > 0, machine, UNSCHEDULED), start=start,
                        duration=duration, work=work, upper_bound=float("nan"), algorithm="scip")
    return sol, clipped


def cross_check(problem: Problem, scip: Outcome, seconds: float) -> str:
    """``exact`` on the same instance for ``seconds``: its value and bound beside SCIP's, and
    the gap of the better schedule against the tighter bound. Raises if a schedule of one
    solver beats the other's proven bound by more than SCIP's tolerance (1e-6 per task)."""
    t, c = time.perf_counter(), time.process_time()
    e = solve(problem, "exact", time_limit=seconds)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    if not check(problem, e).ok:
        raise AssertionError("exact's schedule fails the checker")
    tol = 1e-6 * problem.n
    if e.total_accuracy > scip.dual + tol or scip.value > e.proven_bound + tol:
        raise AssertionError(f"a schedule above a proven bound: exact {e.total_accuracy} / "
                             f"{e.proven_bound}, SCIP {scip.value} / {scip.dual}")
    value, bound = max(e.total_accuracy, scip.value), min(e.proven_bound, scip.dual)
    return (f"exact status={e.status} wall={wall:.2f} cpu={cpu:.2f} value={e.total_accuracy:.6f} "
            f"bound={e.proven_bound:.6f} gap={(e.proven_bound - e.total_accuracy) / e.proven_bound:.2e} "
            f"best_value-scip={value - scip.value:.2e} combined_gap={(bound - value) / bound:.2e}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks/reach_scip.py", description=__doc__.splitlines()[0])
    add_instance_arguments(ap)  # the very instances of app.experiments.reach
    ap.add_argument("--exact-seconds", type=float, default=0.0,
                    help="also run exact for this many seconds per instance (0: not)")
    args = ap.parse_args(argv)
    reading = Reading.parse(args.reading)
    print(f"# load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", file=sys.stderr)
    print("reading,n,m,mu,instances,optimal,time_median,time_max,cpu_median,gap_median,gap_max")
    for m in (int(v) for v in args.m.split(",")):
        for n in (int(v) for v in args.n.split(",")):
            rows = []
            for i in range(args.instances):
                p = instance(args.seed, n, m, i, args.rho, args.mu, reading)
                o = solve_scip(p, args.time_limit)
                rows.append(o)
                print(f"# {reading.label} n={n} m={m} i={i} status={o.status} proven={o.proven} "
                      f"wall={o.wall:.2f} cpu={o.cpu:.2f} primal={o.primal:.6f} dual={o.dual:.6f} "
                      f"gap={o.gap:.2e} checked={o.checked:.6f} clipped={o.clipped:.1e} "
                      f"reevaluated={o.reevaluated:.6f} load1={os.getloadavg()[0]:.1f}",
                      file=sys.stderr, flush=True)
                if args.exact_seconds > 0:
                    print(f"#   {cross_check(p, o, args.exact_seconds)}", file=sys.stderr, flush=True)
            times = [o.wall for o in rows]
            gaps = [o.gap for o in rows]
            print(f"{reading.label},{n},{m},{args.mu:g},{args.instances},{sum(o.proven for o in rows)},"
                  f"{np.median(times):.2f},{np.max(times):.2f},{np.median([o.cpu for o in rows]):.2f},"
                  f"{np.median(gaps):.2e},{np.max(gaps):.2e}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

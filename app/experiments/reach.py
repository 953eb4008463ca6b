"""How far ``exact`` proves optimality within a time limit: ``python -m app.experiments.reach``.

For each (n, m) it solves ``--instances`` section VII instances (rho = 0.35 by default) and
prints the median wall and CPU time, how many were proven optimal (gap <= 1e-4) and the
median final gap, as CSV on stdout. Runs serially so the timings do not compete for cores;
on a shared machine the CPU time is the steadier figure (the limit is on wall time).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from app.solver import Problem, check, solve

from .generator import Reading, generate
from .runner import rng_for


def add_instance_arguments(ap: argparse.ArgumentParser) -> None:
    """The options that name the instances (and the time limit), shared with the benchmarks
    that solve the same instances with other solvers."""
    ap.add_argument("--n", default="50", help="comma-separated task counts")
    ap.add_argument("--m", default="5", help="comma-separated machine counts")
    ap.add_argument("--instances", type=int, default=5)
    ap.add_argument("--rho", type=float, default=0.35)
    ap.add_argument("--mu", type=float, default=5.0)
    ap.add_argument("--reading", default="equal-lift-0.99")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=2024)


def instance(seed: int, n: int, m: int, i: int, rho: float, mu: float, reading: Reading) -> Problem:
    """The ``i``-th section VII instance at (n, m) for ``seed``."""
    return generate(rng_for(seed, 99, n * 1000 + m, i), n, m, rho, mu=mu, reading=reading)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.experiments.reach", description=__doc__.splitlines()[0])
    add_instance_arguments(ap)
    args = ap.parse_args(argv)
    reading = Reading.parse(args.reading)
    print("reading,n,m,mu,instances,optimal,time_median,time_max,cpu_median,gap_median,gap_max")
    for m in (int(x) for x in args.m.split(",")):
        for n in (int(x) for x in args.n.split(",")):
            times, cpus, gaps, opt = [], [], [], 0
            for i in range(args.instances):
                p = instance(args.seed, n, m, i, args.rho, args.mu, reading)
                t, c = time.perf_counter(), time.process_time()
                s = solve(p, "exact", time_limit=args.time_limit)
                times.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
                assert check(p, s).ok
                gaps.append((s.proven_bound - s.total_accuracy) / max(abs(s.proven_bound), 1e-12))
                opt += s.status == "optimal"
            print(f"{reading.label},{n},{m},{args.mu:g},{args.instances},{opt},{np.median(times):.2f},"
                  f"{np.max(times):.2f},{np.median(cpus):.2f},{np.median(gaps):.2e},{np.max(gaps):.2e}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

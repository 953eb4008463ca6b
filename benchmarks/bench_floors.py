"""Admission quality with accuracy floors: each heuristic's weighted objective over ``exact``'s.

    .venv/bin/python benchmarks/bench_floors.py                        # n = 20, m = 3, 10 seeds
    .venv/bin/python benchmarks/bench_floors.py --deadlines uniform --time-limit 30

Instances: the paper's generator (section VII, app/experiments/generator.py: ``rho``, ``mu``,
``theta_min = 0.1``, a_max = 0.82 reached at ``t_max``), with a third of the tasks given an
accuracy floor uniform in [0.5, 0.8]; weights all 1, then (second table) uniform in
[0.5, 2]. Per seed: ``exact``'s weighted objective, status and CPU seconds, and for each
heuristic its weighted objective and its ratio to ``exact``'s (a seed that ``exact`` did
not prove optimal within ``--time-limit`` is marked: the ratio is then to its best
schedule). Then the mean ratio (and the worst) per heuristic and the median CPU time of
``exact``. A benchmark, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.experiments.generator import Reading, generate  # noqa: E402
from app.solver import Problem, check, solve  # noqa: E402

HEURISTICS = ("dsct-best", "dsct-refined", "dsct-approx")


def instance(seed: int, n: int, m: int, rho: float, mu: float, deadlines: str,
             weighted: bool) -> Problem:
    """The paper's generator, a third of the tasks with a floor in [0.5, 0.8], weights 1 or
    uniform in [0.5, 2]."""
    rng = np.random.default_rng(seed)
    p = generate(rng, n, m, rho, mu=mu, reading=Reading(deadlines=deadlines))
    floor = np.full(n, np.nan)
    has = rng.choice(n, n // 3, replace=False)
    floor[has] = rng.uniform(0.5, 0.8, has.shape[0])
    weight = rng.uniform(0.5, 2.0, n) if weighted else None
    return Problem(p.deadline, p.theta, p.a_min, p.a_max, p.t_max, p.speed, p.available_at,
                   weight=weight, min_accuracy=floor)


def run(args: argparse.Namespace, weighted: bool) -> None:
    label = "weights uniform in [0.5, 2]" if weighted else "weights 1"
    print(f"\n## {label}\n")
    head = "| seed | exact | status | exact CPU s | " + " | ".join(f"{h} (ratio)" for h in HEURISTICS) + " |"
    print(head)
    print("|" + "---|" * (4 + len(HEURISTICS)))
    ratios: dict[str, list[float]] = {h: [] for h in HEURISTICS}
    times, proven = [], 0
    for seed in range(args.seeds):
        p = instance(seed, args.n, args.m, args.rho, args.mu, args.deadlines, weighted)
        t0 = time.process_time()
        ex = solve(p, "exact", time_limit=args.time_limit)
        times.append(time.process_time() - t0)
        assert check(p, ex).ok
        proven += ex.status == "optimal"
        cells = []
        for h in HEURISTICS:
            sol = solve(p, h)
            r = sol.weighted_accuracy / ex.weighted_accuracy
            ratios[h].append(r)
            cells.append(f"{sol.weighted_accuracy:.4f} ({r:.4f})")
        mark = "" if ex.status == "optimal" else " *"
        print(f"| {seed} | {ex.weighted_accuracy:.4f}{mark} | {ex.status} | {times[-1]:.2f} | "
              + " | ".join(cells) + " |")
    print()
    for h in HEURISTICS:
        print(f"- {h}: mean ratio {statistics.fmean(ratios[h]):.4f}, worst {min(ratios[h]):.4f}")
    print(f"- exact: {proven}/{args.seeds} proven optimal; CPU seconds median "
          f"{statistics.median(times):.2f}, max {max(times):.2f} (time limit {args.time_limit:g} s)")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--m", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--rho", type=float, default=0.35)
    ap.add_argument("--mu", type=float, default=5.0)
    ap.add_argument("--deadlines", default="equal", choices=("equal", "uniform", "half"))
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--weights", default="both", choices=("one", "uniform", "both"))
    args = ap.parse_args()
    print("# Admission with accuracy floors against exact")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {_cpu()}, {os.cpu_count()} cores (shared with other jobs), "
          f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
          f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"instances: paper generator, n = {args.n}, m = {args.m}, rho = {args.rho}, "
          f"mu = {args.mu}, deadlines {args.deadlines}; a third of the tasks with a floor "
          f"uniform in [0.5, 0.8]; {args.seeds} seeds")
    if args.weights in ("one", "both"):
        run(args, weighted=False)
    if args.weights in ("uniform", "both"):
        run(args, weighted=True)


if __name__ == "__main__":
    main()

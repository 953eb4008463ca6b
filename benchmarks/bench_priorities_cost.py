"""CPU cost of weights and floors on top of an algorithm (a figures script, not a test).

Two measurements, each against the same batch without the feature, same process:

- ``floors``: curve batches where a third of the tasks have an accuracy floor (uniform in
  [0.3, 0.85]) on tight deadlines; the admission's solves per algorithm are counted.
- ``zero``: half the tasks of weight 0 (served with leftover time); the same batch with
  those weights at 0.5 instead is the reference. The fill looks at every machine free
  before each zero-weight task's deadline, within its work budget (``FILL_WORK``).

    .venv/bin/python benchmarks/bench_priorities_cost.py floors 10000 20
    .venv/bin/python benchmarks/bench_priorities_cost.py zero 1000 1000
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import app.solver.priorities as priorities  # noqa: E402
import app.solver.registry as registry  # noqa: E402
from app.solver import Problem, check, solve  # noqa: E402


def curve_batch(n: int, m: int, seed: int, load: float) -> dict:
    rng = np.random.default_rng(seed)
    t_max = rng.uniform(0.1, 3.0, n)
    speed = rng.uniform(0.5, 3.0, m)
    return dict(deadline=rng.uniform(0, load * t_max.sum() / speed.sum(), n), theta=rng.uniform(0.2, 5.0, n),
                a_min=np.full(n, 0.05), a_max=np.full(n, 0.9), t_max=t_max, speed=speed, available_at=np.zeros(m))


def counted() -> collections.Counter:
    """Count the solves of every registered algorithm and of the admission's relaxation."""
    calls: collections.Counter = collections.Counter()
    for name, fn in list(registry.ALGORITHMS.items()):
        def wrap(*a, _fn=fn, _name=name, **k):
            calls[_name] += 1
            return _fn(*a, **k)
        registry.ALGORITHMS[name] = wrap
    relaxed = priorities._relaxed_solver

    def relaxed_counted(p):
        calls["relaxation"] += 1
        return relaxed(p)
    priorities._relaxed_solver = relaxed_counted
    return calls


def cpu(p: Problem, algorithm: str, runs: int) -> tuple[float, object]:
    times, sol = [], None
    for _ in range(runs):
        t = time.process_time()
        sol = solve(p, algorithm)
        times.append(time.process_time() - t)
    return statistics.median(times), sol


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("floors", "zero"))
    ap.add_argument("n", type=int)
    ap.add_argument("m", type=int)
    ap.add_argument("--algorithm", default="dsct-best")
    ap.add_argument("--load", type=float, default=0.3)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    base = curve_batch(args.n, args.m, 1, args.load if args.what == "floors" else 2.0)
    rng = np.random.default_rng(2)
    if args.what == "floors":
        plain = Problem(**base)
        floor = np.where(rng.random(args.n) < 1 / 3, rng.uniform(0.3, 0.85, args.n), np.nan)
        featured = Problem(**base, min_accuracy=floor)
    else:
        zero = rng.random(args.n) < 0.5
        plain = Problem(**base, weight=np.where(zero, 0.5, 1.0))
        featured = Problem(**base, weight=np.where(zero, 0.0, 1.0))
    t0, _ = cpu(plain, args.algorithm, args.runs)
    calls = counted()
    t1, sol = cpu(featured, args.algorithm, args.runs)
    per_run = {k: v // args.runs for k, v in calls.items()}
    print(f"{args.what} n={args.n} m={args.m} {args.algorithm}: without {t0 * 1e3:.0f} ms, with {t1 * 1e3:.0f} ms "
          f"CPU (median of {args.runs}), x{t1 / max(t0, 1e-9):.0f}; feasible={check(featured, sol).ok}, "
          f"scheduled {int((sol.machine >= 0).sum())} of {args.n}; solves per run {per_run}")


if __name__ == "__main__":
    main()

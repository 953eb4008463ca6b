"""Schedule quality: each algorithm's total accuracy over the optimum or the upper bound.

    .venv/bin/python benchmarks/bench_quality.py                 # the quality table (~15 min)
    .venv/bin/python benchmarks/bench_quality.py --quick         # fewer batches, n <= 1,000
    .venv/bin/python benchmarks/bench_quality.py --before-after  # 30 small edge batches

Families (app/experiments/generator.py, section VII's generator; rho = capacity / demand):

- ``identical``: the paper's generator as the repository reads it (identical machines free
  at 0, equal deadlines), rho cycling through 0.2, 0.35, 0.7, 1.5;
- ``identical-uniform``: the same with deadlines ~ U[0, d_max];
- ``speeds``: speeds from {0.3, 1, 4, 10}, all machines free at 0, uniform deadlines;
- ``busy``: those speeds and half of the machines busy until U[0, d_max / 2];
- ``heavy`` and ``light``: ``busy`` at rho = 0.15 and rho = 1.5.

Sizes: 20 tasks on 3 machines, 100 on 10, 1,000 on 10, 10,000 on 100. The reference is the
optimum from ``exact`` for n <= 50 (time limit ``--time-limit``; a batch it does not prove
optimal is counted with its best schedule and marked), else the fractional ``upper_bound``.
Prints a markdown table: per algorithm the mean ratio (and the worst, in parentheses); the
median solve times of dsct-best and dsct-approx; how many baselines dsct-best had to run
(its bound could not rule them out).

``--before-after``: 30 batches of 5-40 tasks on 2-5 machines, speeds from {0.3, 1, 4, 10},
half of the machines busy, rho log-uniform in [0.15, 2] (heavy to light), the paper's
generator otherwise (equal deadlines), each algorithm against ``exact``'s optimum. A
benchmark, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.experiments.generator import Reading, heterogeneous  # noqa: E402
from app.solver import Problem, solve  # noqa: E402
from app.solver import best as best_module  # noqa: E402

ALGOS = ("dsct-best", "dsct-approx", "dsct-refined", "edf-nocompression", "edf-3levels", "edf-3levels-lee-song")
BASELINES = ("edf_nocompression", "edf_3levels", "edf_3levels_lee_song")  # as dsct-best calls them
RHOS = (0.2, 0.35, 0.7, 1.5)
FAMILIES = {
    # name: (speeds, busy, deadlines reading, fixed rho or None to cycle RHOS)
    "identical": (None, False, "equal", None),
    "identical-uniform": (None, False, "uniform", None),
    "speeds": ("edge", False, "uniform", None),
    "busy": ("edge", True, "uniform", None),
    "heavy": ("edge", True, "uniform", 0.15),
    "light": ("edge", True, "uniform", 1.5),
}
SIZES = ((20, 3), (100, 10), (1_000, 10), (10_000, 100))
BATCHES = {20: 8, 100: 6, 1_000: 3, 10_000: 2}


def make(family: str, n: int, m: int, k: int, seed: int) -> Problem:
    speeds, busy, deadlines, rho = FAMILIES[family]
    rng = np.random.default_rng([seed, n, m, k, list(FAMILIES).index(family)])
    kw = {} if speeds == "edge" else {"speeds": None}
    return heterogeneous(rng, n, m, rho if rho is not None else RHOS[k % len(RHOS)], busy=busy,
                         reading=Reading(deadlines), **kw)


class BaselineRuns:
    """Counts the baselines dsct-best had to run (its bound could not rule them out)."""

    def __init__(self) -> None:
        self.count = 0
        self._orig = {name: getattr(best_module, name) for name in BASELINES}

    def __enter__(self) -> BaselineRuns:
        def spy(fn):
            def run(p, **kw):
                self.count += 1
                return fn(p, **kw)
            return run
        for name, fn in self._orig.items():
            setattr(best_module, name, spy(fn))
        return self

    def __exit__(self, *exc) -> None:
        for name, fn in self._orig.items():
            setattr(best_module, name, fn)


def timed(p: Problem, algo: str, **kw):
    t0 = time.perf_counter()
    sol = solve(p, algo, **kw)
    return sol, time.perf_counter() - t0


def quality_table(args: argparse.Namespace) -> None:
    sizes = [s for s in SIZES if not args.quick or s[0] <= 1_000]
    names = " | ".join(ALGOS)
    print(f"| family | n | m | reference | {names} | median ms: dsct-best / dsct-approx | baselines run |")
    print("|---|--:|--:|---|" + "--:|" * len(ALGOS) + "--:|--:|")
    for family in FAMILIES:
        for n, m in sizes:
            batches = max(1, BATCHES[n] // (2 if args.quick else 1))
            ratios: dict[str, list[float]] = {a: [] for a in ALGOS}
            times: dict[str, list[float]] = {a: [] for a in ALGOS}
            unproven = 0
            runs = BaselineRuns()
            for k in range(batches):
                p = make(family, n, m, k, args.seed)
                sols = {}
                for algo in ALGOS:
                    if algo == "dsct-best":
                        with runs:
                            sols[algo], t = timed(p, algo)
                    else:
                        sols[algo], t = timed(p, algo)
                    times[algo].append(t)
                if n <= 50:
                    ex = solve(p, "exact", time_limit=args.time_limit)
                    unproven += ex.status != "optimal"
                    ref = max(ex.total_accuracy, *(s.total_accuracy for s in sols.values()))
                else:
                    ref = sols["dsct-best"].upper_bound
                for algo in ALGOS:
                    ratios[algo].append(sols[algo].total_accuracy / ref)
            reference = f"optimum ({unproven}/{batches} unproven)" if n <= 50 else "upper_bound"
            cells = " | ".join(f"{np.mean(ratios[a]):.2%} ({np.min(ratios[a]):.2%})" for a in ALGOS)
            ms = f"{1e3 * statistics.median(times['dsct-best']):.2f} / {1e3 * statistics.median(times['dsct-approx']):.2f}"
            print(f"| {family} | {n:,} | {m} | {reference} | {cells} | {ms} | {runs.count} in {batches} |",
                  flush=True)


def before_after(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    cols = ALGOS
    ratios: dict[str, list[float]] = {a: [] for a in (*cols, "better baseline", "exact / upper_bound")}
    worst: dict[str, tuple[float, str]] = {}
    lost = {"dsct-approx": 0, "dsct-best": 0}
    unproven = 0
    for _ in range(30):
        n, m = int(rng.integers(5, 41)), int(rng.integers(2, 6))
        rho = float(np.exp(rng.uniform(np.log(0.15), np.log(2.0))))
        p = heterogeneous(rng, n, m, rho)
        ex = solve(p, "exact", time_limit=args.time_limit)
        unproven += ex.status != "optimal"
        vals = {a: solve(p, a).total_accuracy for a in cols}
        opt = max(ex.total_accuracy, *vals.values())
        base = max(vals["edf-nocompression"], vals["edf-3levels"], vals["edf-3levels-lee-song"])
        for a in cols:
            ratios[a].append(vals[a] / opt)
            if vals[a] / opt < worst.get(a, (2.0, ""))[0]:
                worst[a] = (vals[a] / opt, f"{n} tasks on {m} machines")
        ratios["better baseline"].append(base / opt)
        ratios["exact / upper_bound"].append(ex.total_accuracy / ex.upper_bound)
        for a in lost:
            lost[a] += vals[a] < base - 1e-9 * max(1.0, abs(base))
    print(f"30 batches, exact time limit {args.time_limit:g} s: {unproven} not proven optimal "
          "(their best known schedule is the reference)")
    print("| | mean of value / optimum | worst batch |")
    print("|---|--:|--:|")
    for a, v in ratios.items():
        w = f"{min(v):.1%}" + (f" ({worst[a][1]})" if a in worst else "")
        print(f"| {a} | {np.mean(v):.2%} | {w} |")
    print(f"lost to the better baseline: dsct-approx on {lost['dsct-approx']} of 30 batches, "
          f"dsct-best on {lost['dsct-best']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="half the batches, n <= 1,000")
    ap.add_argument("--before-after", action="store_true", help="the 30 small edge batches")
    ap.add_argument("--time-limit", type=float, default=10.0, help="exact's limit per batch, seconds")
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args(argv)
    if args.before_after:
        before_after(args)
    else:
        quality_table(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

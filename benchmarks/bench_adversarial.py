"""Worst-case solver time: adversarial instance families against a random batch of the same size.

    .venv/bin/python benchmarks/bench_adversarial.py                 # n = 5,000 and 100,000
    .venv/bin/python benchmarks/bench_adversarial.py --n 20000 --repeat 5

For each size, every family is solved with ``dsct-approx`` and ``dsct-refined``, and its median
CPU time is divided by the median CPU time of a random batch of the same size and machine
count (the paper's generator, as in bench_solver.py). The two are timed in the same process,
interleaved (family, batch, batch, family, ...: a load that comes and goes on a shared machine
weighs on both alike), after one untimed solve of each. Prints a markdown table and the worst
ratio; a benchmark, not a test: nothing here asserts a time.

Families (``a_min`` 0, ``a_max`` 1 unless said):

- ``levels``: n - k identical filler tasks with deadline 2^-1001, then k = 2,000 tasks with
  deadlines log-spaced from 2^-1000 to 2^990 and ``theta = 1 / deadline``; no ``t_max``;
  one machine. This made the level-wise sweep take about 1,000 levels instead of 5.
- ``levels-late-machines``: the same on ``m`` machines, all but one free only after every
  deadline (the refined solve then runs one chain per machine).
- ``doubling``: deadlines doubling from task to task (wrapping every 1,000 tasks), theta = 1/d.
- ``spread``: deadlines ``2**e``, ``e`` evenly spaced over [-1000, 1000], theta = 2**-e.
- ``staircase``: blocks of equal deadlines whose capacity grows geometrically, theta
  alternating 1e-3 and 1e3.
- ``zigzag``: distinct deadlines ``2**e``, ``e`` over [-900, 900], theta alternating
  1e-3 / d and 1e3 / d (neighbours pool and re-price bottom-up).
- ``flat``: one machine of speed 1e-60: every task's window moves its marginal gain by less
  than rounding (each task is then a step of the relaxation).
- ``mixed-t-max``: deadlines as in ``zigzag``, theta = 1 / d, half the tasks capped by a
  ``t_max`` near their window.
- ``zigzag-flat``: ``zigzag`` on a machine of speed 1e-250: every task is a step of the
  relaxation, and pool-adjacent-violators pools about half of them in pairs.

The last line per size gives the worst ratio over every family and algorithm at that size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from app.solver import Problem, solve

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_solver import instance as random_instance  # noqa: E402


def paired_times(fa, fb, repeat: int) -> tuple[float, float]:
    """Median CPU seconds of ``fa`` and of ``fb``, timed interleaved (a b b a a b ...) after
    one untimed call of each."""
    fa(), fb()
    ta, tb = [], []
    for k in range(repeat):
        for f, out in ((fa, ta), (fb, tb)) if k % 2 == 0 else ((fb, tb), (fa, ta)):
            t0 = time.process_time()
            f()
            out.append(time.process_time() - t0)
    return statistics.median(ta), statistics.median(tb)


def levels(n: int, m: int = 1, late_machines: bool = False, k: int = 2000) -> Problem:
    k = min(k, n)
    d = np.concatenate((np.full(n - k, 2.0**-1001), 2.0 ** np.linspace(-1000, 990, k)))
    theta = 1.0 / d
    speed = np.ones(m)
    avail = np.zeros(m)
    if late_machines:
        avail[1:] = 2.0**991
    return Problem(d, theta, np.zeros(n), np.ones(n), np.full(n, np.inf), speed, avail)


def doubling(n: int, m: int = 1) -> Problem:
    e = np.arange(n) % 1000 - 500.0
    d = 2.0**e
    return Problem(d, 1.0 / d, np.zeros(n), np.ones(n), np.full(n, np.inf), np.ones(m), np.zeros(m))


def spread(n: int, m: int = 1) -> Problem:
    e = np.linspace(-1000, 1000, n)
    return Problem(2.0**e, 2.0**-e, np.zeros(n), np.ones(n), np.full(n, np.inf), np.ones(m), np.zeros(m))


def staircase(n: int, m: int = 1) -> Problem:
    step = np.arange(n) // 10
    d = 1.5 ** (step % 1500 - 750.0)
    theta = np.where(np.arange(n) % 2 == 0, 1e-3, 1e3) / np.sqrt(d)
    return Problem(d, theta, np.zeros(n), np.ones(n), np.full(n, np.inf), np.ones(m), np.zeros(m))


def zigzag(n: int, m: int = 1) -> Problem:
    d = 2.0 ** np.linspace(-900, 900, n)
    theta = np.where(np.arange(n) % 2 == 0, 1e-3, 1e3) / d
    return Problem(d, theta, np.zeros(n), np.ones(n), np.full(n, np.inf), np.ones(m), np.zeros(m))


def flat(n: int, m: int = 1) -> Problem:
    rng = np.random.default_rng(0)
    d = np.sort(rng.uniform(1.0, 10.0, n))
    return Problem(d, rng.uniform(0.5, 50.0, n), np.zeros(n), np.ones(n), np.full(n, np.inf),
                   np.full(m, 1e-60), np.zeros(m))


def mixed_t_max(n: int, m: int = 1) -> Problem:
    rng = np.random.default_rng(1)
    d = 2.0 ** np.linspace(-900, 900, n)
    t_max = np.where(rng.random(n) < 0.5, d * rng.uniform(0.1, 2.0, n), np.inf)
    return Problem(d, 1.0 / d, np.zeros(n), np.ones(n), t_max, np.ones(m), np.zeros(m))


def zigzag_flat(n: int, m: int = 1) -> Problem:
    p = zigzag(n, m)
    return Problem(p.deadline, p.theta, p.a_min, p.a_max, p.t_max, np.full(m, 1e-250), np.zeros(m))


FAMILIES = {
    "levels": lambda n, m: levels(n, 1),
    "levels-late-machines": lambda n, m: levels(n, m, late_machines=True),
    "doubling": lambda n, m: doubling(n, 1),
    "spread": lambda n, m: spread(n, 1),
    "staircase": lambda n, m: staircase(n, 1),
    "zigzag": lambda n, m: zigzag(n, 1),
    "flat": lambda n, m: flat(n, 1),
    "mixed-t-max": lambda n, m: mixed_t_max(n, 1),
    "zigzag-flat": lambda n, m: zigzag_flat(n, 1),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="*", default=[5000, 100_000])
    ap.add_argument("--m", type=int, default=0, help="machines for the multi-machine family (default n / 10)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--algorithms", nargs="*", default=["dsct-approx", "dsct-refined"])
    ap.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    args = ap.parse_args(argv)
    print("| n | family | algorithm | CPU s (median) | random batch CPU s | ratio |")
    print("|---|---|---|---|---|---|")
    worst = (0.0, "")
    per_size = {}
    for n in args.n:
        m = args.m or max(1, n // 10)
        for name in args.families:
            make = FAMILIES[name]
            p = make(n, m)
            base = random_instance(n, p.m)
            for algo in args.algorithms:
                t, t_base = paired_times(lambda a=algo, p=p: solve(p, a), lambda a=algo, b=base: solve(b, a),
                                         args.repeat)
                ratio = t / t_base
                if ratio > worst[0]:
                    worst = (ratio, f"{name} n={n} m={p.m} {algo}")
                if ratio > per_size.get(n, (0.0, ""))[0]:
                    per_size[n] = (ratio, f"{name} m={p.m} {algo}")
                print(f"| {n} | {name} (m={p.m}) | {algo} | {t:.4f} | {t_base:.4f} | {ratio:.1f}x |", flush=True)
    print()
    for n, (ratio, what) in per_size.items():
        print(f"worst ratio at n = {n}: {ratio:.1f}x ({what})")
    print(f"worst ratio: {worst[0]:.1f}x ({worst[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

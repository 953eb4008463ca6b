"""Solver speed: median seconds of the fractional solve and of dsct-approx, against Clarabel.

    .venv/bin/python benchmarks/bench_solver.py                # the full table (several minutes)
    .venv/bin/python benchmarks/bench_solver.py --quick        # n <= 1e5
    /usr/bin/time -v .venv/bin/python benchmarks/bench_solver.py --single 1000000 1000   # peak memory
    .venv/bin/python benchmarks/bench_solver.py --models       # measured-model tasks only
    .venv/bin/python benchmarks/bench_solver.py --models --steady-heap   # the same, glibc's thresholds fixed
    .venv/bin/python benchmarks/bench_solver.py --models --worker-thread # solves in a worker thread, as served

Model tasks (``--models``, also after the full table): four models of 10 configurations each
(work log-spaced over [0.3, 8] on a speed-1 machine, accuracy a noisy concave curve in
[0.001, 0.82], some points below the envelope), each task one of them at random, the same
machines and deadline rule; beside curve tasks of the same n and m, with CPU times (medians;
curve and model solves called in turn, their ratio the median of the call-by-call ratios), the
minor page faults per solve (see ``steady_heap``) and the peak memory (tracemalloc) of the
fractional solve and of dsct-approx. A last row gives every
task its own model (one of the four, accuracies times a weight of its own, as a batch with
distinct weights is solved): its fractional time includes building the 10,000 envelopes
(dsct-approx's does not: the problem keeps its family).

Instances: the paper's generator shape (section VII): theta ~ U[0.1, 2], a in [0.001, 0.82],
t_max where a reaches 0.82, deadlines ~ U[0, d_max] with rho = m d_max / sum t_max = 0.35,
machine speeds ~ U[0.5, 4] and a quarter of the machines busy until ~U[0, d_max / 4].
Prints a markdown table; a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
import warnings

import numpy as np

from app.solver import Problem, fractional_relaxation, solve
from app.solver.family import family_of
from app.solver.problem import Models


def instance(n: int, m: int, seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0.1, 2.0, n)
    a_min, a_max = np.full(n, 0.001), np.full(n, 0.821)
    t_max = -np.log1p(-(0.82 - 0.001) / (a_max - a_min)) / theta
    speed = rng.uniform(0.5, 4.0, m)
    d_max = 0.35 * t_max.sum() / speed.sum()
    avail = np.where(rng.random(m) < 0.25, rng.uniform(0, d_max / 4, m), 0.0)
    deadline = rng.uniform(0.0, d_max, n)
    return Problem(deadline, theta, a_min, a_max, t_max, speed, avail)


def model_instance(n: int, m: int, seed: int = 0, configs: int = 10, models: int = 4) -> Problem:
    rng = np.random.default_rng(seed)
    work = np.sort(10.0 ** rng.uniform(np.log10(0.3), np.log10(8.0), (models, configs)), axis=1)
    acc = 0.001 + 0.819 * (1 - np.exp(-work / rng.uniform(1.0, 3.0, (models, 1))))
    acc = np.clip(acc - np.abs(rng.normal(0, 0.02, acc.shape)), 0.001, 0.82)
    ms = Models(a_min=np.full(models, 0.001), start=np.arange(models + 1) * configs,
                work=work.ravel(), accuracy=acc.ravel())
    model = rng.integers(0, models, n)
    speed = rng.uniform(0.5, 4.0, m)
    d_max = 0.35 * work.max(axis=1)[model].sum() / speed.sum()
    avail = np.where(rng.random(m) < 0.25, rng.uniform(0, d_max / 4, m), 0.0)
    deadline = rng.uniform(0.0, d_max, n)
    nan = np.full(n, np.nan)
    return Problem(deadline, nan, nan, nan, nan, speed, avail, model=model, models=ms)


def weighted_model_instance(n: int, m: int, seed: int = 0) -> Problem:
    """:func:`model_instance` with every task on its own model: its model's configurations
    with accuracies times a weight drawn from [0.5, 2], as a batch whose every task has a
    distinct weight is solved (one scaled model per distinct model and weight)."""
    p = model_instance(n, m, seed)
    ms, rng = p.models, np.random.default_rng(seed + 1)
    weight = rng.uniform(0.5, 2.0, n)
    size = np.diff(ms.start)[p.model]
    cfg = np.repeat(ms.start[p.model] - np.concatenate(([0], np.cumsum(size)[:-1])), size) + np.arange(size.sum())
    own = Models(a_min=ms.a_min[p.model] * weight, start=np.concatenate(([0], np.cumsum(size))),
                 work=ms.work[cfg], accuracy=ms.accuracy[cfg] * np.repeat(weight, size))
    return dataclasses.replace(p, model=np.arange(n), models=own)


def paired_cpu_times(fns, repeat: int, worker: bool = False) -> tuple[list[list[float]], list[list[int]]]:
    """CPU seconds and minor page faults of each of ``fns``, called in turn ``repeat`` times
    after one untimed call each: a drift of the machine's speed (it moves by a third from
    one minute to the next on a shared machine) touches them alike, and their ratios are
    taken call by call. ``worker``: every call runs in one worker thread, as the service
    runs a solve (`app/api/runner.py`)."""
    import resource
    from concurrent.futures import ThreadPoolExecutor

    def timed(fn) -> tuple[float, int]:
        f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time()
        fn()
        return time.process_time() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0

    with ThreadPoolExecutor(1) as pool:
        run = (lambda fn: pool.submit(timed, fn).result()) if worker else timed
        for fn in fns:
            run(fn)
        times: list[list[float]] = [[] for _ in fns]
        faults: list[list[int]] = [[] for _ in fns]
        for _ in range(repeat):
            for fn, spent, fault in zip(fns, times, faults, strict=True):
                seconds, count = run(fn)
                spent.append(seconds)
                fault.append(count)
    return times, faults


def paired_ratio(base: list[float], other: list[float]) -> float:
    """The median of ``other / base`` taken call by call."""
    return statistics.median(o / b for b, o in zip(base, other, strict=True))


def steady_heap() -> bool:
    """Fix glibc's thresholds for giving freed memory back (256 MiB) and for mapping large
    blocks on their own (32 MiB). By default both grow with the largest block the process
    has freed, so whether a solve's arrays land in memory already mapped, or are faulted in
    again page by page, depends on what the process ran before: the same solve then costs
    0 or some 700 page faults (about 2 ms at 1e4 tasks here) from one process to the next.
    Returns whether both were set (False off glibc)."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameters
    return bool(libc.mallopt(m_trim_threshold, 256 << 20)) and bool(libc.mallopt(m_mmap_threshold, 32 << 20))


def models_table(repeat: int, worker: bool = False) -> None:
    import tracemalloc

    from app.solver import solve

    print("\n| n | m | curve tasks: fractional (CPU s) | model tasks, 10 configs: fractional (CPU s) | ratio "
          "| curve tasks: dsct-approx (CPU s) | model tasks: dsct-approx (CPU s) | ratio "
          "| page faults per dsct-approx, curve / model tasks "
          "| peak memory, model tasks: fractional / dsct-approx (MiB) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in (10**4, 10**5):
        m = 100
        curve, models = instance(n, m), model_instance(n, m)
        (fc, fm, ac, am), faults = paired_cpu_times([lambda p=curve: fractional_relaxation(p),
                                                     lambda p=models: fractional_relaxation(p),
                                                     lambda p=curve: solve(p, "dsct-approx"),
                                                     lambda p=models: solve(p, "dsct-approx")], repeat, worker)
        peaks = []
        for fn in (lambda p=models: fractional_relaxation(p), lambda p=models: solve(p, "dsct-approx")):
            tracemalloc.start()
            fn()
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
            tracemalloc.stop()
        med = statistics.median
        print(f"| {n:.0e} | {m} | {med(fc):.4f} | {med(fm):.4f} | {paired_ratio(fc, fm):.2f}x | {med(ac):.4f} "
              f"| {med(am):.4f} | {paired_ratio(ac, am):.2f}x | {med(faults[2]):.0f} / {med(faults[3]):.0f} "
              f"| {peaks[0]:.0f} / {peaks[1]:.0f} |", flush=True)
    n, m = 10**4, 100
    curve, own = instance(n, m), weighted_model_instance(n, m)
    (fc, fm, ac, am), faults = paired_cpu_times([lambda p=curve: fractional_relaxation(p),
                                                 lambda p=own: fractional_relaxation(p, family_of(p)),  # envelopes
                                                 lambda p=curve: solve(p, "dsct-approx"),
                                                 lambda p=own: solve(p, "dsct-approx")], repeat, worker)
    med = statistics.median
    print(f"| {n:.0e}, a model per task | {m} | {med(fc):.4f} | {med(fm):.4f} | {paired_ratio(fc, fm):.2f}x "
          f"| {med(ac):.4f} | {med(am):.4f} | {paired_ratio(ac, am):.2f}x | {med(faults[2]):.0f} / {med(faults[3]):.0f} "
          f"| - |", flush=True)


def median_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def clarabel(p: Problem) -> float:
    import cvxpy as cp

    o = p.order
    cap = p.capacity(p.deadline[o])
    scale = max(float(cap[-1]) / p.n, 1e-12)  # work in units of the mean capacity: Clarabel
    w = cp.Variable(p.n)  # fails on the unscaled n = 1e4, m = 1000 instance
    da, th = (p.a_max - p.a_min)[o], p.theta[o]
    cons = [w >= 0, w <= p.t_max[o] / scale, cp.cumsum(w) <= cap / scale]
    prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(da, cp.exp(-cp.multiply(th * scale, w))))), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob.solve(solver=cp.CLARABEL)
    return float(np.sum(p.a_max) - prob.value)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="n up to 1e5 only")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--single", nargs=2, type=int, metavar=("N", "M"), help="one dsct-approx solve")
    ap.add_argument("--models", action="store_true", help="only the table of measured-model tasks")
    ap.add_argument("--worker-thread", action="store_true",
                    help="the measured-model table's solves in a worker thread, as the service runs them")
    ap.add_argument("--steady-heap", action="store_true",
                    help="fix glibc's thresholds for returning and mapping memory (see steady_heap)")
    args = ap.parse_args(argv)
    if args.steady_heap and not steady_heap():
        print("warning: --steady-heap needs glibc; the thresholds are the default ones", file=sys.stderr)
    if args.models:
        models_table(args.repeat, args.worker_thread)
        return 0
    if args.single:
        p = instance(*args.single)
        t0 = time.perf_counter()
        sol = solve(p, "dsct-approx")
        print(f"n={p.n} m={p.m} dsct-approx {time.perf_counter() - t0:.3f} s total={sol.total_accuracy:.6f}")
        return 0
    sizes = [10**3, 10**4, 10**5] + ([] if args.quick else [10**6])
    print("| n | m | fractional (s) | dsct-approx (s) | dsct-refined (s) | Clarabel (s) | Clarabel / fractional | rel. diff |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for m in (10, 1000):
            p = instance(n, m)
            rep = args.repeat if n <= 10**5 else max(3, args.repeat // 2)
            tf, frac = median_time(lambda p=p: fractional_relaxation(p), rep)
            ta, _ = median_time(lambda p=p: solve(p, "dsct-approx"), rep)
            tr, _ = median_time(lambda p=p: solve(p, "dsct-refined"), rep)
            cl = "-"
            ratio = "-"
            diff = "-"
            if n <= 10**4:
                import cvxpy as cp

                try:
                    tc, val = median_time(lambda p=p: clarabel(p), 3)
                    cl = f"{tc:.3f}"
                    ratio = f"{tc / tf:.0f}x"
                    diff = f"{abs(val - frac.upper_bound) / abs(val):.1e}"
                except cp.error.SolverError:
                    cl = "failed"
            print(f"| {n:.0e} | {m} | {tf:.4f} | {ta:.4f} | {tr:.4f} | {cl} | {ratio} | {diff} |", flush=True)
    models_table(args.repeat, args.worker_thread)
    return 0


if __name__ == "__main__":
    sys.exit(main())

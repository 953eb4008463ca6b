"""The data behind the paper's figures 2 to 5 (section VII), as lists of CSV rows.

Every instance is drawn from its own seed, ``SeedSequence([seed, figure, point, instance])``,
so any figure, point or instance can be regenerated alone and runs are reproducible.
Instances are solved in a process pool (``workers``); results do not depend on it.

- :func:`fig2`: optimality gap ``upper_bound - total`` (mean, min, max) against
  ``mu = theta_max / theta_min``, with Theorem 3's ``G`` (rho = 0.35, m = 2, n = 100).
- :func:`fig3`: solve time against n (m = 5) and against m (n = 50): dsct-approx, exact, and a
  general-purpose conic solver (cvxpy + Clarabel) on the fractional relaxation.
- :func:`fig4_5`: mean accuracy per task against rho (m = 10, n = 100, theta = 0.1), and the
  distribution of per-task accuracies (Fig. 5's heat map) from the same runs.

Cost: figures 2, 4 and 5 are O(instances * n log n) per point (the heuristics); Fig. 3's
exact series is exponential in the worst case and capped by its time limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from app.solver import Problem, fractional_relaxation, solve

from .generator import Reading, generate

FIG2_MUS = tuple(range(1, 21))
FIG4_RHOS = tuple(round(0.1 * k, 1) for k in range(16))
FIG3_NS = (10, 20, 30, 40, 50, 75, 100, 150, 200)
FIG3_MS = (2, 3, 4, 5, 6, 8, 10)
#: EDF-3COMPRESSIONLEVELS is the paper's Lee-and-Song baseline; edf-3levels (highest level
#: first) is kept beside it for comparison
FIG45_ALGOS = ("dsct-approx", "fractional", "edf-nocompression", "edf-3levels-lee-song",
               "edf-3levels")
FIG5_BINS = tuple(round(0.1 * k, 1) for k in range(10)) + (1.0,)  # [0, 0.1), ..., [0.9, 1.0]


def rng_for(seed: int, figure: int, point: int, instance: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, figure, point, instance]))


def _map(fn: Callable, jobs: list, workers: int) -> list:
    if workers <= 1 or len(jobs) < 4:
        return [fn(*j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, *zip(*jobs, strict=True), chunksize=max(1, len(jobs) // (8 * workers))))


# ---------------------------------------------------------------------------- Fig. 2
def _fig2_one(seed: int, point: int, i: int, mu: float, reading: Reading, exact_limit: float | None):
    p = generate(rng_for(seed, 2, point, i), 100, 2, 0.35, mu=mu, reading=reading)
    out = {"G": p.guarantee()}
    for algo in ("dsct-approx", "dsct-refined"):
        s = solve(p, algo)
        out[algo] = s.upper_bound - s.total_accuracy
    if exact_limit is not None:
        s = solve(p, "exact", time_limit=exact_limit)
        out["exact"] = s.upper_bound - s.total_accuracy
        out["exact_optimal"] = s.status == "optimal"
        out["exact_proven_gap"] = s.upper_bound - s.proven_bound
    return out


def fig2(seed: int, instances: int, reading: Reading, exact_instances: int, exact_limit: float,
         workers: int = 1, mus: Iterable[float] = FIG2_MUS) -> list[dict]:
    """Rows: mu, G, algorithm, instances, gap_mean, gap_min, gap_max, mean_over_G, optimal."""
    rows = []
    for point, mu in enumerate(mus):
        jobs = [(seed, point, i, float(mu), reading, exact_limit if i < exact_instances else None)
                for i in range(instances)]
        res = _map(_fig2_one, jobs, workers)
        g = float(np.mean([r["G"] for r in res]))
        for algo in ("dsct-approx", "dsct-refined", "exact"):
            done = [r for r in res if algo in r]
            if not done:
                continue
            gaps = np.array([r[algo] for r in done])
            rows.append({
                "mu": mu, "G": g, "algorithm": algo, "instances": len(done),
                "gap_mean": gaps.mean(), "gap_min": gaps.min(), "gap_max": gaps.max(),
                "mean_over_G": gaps.mean() / g,
                "optimal": sum(r.get("exact_optimal", False) for r in done) if algo == "exact" else "",
            })
    return rows


# ---------------------------------------------------------------------------- Fig. 3
def clarabel_relaxation(p: Problem) -> float:
    """The fractional relaxation by a general-purpose conic solver (cvxpy + Clarabel).

    Aggregated form (Lemma 2): ``max sum a_j(w_j)``, prefix sums of ``w`` in deadline order
    at most ``D(d_k)``, ``0 <= w <= t_max``. cvxpy is a test dependency, imported here only.
    """
    import cvxpy as cp

    o = p.order
    w = cp.Variable(p.n, nonneg=True)
    cons = [cp.cumsum(w) <= p.capacity(p.deadline[o]), w <= p.t_max[o]]
    loss = cp.sum(cp.multiply(p.delta_a[o], cp.exp(-cp.multiply(p.theta[o], w))))
    prob = cp.Problem(cp.Minimize(loss), cons)
    prob.solve(solver=cp.CLARABEL)
    return float(np.sum(p.a_max) - prob.value)


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _fig3_one(seed: int, point: int, i: int, n: int, m: int, reading: Reading, mu: float,
              exact_limit: float):
    p = generate(rng_for(seed, 3, point, i), n, m, 0.35, mu=mu, reading=reading)
    t_apx, _ = _timed(lambda: solve(p, "dsct-approx"))
    t_ex, s = _timed(lambda: solve(p, "exact", time_limit=exact_limit))
    t_cl, _ = _timed(lambda: clarabel_relaxation(p))
    return {"dsct-approx": t_apx, "exact": t_ex, "clarabel-relaxation": t_cl,
            "exact_optimal": s.status == "optimal",
            "exact_gap": (s.proven_bound - s.total_accuracy) / max(abs(s.proven_bound), 1e-12)}


def fig3(seed: int, instances: int, reading: Reading, exact_limit: float, mu: float = 5.0,
         ns: Iterable[int] = FIG3_NS, ms: Iterable[int] = FIG3_MS) -> list[dict]:
    """Rows: sweep, n, m, algorithm, instances, time_median, time_max, optimal, gap_median.

    Run serially (timings must not compete for the two cores).
    """
    rows = []
    points = [("n", n, 5) for n in ns] + [("m", 50, m) for m in ms]
    for point, (sweep, n, m) in enumerate(points):
        res = [_fig3_one(seed, point, i, n, m, reading, mu, exact_limit) for i in range(instances)]
        for algo in ("dsct-approx", "exact", "clarabel-relaxation"):
            t = np.array([r[algo] for r in res])
            rows.append({
                "sweep": sweep, "n": n, "m": m, "algorithm": algo, "instances": len(res),
                "time_median": float(np.median(t)), "time_max": float(t.max()),
                "optimal": sum(r["exact_optimal"] for r in res) if algo == "exact" else "",
                "gap_median": float(np.median([r["exact_gap"] for r in res])) if algo == "exact" else "",
            })
    return rows


# ---------------------------------------------------------------------------- Fig. 4 and 5
def _fig45_one(seed: int, point: int, i: int, rho: float, reading: Reading):
    p = generate(rng_for(seed, 4, point, i), 100, 10, rho, reading=reading, theta=0.1)
    out = {}
    for algo in FIG45_ALGOS:
        if algo == "fractional":
            acc = p.accuracy(fractional_relaxation(p).work)
        else:
            acc = solve(p, algo).accuracy
        hist, _ = np.histogram(np.clip(acc, 0.0, 1.0), bins=np.array(FIG5_BINS))
        out[algo] = (float(acc.mean()), hist)
    return out


def fig4_5(seed: int, instances: int, reading: Reading, workers: int = 1,
           rhos: Iterable[float] = FIG4_RHOS) -> tuple[list[dict], list[dict]]:
    """Fig. 4 rows: rho, algorithm, instances, mean_accuracy, min_instance, max_instance.
    Fig. 5 rows: rho, algorithm, bin_lo, bin_hi, fraction (of all tasks of all instances)."""
    rows4, rows5 = [], []
    for point, rho in enumerate(rhos):
        res = _map(_fig45_one, [(seed, point, i, rho, reading) for i in range(instances)], workers)
        for algo in FIG45_ALGOS:
            means = np.array([r[algo][0] for r in res])
            rows4.append({"rho": rho, "algorithm": algo, "instances": len(res),
                          "mean_accuracy": means.mean(), "min_instance": means.min(),
                          "max_instance": means.max()})
            hist = np.sum([r[algo][1] for r in res], axis=0)
            frac = hist / max(1, hist.sum())
            for b in range(len(FIG5_BINS) - 1):
                rows5.append({"rho": rho, "algorithm": algo, "bin_lo": FIG5_BINS[b],
                              "bin_hi": FIG5_BINS[b + 1], "fraction": frac[b]})
    return rows4, rows5

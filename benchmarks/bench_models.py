"""Quality on measured models: batches of 20 model tasks on 3 machines from the bundled
Once-for-All profiles (a figures script, not a test).

Each batch: 20 tasks, each of a model drawn from the bundled catalogue (``GET /models``),
3 machines of speeds 0.5, 1 and 2, deadlines drawn uniformly in ``(0, D]`` where the load
``rho = sum of the tasks' most accurate works / (total speed x D)`` runs from light (0.25)
to heavy (4). For each load, 30 seeds; printed per load:

- dsct-refined / exact's proven optimum (``exact`` with a 20 s limit: the batches it proves
  optimal are counted), and dsct-refined, dsct-approx and the greedy / upper_bound (the
  relaxation's bound, which no schedule beats);
- dsct-approx against a plain EDF greedy (each task in deadline order, the most accurate
  configuration that fits on the machine free earliest): mean ratio and how often it is below.

    .venv/bin/python benchmarks/bench_models.py [--seeds 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.catalogue import entries  # noqa: E402
from app.solver import Problem, check, solve  # noqa: E402
from app.solver.problem import Models  # noqa: E402

LOADS = (0.25, 0.5, 1.0, 2.0, 4.0)


def catalogue_models() -> Models:
    cat = entries()
    start = np.concatenate(([0], np.cumsum([len(m.configs) for m in cat])))
    return Models(a_min=[m.a_min for m in cat], start=start,
                  work=[c.work for m in cat for c in m.configs], accuracy=[c.accuracy for m in cat for c in m.configs])


def batch(rng: np.random.Generator, ms: Models, load: float, n: int = 20) -> Problem:
    model = rng.integers(0, ms.count, n)
    speed = np.array([0.5, 1.0, 2.0])
    top = np.maximum.reduceat(ms.work, ms.start[:-1])[model]
    d = top.sum() / (load * speed.sum())
    deadline = rng.uniform(0.0, d, n)
    nan = np.full(n, np.nan)
    return Problem(deadline, nan, nan, nan, nan, speed, np.zeros(3), model=model, models=ms)


def edf_greedy(p: Problem) -> float:
    """Each task in deadline order on the machine free earliest (ties: lowest index), the
    most accurate configuration that ends by its deadline there; nothing if none does."""
    ms = p.models
    free = p.available_at.astype(float).copy()
    total = 0.0
    for j in p.order.tolist():
        k = int(p.model[j])
        r = int(np.argmin(free))
        best = None
        for c in range(ms.start[k], ms.start[k + 1]):
            end = free[r] + ms.work[c] / p.speed[r]
            if end <= p.deadline[j] and (best is None or ms.accuracy[c] > ms.accuracy[best]):
                best = c
        if best is None:
            total += float(ms.a_min[k])
        else:
            free[r] += ms.work[best] / p.speed[r]
            total += float(ms.accuracy[best])
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--time-limit", type=float, default=20.0, help="exact's limit per batch, seconds")
    ap.add_argument("--no-exact", action="store_true", help="skip exact (its columns read n/a)")
    args = ap.parse_args()
    ms = catalogue_models()
    print("| load | dsct-refined / exact optimum | exact proven optimal | dsct-refined / upper_bound "
          "| dsct-approx / upper_bound | EDF greedy / upper_bound "
          "| dsct-approx / EDF greedy (mean) | batches where dsct-approx < EDF greedy "
          "| dsct-best / upper_bound | batches where dsct-best > dsct-refined |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for load in LOADS:
        ref, app, edf, vs, below, vs_opt, proven, best, wins = [], [], [], [], 0, [], 0, [], 0
        for seed in range(args.seeds):
            p = batch(np.random.default_rng(seed), ms, load)
            a, r = solve(p, "dsct-approx"), solve(p, "dsct-refined")
            assert check(p, a).ok and check(p, r).ok
            b = solve(p, "dsct-best")
            assert check(p, b).ok
            best.append(b.total_accuracy / a.upper_bound)
            wins += b.total_accuracy > r.total_accuracy + 1e-12
            opt = None if args.no_exact else solve(p, "exact", time_limit=args.time_limit)
            assert opt is None or check(p, opt).ok
            if opt is not None and opt.status == "optimal":
                proven += 1
                vs_opt.append(r.total_accuracy / opt.total_accuracy)
            g = edf_greedy(p)
            ub = a.upper_bound
            ref.append(r.total_accuracy / ub)
            app.append(a.total_accuracy / ub)
            edf.append(g / ub)
            vs.append(a.total_accuracy / g)
            below += a.total_accuracy < g - 1e-12
        ratio = f"{statistics.mean(vs_opt):.4f}" if vs_opt else "n/a"
        print(f"| {load} | {ratio} | {proven} / {args.seeds} | {statistics.mean(ref):.4f} "
              f"| {statistics.mean(app):.4f} | {statistics.mean(edf):.4f} "
              f"| {statistics.mean(vs):.4f} | {below} / {args.seeds} "
              f"| {statistics.mean(best):.4f} | {wins} / {args.seeds} |", flush=True)


if __name__ == "__main__":
    main()

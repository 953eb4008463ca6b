"""``python -m app.experiments`` / ``dsct experiments``: the paper's figures from one seed.

Writes ``fig2.csv`` .. ``fig5.csv`` (always) and ``fig2.png`` .. ``fig5.png`` (when matplotlib,
the ``plots`` extra, is installed; ``--no-plots`` skips them) into ``--out``, plus
``run.json`` with the arguments and the time each figure took.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

from .generator import Reading


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{v:.9g}" if isinstance(v, float) else v) for k, v in r.items()})


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="dsct experiments", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("results"), help="output directory")
    ap.add_argument("--instances", type=int, default=1000,
                    help="instances per point for figures 2, 4 and 5 (default 1000)")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--figures", default="2,3,4,5", help="comma-separated subset of 2,3,4,5")
    ap.add_argument("--reading", default="equal-lift-0.99",
                    help="deadlines[-accuracy[-reach]]: deadlines in equal|uniform|half, "
                         "accuracy in lift|cap, reach in (0,1) (see app/experiments/generator.py)")
    ap.add_argument("--time-limit", type=float, default=60.0,
                    help="time limit in seconds of exact in Fig. 3")
    ap.add_argument("--fig2-time-limit", type=float, default=10.0,
                    help="time limit in seconds of exact in Fig. 2 (n = 100, m = 2)")
    ap.add_argument("--exact-instances", type=int, default=None,
                    help="instances per mu that exact also solves in Fig. 2 (default: "
                         "min(instances, 20); 0 to skip)")
    ap.add_argument("--fig3-instances", type=int, default=None,
                    help="instances per point in Fig. 3 (default: min(instances, 5))")
    ap.add_argument("--fig3-n", default=None, help="comma-separated n values of Fig. 3 (m = 5)")
    ap.add_argument("--fig3-m", default=None, help="comma-separated m values of Fig. 3 (n = 50)")
    ap.add_argument("--mus", default=None, help="comma-separated mu values of Fig. 2 (default 1..20)")
    ap.add_argument("--rhos", default=None,
                    help="comma-separated rho values of figures 4 and 5 (default 0, 0.1, .., 1.5)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="processes for figures 2, 4 and 5 (Fig. 3 always runs serially)")
    ap.add_argument("--no-plots", action="store_true", help="write CSV only")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from . import runner

    reading = Reading.parse(args.reading)
    figures = {int(f) for f in args.figures.split(",") if f.strip()}
    if not figures <= {2, 3, 4, 5}:
        print(f"--figures: unknown figure in {args.figures!r}", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    plots = None
    if not args.no_plots:
        try:
            from . import plots
        except ImportError:  # pragma: no cover - matplotlib missing
            print("matplotlib not installed (extra 'plots'): writing CSV only", file=sys.stderr)
    n_exact = min(args.instances, 20) if args.exact_instances is None else args.exact_instances
    n_fig3 = min(args.instances, 5) if args.fig3_instances is None else args.fig3_instances
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    if 2 in figures:
        t = time.perf_counter()
        mus = [float(x) for x in args.mus.split(",")] if args.mus else runner.FIG2_MUS
        rows = runner.fig2(args.seed, args.instances, reading, n_exact, args.fig2_time_limit,
                           args.workers, mus=mus)
        _write_csv(out / "fig2.csv", rows)
        if plots:
            plots.plot_fig2(rows, out / "fig2.png")
        timings["fig2"] = time.perf_counter() - t
    if 3 in figures:
        t = time.perf_counter()
        kw = {}
        if args.fig3_n:
            kw["ns"] = [int(x) for x in args.fig3_n.split(",")]
        if args.fig3_m:
            kw["ms"] = [int(x) for x in args.fig3_m.split(",")]
        rows = runner.fig3(args.seed, n_fig3, reading, args.time_limit, **kw)
        _write_csv(out / "fig3.csv", rows)
        if plots:
            plots.plot_fig3(rows, out / "fig3.png")
        timings["fig3"] = time.perf_counter() - t
    if figures & {4, 5}:
        t = time.perf_counter()
        rhos = [float(x) for x in args.rhos.split(",")] if args.rhos else runner.FIG4_RHOS
        rows4, rows5 = runner.fig4_5(args.seed, args.instances, reading, args.workers, rhos=rhos)
        if 4 in figures:
            _write_csv(out / "fig4.csv", rows4)
            if plots:
                plots.plot_fig4(rows4, out / "fig4.png")
        if 5 in figures:
            _write_csv(out / "fig5.csv", rows5)
            if plots:
                plots.plot_fig5(rows5, out / "fig5.png")
        timings["fig4_5"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_all
    meta = {"argv": sys.argv[1:] if argv is None else list(argv), "reading": reading.label,
            "seed": args.seed, "instances": args.instances, "exact_instances_fig2": n_exact,
            "fig3_instances": n_fig3, "time_limit": args.time_limit,
            "fig2_time_limit": args.fig2_time_limit, "workers": args.workers,
            "seconds": {k: round(v, 1) for k, v in timings.items()}}
    (out / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    from .summary import summarize

    (out / "summary.json").write_text(json.dumps(summarize(out), indent=2) + "\n")
    print(json.dumps(meta["seconds"]))
    return 0

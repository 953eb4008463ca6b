"""Which reading of the generator makes the paper's Fig. 4 and 5 checks hold together.

``python -m app.experiments.readings`` runs Fig. 4 and 5 (m = 10, n = 100, theta = 0.1) at the
rho values the paper's sentences use (0.4, 0.7, 1.0, 1.5) for each reading, and prints one
CSV row per reading with the four checks:

1. Fig. 4 at rho = 0.4: DSCT-APPROX ahead of EDF-NOCOMPRESSION by more than 0.18 (+57.9%);
2. Fig. 4 at rho = 0.4: ahead of EDF-3COMPRESSIONLEVELS by about 0.1 (+22.2%);
3. Fig. 4 at rho >= 1: every algorithm at 0.82;
4. Fig. 5 at rho = 0.7: over 90% of DSCT-APPROX's tasks in [0.7, 0.8], about 2% below 0.3,
   against 33% (EDF-3COMPRESSIONLEVELS) and 28% (EDF-NOCOMPRESSION).

EDF-3COMPRESSIONLEVELS is ``edf-3levels-lee-song``. Under ``equal`` deadlines with one theta every
instance is the same, so one instance is enough there.
"""

from __future__ import annotations

import argparse

from .generator import DEADLINE_READINGS, Reading
from .runner import fig4_5

RHOS = (0.4, 0.7, 1.0, 1.5)
LS = "edf-3levels-lee-song"
NOCOMP = "edf-nocompression"
APPROX = "dsct-approx"


def checks(rows4: list[dict], rows5: list[dict]) -> dict:
    """The four checks' numbers (module docs) from :func:`app.experiments.runner.fig4_5` rows."""
    acc = {(round(r["rho"], 1), r["algorithm"]): r["mean_accuracy"] for r in rows4}
    a = acc[(0.4, APPROX)]
    out = {
        "nocomp_abs": a - acc[(0.4, NOCOMP)], "nocomp_rel": a / acc[(0.4, NOCOMP)] - 1,
        "ls_abs": a - acc[(0.4, LS)], "ls_rel": a / acc[(0.4, LS)] - 1,
        "min_at_rho_ge_1": min(v for (rho, alg), v in acc.items()
                               if rho >= 1.0 and alg in (APPROX, NOCOMP, LS)),
    }
    for algo, key in ((APPROX, "approx"), (LS, "ls"), (NOCOMP, "nocomp")):
        r = [x for x in rows5 if round(x["rho"], 1) == 0.7 and x["algorithm"] == algo]
        out[f"{key}_below_0.3"] = sum(x["fraction"] for x in r if x["bin_hi"] <= 0.3 + 1e-9)
        if algo == APPROX:
            out["approx_in_0.7_0.8"] = sum(x["fraction"] for x in r if round(x["bin_lo"], 1) == 0.7)
    out["all_hold"] = bool(
        out["nocomp_abs"] > 0.18 and 0.45 <= out["nocomp_rel"] <= 0.70
        and 0.07 <= out["ls_abs"] <= 0.13 and 0.15 <= out["ls_rel"] <= 0.30
        and out["min_at_rho_ge_1"] >= 0.815
        and out["approx_in_0.7_0.8"] > 0.9 and out["approx_below_0.3"] <= 0.04
        and 0.25 <= out["ls_below_0.3"] <= 0.40 and 0.2 <= out["nocomp_below_0.3"] <= 0.36)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.experiments.readings",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--deadlines", default=",".join(DEADLINE_READINGS))
    ap.add_argument("--reach", default="0.8,0.82,0.86,0.9,0.95,0.99")
    ap.add_argument("--accuracy", default="lift")
    ap.add_argument("--instances", type=int, default=50)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    keys = None
    for dl in args.deadlines.split(","):
        for reach in (float(x) for x in args.reach.split(",")):
            reading = Reading(deadlines=dl, accuracy=args.accuracy, reach=reach)
            inst = 1 if dl == "equal" else args.instances
            rows4, rows5 = fig4_5(args.seed, inst, reading, workers=args.workers, rhos=RHOS)
            c = checks(rows4, rows5)
            if keys is None:
                keys = list(c)
                print("reading,instances," + ",".join(keys))
            print(f"{reading.label},{inst}," + ",".join(
                f"{c[k]:.4f}" if isinstance(c[k], float) else str(c[k]) for k in keys), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

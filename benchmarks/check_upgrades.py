"""The same schedules before and after a change to dsct-approx's rounding of model tasks.

    .venv/bin/python benchmarks/check_upgrades.py --write /tmp/before.json   # on the old code
    .venv/bin/python benchmarks/check_upgrades.py --compare /tmp/before.json # on the new code

Solves a few hundred random batches of model tasks (the test families of
``tests/solver/test_envelope.py``, the benchmark's instances, machines with hundreds to
thousands of tasks each, and batches whose works and deadlines are multiples of a tenth,
where upgrades fit their limits exactly and rounding decides them) with ``dsct-approx`` and records a digest of every schedule
(machine, configuration and the exact bits of start, duration and work per task) and its
total accuracy. A speed-up of the upgrade pass must leave every digest unchanged;
``--compare`` lists any batch whose schedule differs, with the largest change of total
accuracy, and exits 1. A change of the pass's rounding (how the limits are kept) may change
schedules where an upgrade fits its limit to within rounding; ``--compare`` then says how
many and by how much. A check script, not a test: it compares two versions of the code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.solver import solve  # noqa: E402
from benchmarks.bench_solver import model_instance as bench_instance  # noqa: E402
from tests.solver.instances import tenths_instance  # noqa: E402
from tests.solver.test_envelope import KINDS  # noqa: E402
from tests.solver.test_envelope import model_instance as family_instance  # noqa: E402


def batches():
    """(name, problem) pairs, deterministic."""
    rng = np.random.default_rng(2024)
    for i in range(320):
        kind = KINDS[i % len(KINDS)]
        n = int(rng.integers(1, 400)) if i % 4 else int(rng.integers(400, 3000))
        yield f"{kind}-{i}", family_instance(rng, kind, n, int(rng.integers(1, 8)))
    for i, (n, m) in enumerate([(2000, 1), (5000, 2), (10_000, 100), (10_000, 10), (30_000, 100)]):
        yield f"bench-{n}-{m}", bench_instance(n, m, seed=i)
    rng = np.random.default_rng(4)
    for i in range(40):
        yield f"tenths-{i}", tenths_instance(rng, int(rng.integers(10, 3000)), int(rng.integers(1, 6)))


def digest(problem, sol) -> str:
    h = hashlib.sha256()
    for arr in (sol.machine, sol.config, sol.start, sol.duration, sol.work):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path)
    group.add_argument("--compare", type=Path)
    args = ap.parse_args(argv)
    got = {}
    for name, p in batches():
        sol = solve(p, "dsct-approx")
        got[name] = [digest(p, sol), float(sol.total_accuracy)]
    if args.write:
        args.write.write_text(json.dumps(got, indent=0))
        print(f"{len(got)} schedules written to {args.write}")
        return 0
    before = json.loads(args.compare.read_text())
    differ = [name for name in before if name not in got or got[name][0] != before[name][0]]
    print(f"{len(before)} schedules compared, {len(differ)} differ" + (f": {differ[:20]}" if differ else ""))
    if differ:
        change = [(got[name][1] - before[name][1], name) for name in differ if name in got]
        low, high = min(change), max(change)
        print(f"total accuracy after minus before: from {low[0]:+.3g} ({low[1]}) to {high[0]:+.3g} ({high[1]}); "
              f"largest relative change {max(abs(d) / max(abs(before[n][1]), 1e-300) for d, n in change):.3g}")
    return 1 if differ or set(got) != set(before) else 0


if __name__ == "__main__":
    sys.exit(main())

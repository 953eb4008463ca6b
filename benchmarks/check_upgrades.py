"""The same schedules before and after a change to dsct-approx's rounding of model tasks.

    .venv/bin/python benchmarks/check_upgrades.py --write /tmp/before.json   # on the old code
    .venv/bin/python benchmarks/check_upgrades.py --compare /tmp/before.json # on the new code

Solves a few hundred random batches of model tasks (the test families of
``tests/solver/test_envelope.py``, the benchmark's instances, and machines with hundreds to
thousands of tasks each) with ``dsct-approx`` and records a digest of every schedule
(machine, configuration and the exact bits of start, duration and work per task). A speed-up
of the upgrade pass must leave every digest unchanged; ``--compare`` lists any batch whose
schedule differs and exits 1. A check script, not a test: it compares two versions of the
code.
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
    got = {name: digest(p, solve(p, "dsct-approx")) for name, p in batches()}
    if args.write:
        args.write.write_text(json.dumps(got, indent=0))
        print(f"{len(got)} schedules written to {args.write}")
        return 0
    before = json.loads(args.compare.read_text())
    differ = [name for name in before if got.get(name) != before[name]]
    print(f"{len(before)} schedules compared, {len(differ)} differ" + (f": {differ[:20]}" if differ else ""))
    return 1 if differ or set(got) != set(before) else 0


if __name__ == "__main__":
    sys.exit(main())

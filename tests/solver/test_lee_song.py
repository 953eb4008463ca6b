"""``edf-3levels-lee-song`` (the paper's EDF-3COMPRESSIONLEVELS after Lee and Song) against an
independent simulation of its stopping rule: when it stops, no task can be raised one level,
on its machine or moved to another, with every task still meeting its deadline."""

from __future__ import annotations

import numpy as np
import pytest

from app.experiments.generator import Reading, generate
from app.solver import UNSCHEDULED, check, solve
from app.solver.baselines import level_works

from .instances import make_instance


def _meets_deadlines(p, tasks: list[tuple[int, float]], r: int) -> bool:
    """Tasks (index, work) on machine r in deadline order from available_at: all on time?"""
    t = p.available_at[r]
    for j, w in sorted(tasks, key=lambda x: (p.deadline[x[0]], x[0])):
        t += w / p.speed[r]
        if t > p.deadline[j] * (1 + 1e-12) + 1e-12:
            return False
    return True


def _levels(p, sol) -> np.ndarray:
    """Level (0 lowest .. 2 highest) of each task's work, -1 when unscheduled."""
    works = level_works(p)[:, ::-1]
    out = np.full(p.n, -1)
    for j in np.flatnonzero(sol.machine != UNSCHEDULED):
        out[j] = int(np.argmin(np.abs(works[j] - sol.work[j])))
        assert works[j, out[j]] == pytest.approx(sol.work[j], rel=1e-9)
    return out


@pytest.mark.parametrize("seed", range(8))
def test_stops_only_when_no_raise_fits(seed: int) -> None:
    rng = np.random.default_rng(40 + seed)
    kind = ("paper", "random", "busy_machines", "speeds_1e3_apart")[seed % 4]
    p = make_instance(rng, kind, int(rng.integers(5, 40)), int(rng.integers(1, 5)))
    sol = solve(p, "edf-3levels-lee-song")
    assert check(p, sol).ok
    works = level_works(p)[:, ::-1]
    level = _levels(p, sol)
    on = {r: [(j, sol.work[j]) for j in np.flatnonzero(sol.machine == r)] for r in range(p.m)}
    for j in range(p.n):
        if level[j] == 2 or not np.isfinite(works[j, level[j] + 1]):
            continue
        new = works[j, level[j] + 1]
        for r in range(p.m):
            tasks = [(i, w) for i, w in on[r] if i != j] + [(j, new)]
            assert not _meets_deadlines(p, tasks, r), (j, r)


def test_deadlines_first_then_quality_on_identical_tasks() -> None:
    """Equal deadlines, one theta: every task first gets the middle level (the better gain
    per second), then as many as fit the top level; none is left at the lowest."""
    p = generate(np.random.default_rng(0), 100, 10, 0.7, reading=Reading(), theta=0.1)
    level = _levels(p, solve(p, "edf-3levels-lee-song"))
    works = level_works(p)[0, ::-1]
    per_machine = 0.7 * 10 * works[2]  # d_max = rho * sum t_max / m, 10 tasks per machine
    top = int((per_machine - 10 * works[1]) // (works[2] - works[1]))
    assert np.all(level >= 1)
    assert np.sum(level == 2) == 10 * top

"""The EDF baselines give the same schedule through their per-speed heaps (many machines of
few speeds) as through the scan of every machine."""

from __future__ import annotations

import numpy as np
import pytest

import app.solver.baselines as baselines
from app.solver import Models, Problem, check, solve


def _instance(seed: int, models: bool = False) -> Problem:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    m = int(rng.choice([40, 97, 300]))
    speed = rng.choice([0.3, 1.0, 4.0, 10.0], m) if seed % 2 else np.ones(m)
    available_at = np.where(rng.random(m) < 0.5, rng.uniform(0.0, 2.0, m), 0.0)
    theta = rng.uniform(0.1, 2.0, n)
    t_max = np.where(rng.random(n) < 0.1, np.inf, rng.uniform(0.5, 8.0, n))
    deadline = rng.uniform(0.0, 1.0, n) * rng.uniform(0.05, 3.0) * t_max[np.isfinite(t_max)].sum() / speed.sum()
    kw = {}
    if models:
        k = 3
        work = np.sort(rng.uniform(0.2, 6.0, (k, 5)), axis=1).ravel()
        acc = np.sort(rng.uniform(0.3, 0.9, (k, 5)), axis=1).ravel()
        kw = dict(model=np.where(rng.random(n) < 0.5, rng.integers(0, k, n), -1),
                  models=Models(a_min=np.zeros(k), start=np.arange(k + 1) * 5, work=work, accuracy=acc))
    return Problem(deadline, theta, np.zeros(n), np.ones(n), t_max, speed, available_at, **kw)


@pytest.mark.parametrize("algorithm", ["edf-nocompression", "edf-3levels"])
@pytest.mark.parametrize("seed", range(12))
def test_heaps_and_scan_give_the_same_schedule(monkeypatch, algorithm, seed):
    problem = _instance(seed, models=seed % 3 == 0)
    monkeypatch.setattr(baselines, "HEAP_MACHINES", 1)
    assert baselines._SpeedLists.fits(problem.speed) == (len(set(problem.speed.tolist())) <= baselines.HEAP_CLASSES)
    with_heaps = solve(problem, algorithm)
    monkeypatch.setattr(baselines, "HEAP_MACHINES", 10**9)
    with_scan = solve(problem, algorithm)
    assert check(problem, with_heaps).ok
    for name in ("machine", "start", "duration", "work", "accuracy"):
        np.testing.assert_array_equal(getattr(with_heaps, name), getattr(with_scan, name), err_msg=name)
    assert with_heaps.reason == with_scan.reason


@pytest.mark.parametrize("algorithm", ["edf-nocompression", "edf-3levels"])
def test_ties_across_speeds_go_to_the_lowest_index(monkeypatch, algorithm):
    """Machine 0 (speed 1, free at 0) and machine 1 (speed 2, free at 1) finish 2 units of
    work at the same time, 2: earliest finish picks machine 0 both ways (and worst fit the
    same machine both ways)."""
    problem = Problem([4.0], [1.0], [0.0], [1.0], [2.0], [1.0, 2.0], [0.0, 1.0])
    answers = []
    for machines in (1, 10**9):
        monkeypatch.setattr(baselines, "HEAP_MACHINES", machines)
        answers.append(solve(problem, algorithm))
    assert answers[0].machine.tolist() == answers[1].machine.tolist()
    if algorithm == "edf-3levels":  # earliest finish: a tie, to the lowest index
        assert answers[0].machine.tolist() == [0]


@pytest.mark.parametrize("algorithm", ["edf-nocompression", "edf-3levels"])
def test_rounding_ties_within_a_speed_give_the_scans_machine(monkeypatch, algorithm):
    """Machines 0 and 1 (the same speed) are free at 0.1 + 0.2 and at 0.3, one ulp apart (the
    usual leftover of summed durations): the task's finish (4.3) and room (9.7) round to the
    same number on both, so the scan takes the lowest index, machine 0, and so do the lists
    per speed, although machine 1 is free first."""
    m = 256
    available_at = np.full(m, 50.0)
    available_at[0], available_at[1] = 0.1 + 0.2, 0.3
    problem = Problem([10.0], [1.0], [0.0], [1.0], [4.0], np.ones(m), available_at)
    answers = []
    for machines in (1, 10**9):
        monkeypatch.setattr(baselines, "HEAP_MACHINES", machines)
        answers.append(solve(problem, algorithm))
    assert answers[0].machine.tolist() == answers[1].machine.tolist() == [0]
    assert answers[0].start.tolist() == answers[1].start.tolist()

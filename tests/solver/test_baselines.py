"""The EDF baselines' per-speed heaps against the scan of every machine: the same schedules,
ties to the lowest machine index included."""

from __future__ import annotations

import numpy as np
import pytest

import app.solver.baselines as baselines
from app.solver import Problem, check, solve


def tie_heavy(rng: np.random.Generator, n: int, m: int) -> Problem:
    """Few speeds, machines free at the same times, equal deadlines, uniform sizes: many ties;
    and deadlines at 1e12 with machines free 1e-5 apart, whose rooms round to equal values."""
    speeds = rng.choice([0.5, 1.0, 2.0], m)
    avail = rng.choice([0.0, 1.0, 1e12, 1e12 + 1e-5], m)
    d = rng.choice([2.0, 3.0, 1e12 + 5.0, 1e12 + 10.0], n)
    t_max = rng.choice([0.5, 1.0, np.inf], n)
    theta = rng.uniform(0.5, 2.0, n)
    return Problem(d, theta, np.zeros(n), np.ones(n), t_max, speeds, avail)


@pytest.mark.parametrize("algo", ["edf-nocompression", "edf-3levels"])
def test_heaps_match_scan(algo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    for _ in range(40):
        p = tie_heavy(rng, int(rng.integers(1, 60)), int(rng.integers(1, 12)))
        monkeypatch.setattr(baselines, "HEAP_MAX_CLASSES", 10**9)
        heap = solve(p, algo)
        monkeypatch.setattr(baselines, "HEAP_MAX_CLASSES", 0)
        scan = solve(p, algo)
        assert check(p, heap).ok
        for name in ("machine", "start", "duration", "work"):
            assert np.array_equal(getattr(heap, name), getattr(scan, name)), name
        assert heap.reason == scan.reason


@pytest.mark.parametrize("algo", ["edf-nocompression", "edf-3levels"])
def test_rounded_tie_goes_to_lowest_index(algo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Machine 1 is free first, but at a deadline of 1e12 both machines' room (and finish
    time) round to the same value: the lower index wins, as in the scan."""
    p = Problem([1e12, 1e12], [1e-9, 1e-9], [0.0, 0.0], [1.0, 1.0], [1e12 - 1.0, 1.0], [1.0, 1.0], [1e-5, 0.0])
    monkeypatch.setattr(baselines, "HEAP_MAX_CLASSES", 0)
    scan = solve(p, algo)
    monkeypatch.setattr(baselines, "HEAP_MAX_CLASSES", 10**9)
    heap = solve(p, algo)
    assert scan.machine[0] == 0
    assert np.array_equal(heap.machine, scan.machine)
    assert np.array_equal(heap.start, scan.start)

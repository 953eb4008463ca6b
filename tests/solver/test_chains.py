"""Chains of tasks on machines as rows of padded matrices: the bands they are split into and
the running sums and minima along them, against each chain computed alone."""

from __future__ import annotations

import numpy as np

from app.solver import Problem
from app.solver.schedule import _PAD, ChainRows, bands, machine_chains, sequence_on_machines


def test_bands_pad_little() -> None:
    """Rows of any lengths are split into bands that cover each row once, each padded to its
    longest row at most twice its size plus the allowance."""
    rng = np.random.default_rng(5)
    for count in (np.array([1]), np.array([0, 0, 3]), rng.integers(1, 5000, 300),
                  np.concatenate((np.ones(100_000, dtype=int), [100_000]))):
        split = bands(count)
        assert np.array_equal(np.sort(np.concatenate(split)), np.arange(count.shape[0]))
        for rows in split:
            assert rows.shape[0] * count[rows].max() <= 2 * count[rows].sum() + _PAD


def _chain_bounds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Chains of random lengths (one of them long, sometimes) covering ``n`` places."""
    lengths = rng.integers(1, 8, n)
    if rng.random() < 0.5:
        lengths[rng.integers(0, n)] = int(rng.integers(1, 4 * n + 2))
    ends = np.cumsum(lengths)
    ends = ends[ends < n]
    return np.concatenate(([0], ends, [n]))


def test_chain_rows_match_each_chain_alone() -> None:
    """Running sums bit for bit those of ``np.cumsum`` on each chain alone, and the least
    value after each place, on chains of one to thousands of places (several bands)."""
    rng = np.random.default_rng(7)
    for n in [*rng.integers(1, 60, 200).tolist(), 70_000, 150_000]:
        bounds = _chain_bounds(rng, int(n))
        values = rng.random(int(n)) * 10.0 ** rng.uniform(-9, 9, int(n))
        chains = ChainRows(bounds)
        sums = np.concatenate([np.cumsum(values[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)])
        after = np.concatenate([np.append(np.minimum.accumulate(values[lo:hi][::-1])[::-1][1:], np.inf)
                                for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)])
        assert np.array_equal(chains.cumsum(values), sums), n
        assert np.array_equal(chains.least_after(values), after), n


def test_chain_rows_with_empty_chains() -> None:
    """Empty chains take no place, whether chains are summed one at a time or as rows."""
    rng = np.random.default_rng(9)
    for bounds in ([0, 0], [0, 0, 3, 3, 4], [0, 2, 2, *range(3, 40)]):
        bounds = np.array(bounds)
        values = rng.random(int(bounds[-1]))
        runs = [values[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi > lo]
        sums = np.concatenate([np.cumsum(v) for v in runs]) if runs else np.zeros(0)
        after = (np.concatenate([np.append(np.minimum.accumulate(v[::-1])[::-1][1:], np.inf) for v in runs])
                 if runs else np.zeros(0))
        assert np.array_equal(ChainRows(bounds).cumsum(values), sums)
        assert np.array_equal(ChainRows(bounds).least_after(values), after)


def test_sequence_on_machines_runs_each_machine_back_to_back() -> None:
    """Start times are the machine's ``available_at`` plus the durations before, summed in
    order on each machine alone; unassigned tasks keep zeros."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        n, m = int(rng.integers(1, 80)), int(rng.integers(1, 6))
        p = Problem(rng.uniform(1.0, 50.0, n), np.ones(n), np.zeros(n), np.ones(n), np.full(n, 2.0),
                    10.0 ** rng.uniform(-1, 1, m), rng.uniform(0.0, 1e6, m))
        machine = rng.integers(-1, m, n)
        work = rng.random(n) * 10.0 ** rng.uniform(-6, 3, n)
        idx, starts = machine_chains(p, machine)
        start, duration = sequence_on_machines(p, idx, starts, machine, work)
        for r in range(m):
            mine = idx[machine[idx] == r]  # in the order they run
            if mine.shape[0] == 0:
                continue
            dur = work[mine] / p.speed[r]
            assert np.array_equal(duration[mine], dur)
            assert np.array_equal(start[mine], p.available_at[r] + np.concatenate(([0.0], np.cumsum(dur)[:-1])))
        assert not start[machine < 0].any() and not duration[machine < 0].any()

"""Measured models in the relaxation: the piecewise-linear concave family (the upper concave
envelope of a model's configurations) on its own and mixed with curve tasks, checked against
a general solver that never builds the envelope (every configuration as a point of a convex
combination, per machine, solved by Clarabel through cvxpy), on both relaxation paths."""

from __future__ import annotations

import dataclasses
import warnings

import cvxpy as cp
import numpy as np
import pytest

import app.solver.fractional as fractional
import app.solver.kernel as kernel
from app.solver import (
    ALGORITHMS,
    MODELS,
    DomainError,
    ModelsUnsupportedError,
    Problem,
    check,
    fractional_relaxation,
    solve,
)
from app.solver.family import EnvelopeFamily, upper_envelope
from app.solver.kernel import Stairs
from app.solver.problem import Models

#: the small-problem path (staircases written as steps), the sweep (every level of a block
#: at once from a dense table of staircases x levels when models are few), and the sweep
#: without that table (a bisection over the levels; a lookup counts the task's steps above
#: a level, or searches all steps)
PATHS = ("small", "sweep", "padded", "searched")


def reference_with_models(p: Problem) -> float:
    """The relaxation per machine; a model task's accuracy is the best convex combination of
    ``(0, a_min)`` and all of its model's configurations whose work it receives (the
    envelope's hypograph, without computing the envelope)."""
    n, m = p.n, p.m
    order = np.argsort(p.deadline, kind="stable")
    d = p.deadline[order]
    t = cp.Variable((n, m), nonneg=True)
    w = t @ p.speed  # in deadline order
    cons = []
    lower = np.tril(np.ones((n, n)))
    for r in range(m):
        cons.append(lower @ t[:, r] <= np.maximum(d - p.available_at[r], 0.0))
    gain = []
    model = p.model[order]
    curve = np.flatnonzero(model < 0)
    if curve.shape[0]:
        theta, da = p.theta[order][curve], p.delta_a[order][curve]
        fin = np.isfinite(p.t_max[order][curve])
        if fin.any():
            cons.append(w[curve[fin]] <= p.t_max[order][curve][fin])
        gain.append(cp.sum(da) - cp.sum(cp.multiply(da, cp.exp(-cp.multiply(theta, w[curve])))))
    ms = p.models
    for pos in np.flatnonzero(model >= 0):
        k = model[pos]
        cfg = slice(ms.start[k], ms.start[k + 1])
        pts_w = np.append(0.0, ms.work[cfg])
        pts_a = np.append(ms.a_min[k], ms.accuracy[cfg]) - ms.a_min[k]
        lam = cp.Variable(pts_w.shape[0], nonneg=True)
        cons += [cp.sum(lam) == 1, w[pos] >= pts_w @ lam]
        gain.append(pts_a @ lam)
    prob = cp.Problem(cp.Maximize(cp.sum(cp.hstack(gain)) if len(gain) > 1 else gain[0]), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return float(prob.value + np.sum(p.a_min))


def random_models(rng: np.random.Generator, kind: str, count: int) -> Models:
    a_min, start, work, acc = [], [0], [], []
    for _ in range(count):
        lo = float(rng.uniform(0.0, 0.3))
        k = 1 if kind == "one_config" else int(rng.integers(1, 8))
        if kind == "equal_works":
            w = np.repeat(rng.uniform(0.1, 2.0, (k + 1) // 2), 2)[:k]
        elif kind == "tiny_huge":
            w = 10.0 ** rng.uniform(-7, 6, k)
        else:
            w = rng.uniform(0.05, 3.0, k)
        if kind == "dominated":  # half the points below others (more work, less accuracy)
            a = rng.uniform(lo, 1.0, k)
        elif kind == "at_a_min":
            a = np.where(rng.random(k) < 0.5, lo, rng.uniform(lo, 1.0, k))
        else:  # concave-ish: accuracy grows with work, with noise
            a = np.clip(lo + (1 - lo) * (1 - np.exp(-w / np.median(w))) + rng.normal(0, 0.05, k), lo, 1.0)
        a_min.append(lo)
        work += w.tolist()
        acc += a.tolist()
        start.append(len(work))
    return Models(a_min=a_min, start=start, work=work, accuracy=acc)


KINDS = ("concave", "one_config", "dominated", "equal_works", "tiny_huge", "at_a_min", "mixed_curves", "own_model")


def model_instance(rng: np.random.Generator, kind: str, n: int, m: int) -> Problem:
    if kind == "own_model":  # every task its own model (as weights make them): many staircases
        ms = random_models(rng, "concave", n)
        model = rng.permutation(n)
    else:
        ms = random_models(rng, "concave" if kind == "mixed_curves" else kind, int(rng.integers(1, 4)))
        model = rng.integers(0, ms.count, n)
    if kind == "mixed_curves":
        model = np.where(rng.random(n) < 0.5, -1, model)
    scale = 1e-3 if kind == "tiny_huge" and rng.random() < 0.5 else 1.0
    theta = rng.uniform(0.2, 5.0, n)
    t_max = np.where(rng.random(n) < 0.7, rng.uniform(0.1, 3.0, n), np.inf)
    speed = rng.uniform(0.5, 3.0, m)
    total = float(np.sum(np.where(model >= 0, 1.0, np.where(np.isfinite(t_max), t_max, 1.0))))
    d_max = rng.uniform(0.1, 1.2) * total / speed.sum() * scale
    avail = np.where(rng.random(m) < 0.3, rng.uniform(0, d_max / 3, m), 0.0)
    deadline = rng.uniform(0, d_max, n)
    if rng.random() < 0.3:
        deadline = np.round(deadline / d_max * 4) / 4 * d_max  # equal deadlines
    return Problem(deadline, theta, np.full(n, 0.05), np.full(n, 0.9), t_max, speed, avail,
                   model=model, models=ms)


def force(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fractional, "SMALL_N", 10**9 if path == "small" else 0)
    if path != "small":
        monkeypatch.setattr(fractional, "SWEEP_BUDGET", float("inf"))
    if path in ("padded", "searched"):
        monkeypatch.setattr(Stairs, "_dense", staticmethod(lambda cells, steps: False))
    if path == "searched":
        monkeypatch.setattr(kernel, "_PADDED_STEPS", 0)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind", KINDS)
def test_matches_generic_solver(kind: str, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    force(path, monkeypatch)
    for seed in range(6):
        rng = np.random.default_rng(1000 * KINDS.index(kind) + seed)
        p = model_instance(rng, kind, int(rng.integers(1, 30)), int(rng.integers(1, 4)))
        sol = fractional_relaxation(p)
        expected = reference_with_models(p)
        assert sol.upper_bound == pytest.approx(expected, rel=1e-6, abs=1e-8), (kind, seed)
        assert_feasible(p, sol.work)


def assert_feasible(p: Problem, work: np.ndarray) -> None:
    """Works within [0, u] and under every aggregated prefix capacity (an independent O(n m)
    formula), and a model task's value on the envelope at most its best configuration."""
    o = np.argsort(p.deadline, kind="stable")
    cap = np.maximum(p.deadline[o][:, None] - p.available_at[None, :], 0.0) @ p.speed
    assert np.all(work >= 0)
    assert np.all(np.cumsum(work[o]) <= cap * (1 + 1e-9) + 1e-12)
    assert np.all(work <= p.t_max * (1 + 1e-12))


@pytest.mark.parametrize("path", PATHS)
def test_many_tasks_of_one_model_share_its_steps(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hundreds of tasks with identical steps: every block's price sits on a step that many
    tasks share, and the prefix constraints decide who gets what."""
    force(path, monkeypatch)
    rng = np.random.default_rng(3)
    ms = Models(a_min=[0.1], start=[0, 3], work=[1.0, 2.0, 4.0], accuracy=[0.5, 0.7, 0.8])
    n = 300
    deadline = np.sort(rng.uniform(0, 400, n))
    p = Problem(deadline, np.full(n, np.nan), np.zeros(n), np.ones(n), np.ones(n), [1.0, 0.5], [0.0, 3.0],
                model=np.zeros(n, dtype=int), models=ms)
    sol = fractional_relaxation(p)
    assert_feasible(p, sol.work)
    assert sol.upper_bound == pytest.approx(reference_with_models(p), rel=1e-6)


@pytest.mark.parametrize("path", PATHS)
def test_shared_steps_mixed_with_curves(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hundreds of tasks of two models whose steps share tops (one model's slopes are the
    other's), between curve tasks: block prices fall on shared levels and between them,
    where the curve tasks take what the staircases leave."""
    force(path, monkeypatch)
    rng = np.random.default_rng(12)
    ms = Models(a_min=[0.1, 0.1], start=[0, 3, 5], work=[1.0, 2.0, 4.0, 1.0, 2.0],
                accuracy=[0.5, 0.7, 0.8, 0.5, 0.7])
    n = 240
    model = np.where(rng.random(n) < 0.3, -1, rng.integers(0, 2, n))
    deadline = np.sort(rng.uniform(0, 250, n))
    p = Problem(deadline, rng.uniform(0.2, 3.0, n), np.full(n, 0.1), np.full(n, 0.9),
                np.where(rng.random(n) < 0.5, 2.0, np.inf), [1.0, 0.5], [0.0, 3.0], model=model, models=ms)
    sol = fractional_relaxation(p)
    assert_feasible(p, sol.work)
    assert sol.upper_bound == pytest.approx(reference_with_models(p), rel=1e-6)


def test_staircase_lookups_against_counting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A staircase's work above a level, from the dense table, the padded levels or a binary
    search alike, is the sum of its steps whose tops are above that level (counted
    directly)."""
    rng = np.random.default_rng(4)
    for _ in range(30):
        count = rng.integers(0, 5, int(rng.integers(1, 8)))
        start = np.concatenate(([0], np.cumsum(count)))
        top = np.concatenate([np.sort(rng.choice(np.arange(-4.0, 4.0, 0.5), c, replace=False))[::-1] for c in count])
        end = np.concatenate([np.cumsum(rng.uniform(0.1, 1.0, c)) for c in count])
        k = rng.integers(0, count.shape[0], 50)
        x = rng.choice(np.concatenate((top, rng.uniform(-5, 5, 5), [-np.inf, np.inf])), 50)
        expected = [end[start[a]:start[a + 1]][top[start[a]:start[a + 1]] > b].max(initial=0.0) for a, b in zip(k, x, strict=True)]
        for dense, padded in ((True, 16), (False, 16), (False, 0)):
            monkeypatch.setattr(kernel, "_PADDED_STEPS", padded)
            st = Stairs(top=top, start=start, end=end)
            object.__setattr__(st, "_dense", lambda cells, steps, d=dense: d)
            assert st.work(k, st.above(x)) == pytest.approx(expected, abs=0)
            length = [np.diff(np.append(0.0, end[start[a]:start[a + 1]]))[top[start[a]:start[a + 1]] == b].sum()
                      for a, b in zip(k, x, strict=True)]
            assert st.step_at(k, x) == pytest.approx(length, abs=1e-15)


@pytest.mark.parametrize("few", [0, 64])
def test_ragged_searchsorted_against_one_search_per_group(few: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A search per query within its group, by the vectorised binary search or a search per
    group, is numpy's search in that group alone: ties on either side, empty groups, queries
    below, above and between the values, NaN queries."""
    monkeypatch.setattr(kernel, "_FEW_GROUPS", few)
    rng = np.random.default_rng(12)
    for _ in range(200):
        sizes = rng.integers(0, 9, int(rng.integers(1, 15)))
        groups = [np.sort(rng.integers(0, 6, s).astype(float)) for s in sizes]
        offset = np.concatenate(([0], np.cumsum(sizes)))
        values = np.concatenate(groups)
        q = int(rng.integers(0, 20))
        group = rng.integers(0, sizes.shape[0], q)
        x = rng.integers(-1, 7, q).astype(float)
        x[rng.random(q) < 0.1] = np.nan
        for side in ("left", "right"):
            want = [np.searchsorted(groups[g], v, side=side) for g, v in zip(group, x, strict=True)]
            assert kernel.ragged_searchsorted(values, offset, group, x, side=side).tolist() == want


def test_paths_agree_at_scale() -> None:
    rng = np.random.default_rng(11)
    p = model_instance(rng, "mixed_curves", 3000, 20)
    check_paths_agree(p)


def test_paths_agree_at_scale_with_a_model_per_task(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(13)
    p = model_instance(rng, "own_model", 2000, 10)
    check_paths_agree(p)
    monkeypatch.setattr(Stairs, "_dense", staticmethod(lambda cells, steps: True))
    check_paths_agree(dataclasses.replace(p))  # the same lookups from a dense table


def check_paths_agree(p: Problem) -> None:
    got = []
    for small in (10**9, 0):
        saved = fractional.SMALL_N
        fractional.SMALL_N = small
        try:
            got.append(fractional_relaxation(p))
        finally:
            fractional.SMALL_N = saved
    assert got[0].upper_bound == pytest.approx(got[1].upper_bound, rel=1e-9)
    assert_feasible(p, got[1].work)


def test_upper_envelope_against_brute_force() -> None:
    """The envelope's value at every point's work is the best convex combination of two
    points (brute force over pairs), and no point lies above it."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        k = int(rng.integers(1, 9))
        w = np.round(rng.uniform(0.1, 3, k), 1)
        a = rng.uniform(0.2, 1.0, k)
        ew, ea = upper_envelope(0.2, w, a)
        assert ew[0] == 0.0 and np.all(np.diff(ew) > 0)
        g = np.diff(ea) / np.diff(ew)
        assert np.all(g > 0) and np.all(np.diff(g) < 0)
        pts_w, pts_a = np.append(0.0, w), np.append(0.2, a)
        for x in pts_w:
            best = max(
                (pts_a[i] * (pts_w[j] - x) + pts_a[j] * (x - pts_w[i])) / (pts_w[j] - pts_w[i])
                if pts_w[i] < x < pts_w[j] else (pts_a[i] if pts_w[i] <= x else -np.inf)
                for i in range(len(pts_w)) for j in range(len(pts_w))
            )
            assert np.interp(x, ew, ea) == pytest.approx(best, abs=1e-12)


def test_family_value_and_slope() -> None:
    ms = Models(a_min=[0.1], start=[0, 4], work=[1.0, 2.0, 2.0, 3.0], accuracy=[0.5, 0.55, 0.7, 0.6])
    fam = EnvelopeFamily(ms, np.zeros(1, dtype=int))
    assert fam.u[0] == 2.0  # the dominated (3.0, 0.6) and (2.0, 0.55) are not used
    assert fam.value(np.array([0.0, 0.5, 1.0, 1.5, 2.0, 5.0]), np.zeros(6, dtype=int)) == pytest.approx(
        [0.1, 0.3, 0.5, 0.6, 0.7, 0.7])
    assert fam.derivative(np.array([0.0, 1.0, 2.0]), np.zeros(3, dtype=int)) == pytest.approx([0.4, 0.2, 0.0])


def test_models_are_validated() -> None:
    ok = dict(deadline=[1.0], theta=[np.nan], a_min=[0.0], a_max=[1.0], t_max=[1.0], speed=[1.0],
              available_at=[0.0], model=[0])
    with pytest.raises(DomainError) as e:
        Problem(**ok, models=Models(a_min=[0.5], start=[0, 1], work=[1.0], accuracy=[0.4]))
    assert e.value.field == "models.accuracy"
    with pytest.raises(DomainError) as e:
        Problem(**ok, models=Models(a_min=[0.0], start=[0, 1], work=[0.0], accuracy=[0.4]))
    assert e.value.field == "models.work"
    with pytest.raises(DomainError) as e:
        Problem(**{**ok, "model": [1]}, models=Models(a_min=[0.0], start=[0, 1], work=[1.0], accuracy=[0.4]))
    assert e.value.field == "model"
    with pytest.raises(DomainError) as e:  # a curve task is still checked, named in the whole problem
        Problem(**{**ok, "deadline": [1.0, 1.0], "theta": [np.nan, -1.0], "a_min": [0, 0], "a_max": [1, 1],
                   "t_max": [1, 1], "model": [0, -1]},
                models=Models(a_min=[0.0], start=[0, 1], work=[1.0], accuracy=[0.4]))
    assert (e.value.field, e.value.index) == ("theta", 1)


def test_model_tasks_through_the_algorithms_that_take_works() -> None:
    """dsct-approx schedules model tasks on configurations (every rule of the checker holds,
    the configurations' works and accuracies included) and the total is within the bound;
    an algorithm that does not handle model tasks refuses them rather than answer wrong."""
    rng = np.random.default_rng(8)
    p = model_instance(rng, "mixed_curves", 40, 3)
    sol = solve(p, "dsct-approx")
    assert check(p, sol).ok, check(p, sol).violations
    assert sol.total_accuracy <= sol.upper_bound * (1 + 1e-9)
    for algo in sorted(set(ALGORITHMS) - MODELS):
        with pytest.raises(ModelsUnsupportedError, match=algo):
            solve(p, algo)

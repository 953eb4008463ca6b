"""Tasks of measured models in the schedules: configurations chosen, checked, never worse
than plain rounding; the checker catches a wrong configuration."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

import app.solver.approx as approx
from app.solver import Problem, check, solve
from app.solver.configs import best_within
from app.solver.problem import Models

from .instances import tenths_instance
from .test_envelope import KINDS, model_instance


def _models_only(rng: np.random.Generator, n: int, m: int, load: float) -> Problem:
    """n tasks of two models (one with dominated points) on m machines."""
    ms = Models(a_min=[0.001, 0.1], start=[0, 4, 7],
                work=[0.008, 0.011, 0.016, 0.03, 0.01, 0.02, 0.015],
                accuracy=[0.714, 0.736, 0.755, 0.784, 0.5, 0.7, 0.45])
    model = rng.integers(0, 2, n)
    speed = rng.choice([0.5, 1.0, 2.5], m)
    d_max = load * n * 0.02 / speed.sum()
    deadline = rng.uniform(0.1 * d_max, d_max, n)
    ones = np.ones(n)
    return Problem(deadline, ones, 0 * ones, ones, ones, speed, np.zeros(m), model=model, models=ms)


@pytest.mark.parametrize("kind", KINDS)
def test_dsct_approx_feasible_on_configurations(kind: str) -> None:
    for seed in range(8):
        rng = np.random.default_rng(seed)
        p = model_instance(rng, kind, int(rng.integers(1, 60)), int(rng.integers(1, 5)))
        sol = solve(p, "dsct-approx")
        rep = check(p, sol)
        assert rep.ok, (kind, seed, rep.violations)
        assert sol.guarantee is None and sol.config is not None
        runs = (p.model >= 0) & (sol.machine >= 0)
        assert (sol.config[runs] >= 0).all() and (sol.config[~runs] == -1).all()
        assert sol.total_accuracy <= sol.upper_bound * (1 + 1e-9) + 1e-12


def test_upgrades_never_worse_than_plain_rounding(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same schedules without the upgrade pass: never better, and worse somewhere."""
    rng = np.random.default_rng(3)
    problems = [_models_only(rng, int(rng.integers(5, 40)), int(rng.integers(1, 4)), load)
                for load in (0.3, 0.7, 1.0, 1.5, 3.0) for _ in range(4)]
    with_upgrades = [solve(p, "dsct-approx").total_accuracy for p in problems]
    monkeypatch.setattr(approx, "upgrade", lambda *args: None)
    plain = []
    for p in problems:
        sol = solve(p, "dsct-approx")
        assert check(p, sol).ok
        plain.append(sol.total_accuracy)
    assert all(a >= b - 1e-12 for a, b in zip(with_upgrades, plain, strict=True))
    assert any(a > b + 1e-9 for a, b in zip(with_upgrades, plain, strict=True))


def test_best_within_against_enumeration() -> None:
    rng = np.random.default_rng(5)
    p = _models_only(rng, 30, 2, 1.0)
    tasks = np.arange(30)
    budget = rng.choice([0.0, 0.008, 0.0095, 0.011, 0.015, 0.02, 0.05], 30)
    got = best_within(p, tasks, budget)
    ms = p.models
    for j, b, c in zip(tasks.tolist(), budget.tolist(), got.tolist(), strict=True):
        k = int(p.model[j])
        fits = [i for i in range(ms.start[k], ms.start[k + 1]) if ms.work[i] <= b]
        if not fits:
            assert c == -1
        else:
            best = max(fits, key=lambda i: (ms.accuracy[i], -ms.work[i], -i))
            assert c == best


def test_small_batches_against_brute_force_rounding_floor() -> None:
    """On tiny batches, dsct-approx's total is at most the best over every machine and
    configuration per task (enumerated, tasks in deadline order per machine), and at least
    the plain greedy floor of no schedule at all."""
    rng = np.random.default_rng(11)
    for _ in range(15):
        n, m = int(rng.integers(1, 5)), int(rng.integers(1, 3))
        p = _models_only(rng, n, m, float(rng.uniform(0.3, 2.0)))
        sol = solve(p, "dsct-approx")
        assert check(p, sol).ok
        assert sol.total_accuracy <= _brute_force(p) + 1e-9
        assert sol.total_accuracy >= float(p.models.a_min[p.model].sum()) - 1e-12


def _brute_force(p: Problem) -> float:
    ms = p.models
    choices = [[(-1, -1)] + [(r, c) for r in range(p.m) for c in range(ms.start[k], ms.start[k + 1])]
               for k in p.model.tolist()]
    best = -np.inf
    for pick in itertools.product(*choices):
        total, ok = 0.0, True
        for r in range(p.m):
            t = float(p.available_at[r])
            for j in p.order.tolist():
                rr, c = pick[j]
                if rr == r:
                    t += ms.work[c] / p.speed[r]
                    ok &= t <= p.deadline[j] + 1e-12
        if not ok:
            continue
        total = sum(ms.accuracy[c] if c >= 0 else ms.a_min[p.model[j]] for j, (_, c) in enumerate(pick))
        best = max(best, total)
    return best


def test_checker_catches_a_wrong_configuration() -> None:
    rng = np.random.default_rng(2)
    p = _models_only(rng, 20, 2, 0.5)
    sol = solve(p, "dsct-approx")
    assert check(p, sol).ok
    j = int(np.flatnonzero(sol.config >= 0)[0])
    c = int(sol.config[j])
    k = int(p.model[j])
    other = next(i for i in range(p.models.start[k], p.models.start[k + 1]) if i != c)
    bad = sol.config.copy()
    bad[j] = other  # names another configuration: work and accuracy no longer its own
    assert not check(p, dataclasses.replace(sol, config=bad)).ok
    acc = sol.accuracy.copy()
    acc[j] = float(p.models.accuracy[c]) + 0.01  # an accuracy its configuration does not reach
    assert not check(p, dataclasses.replace(sol, accuracy=acc, total_accuracy=float(acc.sum()))).ok
    assert not check(p, dataclasses.replace(sol, config=None)).ok


@pytest.mark.parametrize("algorithm", ["edf-nocompression", "edf-3levels"])
@pytest.mark.parametrize("kind", KINDS)
def test_baselines_choose_configurations(algorithm: str, kind: str) -> None:
    for seed in range(6):
        rng = np.random.default_rng(100 + seed)
        p = model_instance(rng, kind, int(rng.integers(1, 50)), int(rng.integers(1, 4)))
        sol = solve(p, algorithm)
        assert check(p, sol).ok, (algorithm, kind, seed, check(p, sol).violations)
        if algorithm == "edf-nocompression":  # only a model's most accurate configuration
            runs = np.flatnonzero((p.model >= 0) & (sol.machine >= 0))
            best = np.maximum.reduceat(p.models.accuracy, p.models.start[:-1])
            assert np.allclose(sol.accuracy[runs], best[p.model[runs]])


def test_refined_is_exact_on_one_machine_and_never_below_approx() -> None:
    """On one machine the assignment is forced, so dsct-refined's search over
    configurations must find the brute-force optimum (enumerating a configuration or
    nothing per task); on several, it is never below dsct-approx."""
    rng = np.random.default_rng(21)
    for _ in range(25):
        n = int(rng.integers(1, 6))
        p = _models_only(rng, n, 1, float(rng.uniform(0.3, 2.5)))
        sol = solve(p, "dsct-refined")
        assert check(p, sol).ok
        assert sol.total_accuracy == pytest.approx(_brute_force(p), abs=1e-9)
    for kind in KINDS:
        for seed in range(4):
            rng = np.random.default_rng(300 + seed)
            p = model_instance(rng, kind, int(rng.integers(1, 60)), int(rng.integers(1, 5)))
            refined, plain = solve(p, "dsct-refined"), solve(p, "dsct-approx")
            assert check(p, refined).ok, check(p, refined).violations
            assert refined.total_accuracy >= plain.total_accuracy - 1e-9


def test_upgrades_across_slack_blocks() -> None:
    """Machines with a multiple of the slack structure's block of tasks, and more: the last
    position of a block and of a machine are handled (a suffix past the end is empty)."""
    from app.solver import configs

    rng = np.random.default_rng(9)
    for n in (configs._BLOCK, 2 * configs._BLOCK, 2 * configs._BLOCK + 3):
        p = _models_only(rng, n, 1, 1.2)
        sol = solve(p, "dsct-approx")
        assert check(p, sol).ok


def test_exact_against_brute_force() -> None:
    """exact on batches of model tasks: proven optimal, equal to the enumeration of a machine
    and a configuration (or nothing) per task, n <= 6."""
    rng = np.random.default_rng(31)
    for i in range(20):
        n = 6 if i < 3 else int(rng.integers(1, 6))
        p = _models_only(rng, n, int(rng.integers(1, 3)), float(rng.uniform(0.3, 2.5)))
        sol = solve(p, "exact")
        assert check(p, sol).ok, check(p, sol).violations
        assert sol.status == "optimal"
        assert sol.total_accuracy == pytest.approx(_brute_force(p), abs=1e-6)
        assert sol.total_accuracy <= sol.proven_bound + 1e-9 <= sol.upper_bound + 2e-9


def test_exact_schedules_mixed_batches() -> None:
    """A batch mixing curve and model tasks is scheduled (tested against brute force in
    test_exact_mixed.py): feasible, never below dsct-best, within its proven bound."""
    for seed in range(3):
        p = model_instance(np.random.default_rng(4 + seed), "mixed_curves", 10, 2)
        sol = solve(p, "exact", time_limit=10.0)
        assert check(p, sol).ok, check(p, sol).violations
        assert sol.total_accuracy >= solve(p, "dsct-best").total_accuracy - 1e-9
        assert sol.total_accuracy <= sol.proven_bound + 1e-9 <= sol.upper_bound + 2e-9


@pytest.mark.parametrize("kind", KINDS)
def test_dsct_best_on_model_batches_never_loses_to_refined_approx_or_a_baseline(kind: str) -> None:
    """On a batch with model tasks dsct-best answers the best of its candidates, under its own
    name, feasible, without Theorem 3's guarantee (which covers curves only), and never below
    dsct-refined, dsct-approx, edf-nocompression or edf-3levels."""
    for seed in range(6):
        rng = np.random.default_rng(100 + seed)
        p = model_instance(rng, kind, int(rng.integers(1, 40)), int(rng.integers(1, 4)))
        best = solve(p, "dsct-best")
        assert best.algorithm == "dsct-best" and best.guarantee is None
        assert check(p, best).ok
        for other in ("dsct-refined", "dsct-approx", "edf-nocompression", "edf-3levels"):
            assert best.total_accuracy >= solve(p, other).total_accuracy - 1e-9, other
        assert best.total_accuracy <= best.upper_bound + 1e-9


def test_lee_song_refuses_model_tasks() -> None:
    from app.solver import ModelsUnsupportedError

    p = _models_only(np.random.default_rng(0), 5, 2, 1.0)
    with pytest.raises(ModelsUnsupportedError, match="edf-3levels-lee-song"):
        solve(p, "edf-3levels-lee-song")


def _reference_upgrades(p: Problem, machine: np.ndarray, work: np.ndarray, config: np.ndarray) -> tuple[np.ndarray, bool]:
    """The upgrade rule written plainly, O(n^2 C) a step: every model task's best upgrade
    within its limit now (its own deadline and every later running task's, from end times
    recomputed from scratch), the best of all (most accuracy per second, then fewer extra
    seconds, then the earlier position on its machine) made, until none fits. Also says
    whether rounding may decide a step: an upgrade within 1e-9 (relative) of its limit, or
    two upgrades on the chosen one's machine whose (ratio, extra seconds) differ by at most
    1e-9 (relative) without being equal."""
    ms = p.models
    work, config = work.copy(), config.copy()
    chains = [np.array([j for j in p.order if machine[j] == r], dtype=int) for r in range(p.m)]
    near = False
    while True:
        found = None
        keys: list[list[tuple[float, float]]] = [[] for _ in range(p.m)]
        for r, tasks in enumerate(chains):
            if tasks.shape[0] == 0:
                continue
            end = p.available_at[r] + np.cumsum(work[tasks] / p.speed[r])
            for q, j, limit in _model_places(p, tasks, end, work):
                for c2, gain, dt in _upgrades(p, j, config[j], p.speed[r]):
                    if gain > 0 and abs(dt - limit) <= 1e-9 * (abs(limit) + abs(dt) + end[-1]):
                        near = True
                    if gain > 0 and dt <= limit:
                        key = (-(np.inf if dt <= 0 else gain / dt), dt, q, c2)
                        keys[r].append(key[:2])
                        if found is None or key < found[0]:
                            found = (key, j, c2, r)
        if found is None:
            return config, near
        (ratio, dt, _, _), j, c2, r = found
        for other in keys[r]:
            if other != (ratio, dt) and abs(other[0] - ratio) <= 1e-9 * abs(ratio) and abs(other[1] - dt) <= 1e-9 * dt:
                near = True
        config[j], work[j] = c2, ms.work[c2]


def _model_places(p: Problem, tasks: np.ndarray, end: np.ndarray, work: np.ndarray):
    """The model tasks of a chain (``tasks`` back to back, ending at ``end``): their place
    ``q``, the task, and the most it may grow (its own slack and that of every later task
    that runs)."""
    for q, j in enumerate(tasks):
        if p.model[j] < 0:
            continue
        later = [p.deadline[i] - e for i, e in zip(tasks[q + 1:], end[q + 1:], strict=True) if work[i] > 0]
        yield q, j, min([p.deadline[j] - end[q], *later])


def _upgrades(p: Problem, j: int, c: int, speed: float):
    """Every configuration of model task ``j``'s model, as from configuration ``c`` (-1: none)
    on a machine of ``speed``: ``(configuration, accuracy gained, extra seconds)``."""
    ms, k = p.models, p.model[j]
    w0, a0 = (0.0, ms.a_min[k]) if c < 0 else (ms.work[c], ms.accuracy[c])
    for c2 in range(ms.start[k], ms.start[k + 1]):
        yield c2, ms.accuracy[c2] - a0, (ms.work[c2] - w0) / speed


def _assert_greedy_end(p: Problem, machine: np.ndarray, work: np.ndarray, config: np.ndarray) -> None:
    """Every machine's chain meets its deadlines (to rounding) and no model task has an
    upgrade that fits its limit by more than rounding: the pass stopped only when none fit."""
    for r in range(p.m):
        tasks = np.array([j for j in p.order if machine[j] == r], dtype=int)
        if tasks.shape[0] == 0:
            continue
        end = p.available_at[r] + np.cumsum(work[tasks] / p.speed[r])
        tol = 1e-9 * (1.0 + float(np.abs(end).max()) + float(np.abs(p.deadline[tasks]).max()))
        runs = work[tasks] > 0
        assert (end[runs] <= p.deadline[tasks][runs] + tol).all()
        for q, j, limit in _model_places(p, tasks, end, work):
            for c2, gain, dt in _upgrades(p, j, config[j], p.speed[r]):
                assert not (gain > 0 and dt < limit - tol), (r, q, c2)


def _plain_start(p: Problem, machine: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A plain rounding that fits: each machine's model tasks in order, the best
    configuration that fits a random share of the time left before their deadline, or none."""
    work = np.zeros(p.n)
    config = np.full(p.n, -1, dtype=np.int64)
    for r in range(p.m):
        t = p.available_at[r]
        for j in [j for j in p.order if machine[j] == r and p.model[j] >= 0]:
            room = (p.deadline[j] - t) * p.speed[r] * rng.uniform(0.0, 0.8)
            c = best_within(p, np.array([j]), np.array([room]))[0]
            if c >= 0:
                config[j], work[j] = c, p.models.work[c]
                t += work[j] / p.speed[r]
    return work, config


@pytest.mark.parametrize(("block", "lockstep"), [(4, 0), (4, 1 << 14), (64, 0), (64, 1 << 14), (4, 8)])
def test_upgrades_against_the_rule_written_plainly(block: int, lockstep: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The upgrade pass makes the upgrades of the rule applied one step at a time from
    scratch, whichever way a machine is run: alone (a queue and a heap, tasks that can no
    longer be upgraded dropped in bulk), in lockstep with the others (padded matrices), or
    some machines each way; limits in blocks (small blocks exercise them). Where rounding
    may decide a step (an upgrade within 1e-9 of its limit, two nearly equal ratios) the
    upgrades may differ; on every instance the result meets the deadlines and stops only
    when no upgrade fits. Most random instances have no such step, and on those the
    upgrades must be the same."""
    from app.solver import configs
    from app.solver.schedule import machine_chains

    monkeypatch.setattr(configs, "_BLOCK", block)
    monkeypatch.setattr(configs, "_LOCKSTEP", lockstep)
    monkeypatch.setattr(configs, "_SWEEP", 1)  # sweep the queue as often as it may
    rng = np.random.default_rng(21)
    same = 0
    for i in range(40):
        kind = KINDS[i % len(KINDS)]
        p = model_instance(rng, kind, int(rng.integers(1, 40)), int(rng.integers(1, 4)))
        machine = rng.integers(0, p.m, p.n)
        work, config = _plain_start(p, machine, rng)
        tasks = np.flatnonzero(p.model >= 0)
        expected, near = _reference_upgrades(p, machine, work, config)
        idx, starts = machine_chains(p, machine)
        configs.upgrade(p, idx, starts, machine, work, config)
        assert np.array_equal(work[tasks], np.where(config[tasks] >= 0, p.models.work[np.maximum(config[tasks], 0)], 0.0))
        _assert_greedy_end(p, machine, work, config)
        if not near:
            assert np.array_equal(config, expected), (kind, i)
            same += 1
    assert same >= 30


@pytest.mark.parametrize("block", [4, 64])
def test_upgrades_where_limits_meet_upgrades_exactly(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Works and deadlines on a grid of tenths, so that upgrades fit their limits exactly
    and ratios tie across tasks and configurations: through dsct-approx every schedule passes
    the checker and is never below plain rounding; through the pass alone, every result
    meets the deadlines and stops only when no upgrade fits, and the lockstep makes the
    upgrades of machines run alone, bit for bit."""
    from app.solver import configs
    from app.solver.schedule import machine_chains

    monkeypatch.setattr(configs, "_BLOCK", block)
    rng = np.random.default_rng(8)
    for i in range(30):
        p = tenths_instance(rng, int(rng.integers(1, 120)), int(rng.integers(1, 4)))
        sol = solve(p, "dsct-approx")
        assert check(p, sol).ok, (i, check(p, sol).violations)
        with monkeypatch.context() as patch:
            patch.setattr(approx, "upgrade", lambda *args: None)
            assert solve(p, "dsct-approx").total_accuracy <= sol.total_accuracy + 1e-12
        machine = rng.integers(0, p.m, p.n)
        work, config = _plain_start(p, machine, rng)
        idx, starts = machine_chains(p, machine)
        got_w, got_c = work.copy(), config.copy()
        configs.upgrade(p, idx, starts, machine, got_w, got_c)
        _assert_greedy_end(p, machine, got_w, got_c)
        with monkeypatch.context() as patch:
            patch.setattr(configs, "_LOCKSTEP", 0)
            configs.upgrade(p, idx, starts, machine, work, config)
        assert np.array_equal(got_c, config) and np.array_equal(got_w, work), i


def _any_start(p: Problem, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A machine per task and configurations that fit, drawn at random: each machine's model
    tasks in order take any configuration (not the best that fits, so dominated ones too)
    that ends by the deadline, or none."""
    machine = rng.integers(0, p.m, p.n)
    work = np.zeros(p.n)
    config = np.full(p.n, -1, dtype=np.int64)
    ms = p.models
    for r in range(p.m):
        t = p.available_at[r]
        for j in [j for j in p.order if machine[j] == r and p.model[j] >= 0]:
            k = p.model[j]
            fits = [c for c in range(ms.start[k], ms.start[k + 1]) if t + ms.work[c] / p.speed[r] <= p.deadline[j]]
            if fits and rng.random() < 0.7:
                c = int(rng.choice(fits))
                config[j], work[j] = c, ms.work[c]
                t += work[j] / p.speed[r]
    return machine, work, config


@dataclasses.dataclass(frozen=True)
class _Start:
    """A batch of model tasks with an arbitrary feasible start (:func:`_any_start`) and its
    chains by machine, as the upgrade pass takes them."""

    name: tuple[str, int]  # (kind, number), for failure messages
    p: Problem
    machine: np.ndarray
    work: np.ndarray
    config: np.ndarray
    idx: np.ndarray
    starts: np.ndarray

    def upgraded(self) -> tuple[np.ndarray, np.ndarray]:
        """Work and configuration per task after the upgrade pass (as configured now)."""
        from app.solver import configs

        work, config = self.work.copy(), self.config.copy()
        configs.upgrade(self.p, self.idx, self.starts, self.machine, work, config)
        return work, config


def _starts(seed: int, count: int, most: int):
    """``count`` batches of fewer than ``most`` model tasks of every kind on 1 to 3 machines,
    each with an arbitrary feasible start."""
    from app.solver.schedule import machine_chains

    rng = np.random.default_rng(seed)
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        p = model_instance(rng, kind, int(rng.integers(1, most)), int(rng.integers(1, 4)))
        machine, work, config = _any_start(p, rng)
        yield _Start((kind, i), p, machine, work, config, *machine_chains(p, machine))


@pytest.mark.parametrize("block", [4, 64])
def test_upgrades_in_lockstep_as_alone_from_any_start(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """From any feasible start (dominated configurations too, so that some machines meet an
    upgrade to less work and leave the lockstep for the queue and heap), the lockstep makes
    the upgrades every machine makes alone, bit for bit (one rounding of the limits, in
    blocks: small ones exercise them), and some starts do meet such an upgrade."""
    from app.solver import configs

    monkeypatch.setattr(configs, "_BLOCK", block)
    met = 0
    real = configs._upgrade_alone
    seen: list[int] = []

    def alone(*args, **kwargs):
        seen.append(len(args[8]))
        return real(*args, **kwargs)

    monkeypatch.setattr(configs, "_upgrade_alone", alone)
    for start in _starts(77, 60, 80):
        seen.clear()
        got_w, got_c = start.upgraded()
        met += bool(seen)
        with monkeypatch.context() as patch:
            patch.setattr(configs, "_LOCKSTEP", 0)
            want_w, want_c = start.upgraded()
        assert np.array_equal(got_c, want_c), start.name
        assert np.array_equal(got_w, want_w), start.name
    assert met > 0


def test_upgrades_the_same_with_every_table_or_those_in_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building every table of the models run (when they are few) or only those the tasks
    may reach gives the same upgrades: a table more changes the order of no two upgrades."""
    from app.solver import configs

    for start in _starts(13, 60, 80):
        results = []
        for every in (1 << 30, -1):
            with monkeypatch.context() as patch:
                patch.setattr(configs, "_ALL_TABLES", every)
                results.append(start.upgraded())
        assert np.array_equal(results[0][1], results[1][1]), start.name
        assert np.array_equal(results[0][0], results[1][0]), start.name


def test_upgrades_when_a_table_was_not_foreseen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables built for no reach at all (only those of the tasks' present configurations):
    every machine whose upgrade leads to a table not built leaves the lockstep and runs
    alone, and every machine makes the upgrades it makes alone."""
    from app.solver import configs

    monkeypatch.setattr(configs, "_ALL_TABLES", -1)  # not every table, however few

    class Short(configs._TableStore):
        def __init__(self, models, k, c, speed, room):
            super().__init__(models, k, c, speed, np.full_like(room, -np.inf))

    real = configs._upgrade_alone
    left: list[int] = []

    def alone(*args, **kwargs):
        left.append(len(args[8]))
        return real(*args, **kwargs)

    for start in _starts(12, 40, 60):
        with monkeypatch.context() as patch:
            patch.setattr(configs, "_LOCKSTEP", 0)
            want_w, want_c = start.upgraded()
        with monkeypatch.context() as patch:
            patch.setattr(configs, "_TableStore", Short)
            patch.setattr(configs, "_upgrade_alone", alone)
            got_w, got_c = start.upgraded()
        assert np.array_equal(got_c, want_c), start.name
        assert np.array_equal(got_w, want_w), start.name
    assert sum(left) > 0

"""DSCT-APPROX (paper: section VI-C, Algorithm 3, Theorem 3) and its refined variant.

``dsct-approx``
    1. the exact fractional relaxation (:mod:`app.solver.fractional`) gives each task its work;
    2. tasks in deadline order go to the machine that becomes free earliest, counting
       uncompressed loads (a task keeps its work, so it takes ``work / s_r`` there);
    3. on each machine, a task still running at its deadline is cut there and the tasks after
       it shift earlier.
    Guarantee (Theorem 3): ``upper_bound - total <= G = m A (1 + ln(theta_max/theta_min)/e)``.
    Complexity: the relaxation's, plus O(n log m) for the rounding. The rounding is one
    tight Python loop (a heap of machines); it is inherently sequential.

``dsct-refined``
    Keeps dsct-approx's assignment and re-solves each machine's own tasks optimally with the
    exact single-machine solver (all machines in one nested-constraints sweep). The cut
    schedule is feasible for each machine's problem, so it is never worse than dsct-approx
    and keeps the same guarantee. Complexity: twice the relaxation's.

``dsct-approx`` is the paper's algorithm, kept exactly; the default, ``dsct-best``
(:mod:`app.solver.best`), starts from its schedule and is never worse, so its guarantee
holds there too. ``dsct-refined`` costs a second sweep.
"""

from __future__ import annotations

import heapq

import numpy as np

from .configs import best_within, upgrade
from .fractional import FractionalSolution, fractional_relaxation, nested_allocation
from .knapsack import pareto_choices
from .problem import UNSCHEDULED, Problem, Solution
from .registry import register
from .schedule import (
    COMPRESSED_TO_ZERO,
    CUT_AT_DEADLINE,
    NO_FIT,
    machine_chains,
    make_solution,
    sequence_on_machines,
)


def list_schedule(problem: Problem, work: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Steps 2 and 3 of Algorithm 3: list scheduling in deadline order, then cut and shift.

    Every task (zero-work ones included, as in the paper) goes to the machine whose
    uncompressed load ends first (ties: lowest index). Returns ``machine``, ``start``,
    ``duration`` and ``cut`` (True where the deadline cut the task) per task. O(n log m).

    An uncut task's duration is ``work / speed``, never a difference of two large times (that
    would lose the digits of a short task that starts late); a cut task's is the time left
    before its deadline, and its work is then derived from it.
    """
    m = problem.m
    order = problem.order
    inv_speed = (1.0 / problem.speed).tolist()
    avail = problem.available_at.tolist()
    heap = [(avail[r], r) for r in range(m)]
    heapq.heapify(heap)
    end = list(avail)  # actual (cut and shifted) end of each machine
    n = problem.n
    mach = [0] * n
    st = [0.0] * n
    dur = [0.0] * n
    cut = [False] * n
    replace = heapq.heapreplace
    # Inherently sequential (each choice depends on all earlier loads): one tight loop over
    # plain Python floats (its cost per task is in docs/robustness.md).
    for k, w, d in zip(range(n), work[order].tolist(), problem.deadline[order].tolist()):  # noqa: B905
        load, r = heap[0]
        run_time = w * inv_speed[r]  # seconds on machine r at the task's work
        replace(heap, (load + run_time, r))
        e = end[r]
        fin = e + run_time
        if fin > d:  # cut at the deadline; the following tasks shift by the cut
            fin = d if d > e else e
            run_time = fin - e
            cut[k] = True
        end[r] = fin
        mach[k] = r
        st[k] = e
        dur[k] = run_time
    machine = np.empty(problem.n, dtype=np.int64)
    start = np.empty(problem.n)
    duration = np.empty(problem.n)
    was_cut = np.empty(problem.n, dtype=bool)
    machine[order] = mach
    start[order] = st
    duration[order] = dur
    was_cut[order] = cut
    return machine, start, duration, was_cut


def approx_from(problem: Problem, frac: FractionalSolution, name: str = "dsct-approx") -> Solution:
    """DSCT-APPROX's schedule from a solved relaxation (see :func:`dsct_approx`)."""
    machine, start, duration, cut = list_schedule(problem, frac.work)  # every task gets a machine
    work = np.where(cut, duration * problem.speed[machine], frac.work)
    # one reference per task to the two codes (a string array would copy a string per task,
    # and the rounding to configurations needs an object array to add its own code)
    reason = np.empty(problem.n, dtype=object)
    reason.fill(COMPRESSED_TO_ZERO)
    reason[cut] = CUT_AT_DEADLINE
    config = None
    if problem.n_model:
        start, duration, work, config, reason = round_to_configs(problem, machine, work, reason)
    return make_solution(
        problem, machine=machine, start=start, duration=duration, work=work,
        upper_bound=frac.upper_bound, algorithm=name, reason_if_empty=reason, config=config,
    )


def round_to_configs(problem: Problem, machine: np.ndarray, work: np.ndarray, reason: np.ndarray):
    """Model tasks from the time they were given to configurations, on a fixed assignment:
    each takes the most accurate configuration whose work fits its time
    (:func:`~app.solver.configs.best_within`); every machine's tasks then run back to back
    in deadline order (earlier, never later, than before); the time rounding freed goes to
    upgrades (:func:`~app.solver.configs.upgrade`: best accuracy gain per second first,
    only when every later task on the machine still meets its deadline). Never worse than
    the plain rounding. Returns start, duration, work, config and reason per task."""
    work = np.array(work, dtype=np.float64)
    config = np.full(problem.n, -1, dtype=np.int64)
    tasks = np.flatnonzero(problem.model >= 0)
    budget = work[tasks]
    chosen = best_within(problem, tasks, budget)
    config[tasks] = chosen
    work[tasks] = np.where(chosen >= 0, problem.models.work[np.maximum(chosen, 0)], 0.0)
    reason = np.array(reason, dtype=object)
    reason[tasks[(chosen < 0) & (budget > 0)]] = NO_FIT  # time given, but less than any configuration
    idx, starts = machine_chains(problem, machine)
    upgrade(problem, idx, starts, machine, work, config)
    start, duration = sequence_on_machines(problem, idx, starts, machine, work)
    return start, duration, work, config, reason


@register("dsct-approx", polynomial=True, guaranteed=True, models=True)
def dsct_approx(problem: Problem) -> Solution:
    """DSCT-APPROX, Algorithm 3 of the paper (section VI-C).

    O(n log n) for the relaxation's sort plus its sweep, and O(n log m) for the rounding.
    Tasks of measured models: the relaxation works on their envelopes, the list scheduling
    and cuts are the paper's, then :func:`round_to_configs` (O(n log n) plus the upgrades).
    """
    return approx_from(problem, fractional_relaxation(problem))


def solve_on_machines(problem: Problem, machine: np.ndarray, upper_bound: float, name: str,
                      relaxed: FractionalSolution | None = None) -> Solution:
    """Optimal schedule for a fixed assignment: each machine's own tasks solved exactly
    (section V: Algorithm 1's problem on one machine, machine ``r`` offering
    ``s_r (d - available_at_r)`` work by time ``d``), all machines in one sweep.

    ``relaxed``: the problem's relaxation, if solved; when one machine holds every task and
    its capacities are the relaxation's bit for bit (one machine, or the others free only
    after every deadline), the machines' problem is the relaxation's very chain, and its
    works are taken as they are (the same call on the same numbers) instead of solved again.
    """
    idx, starts = machine_chains(problem, machine)
    work = np.zeros(problem.n)
    if idx.shape[0]:
        cap = problem.machine_capacity(problem.deadline[idx], machine[idx])
        if relaxed is not None and _is_relaxed_chain(problem, idx, starts, cap):
            work[idx] = relaxed.work[idx]
        else:
            w, _ = nested_allocation(problem.family, idx, cap, starts)
            work[idx] = w
    start, duration = sequence_on_machines(problem, idx, starts, machine, work)
    machine = np.where(work > 0, machine, UNSCHEDULED)
    return make_solution(
        problem, machine=machine, start=start, duration=duration, work=work,
        upper_bound=upper_bound, algorithm=name,
    )


def _is_relaxed_chain(problem: Problem, idx: np.ndarray, starts: np.ndarray, cap: np.ndarray) -> bool:
    """Whether one chain ``idx`` with capacities ``cap`` is the chain
    :func:`~app.solver.fractional.fractional_relaxation` solves: every task, in its deadline
    order, under the aggregate capacity, equal bit for bit. O(n log m)."""
    return (starts.shape[0] == 1 and idx.shape[0] == problem.n and np.array_equal(idx, problem.order)
            and np.array_equal(cap, problem.capacity(problem.deadline[idx])))


@register("dsct-refined", polynomial=True, guaranteed=True, models=True)
def dsct_refined(problem: Problem) -> Solution:
    """DSCT-APPROX's assignment, then each machine re-solved exactly.

    Never worse than dsct-approx; same guarantee. O(n log n) plus two sweeps (one on a
    single machine, whose problem is the relaxation's: its works are the relaxation's).
    With tasks of measured models, each machine that runs one is re-optimised over its
    tasks' configurations (:func:`refine_models`).
    """
    frac = fractional_relaxation(problem)
    if problem.m == 1:  # list scheduling puts every task on the one machine
        machine = np.zeros(problem.n, dtype=np.int64)
    else:
        machine, _, _, _ = list_schedule(problem, frac.work)
    if problem.n_model:
        return refine_models(problem, machine, approx_from(problem, frac, "dsct-refined"), frac.upper_bound)
    return solve_on_machines(problem, machine, frac.upper_bound, "dsct-refined", frac)


#: total (states x choices x positions) the configuration search may spend on a problem:
#: the front of each machine is capped so that the whole search stays near this
REFINE_BUDGET = 1_000_000
MAX_STATES = 4096


def refine_models(problem: Problem, machine: np.ndarray, base: Solution, upper_bound: float) -> Solution:
    """dsct-approx's assignment (``machine``: every task's machine from the list scheduling),
    each machine that runs a model task re-optimised over its tasks' choices: a nested
    multiple-choice knapsack (:func:`~app.solver.knapsack.pareto_choices`) offering each
    model task its configurations and each curve task a few works, then the curve tasks
    re-solved exactly for the configurations chosen (:func:`nested_allocation` on what the
    model tasks leave of each prefix). A machine keeps ``base`` (dsct-approx's schedule)
    where that is better, so the result is never worse than dsct-approx.

    Guarantee: on a machine whose tasks are all model tasks, the optimum of that machine's
    problem (the best configurations for the assignment), as long as no Pareto front of the
    search passes its state cap (:data:`MAX_STATES`, lowered for large batches to keep the
    search within :data:`REFINE_BUDGET`); with curve tasks on the machine, the best among
    the works offered to them, then improved exactly. Cost: O(n S C log(S C)) for S states.

    A batch of at most :data:`LOCAL_SEARCH_MAX_N` tasks, all of models, also gets a local
    search over the assignment (:func:`_move_tasks`), kept when it scores more."""
    models = problem.models
    idx, starts = machine_chains(problem, machine)
    n_configs = float(np.diff(models.start).mean()) + 1.0
    max_states = int(min(MAX_STATES, max(16, REFINE_BUDGET // max(1.0, problem.n * n_configs))))
    work = np.zeros(problem.n)
    config = np.full(problem.n, -1, dtype=np.int64)
    bounds = np.append(starts, idx.shape[0]).tolist()
    model = problem.model
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        tasks = idx[lo:hi]
        if not (model[tasks] >= 0).any():
            continue
        r = int(machine[tasks[0]])
        cap = np.maximum(problem.machine_capacity(problem.deadline[tasks], r), 0.0)
        options = [_options(problem, int(j), float(c), float(base.work[j])) for j, c in zip(tasks, cap, strict=True)]
        picks, _ = pareto_choices([o[0] for o in options], [o[1] for o in options], cap, max_states)
        for j, (w, _, cfg), pick in zip(tasks.tolist(), options, picks, strict=True):
            work[j] = w[pick]
            if cfg is not None and pick > 0:
                config[j] = cfg[pick - 1]
    _resolve_curves(problem, machine, idx, starts, work)
    keep_base = _machines_where_better(problem, machine, base, work, config)
    take = keep_base[np.maximum(machine, 0)]
    work = np.where(take, base.work, work)
    config = np.where(take, base.config, config)
    if problem.n_model == problem.n and problem.n <= LOCAL_SEARCH_MAX_N and problem.m > 1:
        moved = _move_tasks(problem, machine, max_states)
        if moved is not None and moved[0] > _total(problem, work, config) + 1e-12:
            _, machine, work, config = moved
            idx, starts = machine_chains(problem, machine)
    start, duration = sequence_on_machines(problem, idx, starts, machine, work)
    return make_solution(
        problem, machine=np.where(work > 0, machine, UNSCHEDULED), start=start, duration=duration, work=work,
        upper_bound=upper_bound, algorithm="dsct-refined", config=config,
    )


#: batches of model tasks up to this many tasks also get a local search over the assignment
LOCAL_SEARCH_MAX_N = 64
_LOCAL_SEARCH_PASSES = 3


def _total(problem: Problem, work: np.ndarray, config: np.ndarray) -> float:
    on = problem.model >= 0
    acc = problem.accuracy(work)
    acc[on] = np.where(config[on] >= 0, problem.models.accuracy[np.maximum(config[on], 0)],
                       problem.models.a_min[problem.model[on]])
    return float(acc.sum())


def _machine_best(problem: Problem, tasks: list[int], r: int, max_states: int):
    """The best configurations of model tasks ``tasks`` (in deadline order) on machine
    ``r``: (total accuracy, configuration per task or -1)."""
    if not tasks:
        return 0.0, []
    t = np.array(tasks, dtype=np.int64)
    cap = np.maximum(problem.machine_capacity(problem.deadline[t], r), 0.0)
    options = [_options(problem, j, float(c), 0.0) for j, c in zip(tasks, cap.tolist(), strict=True)]
    picks, _ = pareto_choices([o[0] for o in options], [o[1] for o in options], cap, max_states)
    value = sum(float(o[1][p]) for o, p in zip(options, picks, strict=True))
    return value, [o[2][p - 1] if p > 0 else -1 for o, p in zip(options, picks, strict=True)]


def _move_tasks(problem: Problem, machine: np.ndarray, max_states: int):
    """Local search over the assignment of a small batch of model tasks: a task moves to
    another machine when the two machines' best configurations (:func:`_machine_best`)
    then score more; first improvement, tasks in deadline order, at most
    :data:`_LOCAL_SEARCH_PASSES` passes. Returns (total, machine, work, config)."""
    rank = problem.rank.tolist()
    assign = machine.tolist()
    on: list[list[int]] = [[] for _ in range(problem.m)]
    for j in problem.order.tolist():
        on[assign[j]].append(j)
    best = [_machine_best(problem, on[r], r, max_states) for r in range(problem.m)]
    for _ in range(_LOCAL_SEARCH_PASSES):
        improved = False
        for j in problem.order.tolist():
            r0 = assign[j]
            without = [i for i in on[r0] if i != j]
            src = _machine_best(problem, without, r0, max_states)
            for r in range(problem.m):
                if r == r0:
                    continue
                with_j = sorted(on[r] + [j], key=lambda i: rank[i])
                dst = _machine_best(problem, with_j, r, max_states)
                if src[0] + dst[0] > best[r0][0] + best[r][0] + 1e-12:
                    on[r0], on[r], best[r0], best[r] = without, with_j, src, dst
                    assign[j] = r
                    improved = True
                    break
        if not improved:
            break
    config = np.full(problem.n, -1, dtype=np.int64)
    for r in range(problem.m):
        for j, c in zip(on[r], best[r][1], strict=True):
            config[j] = c
    work = np.where(config >= 0, problem.models.work[np.maximum(config, 0)], 0.0)
    return sum(b[0] for b in best), np.array(assign, dtype=np.int64), work, config


def _options(problem: Problem, j: int, cap: float, had: float):
    """Task ``j``'s choices on its machine: (works, accuracies, configurations or None),
    the first always nothing."""
    k = int(problem.model[j])
    if k >= 0:
        ms = problem.models
        cs = np.arange(ms.start[k], ms.start[k + 1])
        return (np.concatenate(([0.0], ms.work[cs])), np.concatenate(([ms.a_min[k]], ms.accuracy[cs])), cs.tolist())
    most = min(float(problem.t_max[j]), cap)
    w = np.unique(np.array([0.0, min(had, most)] + [most * q for q in (0.25, 0.5, 0.75, 1.0)]))
    da = float(problem.a_max[j] - problem.a_min[j])
    return w, float(problem.a_min[j]) + da * -np.expm1(-float(problem.theta[j]) * w), None


def _resolve_curves(problem: Problem, machine: np.ndarray, idx: np.ndarray, starts: np.ndarray,
                    work: np.ndarray) -> None:
    """The curve tasks' works re-solved exactly (in place), on every machine that runs a
    model task, for the model tasks' works as they are: a curve prefix may use what every
    later prefix constraint leaves after the model tasks in it."""
    chains, caps = [], []
    bounds = np.append(starts, idx.shape[0]).tolist()
    model = problem.model
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        tasks = idx[lo:hi]
        is_model = model[tasks] >= 0
        if not is_model.any() or is_model.all():
            continue
        r = int(machine[tasks[0]])
        left = problem.machine_capacity(problem.deadline[tasks], r) - np.cumsum(np.where(is_model, work[tasks], 0.0))
        room = np.maximum(np.minimum.accumulate(left[::-1])[::-1], 0.0)
        chains.append(tasks[~is_model])
        caps.append(room[~is_model])
    if not chains:
        return
    sizes = np.array([c.shape[0] for c in chains])
    group_starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    cidx = np.concatenate(chains)
    w, _ = nested_allocation(problem.family, cidx, np.concatenate(caps), group_starts)
    work[cidx] = w


def _machines_where_better(problem: Problem, machine: np.ndarray, base: Solution, work: np.ndarray,
                           config: np.ndarray) -> np.ndarray:
    """Per machine, whether ``base`` scores more on that machine's tasks than the refined
    works and configurations."""
    acc = problem.accuracy(work)
    on = (problem.model >= 0)
    acc[on] = np.where(config[on] >= 0, problem.models.accuracy[np.maximum(config[on], 0)],
                       problem.models.a_min[problem.model[on]])
    mine = np.bincount(machine, weights=acc, minlength=problem.m)
    theirs = np.bincount(machine, weights=base.accuracy, minlength=problem.m)
    return theirs > mine

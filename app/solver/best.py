"""``dsct-best``: the default algorithm. DSCT-APPROX's schedule, improved, never worse.

The best of a few candidate schedules, each one an assignment of tasks to machines whose
machines are then solved exactly (section V's single-machine problem, through
:func:`app.solver.fractional.nested_allocation`), compared by the objective the problem
defines:

1. **DSCT-APPROX** (Algorithm 3 of section VI-C), as it is. Every other candidate has to beat
   it to be chosen, so ``upper_bound - total <= G`` (Theorem 3) holds for ``dsct-best`` too.
2. **Speed-aware list scheduling.** The relaxation's works (section VI-C), tasks in deadline
   order, each to the machine where it would *finish* earliest (``free_r + work / s_r``, a
   task still running at its deadline cut there, as in Algorithm 3), rather than to the
   machine that is *free* earliest. On machines of different speeds or busy until
   different times, DSCT-APPROX sends a task to a slow machine while a fast one would finish
   it sooner; this candidate does not. Machines of equal speed form a class kept in a heap
   (the one free first is the class's best), so a task costs O(classes + log m). With more
   than ``MAX_CLASSES`` distinct speeds, speeds are grouped geometrically into that many
   classes and the class's machine free first stands for it (a heuristic, still a valid
   assignment). Its machines are then solved exactly.
3. **The baselines** (section VII: ``edf-nocompression`` and ``edf-3levels``, and
   ``edf-3levels-lee-song``, the same three levels placed by Lee and Song's two-phase
   greedy), each re-solved machine by machine (never below the baseline's own schedule).
   They cost O(n m) each (Lee and Song's O(n^2 m) at worst, 10 to 35 times ``edf-3levels``
   at 100 tasks), several times the rest, so they are run only when they could win: each
   baseline gives every task one of a few fixed works (``t_max``, or the three compression
   levels of :func:`app.solver.baselines.level_works`, shared by both three-level
   baselines) or nothing, and Lagrangian duality on the relaxation's prefix constraints,
   with the relaxation's own prices as multipliers, bounds the total of any such schedule
   (:func:`baseline_bounds`, O(n + m log m)). When the schedule found so far already
   reaches that bound, the baseline cannot beat it and is not run; the cheaper ones run
   first, so a win of ``edf-3levels`` can rule Lee and Song's out. Above
   ``BASELINE_PAIRS`` task x machine pairs a baseline the bound does not rule out is not
   run either (it would take seconds to minutes): there, and only there, "never below a
   baseline" is not guaranteed (in the measured families the bound ruled them out in every
   batch of 1,000 tasks or more).
4. **Local search** (small batches only, with DSCT-APPROX's assignment re-solved, i.e.
   ``dsct-refined``, as one more starting point), bounded by a count of operations (never
   by time, so the answer is deterministic): in deadline order, each task is tried on every other machine that can
   run it, all the affected machines re-solved exactly in one sweep, and the best strict
   improvement kept. A pass costs about ``n (n + m + CALL_COST)`` operations; the search
   runs when a whole pass fits in ``LOCAL_SEARCH_WORK`` of them, and stops when they are
   spent (so only small batches, about 35 tasks or fewer, where a few misplaced tasks weigh
   most, pay for it).

Guarantees: feasible; never below ``dsct-approx`` (so within Theorem 3's ``G`` of
``upper_bound``); never below ``edf-nocompression``, ``edf-3levels`` or
``edf-3levels-lee-song`` (each either run or proven unable to win) up to ``BASELINE_PAIRS``
task x machine pairs (``LEE_SONG_WORK`` n^2 m operations for Lee and Song's); deterministic (ties by lowest index, budgets in operations).

Complexity: O(n log n) for the relaxation plus O(n (classes + log m)) for the speed-aware
assignment and one exact sweep per candidate; the baselines' O(n m) (Lee and Song's
O(n^2 m)) only when their bound does not rule them out; the local search at most ``LOCAL_SEARCH_WORK`` operations.

Generic pieces: candidates are compared by the problem's accuracy family's ``value`` (the
objective the problem defines, ``Problem.family``) and every machine is
solved by the single-machine exact solver, so another accuracy family (or per-task weights)
only changes those two.

Tasks of measured models: the candidates above give tasks a time, not a configuration, and
the baselines' bound assumes curve tasks, so a batch with model tasks gets the best of
``dsct-refined``'s schedule (DSCT-APPROX's assignment, each machine re-optimised over its
tasks' configurations), the speed-aware assignment re-optimised the same way, and the EDF
baselines' assignments re-optimised (never below their own schedules), reported under this
algorithm's name (:func:`_best_with_models`).
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from dataclasses import dataclass

import numpy as np

from .approx import approx_from, list_schedule, refine_models
from .baselines import edf_3levels, edf_3levels_lee_song, edf_nocompression, level_works
from .family import AccuracyFamily
from .fractional import FractionalSolution, fractional_relaxation, nested_allocation
from .problem import UNSCHEDULED, Problem, Solution
from .registry import register
from .schedule import machine_chains, make_solution, sequence_on_machines

__all__ = [
    "BASELINE_PAIRS",
    "LEE_SONG_WORK",
    "CALL_COST",
    "LOCAL_SEARCH_WORK",
    "MAX_CLASSES",
    "baseline_bounds",
    "dsct_best",
    "local_search",
    "single_machine_reach",
    "speed_aware_assignment",
    "speed_chains",
]

NAME = "dsct-best"
#: at most this many speed classes in the speed-aware assignment
MAX_CLASSES = 4
#: the local search's budget in operations: each call of the exact solver counts its tasks
#: plus ``CALL_COST`` (its fixed cost, in task equivalents)
LOCAL_SEARCH_WORK = 4_000
CALL_COST = 64
#: the baselines (O(n m) each) are run, when their bound does not rule them out, only up to
#: this many task x machine pairs (about a second each); larger batches keep O(n log n)
BASELINE_PAIRS = 1_000_000
#: batches with model tasks get the extra candidates (speed-aware, baselines) up to this many
#: tasks: each costs about one dsct-refined (0.5 s at 1e4 model tasks on 100 machines)
MODEL_CANDIDATES_TASKS = 20_000
#: ``edf-3levels-lee-song`` is O(n^2 m): it is run (when its bound does not rule it out) only
#: up to this many n^2 m operations, a few milliseconds; a batch of 512 tasks on 100 machines,
#: which the service may solve on its event loop, would take about 150 ms
LEE_SONG_WORK = 2_000_000
#: up to this many task x machine pairs, :func:`baseline_bounds` reads every machine's reach
#: directly (one array op) rather than through the upper envelope
_DIRECT_REACH = 4_096
#: relative margin for "strictly better" and for the baselines' bound
_RTOL = 1e-9


@dataclass(frozen=True, eq=False)
class Candidate:
    """An assignment with each machine solved exactly: ``work`` per task, ``value`` the total."""

    name: str
    machine: np.ndarray
    work: np.ndarray
    value: float
    chains: tuple[np.ndarray, np.ndarray] | None = None  # machine_chains(machine), when known


def _speed_classes(speed: np.ndarray) -> list[list[int]]:
    """Machines grouped by speed: one class per distinct speed, or geometric bands of speed
    when there are more than ``MAX_CLASSES`` distinct speeds. Each class in index order.
    O(m log m), in plain Python (m is small next to numpy's cost per call)."""
    speeds = speed.tolist()
    distinct = sorted(set(speeds))
    if len(distinct) <= MAX_CLASSES:
        rank = {v: k for k, v in enumerate(distinct)}
        key = [rank[v] for v in speeds]
    else:
        lo, hi = math.log(distinct[0]), math.log(distinct[-1])
        key = [min(int((math.log(v) - lo) / (hi - lo) * MAX_CLASSES), MAX_CLASSES - 1) for v in speeds]
    classes: dict[int, list[int]] = {}
    for r, k in enumerate(key):
        classes.setdefault(k, []).append(r)
    return [classes[k] for k in sorted(classes)]


def speed_aware_assignment(problem: Problem, work: np.ndarray) -> np.ndarray:
    """The machine of each task (-1: none) in :func:`speed_chains`' assignment."""
    return speed_chains(problem, work)[0]


def speed_chains(problem: Problem, work: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Tasks in deadline order, each to the machine where ``work`` would finish earliest.

    A task still running at its deadline is cut there (Algorithm 3's rule), so the machine's
    next task starts at the deadline. Within a speed class the machine free first (ties:
    lowest index) is the candidate. Tasks that no machine can start before their deadline are
    left unassigned. Returns the machine per task and the chains (tasks grouped by machine,
    each in deadline order, and where each machine's group starts), as
    :func:`app.solver.schedule.machine_chains` would. O(n (classes + log m)): a tight loop,
    inherently sequential.
    """
    p = problem
    classes = _speed_classes(p.speed)
    inv = (1.0 / p.speed).tolist()
    avail = p.available_at.tolist()
    # heap entries (free time, machine, 1 / speed): the class's machine free first on top
    heaps = [[(avail[r], r, inv[r]) for r in cls] for cls in classes]
    for h in heaps:
        heapq.heapify(h)
    first, rest = heaps[0], heaps[1:]
    first_free = min(avail)
    mach = [UNSCHEDULED] * p.n
    on: list[list[int]] = [[] for _ in range(p.m)]
    replace = heapq.heapreplace
    order = p.order.tolist()
    for j, w, d in zip(order, work[order].tolist(), p.deadline[order].tolist(), strict=True):
        if d <= first_free:
            continue
        bh = first
        free, br, iv = first[0]
        best = free + w * iv
        for h in rest:
            f, r, iv = h[0]
            fin = f + w * iv
            if fin < best or (fin == best and r < br):
                best, br, bh, free = fin, r, h, f
        end = best if best <= d else (d if d > free else free)
        replace(bh, (end, br, bh[0][2]))
        mach[j] = br
        on[br].append(j)
    idx = np.array([j for tasks in on for j in tasks], dtype=np.intp)
    starts, at = [], 0
    for tasks in on:
        if tasks:
            starts.append(at)
            at += len(tasks)
    return np.array(mach, dtype=np.int64), (idx, np.array(starts, dtype=np.intp))


def _solve_assignment(problem: Problem, family: AccuracyFamily, machine: np.ndarray, name: str,
                      chains: tuple[np.ndarray, np.ndarray] | None = None) -> Candidate:
    """Each machine's tasks solved exactly (section V), all machines in one sweep."""
    p = problem
    chains = chains if chains is not None else machine_chains(p, machine)
    idx, starts = chains
    work = np.zeros(p.n)
    if idx.shape[0]:
        cap = p.machine_capacity(p.deadline[idx], machine[idx])
        work[idx] = nested_allocation(family, idx, cap, starts)[0]
    value = float(np.add.reduce(family.value(work))) if p.n else 0.0
    return Candidate(name, machine, work, value, chains)


def _from_candidate(problem: Problem, cand: Candidate, upper_bound: float) -> Solution:
    idx, starts = cand.chains if cand.chains is not None else machine_chains(problem, cand.machine)
    start, duration = sequence_on_machines(problem, idx, starts, cand.machine, cand.work)
    machine = np.where(cand.work > 0, cand.machine, UNSCHEDULED)
    return make_solution(problem, machine=machine, start=start, duration=duration, work=cand.work,
                         upper_bound=upper_bound, algorithm=NAME)


def _best_with_models(p: Problem) -> Solution:
    """A batch with model tasks: the best of ``dsct-refined`` (DSCT-APPROX's assignment, each
    machine re-optimised over its tasks' configurations), the speed-aware assignment
    re-optimised the same way, and the two EDF baselines that schedule model tasks, each
    re-optimised on its own assignment (never below the baseline's schedule), the baselines
    up to ``BASELINE_PAIRS`` task x machine pairs. Ties go to the earlier candidate. Each
    candidate costs about one ``dsct-refined``: above ``MODEL_CANDIDATES_TASKS`` tasks only
    ``dsct-refined``'s schedule is answered."""
    frac = fractional_relaxation(p)
    a_machine, _, _, _ = list_schedule(p, frac.work)
    best = refine_models(p, a_machine, approx_from(p, frac, "dsct-refined"), frac.upper_bound)
    nobody = make_solution(p, machine=np.full(p.n, UNSCHEDULED), start=np.zeros(p.n),
                           duration=np.zeros(p.n), work=np.zeros(p.n), upper_bound=frac.upper_bound,
                           algorithm=NAME)
    if p.n > MODEL_CANDIDATES_TASKS:  # each candidate costs about a dsct-refined
        return dataclasses.replace(best, algorithm=NAME)
    s_machine = speed_aware_assignment(p, frac.work)
    candidates = [(s_machine, nobody)]
    if p.n * p.m <= BASELINE_PAIRS:
        for run in (edf_nocompression, edf_3levels):
            sol = run(p)
            candidates.append((sol.machine, sol))
    for machine, base in candidates:
        # a task nobody placed waits on machine 0: the re-optimisation may still fit it there
        cand = refine_models(p, np.where(machine >= 0, machine, 0), base, frac.upper_bound)
        if cand.total_accuracy > best.total_accuracy + _RTOL * max(1.0, abs(best.total_accuracy)):
            best = cand
    return dataclasses.replace(best, algorithm=NAME)


def single_machine_reach(problem: Problem, t: np.ndarray) -> np.ndarray:
    """``max_r s_r max(0, t - available_at_r)`` for each time in ``t``: the most work one
    machine can do by then. The upper envelope of the machines' lines ``s_r t - s_r a_r``
    (built in O(m log m), a convex-hull sweep over the lines by slope), then one
    ``searchsorted`` for all times: O((n + m) log m) instead of O(n m)."""
    p = problem
    # machines free only after every time in t do nothing by then (and s_r a_r may overflow)
    useful = p.available_at < (float(np.max(t)) if t.shape[0] else -math.inf)
    if not useful.any():
        return np.zeros(t.shape[0])
    speed, avail = p.speed[useful], p.available_at[useful]
    lines = sorted(zip(speed.tolist(), (-speed * avail).tolist(), strict=True))  # slope, intercept
    hull: list[tuple[float, float]] = []
    for slope, icpt in lines:
        if hull and hull[-1][0] == slope:
            hull.pop()  # same slope, sorted by intercept: the later one is higher
        while len(hull) >= 2:
            (s1, c1), (s2, c2) = hull[-2], hull[-1]
            # the middle line is never on top if the new one overtakes s1 no later than s2 does
            if (icpt - c1) * (s2 - s1) >= (c2 - c1) * (slope - s1):
                hull.pop()
            else:
                break
        hull.append((slope, icpt))
    slopes = np.array([h[0] for h in hull])
    icpts = np.array([h[1] for h in hull])
    # line k is on top from the crossing with line k - 1 on (slopes increase)
    cross = (icpts[:-1] - icpts[1:]) / (slopes[1:] - slopes[:-1])
    k = cross.searchsorted(t, side="right")
    return np.maximum(slopes[k] * t + icpts[k], 0.0)


def baseline_bounds(problem: Problem, family: AccuracyFamily, frac: FractionalSolution,
                    tables: list[np.ndarray]) -> list[float]:
    """For each table of works (one row per task, ``inf``: not available), an upper bound on
    the total of any schedule in which each task runs at one of the works of its row or not
    at all (the baselines' schedules are such schedules).

    Lagrangian duality on the relaxation's prefix constraints ``sum_{i <= k} w_i <= D(d_k)``
    (any schedule's works satisfy them): for prices ``lambda`` non-increasing in deadline
    order, ``sum_k lambda_k (D(d_k) - D(d_{k-1})) + sum_j max(0, max_l a_j(w_jl) - lambda_j
    w_jl)`` bounds every such schedule (plus ``a_min``). The prices are the relaxation's own
    (section V-B's KKT prices, non-increasing), so the bound is at most ``upper_bound``, and
    below it by what the fixed works lose. Works that no machine can do before the task's
    deadline are dropped. O(n L + (n + m) log m) for L works per task.
    """
    p = problem
    if p.n == 0:
        return [0.0] * len(tables)
    order = p.order
    deadline = p.deadline[order]
    if p.n * p.m <= _DIRECT_REACH:  # small: every machine at once is cheaper than the hull
        with np.errstate(over="ignore"):
            reach = np.max(p.machine_capacity(deadline), axis=1)
    else:
        reach = single_machine_reach(p, deadline)
    reach *= 1.0 + 1e-9
    task = order[:, None]  # family arrays indexed as one column: broadcast against the works
    a_min = p.a_min[task]
    cap = p.capacity(deadline)
    out = []
    # a price that overflows makes the bound inf or nan: then the baseline is simply run
    with np.errstate(over="ignore", invalid="ignore"):
        price = np.exp(frac.log_price[order])
        price = np.maximum.accumulate(price[::-1])[::-1]  # non-increasing, whatever the rounding
        dual = float(np.add.reduce(p.a_min)) + float(price @ np.diff(cap, prepend=0.0))
        price = price[:, None]
        for table in tables:
            w = table[order]
            w = np.where(w <= reach[:, None], w, 0.0)  # inf or out of reach: not usable
            net = np.max(family.value(w, task) - a_min - price * w, axis=1)
            out.append(dual + float(np.add.reduce(np.maximum(net, 0.0))))
    return [x if math.isfinite(x) else math.inf for x in out]


def _chains_value(problem: Problem, family: AccuracyFamily, chains: list[tuple[int, list[int]]]) -> np.ndarray:
    """The exact single-machine optimum (accuracy above ``a_min``) of each ``(machine,
    tasks in deadline order)`` chain, all in one sweep. Chains must be non-empty."""
    p = problem
    lengths = [len(tasks) for _, tasks in chains]
    idx = np.fromiter((j for _, tasks in chains for j in tasks), dtype=np.intp, count=sum(lengths))
    mach = np.repeat(np.array([r for r, _ in chains], dtype=np.intp), lengths)
    starts = np.zeros(len(chains), dtype=np.intp)
    np.cumsum(lengths[:-1], out=starts[1:])
    cap = p.machine_capacity(p.deadline[idx], mach)
    work = nested_allocation(family, idx, cap, starts)[0]
    return np.add.reduceat(family.value(work, idx) - p.a_min[idx], starts)


def small_enough_to_search(problem: Problem, budget: int = LOCAL_SEARCH_WORK) -> bool:
    """Whether one whole pass of :func:`local_search` fits in ``budget`` operations (and
    there is a choice of machine to make). Larger batches keep the cost of the candidates."""
    n, m = problem.n, problem.m
    return m >= 2 and n > 0 and n * (n + m + CALL_COST) <= budget


def local_search(problem: Problem, family: AccuracyFamily, cand: Candidate,
                 budget: int = LOCAL_SEARCH_WORK) -> Candidate:
    """Move single tasks between machines while it pays (module docs, step 4).

    Each pass takes the tasks in deadline order; a task's removal from its machine and its
    insertion into every other machine that can run it are solved exactly in one sweep, and
    the best strict gain is kept. Runs only when a whole pass fits in ``budget`` operations
    (about ``n (n + m + CALL_COST)``), then until the budget is spent or a pass gains
    nothing: deterministic, O(budget).
    """
    p = problem
    n, m = p.n, p.m
    if not small_enough_to_search(p, budget):
        return cand
    rank = np.empty(n, dtype=np.intp)
    rank[p.order] = np.arange(n)
    rank_l = rank.tolist()
    mach = cand.machine.tolist()
    gain = (family.value(cand.work) - p.a_min).tolist()
    sets: list[list[int]] = [[] for _ in range(m)]
    vals = [0.0] * m
    for j in p.order.tolist():
        if mach[j] >= 0:
            sets[mach[j]].append(j)
            vals[mach[j]] += gain[j]
    runs = p.deadline[:, None] > p.available_at[None, :]
    usable = [[r for r, ok in enumerate(row) if ok] for row in runs.tolist()]
    spent = 0
    while spent < budget:
        improved = False
        for j in p.order.tolist():
            if spent >= budget:
                break
            a = mach[j]
            targets = [b for b in usable[j] if b != a]
            if not targets:
                continue
            chains = [(b, sorted([*sets[b], j], key=rank_l.__getitem__)) for b in targets]
            rest = [i for i in sets[a] if i != j] if a >= 0 else []
            if rest:
                chains.append((a, rest))
            v = _chains_value(p, family, chains).tolist()
            spent += CALL_COST + sum(len(tasks) for _, tasks in chains)
            v_rest = v[-1] if rest else 0.0
            base_a = vals[a] if a >= 0 else 0.0
            total = sum(vals)
            best_gain, best_k = _RTOL * max(1.0, abs(total)), -1
            for k, b in enumerate(targets):
                g = v_rest + v[k] - base_a - vals[b]
                if g > best_gain:
                    best_gain, best_k = g, k
            if best_k < 0:
                continue
            b = targets[best_k]
            if a >= 0:
                sets[a], vals[a] = rest, v_rest
            sets[b], vals[b] = chains[best_k][1], v[best_k]
            mach[j] = b
            improved = True
        if not improved:
            break
    return _solve_assignment(p, family, np.array(mach, dtype=np.int64), "local search")


# never worse than dsct-approx; with floors, never worse than these algorithms' admissions
@register(NAME, polynomial=True, guaranteed=True, models=True,
          portfolio=("dsct-refined", "dsct-approx", "edf-nocompression", "edf-3levels"))
def dsct_best(problem: Problem) -> Solution:
    """The best of DSCT-APPROX, a speed-aware assignment, the baselines when they could win,
    and a bounded local search, every machine solved exactly (module docs).

    Never below ``dsct-approx`` (so Theorem 3's guarantee holds), ``edf-nocompression``,
    ``edf-3levels`` or ``edf-3levels-lee-song``. O(n log n + n (classes + log m)) plus the
    baselines' O(n m) (O(n^2 m)) when their bound does not rule them out; the local search at most ``LOCAL_SEARCH_WORK`` evaluations.
    A batch with tasks of measured models gets ``dsct-refined``'s schedule (module docs).
    """
    p = problem
    if p.n_model:
        return _best_with_models(p)
    family = p.family
    frac: FractionalSolution = fractional_relaxation(p, family)
    a_machine, _, a_duration, _ = list_schedule(p, frac.work)  # Algorithm 3's own schedule
    a_work = a_duration * p.speed[a_machine]
    a_value = float(np.add.reduce(family.value(a_work))) if p.n else 0.0
    s_machine, s_chains = speed_chains(p, frac.work)
    best = _solve_assignment(p, family, s_machine, "speed-aware", s_chains)
    if a_value > best.value:
        best = Candidate("dsct-approx", a_machine, a_work, a_value)
    if small_enough_to_search(p):  # DSCT-APPROX's assignment re-solved too (dsct-refined)
        refined = _solve_assignment(p, family, a_machine, "dsct-refined")
        best = max(best, refined, key=lambda c: c.value)
        best = max(best, local_search(p, family, best), key=lambda c: c.value)
    # the cheap ones first: once one of them wins, the bound may rule out the others
    bounds = baseline_bounds(p, family, frac, [p.t_max[:, None], level_works(p)])
    pairs = p.n * p.m
    baselines = (("edf-nocompression", edf_nocompression, bounds[0], pairs <= BASELINE_PAIRS),
                 ("edf-3levels", edf_3levels, bounds[1], pairs <= BASELINE_PAIRS),
                 ("edf-3levels-lee-song", edf_3levels_lee_song, bounds[1],  # same works as edf-3levels
                  p.n * pairs <= LEE_SONG_WORK))
    for name, run, bound, affordable in baselines:
        if best.value >= bound - 1e-12 * max(1.0, abs(bound)):
            continue  # the baseline cannot do better than what we have
        if not affordable:
            continue  # too large to run: documented limit of the guarantee
        cand = _solve_assignment(p, family, run(p).machine, name)
        if cand.value > best.value:
            best = cand
    if best.name == "dsct-approx":
        return approx_from(p, frac, NAME)
    return _from_candidate(p, best, frac.upper_bound)

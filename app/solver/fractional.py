"""The fractional relaxation of DSCT, solved exactly (paper: Lemmas 1-2, Algorithms 1-2).

Relaxing "one task, one machine" lets a task spread over all machines. With machines that
become free at different times, the machines then act as one machine whose capacity up to
time ``d`` is ``D(d) = sum_r s_r max(0, d - available_at_r)`` work units (Lemma 2 is the case
``available_at = 0``, ``D(d) = S d``). In deadline order the relaxation is

    maximise  sum_j a_j(w_j)   s.t.  sum_{i <= k} w_i <= D(d_k) for every k,  0 <= w_j <= t_max_j,

a separable concave maximisation under nested (prefix) constraints. Any schedule's works
satisfy the prefix constraints, so its optimum is an upper bound on every schedule.

We do **not** run the paper's O(n^3 log n) Algorithm 1. Its KKT structure (section V-B) says
that each task's marginal gain (its *price*) is non-increasing in deadline order and drops
only where a prefix constraint is tight. Dually the prices solve an isotonic regression with
separable convex losses, and at a uniform price ``p`` the tasks whose optimal price is at
least ``p`` are the deadline-ordered prefix minimising the cumulative slack
``D_k - sum_{i<=k} w_i(p)`` (the threshold theorem of isotonic regression). So:

1. take a segment of consecutive tasks whose boundary constraints are tight, and the one
   price at which its tasks use exactly its capacity (closed form for the exponential
   family, eq. 9, found by Newton on a piecewise-linear function: :mod:`app.solver.kernel`);
2. if every internal prefix constraint holds at that price, the segment is one block of the
   optimum; otherwise split it at the prefix of minimum slack (that constraint is tight and
   the prices on either side separate) and recurse.

Every level is a handful of whole-array numpy passes over the still-open segments
(``reduceat`` over contiguous runs), so a level costs O(n) and the whole solve
O(n log n) for the sort plus O(n * levels) for the sweep; the levels are O(log n) when
splits are balanced (on the paper's generator and the benchmarks they number 15-25 at
n = 1e6). Unbalanced splits could take O(n) levels (and slow prices up to 200 Newton
rounds each), so once the sweep has spent ``SWEEP_BUDGET`` passes per task the open segments
go to pool-adjacent-violators (O(n) on every family we know; its re-pricing is budgeted too,
and past that budget the sweep resumes). See Vidal, Jaillet and Maculan, "A
decomposition algorithm for nested resource allocation problems", SIAM J. Optim. 2016, for
the same decomposition principle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .family import AccuracyFamily
from .kernel import Stairs, WorkCurves
from .problem import Problem

__all__ = ["FractionalSolution", "fractional_relaxation", "nested_allocation"]

#: below this many tasks, plain-Python pool-adjacent-violators beats numpy's call overhead
SMALL_N = 512
_EPS = float(np.finfo(float).eps)
#: the sweep spends at most this many passes per task before handing over (:func:`sweep_budget`)
SWEEP_BUDGET = 128
_LEVEL_PASSES = 12  # whole-array passes of a level besides the Newton rounds
#: a ramp whose log-price moves by less than this many ulps of its top over all the work it
#: can ever take is solved as a step (:func:`_flat_as_steps`)
FLAT_ULPS = 16.0
#: from this many blocks on, pool-adjacent-violators first pools runs of violators
#: vectorised (:func:`_pool_ahead`), at most :data:`_POOL_ROUNDS` rounds: a round costs a
#: few numpy passes over the blocks, the plain-Python pass about 1 us a block
POOL_AHEAD_N = SMALL_N
_POOL_ROUNDS = 16
#: ... and while the runs of steps they walk add up to at most this many times the units
#: (a run pooled again is walked again: cascades of steps re-sort the same units)
_POOL_WALKS = 4
#: a level whose progress (the positions it closes plus the smaller half of each split) is
#: under 1/_STALL of the open positions hands over to pool-adjacent-violators
_STALL = 8


@dataclass(frozen=True, eq=False)
class FractionalSolution:
    """Optimal works of the relaxation, in the problem's task order.

    work        work units per task
    log_price   log of each task's marginal gain at the optimum (the KKT price); ``-inf``
                where the task runs uncompressed with slack to spare (price 0)
    upper_bound the optimal value, ``sum_j a_j(work_j)``
    """

    work: np.ndarray
    log_price: np.ndarray
    upper_bound: float


def nested_allocation(
    family: AccuracyFamily,
    idx: np.ndarray,
    cap: np.ndarray,
    group_starts: np.ndarray,
    rtol: float = 1e-12,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise ``sum a_i(w_i)`` under nested prefix constraints, for independent chains.

    ``idx`` lists the tasks (indices into ``family``) chain after chain, each chain in
    deadline order; chains begin at positions ``group_starts`` (sorted, first 0). ``cap[k]``
    is the work that positions from the start of its chain up to ``k`` may use in total (non-
    decreasing within a chain): the constraints are ``sum_{i <= k} w_i <= cap[k]``.
    Returns the works and log-prices per position. Chains are solved together, so one call
    handles the single aggregated machine of the relaxation or all machines of a schedule.

    A prefix constraint counts as violated when it is over by more than ``rtol`` times its own
    capacity ``cap[k]``: the test scales with each task's own numbers, whatever the scale of
    the chain around it.

    Complexity: below :data:`SMALL_N` positions, pool-adjacent-violators (O(n) on every chain
    we know of). Otherwise the level-wise sweep, O(n) per level and Newton round; once it
    has spent :func:`sweep_budget` (a fixed number of passes per task) whatever is still
    open is handed to pool-adjacent-violators, so inputs whose splits are unbalanced cost
    O(n) passes too.
    """
    n_all = idx.shape[0]
    if n_all == 0:
        return np.zeros(0), np.zeros(0)
    starts = np.asarray(group_starts, dtype=np.intp)
    if starts.shape[0] > 1:
        starts = np.unique(starts)
    cap = np.maximum(np.asarray(cap, dtype=np.float64), 0.0)
    ramps = family.ramps()
    if ramps.task_start is None:  # one unit per task
        # in chain order once, so every later pass reads memory sequentially
        return _nested_units(WorkCurves.of(ramps).take(idx), cap, starts, rtol)
    # several units per task: its units sit together at its position in the chain, under its
    # capacity (the constraints between them repeat the task's own and are implied by it)
    count = np.diff(ramps.task_start)[idx]
    unit_start = np.zeros(n_all + 1, dtype=np.intp)
    np.cumsum(count, out=unit_start[1:])
    unit = np.repeat(ramps.task_start[idx] - unit_start[:-1], count) + np.arange(unit_start[-1])
    w, x = _nested_units(WorkCurves.of(ramps).take(unit), np.repeat(cap, count), unit_start[starts], rtol)
    # a task's price is its last unit's (the lowest: prices do not increase along the chain)
    return np.add.reduceat(w, unit_start[:-1]), x[unit_start[1:] - 1]


def _nested_units(family: WorkCurves, cap: np.ndarray, starts: np.ndarray,
                  rtol: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nested_allocation` on units already in chain order (``cap`` per unit)."""
    n_all = cap.shape[0]
    family = _flat_as_steps(family, cap)
    work = np.zeros(n_all)
    log_price = np.full(n_all, -np.inf)
    cap_inc = np.maximum(np.diff(cap, prepend=0.0), 0.0)
    cap_inc[starts] = cap[starts]
    idx = np.arange(n_all)

    # (a unit writes at least one: more units than SMALL_N need no count)
    if n_all <= SMALL_N and family.unit_count() <= SMALL_N:
        small = _pav(family, cap_inc, starts)
        if small is not None:
            return small

    tol = rtol * cap  # how far each prefix constraint may be over: relative to its own capacity
    pos = np.arange(n_all)  # chain positions still open
    x0: np.ndarray | None = None
    spent = 0  # passes over one open position, summed over the levels and their Newton rounds
    budget = sweep_budget(n_all)
    steps = family.has_jumps or family.has_stairs
    stalled = False
    rounds = 0  # Newton rounds of the last level
    while pos.shape[0]:
        # unbalanced splits or slow prices: finish bottom-up, rather than start a level that
        # would pass the budget (priced at the last level's rounds)
        if spent + pos.shape[0] * (rounds + _LEVEL_PASSES) > budget or (stalled and budget < math.inf):
            rest = _pav(family.take(pos), cap_inc[pos], starts)
            if rest is not None:
                work[pos], log_price[pos] = rest
                break
            budget = math.inf
        n = pos.shape[0]
        lengths = np.diff(np.append(starts, n))
        seg_of = np.repeat(np.arange(starts.shape[0]), lengths)
        ci = cap_inc[pos]
        seg_cap = np.add.reduceat(ci, starts)
        x = family.block_price(idx[pos], starts, seg_cap, x0)
        rounds = getattr(family, "last_rounds", 1)
        spent += n * (rounds + _LEVEL_PASSES)
        xe = x[seg_of]
        # the levels above each segment's price, looked up once per segment
        above = family.stairs.above(x)[seg_of] if family.has_stairs else None
        w = family.work_at(xe, idx[pos], above)
        if steps:  # steps at a price share its residual: before the slack test
            w = _use_capacity(family, idx[pos], w, xe, x, None, starts, seg_of, seg_cap, above)

        # prefix slack inside each segment, at the segment's one-block price
        rel = _segment_cumsum(ci - w, starts, lengths, seg_of, tol[pos[starts]])
        last = starts + lengths - 1
        rel[last] = np.inf  # the segment's own end is not an internal constraint
        over = rel < -tol[pos]
        over[last] = False
        split = np.logical_or.reduceat(over, starts)
        seg_min = np.minimum.reduceat(rel, starts)
        if not steps:  # (with steps, spread above already)
            w = _use_capacity(family, idx[pos], w, xe, x, split, starts, seg_of, seg_cap)

        done = ~split[seg_of]
        work[pos[done]] = w[done]
        log_price[pos[done]] = xe[done]
        if not split.any():
            break

        # split each violating segment just after its prefix of minimum slack
        cand = np.flatnonzero(split[seg_of] & (rel == seg_min[seg_of]))
        _, first = np.unique(seg_of[cand], return_index=True)
        cut = cand[first] + 1  # first position of each right half
        # a level whose splits are lopsided peels a few positions off a few segments, and
        # such splits take O(n) levels: its progress is what it closed plus the smaller
        # half of each split
        left = cut - starts[split]
        smaller = np.minimum(left, lengths[split] - left)
        closed = n - int(np.count_nonzero(split[seg_of]))
        stalled = (_STALL * (closed + int(smaller.sum())) < n  # lopsided
                   and 4 * int(np.count_nonzero(split)) < 3 * split.shape[0])  # few segments split
        keep = split[seg_of]
        new_index = np.cumsum(keep) - 1  # position in the compacted arrays
        left_starts = new_index[starts[split]]
        right_starts = new_index[cut]
        starts = np.sort(np.concatenate((left_starts, right_starts)))
        # warm start both halves at the parent's price
        parent_x = x[split]
        x0 = np.empty(starts.shape[0])
        order = np.argsort(np.concatenate((left_starts, right_starts)), kind="stable")
        x0[:] = np.concatenate((parent_x, parent_x))[order]
        pos = pos[keep]
    return work, log_price


def _flat_as_steps(family: WorkCurves, cap: np.ndarray) -> WorkCurves:
    """The same curves with every ramp that is flat to rounding written as a step.

    A unit never takes more than its prefix capacity ``cap`` (its *reach*, with its ``u``).
    A ramp whose log-price drops by at most :data:`FLAT_ULPS` ulps of its top over its whole
    reach (``steep * reach``: ``theta`` times the work its window holds, 1e-60 for a task
    on a machine of speed 1e-60) has a constant price to rounding, but its work read back
    from a log-price, ``(top - x) / steep``, is all rounding: works that broke their
    deadlines by factors of 1e80 and bounds 4,000 times too low. As a one-step staircase of
    ``reach`` at ``top`` (the exact primitive for a linear piece) it is solved exactly; its
    value is unchanged to rounding. O(n); the curves are returned as they are when no
    ramp is flat (or when the family has staircases of its own)."""
    if family.has_stairs:
        return family
    reach = np.minimum(family.u, cap)
    with np.errstate(over="ignore", invalid="ignore"):
        drop = family.steep * reach
    flat = (reach > 0.0) & (family.steep > 0.0) & (drop <= FLAT_ULPS * _EPS * np.maximum(1.0, np.abs(family.top)))
    if not flat.any():
        return family
    k = int(np.count_nonzero(flat))
    stair = np.full(flat.shape[0], -1, dtype=np.intp)
    stair[flat] = np.arange(k)
    stairs = Stairs(top=family.top[flat], start=np.arange(k + 1), end=reach[flat])
    return WorkCurves(family.top, np.where(flat, 0.0, family.steep), np.where(flat, reach, family.u),
                      stair, stairs)


def _segment_cumsum(v: np.ndarray, starts: np.ndarray, lengths: np.ndarray, seg_of: np.ndarray,
                    tol: np.ndarray) -> np.ndarray:
    """Cumulative sums of ``v`` restarting at each segment, each accurate to rounding of its
    own segment's numbers.

    One running sum over every segment is exact enough where the sum carried in from the
    segments before (each ends near zero, up to its rounding) is negligible against the
    segment's own tolerance ``tol`` (at its first position, the smallest). Where it is not (a
    chain of tiny capacities after one of huge capacities), those segments are summed again
    on their own, by a doubling scan: O(their length x log of the longest), vectorised.
    """
    cs = np.cumsum(v)
    base = np.zeros(starts.shape[0])
    base[1:] = cs[starts[1:] - 1]
    rel = cs - base[seg_of]
    # the carried sum's rounding reaches each position with at most ~eps |base| per step
    polluted = 4.0 * _EPS * np.abs(base) * lengths >= 1e-3 * tol
    if polluted.any():
        sel = polluted[seg_of]
        sub = v[sel]
        sub_len = lengths[polluted]
        sub_starts = np.zeros(sub_len.shape[0], dtype=np.intp)
        np.cumsum(sub_len[:-1], out=sub_starts[1:])
        offset = np.arange(sub.shape[0]) - np.repeat(sub_starts, sub_len)
        step = 1
        longest = int(sub_len.max())
        while step < longest:
            shifted = np.zeros_like(sub)
            shifted[step:] = sub[:-step]
            sub = np.where(offset >= step, sub + shifted, sub)
            step *= 2
        rel[sel] = sub
    return rel


def sweep_budget(n: int) -> float:
    """Work the sweep may spend, in passes over one open position (each level costs its open
    positions times its Newton rounds plus a few passes), before what is still open goes to
    pool-adjacent-violators: ``SWEEP_BUDGET * n``. Balanced splits finish well within it (5
    to 10 levels of a few rounds on the benchmark generator up to n = 1e6); a chain that
    splits off a few tasks per level, or whose prices need many Newton rounds, would
    otherwise cost O(n) levels of O(n) each."""
    return SWEEP_BUDGET * n


def _use_capacity(family, idx, w, xe, x, split, starts, seg_of, cap, above=None) -> np.ndarray:
    """A tight block must use its capacity exactly. Works come from log-prices, whose
    rounding is ~1e-16 |ln price| / theta in absolute work: negligible unless a block's
    capacity is tiny. Spread the residual over the unconstrained tasks in work space.
    ``above``: the staircases' levels above ``xe`` (:meth:`~app.solver.kernel.Stairs.above`),
    if known. O(len(idx))."""
    tight = np.isfinite(x) if split is None else np.isfinite(x) & ~split
    if not tight.any():
        return w
    sens = family.shares(xe, idx, starts, seg_of, w, above) * tight[seg_of]
    total_sens = np.add.reduceat(sens, starts)
    resid = cap - np.add.reduceat(w, starts)
    u = family.u if idx is None else family.u[idx]
    stuck = tight & (total_sens == 0.0) & (resid != 0.0)
    if stuck.any():  # rounding put every ramp of the block at a bend (0 or u): those that
        # can move the residual's way take it, by the same sensitivities
        inv = family.inv if idx is None else family.inv[idx]
        r = resid[seg_of]
        movable = stuck[seg_of] & np.isfinite(inv) & (((r < 0.0) & (w > 0.0)) | ((r > 0.0) & (w < u)))
        sens = np.where(movable, inv, sens)
        total_sens = np.add.reduceat(sens, starts)
    # each task moves by its share of the residual, resid * sens / total_sens: the fraction
    # first, so that a residual over a tiny total sensitivity cannot overflow
    frac = sens / np.where(total_sens > 0.0, total_sens, np.inf)[seg_of]  # 0 where nothing can move
    return np.minimum(np.maximum(w + frac * resid[seg_of], 0.0), u)


def _pav(family: WorkCurves, cap_inc: np.ndarray,
         group_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_pav_small` on the chain, each staircase written as its steps
    (:meth:`~app.solver.kernel.WorkCurves.steps`: one unit per step, together at the task's
    place under the task's capacity, since the constraints between them repeat the task's
    own). Returns each task's work (the sum over its units) and price (its last unit's, the
    lowest), or None as :func:`_pav_small` does."""
    if not family.has_stairs:
        return _pav_small(family, cap_inc, group_starts)
    units, unit_start = family.steps()
    unit_cap = np.zeros(unit_start[-1])
    unit_cap[unit_start[:-1]] = cap_inc
    got = _pav_small(units, unit_cap, unit_start[group_starts])
    if got is None:
        return None
    w, x = got
    return np.add.reduceat(w, unit_start[:-1]), x[unit_start[1:] - 1]


def _block_columns(family: WorkCurves, cap_inc: np.ndarray, heads: np.ndarray,
                   cap: np.ndarray) -> list[np.ndarray]:
    """Per block (blocks of consecutive units beginning at ``heads``, block ``b`` taking
    ``cap[b]``): its log-price and its :data:`~app.solver.kernel.Piece`, as arrays ``x,
    slope, lin, fixed, xlo, xhi``; :meth:`~app.solver.kernel.WorkCurves.range_price`'s bit
    for bit (a one-unit block in closed form, the others by the vectorised breakpoint
    walk). O(n log n) at worst."""
    cols = family.singleton_pieces(cap_inc)  # right where a block is one unit
    if heads.shape[0] == cap_inc.shape[0]:  # every block is one unit
        return list(cols)
    cols = [c[heads] for c in cols]
    multi = np.diff(np.append(heads, cap_inc.shape[0])) > 1
    if multi.any():
        for c, got in zip(cols, family.run_pieces(heads, cap, multi), strict=True):
            c[multi] = got
    return cols


def _pool_ahead(family: WorkCurves, cap_inc: np.ndarray, heads: np.ndarray, new_chain: np.ndarray,
                cap: np.ndarray, cols: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Pool-adjacent-violators' first poolings, vectorised: every maximal run of blocks whose
    prices increase (within a chain) is pooled into one block at once, where that is exact
    (:func:`_pool_runs`); this repeats until no such run is left, at most
    :data:`_POOL_ROUNDS` rounds and while the walks over runs of steps have sorted at most
    :data:`_POOL_WALKS` times the units. Takes and returns the blocks (first units, which
    begin a chain, capacities and :func:`_block_columns`).

    The optimum's blocks are unions of these (a block whose price is below its right
    neighbour's pools with it in every order of pooling, and the pooled price lies between
    the two, below the next neighbour's when that one was higher still), so the plain-Python
    pass that finishes from them ends where it would have from the single tasks, with fewer
    poolings one at a time. Each round O(n) plus O(k log k) for the k units of the runs of
    steps it pools: O(n log n) in all (a fixed number of rounds, O(n) units walked)."""
    step = np.logical_and.reduceat(family.inv == math.inf, heads)  # blocks made only of steps
    walks = _POOL_WALKS * cap_inc.shape[0]  # units the walks may still sort
    for _ in range(_POOL_ROUNDS):
        x, nb = cols[0], heads.shape[0]
        joins = (x[1:] > x[:-1]) & ~new_chain[1:]  # block b + 1 pools with block b
        if not joins.any():
            break
        joins, got, walked = _pool_runs(family, cap_inc, heads, cols, step, joins)
        if not joins.any():
            break
        first = np.flatnonzero(np.concatenate(([True], ~joins)))
        grown = np.diff(np.append(first, nb)) > 1
        heads, new_chain, step = heads[first], new_chain[first], np.logical_and.reduceat(step, first)
        cap = np.add.reduceat(cap_inc, heads)
        cols = [c[first] for c in cols]
        for c, g in zip(cols, got, strict=True):
            c[grown] = g
        walks -= walked
        if walks < 0:
            break
    return heads, new_chain, cap, cols


def _pool_runs(family: WorkCurves, cap_inc: np.ndarray, heads: np.ndarray, cols: list[np.ndarray],
               step: np.ndarray, joins: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The runs of blocks ``joins`` would pool (block ``b + 1`` with block ``b`` where
    ``joins[b]``), kept where their pooled price is found as the one-at-a-time pass finds it
    in O(1): every task fits uncompressed (price 0), or the blocks' pieces summed hold at
    their root (eq. 9 on the summed piece); a run of steps only is priced by the vectorised
    walk (exact: sums of step sizes). Other runs are left to the one-at-a-time pass. Returns
    the joins kept and the pooled runs' :func:`_block_columns`, in run order."""
    nb = heads.shape[0]
    first = np.flatnonzero(np.concatenate(([True], ~joins)))
    grown = np.diff(np.append(first, nb)) > 1
    steps = np.logical_and.reduceat(step, first)
    unit_first = heads[first]
    cap = np.add.reduceat(cap_inc, unit_first)
    usum = np.add.reduceat(family.u, unit_first)
    fits = usum <= cap
    slope, lin, fixed = (np.add.reduceat(c, first) for c in cols[1:4])
    xlo = np.maximum.reduceat(cols[4], first)
    xhi = np.minimum.reduceat(cols[5], first)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        root = (lin - (cap - fixed)) / slope
    held = (slope > 0.0) & (xlo <= root) & (root <= xhi)
    bad = grown & ~(fits | held | steps)
    if bad.any():  # drop the runs priced neither way: their blocks stay apart
        drop = np.repeat(bad, np.diff(np.append(first, nb)))
        joins = joins & ~drop[1:]
        return _pool_runs(family, cap_inc, heads, cols, step, joins) if joins.any() else (joins, [], 0)
    sel = np.flatnonzero(grown)
    out = [root[sel], slope[sel], lin[sel], fixed[sel], xlo[sel], xhi[sel]]
    free = fits[sel]
    if free.any():  # price 0, each takes its u (as the one-at-a-time pass pools them)
        lomin = np.minimum.reduceat(family._saturation(), unit_first)[sel]
        for c, v in zip(out, (-np.inf, 0.0, 0.0, usum[sel], -np.inf, lomin), strict=True):
            c[free] = v[free] if isinstance(v, np.ndarray) else v
    walk = steps[sel] & ~free
    if walk.any():  # runs of steps only: the breakpoint walk over their units
        walked = np.zeros(first.shape[0], dtype=bool)
        walked[sel[walk]] = True
        got = family.run_pieces(unit_first, cap, walked)
        for c, g in zip(out, got, strict=True):
            c[walk] = g
    units = np.diff(np.append(unit_first, cap_inc.shape[0]))
    return joins, out, int(units[sel[walk]].sum())


def _pav_small(
    family: WorkCurves, cap_inc: np.ndarray, group_starts: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Pool-adjacent-violators on the dual, in plain Python, for small problems.

    Scans the chain in deadline order keeping a stack of blocks with non-increasing prices;
    a new block whose price exceeds the top's is pooled with it (the dual is an isotonic
    regression with separable convex losses, for which PAV is exact). Consecutive tasks
    whose capacity does not grow start pooled: the constraints before an equal capacity are
    implied by it. Each block carries the linear :data:`~app.solver.kernel.Piece` of its
    total work around its price (``total(x) = fixed + lin - x * slope`` on ``[xlo, xhi]``).
    Pooling costs O(1) when no task changes status (the two pieces add up and the root of
    the sum lies on both, eq. 9 on the pooled piece) and in O(1) too when the pooled
    tasks all fit uncompressed (running sums of ``u``); it re-prices the pooled range otherwise,
    O(its length): O(n) on typical chains, O(n^2) at worst, so the work is budgeted and
    ``None`` hands over to the vectorised sweep when the budget runs out. Used below
    ``SMALL_N`` tasks, where numpy's per-call overhead dominates (n = 100: ~160 us against
    ~730 us for the sweep).
    """
    n = cap_inc.shape[0]
    # runs of tasks whose capacity does not grow (never across chains) start as one block
    is_head = cap_inc > 0.0
    is_head[group_starts] = True
    heads = np.flatnonzero(is_head)
    chain_start = np.zeros(n, dtype=bool)
    chain_start[group_starts[1:]] = True
    new_chain = chain_start[heads]
    cap = cap_inc if heads.shape[0] == n else np.add.reduceat(cap_inc, heads)
    cols = _block_columns(family, cap_inc, heads, cap)
    if heads.shape[0] >= POOL_AHEAD_N:
        heads, new_chain, cap, cols = _pool_ahead(family, cap_inc, heads, new_chain, cap, cols)
    if ((cols[0][1:] > cols[0][:-1]) & ~new_chain[1:]).any():  # violators left: pool one by one
        got = _pool_stack(family, n, heads, new_chain, cap, cols)
        if got is None:
            return None
        heads, x = got
        cap = np.add.reduceat(cap_inc, heads)
    else:
        x = cols[0]
    seg_of = np.repeat(np.arange(heads.shape[0]), np.diff(np.append(heads, n)))
    xe = x[seg_of]
    w = family.work_at(xe, None)
    w = _use_capacity(family, None, w, xe, x, None, heads, seg_of, cap)
    return w, xe


def _pool_stack(family: WorkCurves, n: int, heads: np.ndarray, new_chain: np.ndarray, cap: np.ndarray,
                cols: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """The plain-Python pass of :func:`_pav_small` from the blocks beginning at ``heads``
    (``new_chain``: those that begin a chain; ``cap``: their capacities; ``cols``: their
    :func:`_block_columns`). Returns the pooled blocks' first units and prices, or None when
    the budget runs out."""
    heads = heads.tolist()
    caps = cap.tolist()
    prices = cols[0].tolist()
    pieces = zip(*(c.tolist() for c in cols[1:]), strict=True)
    new_chain = new_chain.tolist()
    u_of, lo_of = family.bounds()  # for pooling at price 0
    pool_price = family.pool_price
    budget = 40 * n + 400
    evals = 0
    # one tuple per block: (first task, end, capacity, price, slope, lin, fixed, xlo, xhi,
    # sum of u, min saturation price); a wall of price +inf below each chain's blocks, so
    # that chains never pool with each other and the stack is never empty
    wall = (0, 0, 0.0, math.inf, 0.0, 0.0, 0.0, -math.inf, math.inf, 0.0, 0.0)
    blocks: list[tuple] = [wall]
    push, pop = blocks.append, blocks.pop
    for a, k, cap, x, (slope, lin, fixed, xlo, xhi), chain in zip(
            heads, [*heads[1:], n], caps, prices, pieces, new_chain, strict=True):
        if chain:
            push(wall)
        if k - a == 1:
            usum, lomin = u_of[a], lo_of[a]
        else:
            usum, lomin = sum(u_of[a:k]), min(lo_of[a:k])
            evals += 3 * (k - a)
        while blocks[-1][3] < x:  # prices are finite or -inf: never past a wall
            mid = a
            a, _, prev_cap, prev_x, p_slope, p_lin, p_fixed, p_xlo, p_xhi, p_usum, p_lomin = pop()
            cap += prev_cap
            usum += p_usum
            lomin = p_lomin if p_lomin < lomin else lomin
            evals += 1
            if usum <= cap:  # every task fits uncompressed: price 0, each takes its u
                x, slope, lin, fixed, xlo, xhi = -math.inf, 0.0, 0.0, usum, -math.inf, lomin
                continue
            s2 = p_slope + slope
            if s2 > 0.0:
                lin2 = p_lin + lin
                fixed2 = p_fixed + fixed
                x2 = (lin2 - (cap - fixed2)) / s2
                lo2 = p_xlo if p_xlo > xlo else xlo
                hi2 = p_xhi if p_xhi < xhi else xhi
                if lo2 <= x2 <= hi2:  # both pieces hold at the pooled root: exact
                    x, slope, lin, fixed, xlo, xhi = x2, s2, lin2, fixed2, lo2, hi2
                    continue
                guess = x2
            else:
                guess = math.nan
            # some task changes status: re-price the pooled range, whose price lies
            # between the two blocks' prices, re-evaluating only the side that changes
            x, e, (slope, lin, fixed, xlo, xhi) = pool_price(
                a, mid, k, cap, prev_x, x, guess,
                (p_slope, p_lin, p_fixed, p_xlo, p_xhi), (slope, lin, fixed, xlo, xhi))
            evals += e
        if evals > budget:
            return None
        push((a, k, cap, x, slope, lin, fixed, xlo, xhi, usum, lomin))
    blocks = [blk for blk in blocks if blk is not wall]
    return np.array([blk[0] for blk in blocks], dtype=np.intp), np.array([blk[3] for blk in blocks])


def fractional_relaxation(problem: Problem, family: AccuracyFamily | None = None) -> FractionalSolution:
    """Exact optimum of the fractional relaxation (paper: Algorithm 2, Lemma 2).

    Sorts the tasks by deadline (stable), computes the aggregate capacity ``D(d_k)`` and solves
    the single nested chain with :func:`nested_allocation`. O(n log n + m log m) plus the
    sweep's levels.
    """
    fam = family if family is not None else problem.family
    order = problem.order
    cap = problem.capacity(problem.deadline[order])
    w_sorted, x_sorted = nested_allocation(fam, order, cap, np.zeros(1, dtype=np.intp))
    work = np.empty(problem.n)
    log_price = np.empty(problem.n)
    work[order] = w_sorted
    log_price[order] = x_sorted
    upper = float(np.add.reduce(fam.value(work))) if problem.n else 0.0
    return FractionalSolution(work=work, log_price=log_price, upper_bound=upper)

"""The paper's baselines (section VII), for comparison with DSCT-APPROX.

``edf-nocompression`` (EDF-NOCOMPRESSION, after Zhang et al. [37])
    Tasks in earliest-deadline-first order, each run uncompressed (``work = t_max``) or not
    at all. Machine choice is *worst fit*: among the machines where the task would finish by
    its deadline, the one that keeps the most room, i.e. the largest
    ``s_r (d_j - free_r)`` (ties: lowest index). Reading: the paper names worst-fit without
    defining it for heterogeneous speeds; room is measured in work units, the currency of
    ``t_max``. A task without ``t_max`` cannot run uncompressed: it is left unscheduled
    with reason ``unbounded_t_max``.

``edf-3levels`` (EDF-3COMPRESSIONLEVELS, after Lee and Song [27])
    Three compression levels reaching 1/3, 2/3 and 3/3 of the task's reachable accuracy
    range ``[a_min, a(t_max)]`` (the paper's 27%, 55% and 82% when a(t_max) = 0.82). Tasks in
    EDF order; each takes the highest level that fits before its deadline on some machine,
    on the machine where that level finishes earliest (ties: lowest index). Reading: the
    paper only says "a heuristic based on the accuracy for choosing the node and the
    compression level"; highest-accuracy-first with earliest finish is the natural one and
    is Lee and Song's quality-first rule. With ``t_max`` infinite the top level needs
    infinite work, so only the two lower levels are available.

Both are O(n m) (a vectorised O(m) scan per task, in EDF order: inherently sequential).
"""

from __future__ import annotations

import numpy as np

from .fractional import fractional_relaxation
from .problem import UNSCHEDULED, Problem, Solution
from .registry import register
from .schedule import NO_FIT, UNBOUNDED_T_MAX, make_solution


def _empty(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (np.full(n, UNSCHEDULED, dtype=np.int64), np.zeros(n), np.zeros(n), np.zeros(n),
            np.full(n, NO_FIT, dtype=object))


@register("edf-nocompression", polynomial=True)
def edf_nocompression(problem: Problem, **_options) -> Solution:
    """EDF-NOCOMPRESSION with worst-fit machine choice (section VII). O(n m)."""
    machine, start, duration, work, reason = _empty(problem.n)
    free = problem.available_at.copy()
    speed = problem.speed
    for j in problem.order.tolist():
        t = problem.t_max[j]
        if not np.isfinite(t):
            reason[j] = UNBOUNDED_T_MAX
            continue
        d = problem.deadline[j]
        finish = free + t / speed
        with np.errstate(over="ignore"):  # room past a deadline is never chosen
            room = np.where(finish <= d, speed * (d - free), -np.inf)
        r = int(np.argmax(room))
        if room[r] == -np.inf:
            continue
        machine[j], start[j], duration[j], work[j] = r, free[r], t / speed[r], t
        free[r] = finish[r]
    return make_solution(
        problem, machine=machine, start=start, duration=duration, work=work,
        upper_bound=fractional_relaxation(problem).upper_bound, algorithm="edf-nocompression",
        reason_if_empty=reason,
    )


def level_works(problem: Problem, levels: int = 3) -> np.ndarray:
    """Work needed per task (rows) to reach ``k/levels`` of its reachable accuracy range
    (columns, highest first). ``inf`` where unreachable (top level without ``t_max``)."""
    theta = problem.theta[:, None]
    with np.errstate(over="ignore"):  # theta * t_max may overflow to inf: reach is then 1
        reach = -np.expm1(-problem.theta * problem.t_max)[:, None]  # fraction of da reachable
    q = np.arange(levels, 0, -1)[None, :] / levels * reach
    with np.errstate(divide="ignore"):
        w = -np.log1p(-q) / theta
    top = np.isfinite(problem.t_max)
    w[:, 0] = np.where(top, problem.t_max, np.inf)  # exactly t_max, no rounding
    return w


@register("edf-3levels", polynomial=True)
def edf_3levels(problem: Problem, **_options) -> Solution:
    """EDF-3COMPRESSIONLEVELS (section VII): highest level that fits, earliest finish. O(n m)."""
    machine, start, duration, work, reason = _empty(problem.n)
    free = problem.available_at.copy()
    speed = problem.speed
    works = level_works(problem)
    for j in problem.order.tolist():
        d = problem.deadline[j]
        for w in works[j]:
            if not np.isfinite(w):
                continue
            finish = free + w / speed
            r = int(np.argmin(finish))
            if finish[r] <= d:
                machine[j], start[j], duration[j], work[j] = r, free[r], w / speed[r], w
                free[r] = finish[r]
                break
    return make_solution(
        problem, machine=machine, start=start, duration=duration, work=work,
        upper_bound=fractional_relaxation(problem).upper_bound, algorithm="edf-3levels",
        reason_if_empty=reason,
    )


@register("edf-3levels-lee-song", polynomial=True)
def edf_3levels_lee_song(problem: Problem, **_options) -> Solution:
    """EDF-3COMPRESSIONLEVELS as the paper's section VII builds it after Lee and Song [27].

    Lee and Song's two-phase greedy ("first satisfies deadlines with low quality, then
    redistributes the workload to improve that quality while continuing to meet the
    deadlines"), with the three levels of :func:`level_works` as its presets:

    1. *Deadlines first.* In EDF order, each task takes its lowest level (the preset with the
       minimum processing time) on the machine where it finishes earliest; a task whose
       lowest level misses its deadline everywhere is left unscheduled (reason ``no_fit``).
    2. *Quality next.* Repeatedly, among every task and every machine, raise one task by one
       level, on its machine or moved to another one, where the accuracy gained per second
       of machine time added is largest (a change that adds no time first), provided every
       task on the machines involved still meets its deadline; stop when none fits. A task
       left out in phase 1 may enter here at its lowest level.

    Each machine runs its tasks in EDF order from its ``available_at``. Ties go to the lowest
    task rank, then the lowest machine index. At most ``3 n`` raises, each an O(n m)
    vectorised scan: O(n^2 m).
    """
    p = problem
    n, m = p.n, p.m
    order = p.order
    works = level_works(p)[order, ::-1]  # (rank, level), lowest level first
    acc = p.a_min[order, None] + p.delta_a[order, None] * -np.expm1(
        -p.theta[order, None] * np.where(np.isfinite(works), works, 0.0))
    d = p.deadline[order]
    speed, avail = p.speed, p.available_at
    times = works[:, :, None] / speed[None, None, :]  # (rank, level, machine), inf if unreachable
    node = np.full(n, UNSCHEDULED, dtype=np.int64)
    level = np.full(n, -1, dtype=np.int64)
    # phase 1: lowest level, earliest finish, in EDF order (inherently sequential)
    free = avail.copy()
    for k in range(n):
        finish = free + times[k, 0]
        r = int(np.argmin(finish))
        if finish[r] <= d[k]:
            node[k], level[k], free[r] = r, 0, finish[r]
    # phase 2: best gain per added time, one level at a time
    ranks = np.arange(n)
    for _ in range(3 * n):
        on = node[:, None] == np.arange(m)[None, :]  # (rank, machine)
        cur_t = np.where(level >= 0, times[ranks, np.maximum(level, 0), np.maximum(node, 0)], 0.0)
        dur = np.where(on, cur_t[:, None], 0.0)
        finish = avail[None, :] + np.cumsum(dur, axis=0)
        before = finish - dur  # when the machine gets to rank k
        slack = np.where(on, d[:, None] - finish, np.inf)
        suffix = np.minimum.accumulate(slack[::-1], axis=0)[::-1]  # min slack from rank k on
        after = np.vstack((suffix[1:], np.full((1, m), np.inf)))  # strictly after rank k
        up = level + 1
        can = up < 3
        new_t = times[ranks, np.minimum(up, 2), :]  # (rank, machine)
        new_t = np.where(can[:, None] & np.isfinite(new_t), new_t, np.inf)
        added = new_t - cur_t[:, None]
        stay = on & (added <= suffix)
        move = ~on & (before + new_t <= d[:, None]) & (new_t <= after)
        ok = (stay | move) & np.isfinite(new_t)
        if not ok.any():
            break
        cur_acc = np.where(level >= 0, acc[ranks, np.maximum(level, 0)], p.a_min[order])
        gain = acc[ranks, np.minimum(up, 2)] - cur_acc
        free_gain = np.where(ok & (added <= 0.0), gain[:, None], -np.inf)
        if np.isfinite(free_gain).any():
            k, r = np.unravel_index(int(np.argmax(free_gain)), free_gain.shape)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(ok, gain[:, None] / added, -np.inf)
            k, r = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        node[k], level[k] = r, up[k]
    # start times: each machine runs its tasks in EDF order from its available_at
    machine, start, duration, work, reason = _empty(n)
    free = avail.copy()
    for k in np.flatnonzero(level >= 0).tolist():
        j, r = int(order[k]), int(node[k])
        t = times[k, level[k], r]
        machine[j], start[j], duration[j], work[j] = r, free[r], t, works[k, level[k]]
        free[r] += t
    return make_solution(
        problem, machine=machine, start=start, duration=duration, work=work,
        upper_bound=fractional_relaxation(problem).upper_bound, algorithm="edf-3levels-lee-song",
        reason_if_empty=reason,
    )

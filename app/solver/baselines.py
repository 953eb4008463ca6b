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

Tasks of measured models: a model's *levels* are its configurations that no other beats
(more accurate for no more work), most accurate first (:func:`model_levels`).
``edf-nocompression`` runs a model task's most accurate configuration or nothing;
``edf-3levels`` tries its levels in that order, as it tries a curve task's three levels.
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


def model_levels(problem: Problem) -> list[list[int]]:
    """Per model, its configurations that no other beats (more accurate for no more work),
    most accurate first (ties: least work, then lowest index): the levels the baselines
    try for a model task, as ``edf-3levels`` tries a curve task's three levels. O(C log C)."""
    models = problem.models
    out = []
    for k in range(models.count):
        cs = range(int(models.start[k]), int(models.start[k + 1]))
        ranked = sorted(cs, key=lambda c: (-models.accuracy[c], models.work[c], c))
        kept: list[int] = []
        for c in ranked:  # each kept one needs strictly less work than the more accurate ones
            if not kept or models.work[c] < models.work[kept[-1]]:
                kept.append(c)
        out.append(kept)
    return out


@register("edf-nocompression", polynomial=True, models=True)
def edf_nocompression(problem: Problem) -> Solution:
    """EDF-NOCOMPRESSION with worst-fit machine choice (section VII). O(n m).

    A model task runs its most accurate configuration (its model uncompressed) or nothing."""
    machine, start, duration, work, reason = _empty(problem.n)
    free = problem.available_at.copy()
    speed = problem.speed
    t_max = problem.t_max.copy()
    config = None
    if problem.n_model:
        tops = np.array([lv[0] for lv in model_levels(problem)], dtype=np.int64)
        on = problem.model >= 0
        config = np.where(on, tops[np.maximum(problem.model, 0)], -1)
        t_max[on] = problem.models.work[config[on]]
    for j in problem.order.tolist():
        t = t_max[j]
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
        reason_if_empty=reason, config=config,
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


@register("edf-3levels", polynomial=True, models=True)
def edf_3levels(problem: Problem) -> Solution:
    """EDF-3COMPRESSIONLEVELS (section VII): highest level that fits, earliest finish. O(n m).

    A model task's levels are its model's configurations that no other beats, most accurate
    first (:func:`model_levels`): it takes the most accurate one that fits before its
    deadline on some machine, on the machine where it finishes earliest, as a curve task
    takes the highest of its three levels. O(n m C) with C configurations per model."""
    machine, start, duration, work, reason = _empty(problem.n)
    free = problem.available_at.copy()
    speed = problem.speed
    works = level_works(problem)
    config = None
    if problem.n_model:
        levels = model_levels(problem)
        config = np.full(problem.n, -1, dtype=np.int64)
    for j in problem.order.tolist():
        d = problem.deadline[j]
        k = -1 if config is None else int(problem.model[j])
        choices = works[j].tolist() if k < 0 else [problem.models.work[c] for c in levels[k]]
        for i, w in enumerate(choices):
            if not np.isfinite(w):
                continue
            finish = free + w / speed
            r = int(np.argmin(finish))
            if finish[r] <= d:
                machine[j], start[j], duration[j], work[j] = r, free[r], w / speed[r], w
                free[r] = finish[r]
                if k >= 0:
                    config[j] = levels[k][i]
                break
    return make_solution(
        problem, machine=machine, start=start, duration=duration, work=work,
        upper_bound=fractional_relaxation(problem).upper_bound, algorithm="edf-3levels",
        reason_if_empty=reason, config=config,
    )

"""The thin layer between a parsed request (:class:`app.batch.Batch`) and the solver, and
from the solver's arrays back to the response.

``check_batch``: a parsed batch -> the solver's :class:`app.solver.Problem` and every problem
found on the way: the server's limits, duplicate ids, the algorithm name, then the solver's
own checks of the numbers (:class:`app.solver.Problem` is the one judge of values whose
combination overflows, ``numeric_range``), so ``POST /schedule`` and ``POST
/schedule/validate`` give the same verdict.
``to_response``: a :class:`app.solver.Solution` -> the response body of docs/api.md,
as plain dicts and lists ready for ``json.dumps``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.batch import NULL_NUMBER, Batch
from app.catalogue import catalogue
from app.errors import Issue, issues_from_domain
from app.solver import (
    ALGORITHMS,
    UNSCHEDULED,
    DomainError,
    Models,
    Problem,
    Solution,
    UnknownAlgorithmError,
    floors_refusal,
    models_refusal,
)

__all__ = ["check_batch", "check_limits", "check_models", "priorities", "to_problem", "to_response"]

_min, _max = np.minimum.reduce, np.maximum.reduce


@dataclass(frozen=True)
class UsedModels:
    """The models a batch's tasks name, in order of first use, as the solver's
    :class:`Models` wants them, and each configuration's id for the response."""

    model: list[int]
    models: Models
    config_ids: list[str]


def check_limits(n: int, m: int, max_tasks: int, max_machines: int) -> list[Issue]:
    out = []
    if n > max_tasks:
        out.append(Issue("too_many_tasks", ("tasks",), f"{n} tasks, over the limit of {max_tasks}"))
    if m > max_machines:
        out.append(Issue("too_many_machines", ("machines",), f"{m} machines, over the limit of {max_machines}"))
    return out


def _duplicates(kind: str, ids: Sequence[str]) -> list[Issue]:
    if len(set(ids)) == len(ids):
        return []
    first: dict[str, int] = {}
    out = []
    for i, x in enumerate(ids):
        j = first.setdefault(x, i)
        if j != i:
            out.append(Issue("duplicate_id", (kind, i, "id"), f"duplicate {kind[:-1]} id {x!r} (first at {kind}[{j}])"))
    return out


def _model_columns(batch: Batch) -> tuple[list[str], list[float], list[list[Any]]]:
    models = batch.models or {}
    return list(models.get("id", [])), list(np.asarray(models.get("a_min", [])).tolist()), list(models.get("configs", []))


def _model_limits(batch: Batch, max_models: int, max_configs: int) -> list[Issue]:
    ids, _, configs = _model_columns(batch)
    out = []
    if len(ids) > max_models:
        out.append(Issue("too_many_models", ("models",), f"{len(ids)} models, over the limit of {max_models}"))
    for i, cs in enumerate(configs):
        if len(cs) > max_configs:
            out.append(Issue("too_many_configs", ("models", i, "configs"),
                             f"{len(cs)} configurations, over the limit of {max_configs} per model"))
    return out


def check_models(batch: Batch) -> list[Issue]:
    """Every problem with the batch's measured models beyond the schema: duplicate model
    ids, duplicate configuration ids within a model, an accuracy below its model's
    ``a_min``, a task naming a model that is neither in the batch nor in the catalogue.
    O(models' configurations + n)."""
    ids, a_mins, configs = _model_columns(batch)
    out = _duplicates("models", ids)
    for i, (a_min, cs) in enumerate(zip(a_mins, configs, strict=True)):
        seen: dict[str, int] = {}
        for c, cfg in enumerate(cs):
            first = seen.setdefault(cfg.id, c)
            if first != c:
                out.append(Issue("duplicate_id", ("models", i, "configs", c, "id"),
                                 f"duplicate config id {cfg.id!r} in model {ids[i]!r} (first at configs[{first}])"))
            if not cfg.accuracy >= a_min:
                out.append(Issue("invalid_request", ("models", i, "configs", c, "accuracy"),
                                 f"accuracy {cfg.accuracy} is below the model's a_min {a_min}", "accuracy_below_a_min"))
    known = set(ids) | set(catalogue())
    for j, name in enumerate(batch.tasks.get("model", ())):
        if name is not None and name not in known:
            out.append(Issue("unknown_model", ("tasks", j, "model"),
                             f"unknown model {name!r}: not in this batch's models[] nor in the catalogue (GET /models)"))
    return out


def _names_models(batch: Batch) -> bool:
    return any(x is not None for x in batch.tasks.get("model", ()))


def check_batch(batch: Batch, max_tasks: int, max_machines: int, max_models: int = 1_000,
                max_configs: int = 1_000) -> tuple[Problem | None, list[Issue]]:
    """The solver's problem for ``batch`` (``None`` when anything is wrong) and every problem
    with the batch beyond its schema, in a stable order: the limits (alone: nothing more is
    looked at past them), duplicate ids, the measured models' problems, an unknown
    algorithm or one that cannot schedule the batch's model tasks, then the first value the
    solver's domain check refuses, then an algorithm that cannot honour the batch's
    accuracy floors (:func:`app.solver.floors_refusal`, the solver's own judge).
    O(n + m + configurations)."""
    issues = check_limits(batch.n, batch.m, max_tasks, max_machines) + _model_limits(batch, max_models, max_configs)
    if issues:
        return None, issues
    issues += _duplicates("machines", batch.machine_ids)
    issues += _duplicates("tasks", batch.task_ids)
    model_issues = check_models(batch)
    issues += model_issues
    if batch.algorithm not in ALGORITHMS:  # the registry's error and words
        issues += issues_from_domain(UnknownAlgorithmError(batch.algorithm))
    else:
        named = sum(x is not None for x in batch.tasks.get("model", ()))
        refusal = models_refusal(batch.algorithm, named)
        if refusal is not None:
            issues += issues_from_domain(refusal)
    if model_issues:  # the problem cannot be built: its models are not all known and sound
        return None, issues
    try:
        problem = to_problem(batch)
    except DomainError as exc:
        return None, issues + issues_from_domain(exc)
    if batch.algorithm in ALGORITHMS:
        refusal = floors_refusal(batch.algorithm, problem)
        if refusal is not None:
            issues += issues_from_domain(refusal)
    return (None if issues else problem), issues


def used_models(batch: Batch) -> UsedModels | None:
    """The models the batch's tasks name (the batch's own first, then the catalogue's), in
    order of first use; ``None`` when no task names one. Assumes :func:`check_models`
    found nothing. O(n + their configurations)."""
    names = batch.tasks.get("model", ())
    if not _names_models(batch):
        return None
    ids, a_mins, configs = _model_columns(batch)
    own = {x: (a, cs) for x, a, cs in zip(ids, a_mins, configs, strict=True)}
    shelf = catalogue()
    index: dict[str, int] = {}
    task_model = []
    first, work, accuracy, a_min, config_ids = [0], [], [], [], []
    for name in names:
        if name is None:
            task_model.append(-1)
            continue
        k = index.get(name)
        if k is None:
            k = index[name] = len(index)
            a, cs = own[name] if name in own else (shelf[name].a_min, shelf[name].configs)
            a_min.append(a)
            for cfg in cs:
                work.append(cfg.work)
                accuracy.append(cfg.accuracy)
                config_ids.append(cfg.id)
            first.append(len(work))
        task_model.append(k)
    return UsedModels(task_model, Models(a_min=a_min, start=first, work=work, accuracy=accuracy), config_ids)


def to_problem(batch: Batch, used: UsedModels | None = None) -> Problem:
    """Parsed batch -> the solver's problem (validated there, for the solver's own domain;
    raises :class:`app.solver.DomainError`). O(n + m + the models' configurations)."""
    t, mc = batch.tasks, batch.machines
    used = used if used is not None else used_models(batch)
    weight, floor = priorities(batch)
    return Problem(
        deadline=t["deadline"], theta=t["theta"], a_min=t["a_min"], a_max=t["a_max"], t_max=t["t_max"],
        speed=mc["speed"], available_at=mc["available_at"],
        model=None if used is None else used.model, models=None if used is None else used.models,
        weight=weight, min_accuracy=floor,
    )


def priorities(batch: Batch) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The batch's weights and accuracy floors as the solver takes them: ``None`` when no
    task changes them from the defaults (every weight 1, no floor), so that a batch without
    priorities is the paper's plain problem; floors with NaN for "none" (the column holds
    :data:`app.batch.NULL_NUMBER` for a null). Two reductions over n."""
    weight, floor = batch.tasks["weight"], batch.tasks["min_accuracy"]
    if not weight.shape[0]:
        return None, None
    plain = _min(weight) == 1.0 == _max(weight)  # ufunc reductions: no array method dispatch
    floored = _min(floor) < NULL_NUMBER
    return (None if plain else weight,
            np.where(floor == NULL_NUMBER, np.nan, floor) if floored else None)


def to_response(batch: Batch, problem: Problem, sol: Solution, run_id: str) -> dict[str, Any]:
    """Solution arrays -> the response body, but for its ``timings`` (the caller adds them
    last, when the time it took is known). Machines in request order, assignments in start
    order (ties by input order), unscheduled tasks in input order. O(n log n)."""
    n = problem.n
    machine = sol.machine
    ids = batch.task_ids
    start = sol.start.tolist()
    duration = sol.duration.tolist()
    work = sol.work.tolist()
    accuracy = sol.accuracy.tolist()
    t_max = problem.t_max  # > 0; work is finite (app.solver.solve checks), so work / inf is 0
    # (a model task's t_max is its model's largest configuration work: the contract's divisor)
    comp = np.where(t_max < np.inf, (1.0 - sol.work / t_max).clip(0.0, 1.0), np.nan).tolist()
    config_id = _config_ids(batch, problem, sol)
    placed = (machine != UNSCHEDULED).nonzero()[0]
    order = placed[np.lexsort((placed, sol.start[placed], machine[placed]))].tolist()
    per_machine: list[list[dict[str, Any]]] = [[] for _ in range(problem.m)]
    mach_l = machine.tolist()
    for j in order:
        c = comp[j]
        s = start[j]
        d = duration[j]
        per_machine[mach_l[j]].append({
            "task_id": ids[j], "start": s, "end": s + d, "duration": d, "work": work[j],
            "compression": None if c != c else c, "accuracy": accuracy[j], "config": config_id[j],
        })
    reasons = sol.reason
    a_min = problem.a_min.tolist()
    unscheduled = [
        {"task_id": ids[j], "reason": (reasons[j] if j < len(reasons) and reasons[j] else "compressed_to_zero"),
         "accuracy": a_min[j]}
        for j in (machine == UNSCHEDULED).nonzero()[0].tolist()
    ]
    total = float(sol.total_accuracy)
    weighted = float(sol.weighted_accuracy)
    return {
        "run_id": run_id,
        "label": batch.label,
        "algorithm": sol.algorithm,
        "status": sol.status,
        "objective": {
            "total_accuracy": total,
            "mean_accuracy": total / n if n else 0.0,
            "weighted_accuracy": weighted,
            "upper_bound": float(sol.upper_bound),
            "guarantee": None if sol.guarantee is None else float(sol.guarantee),
            "proven_bound": None if sol.proven_bound is None else float(sol.proven_bound),
        },
        "machines": [{"id": mid, "assignments": per_machine[r]} for r, mid in enumerate(batch.machine_ids)],
        "unscheduled": unscheduled,
    }


def _config_ids(batch: Batch, problem: Problem, sol: Solution) -> list[str | None]:
    """Per task, the id of the configuration it runs; None for curve tasks. O(n)."""
    if not problem.n_model or sol.config is None:
        return [None] * problem.n
    used = used_models(batch)
    ids = used.config_ids if used is not None else []
    return [ids[c] if c >= 0 else None for c in sol.config.tolist()]

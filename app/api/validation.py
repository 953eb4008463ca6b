"""``POST /schedule/validate`` (and ``dsct validate``): every problem with a batch, found
without solving it, and warnings about values that are legal but probably a mistake.

Errors are what ``POST /schedule`` would answer. When the body breaks the schema, the rest
of it is still read as plain JSON wherever it can be, so that the batch's own problems
(limits, duplicate ids, an unknown algorithm) are listed beside the schema's instead of
after the schema errors are fixed.

Warnings never make a batch invalid. They flag the usual units mistake, times sent in
milliseconds where the contract says seconds (a deadline of 150 meant as 150 ms is read as
two and a half minutes), and a ``t_max`` that no machine could ever run before the task's
deadline. :data:`WARNINGS` lists them; docs/api.md documents them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from app.batch import Batch, read
from app.errors import Issue, issues_from_validation
from app.logging import clip
from app.mapping import _duplicates, check_batch, check_limits
from app.settings import Settings
from app.solver import ALGORITHMS, DEFAULT_ALGORITHM, Problem

if TYPE_CHECKING:
    from app.api.run import RunInfo

__all__ = ["LONG_SECONDS", "WARNINGS", "floor_warnings", "report", "warnings_for"]

#: a deadline (seconds) or a ``t_max`` (work units: seconds on a speed-1 machine) above this
#: is flagged: one inference takes milliseconds to seconds, so a value over a minute most
#: likely is in milliseconds
LONG_SECONDS = 60.0

#: warning code -> what it means (docs/api.md's table of warnings is this dict)
WARNINGS: dict[str, str] = {
    "long_deadline": f"a deadline over {LONG_SECONDS:g} s: times are in seconds; were these milliseconds?",
    "long_t_max": f"a t_max over {LONG_SECONDS:g} work units (seconds on a speed-1 machine); "
                  "were these milliseconds?",
    "t_max_out_of_reach": "a t_max larger than the work any single machine can do between its "
                          "available_at and the task's deadline: the task never runs uncompressed",
    "min_accuracy_above_curve": "a curve task's min_accuracy at or above what its curve reaches (a_max, or "
                                "its accuracy at t_max): the task is unscheduled with reason below_min_accuracy",
    "min_accuracy_above_configs": "a model task's min_accuracy above every configuration of its model: the "
                                  "task is unscheduled with reason below_min_accuracy",
    "min_accuracy_out_of_reach": "a min_accuracy that needs more work than any single machine can do between "
                                 "its available_at and the task's deadline: the task is unscheduled with "
                                 "reason below_min_accuracy",
}


@dataclass(frozen=True)
class ValidationWarning:
    """One warning: its code, where (the first task concerned) and what."""

    code: str
    loc: tuple[str | int, ...]
    msg: str

    def __post_init__(self) -> None:
        if self.code not in WARNINGS:
            raise ValueError(f"unknown warning code {self.code!r}")


def report(body: bytes | str, settings: Settings, run: RunInfo | None = None) -> dict[str, Any]:
    """The report of ``POST /schedule/validate``: ``valid``, the sizes, the algorithm, every
    error and every warning. Nothing is solved. O((n + m) log m)."""
    warnings: list[ValidationWarning] = []
    try:
        batch = read(body)
    except ValidationError as exc:
        issues = issues_from_validation(exc.errors(include_url=False))
        doc = _loads(body)
        n, m, algorithm = _sizes(doc)
        issues += _raw_checks(doc, issues, settings)
    else:
        n, m, algorithm = batch.n, batch.m, batch.algorithm
        problem, issues = check_batch(batch, settings.max_tasks, settings.max_machines, settings.max_models,
                                      settings.max_configs)
        if not any(i.code in ("too_many_tasks", "too_many_machines", "too_many_models", "too_many_configs")
                   for i in issues):
            warnings = warnings_for(batch)
        if problem is not None:
            warnings += floor_warnings(problem)
    algorithm = clip(algorithm)  # echoed: a 20 MB string in an invalid body is cut
    if run is not None:
        run.algorithm, run.n, run.m = algorithm, n, m
    return {
        "valid": not issues, "tasks": n, "machines": m, "algorithm": algorithm,
        "errors": [{"code": i.code, "loc": list(i.loc), "msg": i.msg} for i in issues],
        "warnings": [{"code": w.code, "loc": list(w.loc), "msg": w.msg} for w in warnings],
    }


# ----------------------------------------------------------------------------- errors


def _loads(body: bytes | str) -> Any:
    """The body as plain JSON, or None when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError, TypeError):
        return None


def _sizes(doc: Any) -> tuple[int | None, int | None, str | None]:
    """Best-effort sizes and algorithm of a body that failed the schema."""
    if not isinstance(doc, dict):
        return None, None, None
    t, mc, a = doc.get("tasks"), doc.get("machines"), doc.get("algorithm", DEFAULT_ALGORITHM)
    return (len(t) if isinstance(t, list) else None, len(mc) if isinstance(mc, list) else None,
            a if isinstance(a, str) else None)


def _raw_ids(items: Any) -> list[Any]:
    """The ``id`` of each item that has a string one; a distinct placeholder for the others,
    so that positions stay those of the request."""
    if not isinstance(items, list):
        return []
    return [it["id"] if isinstance(it, dict) and isinstance(it.get("id"), str) else object()
            for it in items]


def _raw_checks(doc: Any, schema_issues: list[Issue], settings: Settings) -> list[Issue]:
    """:func:`app.mapping.check_batch`'s checks that the plain JSON still allows: limits,
    duplicate ids, the algorithm's name (unless the schema already faulted it)."""
    if not isinstance(doc, dict):
        return []
    machines, tasks = _raw_ids(doc.get("machines")), _raw_ids(doc.get("tasks"))
    issues = check_limits(len(tasks), len(machines), settings.max_tasks, settings.max_machines)
    if issues:
        return issues
    issues += _duplicates("machines", machines)
    issues += _duplicates("tasks", tasks)
    algorithm = doc.get("algorithm", DEFAULT_ALGORITHM)
    faulted = any(i.loc[:1] == ("algorithm",) for i in schema_issues)
    if isinstance(algorithm, str) and algorithm not in ALGORITHMS and not faulted:
        known = ", ".join(sorted(ALGORITHMS))
        issues.append(Issue("unknown_algorithm", ("algorithm",),
                            f"unknown algorithm {algorithm!r}; known: {known}"))
    return issues


# ----------------------------------------------------------------------------- warnings


def warnings_for(batch: Batch) -> list[ValidationWarning]:
    """The warnings for a batch that passed the schema: one per kind, naming the first task
    concerned and how many are. O((n + m) log m)."""
    out: list[ValidationWarning] = []
    if not batch.n or not batch.m:
        return out
    finite_t_max = np.where(np.isfinite(batch.tasks["t_max"]), batch.tasks["t_max"], 0.0)  # null t_max: never flagged
    for code, field, values, unit in (("long_deadline", "deadline", batch.tasks["deadline"], "s"),
                                      ("long_t_max", "t_max", finite_t_max, "work units")):
        if values.max() <= LONG_SECONDS:  # the usual case: one reduction
            continue
        hit = np.flatnonzero(values > LONG_SECONDS)
        j = int(hit[0])
        out.append(ValidationWarning(code, ("tasks", j, field),
                                     f"{_count(hit.shape[0], 'task')} with {field} over {LONG_SECONDS:g} "
                                     f"{unit} (first: {float(values[j])!r} {unit}); times are in seconds "
                                     "and work in seconds on a speed-1 machine: were these milliseconds?"))
    with np.errstate(all="ignore"):  # huge (numeric_range) inputs: inf and nan only compare false
        # the fastest machine alone already has room for most tasks: only the others need the
        # envelope of every machine
        r0 = int(batch.machines["speed"].argmax())
        maybe = finite_t_max > batch.machines["speed"][r0] * (batch.tasks["deadline"] - batch.machines["available_at"][r0])
        if maybe.any():
            reach = _best_single_machine_work(batch.machines["speed"], batch.machines["available_at"], batch.tasks["deadline"])
            far = np.flatnonzero(maybe & (finite_t_max > reach) & (reach > 0.0))
        else:
            far = maybe.nonzero()[0]
    if far.shape[0]:
        j = int(far[0])
        out.append(ValidationWarning("t_max_out_of_reach", ("tasks", j, "t_max"),
                                     f"{_count(far.shape[0], 'task')} with a t_max no machine can run "
                                     f"before the deadline (first: t_max {float(batch.tasks['t_max'][j])!r}, at most "
                                     f"{float(reach[j])!r} work units fit on one machine): such a task is "
                                     "always compressed"))
    return out


def floor_warnings(problem: Problem) -> list[ValidationWarning]:
    """The warnings for accuracy floors that no schedule can meet (the solver's judge,
    :attr:`app.solver.Problem.unreachable_floor`), one per cause, naming the first task's
    ``min_accuracy`` and counting the others: above what the task's curve or model can ever
    reach, or more work than any single machine can do before its deadline. Such a task is
    answered ``below_min_accuracy`` without a solve. O(n m)."""
    if not problem.has_floors:
        return []
    never = problem.unreachable_floor
    if not never.any():
        return []
    floor, need = problem.min_accuracy, problem.floor_work
    is_model = np.zeros(problem.n, dtype=bool) if problem.model is None else problem.model >= 0
    out = []
    for code, hit in (("min_accuracy_above_curve", never & np.isinf(need) & ~is_model),
                      ("min_accuracy_above_configs", never & np.isinf(need) & is_model),
                      ("min_accuracy_out_of_reach", never & np.isfinite(need))):
        tasks = np.flatnonzero(hit)
        if not tasks.shape[0]:
            continue
        j = int(tasks[0])
        out.append(ValidationWarning(code, ("tasks", j, "min_accuracy"),
                                     f"{_count(tasks.shape[0], 'task')} with a min_accuracy no schedule can meet "
                                     f"(first: min_accuracy {float(floor[j])!r}, {_why(problem, code, j)}): "
                                     "such a task is unscheduled with reason below_min_accuracy"))
    return out


def _why(problem: Problem, code: str, j: int) -> str:
    """What task ``j`` can reach at most, for a warning of ``code``."""
    if code == "min_accuracy_above_configs":
        k = int(problem.model[j])
        best = problem.models.accuracy[problem.models.start[k]:problem.models.start[k + 1]].max()
        return f"its model's best configuration reaches {float(best)!r}"
    if code == "min_accuracy_above_curve":
        a_min, a_max = float(problem.a_min[j]), float(problem.a_max[j])
        reach = a_min + (a_max - a_min) * -math.expm1(-float(problem.theta[j]) * float(problem.t_max[j]))
        if math.isinf(problem.t_max[j]) or reach >= a_max:
            return f"a_max {a_max!r}"
        return f"its curve reaches {reach!r} at t_max {float(problem.t_max[j])!r}"
    fit = float(problem.machine_capacity(problem.deadline[j]).max())
    return f"it needs {float(problem.floor_work[j])!r} work units, at most {fit!r} fit on one machine before its deadline"


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'}"


def _best_single_machine_work(speed: np.ndarray, available_at: np.ndarray,
                              deadline: np.ndarray) -> np.ndarray:
    """For each deadline d, ``max_r speed_r * (d - available_at_r)`` (negative when no machine
    is free before d): the most work one machine can give one task. The upper envelope of
    the machines' lines ``speed * d - speed * available_at``, built once and looked up for
    every deadline: O(m log m + n log m) instead of O(n m)."""
    order = np.lexsort((speed * available_at, speed))  # by slope, then best intercept first
    slopes: list[float] = []
    icpts: list[float] = []
    starts: list[float] = []  # the d from which each envelope line is the maximum
    for r in order.tolist():
        s, c = float(speed[r]), -float(speed[r] * available_at[r])
        if slopes and s == slopes[-1]:
            continue  # same slope, lower or equal intercept: never above the kept one
        while slopes:
            x = (icpts[-1] - c) / (s - slopes[-1])  # where the new line overtakes the last
            if x <= starts[-1]:
                slopes.pop(), icpts.pop(), starts.pop()
                continue
            starts.append(x)
            break
        else:
            starts.append(-np.inf)
        slopes.append(s)
        icpts.append(c)
    k = np.searchsorted(np.asarray(starts), deadline, side="right") - 1
    return np.asarray(slopes)[k] * deadline + np.asarray(icpts)[k]

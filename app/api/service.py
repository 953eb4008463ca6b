"""The request pipeline without HTTP: body bytes in, response bytes out.

``schedule_json`` is what ``POST /schedule`` runs (in a solver thread) and what
``dsct solve`` runs, so both print exactly the same JSON. It parses, checks, maps to the
solver's arrays, solves, maps back and serialises; every failure is an :class:`ApiError`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from app import metrics
from app.api.run import RunInfo
from app.batch import Batch, read
from app.errors import ApiError, Issue, issues_from_domain, issues_from_validation
from app.logging import clip
from app.mapping import check_batch, to_response
from app.settings import Settings
from app.solver import POLYNOMIAL, DomainError, Problem, options_of, solve

__all__ = ["Isolated", "Prepared", "dumps", "finish", "is_quick", "isolated", "parse", "prepare",
           "schedule_json"]


def dumps(obj: Any) -> bytes:
    """Strict, compact JSON (``allow_nan=False``: a NaN or infinity here is a bug, never sent)."""
    return json.dumps(obj, allow_nan=False, separators=(",", ":"), ensure_ascii=False).encode()


def dumps_response(out: dict[str, Any]) -> bytes:
    """A schedule as compact JSON, by orjson: many times faster than ``json.dumps`` here
    (docs/robustness.md has the figures), which keeps the GIL short for big batches. orjson
    writes NaN as null instead of failing; the solution's numbers are finite
    (:func:`app.solver.solve` checks every result) and every other number comes from
    validated input or the clock."""
    return orjson.dumps(out)


def parse(body: bytes | str) -> Batch:
    """The body as a batch (:func:`app.batch.read`); every schema error as an :class:`ApiError`."""
    try:
        return read(body)
    except ValidationError as exc:
        raise ApiError.from_issues(issues_from_validation(exc.errors(include_url=False))) from None


def solve_options(batch: Batch, settings: Settings) -> dict[str, Any]:
    """``time_limit`` for the algorithms that take it (:func:`app.solver.options_of`; the
    ones that search): the request's, capped by the server. The others ignore the field, as
    the contract says."""
    if "time_limit" not in options_of(batch.algorithm):
        return {}
    cap = min(settings.max_time_limit, settings.solve_timeout)
    limit = cap if batch.time_limit is None else min(batch.time_limit, cap)
    return {"time_limit": limit}


@dataclass
class Prepared:
    """A parsed, checked batch and its solver arrays, ready to solve."""

    batch: Batch
    problem: Problem
    started: float
    parsed: float


def prepare(body: bytes | str, settings: Settings, run: RunInfo) -> Prepared:
    """Parse, check and map a ``POST /schedule`` body. Raises :class:`ApiError`. O(n + m)."""
    t0 = time.perf_counter()
    batch = parse(body)
    run.algorithm, run.n, run.m = batch.algorithm, batch.n, batch.m
    problem, issues = check_batch(batch, settings.max_tasks, settings.max_machines, settings.max_models,
                                   settings.max_configs)
    if problem is None:
        raise ApiError.from_issues(issues)
    return Prepared(batch, problem, t0, time.perf_counter())


def is_quick(prep: Prepared, settings: Settings) -> bool:
    """Whether the solve is short enough to run on the event loop: a polynomial heuristic
    (:data:`app.solver.POLYNOMIAL`) on at most ``DSCT_INLINE_MAX_TASKS`` tasks (what that
    costs at the default is in docs/robustness.md), without accuracy floors. Everything else
    goes to a solver thread, under the time cap and admission control."""
    if prep.problem.n_model and prep.batch.algorithm in ("dsct-refined", "dsct-best"):
        return False  # dsct-refined's search over configurations: up to ~0.2 s of CPU at 512 model tasks
    if prep.problem.has_floors:
        return False  # admitting accuracy floors solves the batch many times (docs/robustness.md)
    return prep.problem.n <= settings.inline_max_tasks and prep.batch.algorithm in POLYNOMIAL


def finish(prep: Prepared, settings: Settings, run: RunInfo, observe: bool = True) -> bytes:
    """Solve a prepared batch and serialise the response. Raises :class:`ApiError`.
    ``observe=False``: not recorded in the solve metrics (the readiness probe)."""
    batch, problem, t1 = prep.batch, prep.problem, prep.parsed
    try:
        sol = solve(problem, batch.algorithm, **solve_options(batch, settings))
    except DomainError as exc:
        raise ApiError.from_issues(issues_from_domain(exc)) from None
    t2 = time.perf_counter()
    run.solve_seconds = t2 - t1
    if observe:
        metrics.observe_solution(batch.algorithm, problem.n, problem.m, t2 - t1, sol.total_accuracy,
                                 sol.upper_bound, sol.reason, sol.weighted_accuracy)
    out = to_response(batch, problem, sol, run.run_id)
    # the total covers building the response too, so it is measured last and set then
    out["timings"] = {"parse_seconds": t1 - prep.started, "solve_seconds": t2 - t1,
                      "total_seconds": time.perf_counter() - min(run.started, prep.started)}
    data = dumps_response(out)
    _release(out["unscheduled"], *(mc["assignments"] for mc in out["machines"]))
    return data


def schedule_json(body: bytes | str, settings: Settings, run: RunInfo | None = None) -> bytes:
    """The whole of ``POST /schedule`` after the body is read. Raises :class:`ApiError`."""
    run = run or RunInfo("/schedule")
    return finish(prepare(body, settings, run), settings, run)


def _release(*lists: list, step: int = 2_000) -> None:
    """Free big lists a slice at a time. Dropping a 100,000-item list of models or dicts in
    one go is a single C call that holds the GIL for a few hundred milliseconds and stalls
    the event loop; slices let other threads run in between."""
    for lst in lists:
        while len(lst) > step:
            del lst[-step:]


@dataclass
class Isolated:
    """What a separate solver process sends back: the answer's bytes (or the error's code,
    message, details and headers) and what the access log needs."""

    data: bytes | None
    error: tuple[str, str, tuple[Issue, ...], dict[str, str] | None] | None
    algorithm: str | None
    n: int | None
    m: int | None
    solve_seconds: float | None
    pid: int

    def result(self, run: RunInfo) -> bytes:
        """The answer's bytes in the worker (raises the error), ``run`` filled in."""
        run.algorithm, run.n, run.m, run.solve_seconds = self.algorithm, self.n, self.m, self.solve_seconds
        run.solver_pid = self.pid
        if self.error is not None:
            raise ApiError(*self.error)
        assert self.data is not None
        return self.data


def isolated(kind: str, body: bytes, settings: Settings, run_id: str) -> Isolated:
    """``POST /schedule`` (``kind="schedule"``) or ``/schedule/validate`` on ``body``, in a
    separate process: bytes in, bytes out (:mod:`app.api.runner`'s isolated lane)."""
    run = RunInfo("/" + kind, run_id=run_id)
    data = error = None
    try:
        if kind == "schedule":
            data = schedule_json(body, settings, run)
        else:
            from app.api.validation import report  # validation imports this module

            data = dumps(report(body, settings, run))
    except ApiError as exc:
        error = (exc.code, exc.message, tuple(exc.details), exc.headers)
    return Isolated(data, error, clip(run.algorithm), run.n, run.m, run.solve_seconds, os.getpid())

"""The request pipeline without HTTP: body bytes in, response bytes out.

``schedule_json`` is what ``POST /schedule`` runs (in a solver thread) and what
``dsct solve`` runs, so both print exactly the same JSON. It parses, checks, maps to the
solver's arrays, solves, maps back and serialises; every failure is an :class:`ApiError`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from app import metrics
from app.batch import Batch, read
from app.errors import ApiError, Issue, issues_from_domain, issues_from_validation
from app.logging import clip
from app.mapping import check_batch, finite_solution, to_problem, to_response
from app.settings import Settings
from app.solver import POLYNOMIAL, DomainError, Problem, solve

__all__ = ["Isolated", "Prepared", "RunInfo", "dumps", "finish", "is_quick", "isolated", "parse", "prepare",
           "schedule_json"]


@dataclass
class RunInfo:
    """What the access log and the metrics learn about one request as it goes."""

    endpoint: str
    run_id: str = field(default_factory=lambda: os.urandom(16).hex())  # 128 random bits
    started: float = field(default_factory=time.perf_counter)
    algorithm: str | None = None
    n: int | None = None
    m: int | None = None
    solve_seconds: float | None = None
    code: str | None = None
    solver_pid: int | None = None  # the separate solver process, for a large body


def dumps(obj: Any) -> bytes:
    """Strict, compact JSON (``allow_nan=False``: a NaN or infinity here is a bug, never sent)."""
    return json.dumps(obj, allow_nan=False, separators=(",", ":"), ensure_ascii=False).encode()


def dumps_response(out: dict[str, Any]) -> bytes:
    """A schedule as compact JSON, by orjson: about 20x faster than ``json.dumps`` here (18 us
    against 390 us for 100 assignments, ~2 ms against ~37 ms for 10,000), which is a fifth
    of the server's CPU per small request and keeps the GIL short for big ones. orjson writes
    NaN as null instead of failing, so the caller checks the solution is finite first
    (:func:`app.mapping.finite_solution`); every other number comes from validated input or
    the clock."""
    return orjson.dumps(out)


def parse(body: bytes | str) -> Batch:
    """The body as a batch (:func:`app.batch.read`); every schema error as an :class:`ApiError`."""
    try:
        return read(body)
    except ValidationError as exc:
        raise ApiError.from_issues(issues_from_validation(exc.errors(include_url=False))) from None


def solve_options(batch: Batch, settings: Settings) -> dict[str, Any]:
    """``time_limit`` for the algorithms that search: the request's, capped by the server."""
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
    issues = check_batch(batch, settings.max_tasks, settings.max_machines)
    if issues:
        raise ApiError.from_issues(issues)
    try:
        problem = to_problem(batch)
    except DomainError as exc:
        raise ApiError.from_issues(issues_from_domain(exc)) from None
    return Prepared(batch, problem, t0, time.perf_counter())


def is_quick(prep: Prepared, settings: Settings) -> bool:
    """Whether the solve is short enough to run on the event loop: a polynomial heuristic
    (:data:`app.solver.POLYNOMIAL`) on at most ``DSCT_INLINE_MAX_TASKS`` tasks: 0.3 ms at 100
    tasks, at most about 10 ms at the default of 512 (the slowest found: 512 tasks on 4,000
    machines with ``edf-nocompression``). Everything else goes to a solver thread, under the
    time cap and admission control."""
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
    if not finite_solution(sol):
        raise ApiError("numeric_range", "these numbers overflow double precision during the solve; "
                       "rescale times, speeds or theta", (Issue("numeric_range", (), "non-finite schedule"),))
    if observe:
        metrics.observe_solution(batch.algorithm, problem.n, problem.m, t2 - t1, sol.total_accuracy,
                                 sol.upper_bound, sol.reason)
    timings = {"parse_seconds": t1 - prep.started, "solve_seconds": t2 - t1, "total_seconds": 0.0}
    out = to_response(batch, problem, sol, run.run_id, timings)
    timings["total_seconds"] = time.perf_counter() - min(run.started, prep.started)
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

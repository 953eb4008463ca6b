"""Every Prometheus metric of the service, in one place.

Names are fixed (the Grafana dashboard and the alert rules use them). When the environment
variable ``PROMETHEUS_MULTIPROC_DIR`` is set before this module is imported, prometheus-client
keeps the values in files there and :func:`render` sums them over every worker process
(``dsct serve --workers N`` sets it up).
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from app import __version__
from app.solver.schedule import BELOW_MIN_ACCURACY, REASONS

disable_created_metrics()

ENDPOINTS = ("/schedule", "/schedule/validate")
OUTCOMES = ("ok", "invalid", "too_large", "unauthorized", "unavailable", "error", "disconnected", "timeout")
#: what the connection guards (app/api/protocol.py) did to a connection, besides closing idle ones
CONNECTION_EVENTS = ("request_timeout", "headers_too_large", "write_timeout", "evicted", "refused")
SIZE_BUCKETS = (0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)

REQUESTS = Counter(
    "dsct_requests_total", "Requests to the scheduling endpoints, by endpoint and outcome.",
    ["endpoint", "outcome"],
)
REQUEST_DURATION = Histogram(
    "dsct_request_duration_seconds", "Wall-clock time to answer a scheduling request, seconds.",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
SOLVE_DURATION = Histogram(
    "dsct_solve_duration_seconds", "Time spent in the algorithm, seconds.", ["algorithm"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
             1, 2.5, 5, 10, 30, 60),
)
BATCH_TASKS = Histogram("dsct_batch_tasks", "Tasks per solved batch.", buckets=SIZE_BUCKETS)
BATCH_MACHINES = Histogram("dsct_batch_machines", "Machines per solved batch.", buckets=SIZE_BUCKETS)
MEAN_ACCURACY = Histogram(
    "dsct_solution_mean_accuracy", "Mean accuracy of a solved batch's tasks (unitless).", ["algorithm"],
    buckets=(0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99, 1),
)
GAP_RATIO = Histogram(
    "dsct_solution_gap_ratio",
    "Relative gap to the fractional upper bound: (upper_bound - weighted_accuracy) / upper_bound.", ["algorithm"],
    buckets=(0, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
UNSCHEDULED_TASKS = Counter(
    "dsct_unscheduled_tasks_total",
    f"Tasks given no time, by reason code ({', '.join(REASONS)}); {BELOW_MIN_ACCURACY}: the "
    "task's min_accuracy could not be met, so the caller sends it elsewhere.",
    ["reason"],
)
for _reason in REASONS:  # every reason's series exists from the start, at 0
    UNSCHEDULED_TASKS.labels(_reason)
CONNECTIONS = Counter(
    "dsct_connections_closed_total",
    "Connections the service closed to protect itself, by reason: request_timeout (head or body "
    "too slow), headers_too_large, write_timeout (the client stopped reading), evicted (an idle "
    "connection closed to make room), refused (at DSCT_MAX_CONNECTIONS with none idle).",
    ["reason"],
)
IN_FLIGHT = Gauge(
    "dsct_solves_in_flight",
    "Solves admitted to the solver threads: running, queued, or abandoned after a timeout and "
    "still computing (small batches answered on the event loop, in under a millisecond, are not counted).",
    multiprocess_mode="livesum",
)
BUILD_INFO = Gauge(
    "dsct_build_info", "Always 1; the labels say what runs.", ["version", "python"],
    multiprocess_mode="max",
)
BUILD_INFO.labels(version=__version__, python=platform.python_version()).set(1)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def status_outcome(status: int) -> str:
    """The ``outcome`` label for an HTTP status."""
    if status < 400:
        return "ok"
    return {401: "unauthorized", 403: "unauthorized", 413: "too_large", 503: "unavailable"}.get(
        status, "error" if status >= 500 else "invalid"
    )


_CHILDREN: dict[tuple[str, ...], Any] = {}


def _child(metric: Any, *values: str) -> Any:
    """``metric.labels(*values)``, memoised: ``labels`` resolves its children on every call
    (docs/robustness.md has the cost). The
    label values are a fixed set (endpoints, outcomes, registered algorithms, reason codes)."""
    key = (metric._name, *values)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*values)
    return child


def observe_request(endpoint: str, outcome: str, seconds: float) -> None:
    _child(REQUESTS, endpoint, outcome).inc()
    _child(REQUEST_DURATION, endpoint).observe(seconds)


def observe_connection(reason: str) -> None:
    _child(CONNECTIONS, reason).inc()


def observe_solution(algorithm: str, n: int, m: int, seconds: float, total: float,
                     upper_bound: float, reasons: Sequence[str], objective: float | None = None) -> None:
    """Record one finished solve (called from the solver thread or the event loop): ``total``
    is the plain sum of accuracies (for the mean), ``objective`` the weighted one that
    ``upper_bound`` bounds (for the gap; ``total`` when None)."""
    _child(SOLVE_DURATION, algorithm).observe(seconds)
    BATCH_TASKS.observe(n)
    BATCH_MACHINES.observe(m)
    if n:
        _child(MEAN_ACCURACY, algorithm).observe(min(max(total / n, 0.0), 1.0))
    objective = total if objective is None else objective
    gap = (upper_bound - objective) / max(abs(upper_bound), 1e-12)
    if math.isfinite(gap):
        _child(GAP_RATIO, algorithm).observe(max(gap, 0.0))
    for r in set(reasons):  # a handful of codes; "" for the scheduled tasks
        if r:
            _child(UNSCHEDULED_TASKS, r).inc(reasons.count(r))


def render() -> tuple[bytes, str]:
    """The exposition text (summed over worker processes in multiprocess mode) and its type."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def process_exit() -> None:
    """Drop this process's live gauges from the multiprocess files (at worker shutdown)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(os.getpid())

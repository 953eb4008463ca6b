"""Solves off the event loop: a bounded thread pool, admission control and a time cap.

Why threads and not processes: a request's body, parsed model and arrays stay in one
process (no pickling of 100,000-task batches), and numpy/scipy release the GIL in their big
operations. Small batches of a polynomial heuristic do not come here at all: the routes
answer them on the event loop (:func:`app.api.service.is_quick`). A thread cannot be killed, so a solve
that passes ``DSCT_SOLVE_TIMEOUT`` is *abandoned*: the client gets 503 ``solve_timeout`` at
once, the event loop is free, and the computation finishes in the background, still counted
in its slot until it does (its result is dropped). Admission counts running, queued and
abandoned jobs together; at ``DSCT_MAX_IN_FLIGHT`` a new request is refused with 503
``overloaded`` instead of queueing without bound. The algorithms that search receive
``time_limit`` (capped below the timeout) so they stop by themselves.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from app import metrics
from app.errors import ApiError

T = TypeVar("T")


class Runner:
    def __init__(self, threads: int, max_in_flight: int, timeout: float):
        self.threads = threads
        self.max_in_flight = max_in_flight
        self.timeout = timeout
        self._lock = threading.Lock()
        self._in_flight = 0
        self._executor: ThreadPoolExecutor | None = None

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="dsct-solve")
        return self._executor

    def _release(self, _fut: Future) -> None:
        with self._lock:
            self._in_flight -= 1
        metrics.IN_FLIGHT.dec()

    async def run(self, fn: Callable[..., T], *args: object, timeout: float | None = None) -> T:
        """``fn(*args)`` in a solver thread; 503 ``overloaded`` when full, ``solve_timeout`` when slow."""
        with self._lock:
            if self._in_flight >= self.max_in_flight:
                raise ApiError("overloaded", f"{self._in_flight} solves in flight in this worker "
                               f"(limit {self.max_in_flight}); retry later",
                               headers={"Retry-After": "1"})
            self._in_flight += 1
        metrics.IN_FLIGHT.inc()  # dsct_solves_in_flight: what this runner has admitted
        try:
            fut = self._pool().submit(fn, *args)
        except BaseException:
            with self._lock:
                self._in_flight -= 1
            metrics.IN_FLIGHT.dec()
            raise
        fut.add_done_callback(self._release)
        limit = self.timeout if timeout is None else timeout
        try:
            # on timeout wait_for cancels the wrapper: a queued job is dropped, a running one abandoned
            return await asyncio.wait_for(asyncio.wrap_future(fut), limit)
        except TimeoutError:
            fut.cancel()
            raise ApiError("solve_timeout", f"the solve did not finish within {limit:g} s "
                           "(DSCT_SOLVE_TIMEOUT); it was abandoned", headers={"Retry-After": "1"}) from None

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

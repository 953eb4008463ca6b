"""Solves off the event loop: three bounded lanes, admission control, a time cap, and no
work for clients that left.

- ``polynomial``: solver threads (``DSCT_SOLVER_THREADS``) for the heuristics of
  :data:`app.solver.POLYNOMIAL` and for parsing mid-size bodies, admission
  ``DSCT_MAX_IN_FLIGHT``.
- ``search``: the algorithms that search (``exact``), their own threads
  (``DSCT_SEARCH_THREADS``) and admission (``DSCT_MAX_SEARCHES``), so that however many of
  them run, a polynomial solve still finds a thread.
- ``isolated``: one child process for bodies of at least ``DSCT_ISOLATE_MIN_BYTES`` (bytes
  in, bytes out): parsing a 17 MB body holds the interpreter lock for tens of milliseconds at
  a time, which in a thread would stall the event loop and every small request with it.

Why threads for the rest and not processes: a small request's hand-off to a thread costs
tens of microseconds, to a process about a millisecond, and numpy/scipy release the GIL in
their big operations. Small batches of a polynomial heuristic do not come here at all: the
routes answer them on the event loop (:func:`app.api.service.is_quick`).

A thread cannot be killed, so a solve that passes ``DSCT_SOLVE_TIMEOUT`` is *abandoned*: the
client gets 503 ``solve_timeout`` at once, and the computation finishes in the background,
still counted in its lane's slot until it does (its result is dropped). Admission counts
running, queued and abandoned jobs together; at the limit a new request is refused with 503
``overloaded`` instead of queueing without bound. When the client disconnects while its job
waits, the job is dropped from the queue (a running one is abandoned the same way).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import (
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
)
from typing import TypeVar

from app import metrics
from app.api.budget import Reservation
from app.errors import ApiError, ClientGone
from app.lifecycle import die_with_parent

T = TypeVar("T")


class Lane:
    """One pool (threads or a process) with its own admission limit."""

    def __init__(self, name: str, make: Callable[[], Executor], max_in_flight: int, setting: str):
        self.name = name
        self.max_in_flight = max_in_flight
        self.setting = setting
        self._make = make
        self._lock = threading.Lock()
        self.in_flight = 0
        self._executor: Executor | None = None

    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = self._make()
        return self._executor

    def full(self) -> bool:
        return self.in_flight >= self.max_in_flight

    def _release(self, _fut: Future) -> None:
        with self._lock:
            self.in_flight -= 1
        metrics.IN_FLIGHT.dec()

    def submit(self, fn: Callable[..., T], *args: object) -> Future[T]:
        with self._lock:
            if self.in_flight >= self.max_in_flight:
                raise ApiError("overloaded", f"{self.in_flight} {self.name} jobs in flight in this worker "
                               f"(limit {self.max_in_flight}, {self.setting}); retry later",
                               headers={"Retry-After": "1"})
            self.in_flight += 1
        metrics.IN_FLIGHT.inc()  # dsct_solves_in_flight: what the lanes have admitted
        try:
            fut = self.executor().submit(fn, *args)
        except BaseException:
            with self._lock:
                self.in_flight -= 1
            metrics.IN_FLIGHT.dec()
            raise
        fut.add_done_callback(self._release)
        return fut

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def _solver_process_start(parent: int) -> None:
    """A solver process ends with its worker, and leaves Ctrl-C to it: the terminal sends
    SIGINT to the whole process group, and an idle solver process would die of it with a
    plain-text traceback (the worker ends it anyway when it stops)."""
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # born with SIGINT blocked (see _ViaProcess._call): one sent during start-up was held
    # pending, and ignoring it discards it
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _retrieve(fut: asyncio.Future) -> None:
    """Read a future's outcome, so that asyncio does not report it as never retrieved."""
    if not fut.cancelled():
        fut.exception()


class Runner:
    def __init__(self, threads: int, max_in_flight: int, timeout: float, *, search_threads: int = 1,
                 max_searches: int = 2):
        self.timeout = timeout
        self.polynomial = Lane("polynomial", lambda: ThreadPoolExecutor(threads, thread_name_prefix="dsct-solve"),
                               max_in_flight, "DSCT_MAX_IN_FLIGHT")
        self.search = Lane("search", lambda: ThreadPoolExecutor(search_threads, thread_name_prefix="dsct-solve-search"),
                           max_searches, "DSCT_MAX_SEARCHES")
        self.isolated = Lane("isolated", _process_pool, max_in_flight, "DSCT_MAX_IN_FLIGHT")

    @property
    def in_flight(self) -> int:
        return self.polynomial.in_flight + self.search.in_flight + self.isolated.in_flight

    async def run(self, lane: Lane, fn: Callable[..., T], *args: object, timeout: float | None = None,
                  gone: Callable[[], Awaitable[object]] | None = None,
                  reservation: Reservation | None = None) -> T:
        """``fn(*args)`` in ``lane``: 503 ``overloaded`` when the lane is full, ``solve_timeout``
        when slow, :class:`ClientGone` when ``gone()`` returns first (the client left). A
        ``reservation`` of the memory budget is released when the job ends, not before."""
        fut = lane.submit(fn, *args)
        if reservation is not None:
            reservation.hold_until(fut)
        limit = self.timeout if timeout is None else timeout
        waiter = asyncio.wrap_future(fut)
        watch = asyncio.ensure_future(gone()) if gone is not None else None
        try:
            done, _ = await asyncio.wait({waiter} if watch is None else {waiter, watch}, timeout=limit,
                                         return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the request itself was cancelled (a forced stop)
            fut.cancel()
            waiter.cancel()
            waiter.add_done_callback(_retrieve)  # its outcome is nobody's now: never logged as lost
            raise
        finally:
            if watch is not None:
                watch.cancel()
        if waiter in done:
            try:
                return waiter.result()
            except BrokenExecutor:  # the solver process died (killed, out of memory): a fresh one next time
                raise ApiError("overloaded", f"the {lane.name} solver process ended during the solve; retry later",
                               headers={"Retry-After": "1"}) from None
        fut.cancel()  # a queued job is dropped; a running one is abandoned
        waiter.cancel()
        if watch is not None and watch in done:
            raise ClientGone("the client disconnected before its answer")
        raise ApiError("solve_timeout", f"the solve did not finish within {limit:g} s "
                       "(DSCT_SOLVE_TIMEOUT); it was abandoned", headers={"Retry-After": "1"})

    def warm(self) -> None:
        """Start the isolated lane's process now rather than on the first large request."""
        self.isolated.executor().submit(int)

    def shutdown(self) -> None:
        for lane in (self.polynomial, self.search, self.isolated):
            lane.shutdown()


class _ViaProcess(Executor):
    """One solver process, fed by one thread that waits for it: the queue stays in the
    thread pool, where a job whose client left can still be cancelled (a process pool moves
    queued jobs to its pipe early, past cancelling), and a dead process is replaced."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="dsct-isolated")
        self._process: ProcessPoolExecutor | None = None

    def _call(self, fn: Callable[..., T], *args: object) -> T:
        if self._process is None:
            # The solver process is started from this thread, and inherits its signal mask:
            # with SIGINT blocked here (this thread never handles signals), a Ctrl-C during
            # the process's start-up waits until it ignores SIGINT, instead of killing it
            # with a plain-text traceback before it could.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            self._process = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_solver_process_start, initargs=(os.getpid(),))
        try:
            return self._process.submit(fn, *args).result()
        except BrokenExecutor:
            self._process = None  # killed (out of memory, say): a fresh process next time
            raise

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        return self._thread.submit(self._call, fn, *args)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking jobs; end the solver process now (a job still running there was
        abandoned by its request) and wait until it is gone, so that this process releases
        the queues' semaphores only once no child can still be opening them."""
        self._thread.shutdown(wait=wait, cancel_futures=cancel_futures)
        pool, self._process = self._process, None
        if pool is not None:
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            pool.shutdown(wait=True, cancel_futures=True)


def _process_pool() -> Executor:
    return _ViaProcess()


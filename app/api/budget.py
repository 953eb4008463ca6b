"""The per-worker memory budget: bytes of request bodies being read and of batches being
parsed and solved (``DSCT_MEMORY_BUDGET``).

A request is charged :data:`COST_PER_BODY_BYTE` times its body's size: first from its
``Content-Length`` before a byte of the body is read, else chunk by chunk while reading. A
request that would pass the budget is answered 503 ``overloaded`` with ``Retry-After`` at
once (a queue would hold the bytes the budget protects). The charge is released when the
request's work ends: its answer sent, or, for a solve abandoned after ``DSCT_SOLVE_TIMEOUT``,
when the computation really stops.

Why a multiple of the body: parsing, the solver's arrays and the answer cost far more than
the body itself: the peak memory allocated while ``POST /schedule`` handles a 16 MB, 100,000-
task body is 233 MB, 14.7 times the body (tracemalloc, 3 MB and 16 MB bodies alike;
docs/robustness.md). Counting only the body would let a worker take on several times its
budget.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

from app.errors import ApiError

#: memory charged per byte of body: the measured peak (14.7x) rounded up
COST_PER_BODY_BYTE = 16


class MemoryBudget:
    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()  # released from solver threads' callbacks too

    def reserve(self) -> Reservation:
        return Reservation(self)

    def _take(self, n: int) -> bool:
        with self._lock:
            if self.used + n > self.limit:
                return False
            self.used += n
            return True

    def _give(self, n: int) -> None:
        with self._lock:
            self.used -= n


class Reservation:
    """One request's charge; grows with :meth:`add`, freed once the request has ended and no
    job holds it any more."""

    def __init__(self, budget: MemoryBudget):
        self.budget = budget
        self.bytes = 0
        self._holders = 0
        self._ended = False
        self._lock = threading.Lock()

    def add(self, body_bytes: int) -> None:
        """Charge ``body_bytes`` more of body, or raise 503 ``overloaded``."""
        cost = body_bytes * COST_PER_BODY_BYTE
        if not self.budget._take(cost):
            raise ApiError("overloaded", f"this worker's memory budget is in use ({self.budget.used} of "
                           f"{self.budget.limit} bytes, DSCT_MEMORY_BUDGET; this request needs "
                           f"{self.bytes + cost}); retry later", headers={"Retry-After": "1"})
        self.bytes += cost

    def hold_until(self, fut: Future) -> None:
        """Keep the charge until ``fut`` is done, even if the request ends first (a solve
        abandoned after its time cap still uses its memory)."""
        with self._lock:
            self._holders += 1
        fut.add_done_callback(self._job_done)

    def _job_done(self, _fut: Future) -> None:
        with self._lock:
            self._holders -= 1
            free = self._ended and not self._holders
        if free:
            self._free()

    def release(self) -> None:
        """The request has ended: free now, or when the last job holding the charge ends."""
        with self._lock:
            self._ended = True
            free = not self._holders
        if free:
            self._free()

    def _free(self) -> None:
        n, self.bytes = self.bytes, 0
        if n:
            self.budget._give(n)

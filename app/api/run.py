"""What one request tells the access log and the metrics (its telemetry), filled in as it goes."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

__all__ = ["RunInfo"]


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
    solver_pid: int | None = None  # the separate solver process, for a large body

"""Settings from environment variables (``DSCT_*``), validated once; bad values fail at start.

Plain pydantic (no pydantic-settings dependency): :func:`from_env` reads ``os.environ``.
The README's settings table lists the same names and defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["Settings", "SettingsError", "from_env"]

PREFIX = "DSCT_"


class SettingsError(RuntimeError):
    """An environment variable has a bad value; the message names it."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    # One worker per core of the 2-core target machine: a solve is CPU-bound and a worker
    # process computes on one core at a time (the GIL), so 2 workers use the machine.
    workers: Annotated[int, Field(ge=1, le=64)] = 2
    max_tasks: Annotated[int, Field(ge=0)] = 100_000
    max_machines: Annotated[int, Field(ge=1)] = 10_000
    max_models: Annotated[int, Field(ge=0)] = 1_000
    max_configs: Annotated[int, Field(ge=1)] = 1_000
    max_body_bytes: Annotated[int, Field(ge=1024)] = 32 * 1024 * 1024
    solve_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 30.0
    max_time_limit: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 10.0
    solver_threads: Annotated[int, Field(ge=1, le=64)] = 2
    max_in_flight: Annotated[int, Field(ge=1, le=10_000)] = 32
    # batches up to this many tasks, with a non-searching algorithm, are parsed and solved on
    # the event loop (well under a millisecond each) instead of in a solver thread; 0: never
    inline_max_tasks: Annotated[int, Field(ge=0, le=2_000)] = 512
    # the algorithms that search (``exact``) have their own threads and admission limit, so
    # they can never take the threads the polynomial heuristics need
    search_threads: Annotated[int, Field(ge=1, le=64)] = 1
    max_searches: Annotated[int, Field(ge=1, le=10_000)] = 2
    # bodies of at least this many bytes are parsed and solved in a separate process (bytes
    # in, bytes out) so that their interpreter lock never stalls the event loop; 0: never
    isolate_min_bytes: Annotated[int, Field(ge=0)] = 1024 * 1024
    # bytes of request bodies being read and of batches being solved, per worker process; a
    # request that would pass it is answered 503 overloaded at once (see README)
    memory_budget: Annotated[int, Field(ge=1024 * 1024)] = 512 * 1024 * 1024
    # connection guards (app/api/protocol.py)
    max_connections: Annotated[int, Field(ge=1, le=1_000_000)] = 1024
    max_header_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024)] = 16 * 1024
    max_headers: Annotated[int, Field(ge=8, le=10_000)] = 64
    idle_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 5.0
    header_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 10.0
    body_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 10.0
    min_body_rate: Annotated[int, Field(ge=1)] = 64 * 1024
    write_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 15.0
    # peers whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated IPs or
    # networks, or "*"); empty: the headers are ignored
    forwarded_allow_ips: str = ""
    api_keys: tuple[str, ...] = ()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # benchmarks/bench_load.py only: POST /bench/echo (app/api/bench.py), never in OpenAPI
    bench_routes: bool = False

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, v: object) -> object:
        if isinstance(v, str):
            return tuple(k.strip() for k in v.split(",") if k.strip())
        return v

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v


def from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from ``DSCT_<NAME>`` variables (unset or empty: the default), then ``overrides``."""
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for name in Settings.model_fields:
        value = env.get(PREFIX + name.upper())
        if value is not None and value.strip() != "":
            raw[name] = value.strip()
    raw.update(overrides)
    try:
        return Settings.model_validate(raw, strict=False)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            name = str(e["loc"][0]) if e["loc"] else "?"
            var = PREFIX + name.upper()
            lines.append(f"{var}={raw.get(name)!r}: {e['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(lines)) from None

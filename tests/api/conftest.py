"""Shared helpers for the API tests: an in-process client and a real uvicorn server."""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from fastapi.testclient import TestClient  # noqa: E402

from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DSCT = str(Path(sys.executable).with_name("dsct"))
JSON_HEADERS = {"content-type": "application/json"}

SPEC_REQUEST: dict[str, Any] = {
    "label": "cell-17 batch 8812",
    "algorithm": "dsct-approx",
    "machines": [
        {"id": "jetson-a", "speed": 1.0, "available_at": 0.0},
        {"id": "a2000-b", "speed": 3.5, "available_at": 0.020},
    ],
    "tasks": [
        {"id": "cam3/1182", "deadline": 0.250, "theta": 40.0, "a_min": 0.001, "a_max": 0.82, "t_max": 0.115}
    ],
}


def spec_request() -> dict[str, Any]:
    return copy.deepcopy(SPEC_REQUEST)


def random_batch(n: int, m: int, seed: int = 0, algorithm: str = "dsct-approx") -> dict[str, Any]:
    """A batch of n tasks and m machines, deterministic in ``seed``; some tasks uncapped and
    some unreachable, so unscheduled tasks appear too."""
    rng = np.random.default_rng(seed)
    horizon = max(1.0, 0.05 * n / max(m, 1))
    deadline = rng.uniform(0, horizon, n)
    t_max = rng.uniform(0.01, 0.2, n)
    tasks = []
    for j in range(n):
        a_min = float(rng.uniform(0, 0.1))
        tasks.append({"id": f"t{j}", "deadline": float(deadline[j]), "theta": float(rng.uniform(1, 80)),
                      "a_min": a_min, "a_max": float(rng.uniform(a_min + 0.05, 1.0)),
                      "t_max": None if j % 7 == 3 else float(t_max[j])})
    machines = [{"id": f"m{r}", "speed": float(rng.uniform(0.5, 4.0)),
                 "available_at": float(rng.uniform(0, horizon / 4))} for r in range(m)]
    return {"label": f"random {n}x{m} seed {seed}", "algorithm": algorithm, "machines": machines, "tasks": tasks}


@pytest.fixture
def make_client():
    """``make_client(**settings)``: a TestClient over ``create_app(Settings(**settings))``."""
    clients = []

    def make(**overrides: Any) -> TestClient:
        c = TestClient(create_app(Settings(**overrides)), raise_server_exceptions=False)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def post(client: TestClient | httpx.Client, body: Any, path: str = "/schedule", **kw: Any) -> httpx.Response:
    content = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = {**JSON_HEADERS, **kw.pop("headers", {})}
    return client.post(path, content=content, headers=headers, **kw)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path):
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_server(tmp_path: Path, workers: int = 1, env: dict[str, str] | None = None,
                   wait: float = 30.0) -> Iterator[Server]:
    """A real ``dsct serve`` on a free loopback port; always stopped afterwards."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DSCT_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    full_env.update({"DSCT_HOST": "127.0.0.1", "DSCT_PORT": str(port), "DSCT_WORKERS": str(workers),
                     "DSCT_LOG_LEVEL": "WARNING"})
    full_env.update(env or {})
    log = tmp_path / f"server-{port}.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([DSCT, "serve"], env=full_env, stdout=fh, stderr=subprocess.STDOUT,
                                cwd=ROOT, start_new_session=True)
    server = Server(proc, port, log)
    try:
        deadline = time.monotonic() + wait
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{server.logs()}")
            try:
                if httpx.get(server.url + "/livez", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start within {wait} s:\n{server.logs()}")
            time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


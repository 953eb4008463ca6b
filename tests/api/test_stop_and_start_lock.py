"""Stopping and starting real servers: a stop must not wait for work nobody waits for, a
server being stopped must not keep a new one off its port, two servers started together on
one address (however it is spelled) must not both serve, and Ctrl-C must write only JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import httpx
import pytest

from .conftest import DSCT, JSON_HEADERS, ROOT, free_port, running_server

pytestmark = pytest.mark.slow


def _model_batch(n: int, algorithm: str) -> bytes:
    """``n`` tasks of a bundled model on 10 machines: tens of seconds of solving for
    dsct-best at 100,000 tasks."""
    tasks = [{"id": f"t{j}", "deadline": 0.001 + (j % 997) * 0.5, "model": "ofa-note10"} for j in range(n)]
    machines = [{"id": f"m{r}", "speed": 1.0 + r % 3} for r in range(10)]
    return json.dumps({"algorithm": algorithm, "machines": machines, "tasks": tasks}).encode()


def _long_search() -> bytes:
    """60 tasks of a bundled model on 5 machines at a heavy load for ``exact`` with a
    60-second limit: a solve that runs until its limit whatever the machine's speed (such
    batches are far from proven in 10 s)."""
    tasks = [{"id": f"t{j}", "deadline": 0.002 + (j % 20) * 0.002, "model": "ofa-note10"} for j in range(60)]
    machines = [{"id": f"m{r}", "speed": 1.0 + r % 3} for r in range(5)]
    return json.dumps({"algorithm": "exact", "time_limit": 60, "machines": machines, "tasks": tasks}).encode()


#: the server settings that let ``exact`` search for a minute
LONG = {"DSCT_SOLVE_TIMEOUT": "120", "DSCT_MAX_TIME_LIMIT": "60"}


def _assert_only_json(lines: list[str]) -> None:
    bad = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            bad.append(line)
    assert not bad, "\n".join(bad[:8])


def _env(port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSCT_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"DSCT_PORT": str(port), "DSCT_LOG_LEVEL": "WARNING", **extra})
    return env


def _listening(port: int) -> bool:
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    return bool(out.strip())


def test_sigterm_does_not_wait_for_an_abandoned_solve(tmp_path):
    """A solve past DSCT_SOLVE_TIMEOUT is abandoned (503) but runs on in its solver thread;
    after that nothing is in flight, so SIGTERM ends the service within seconds: a worker
    that has stopped serving exits at once rather than through the interpreter's normal
    exit, which would join the solver threads and wait for the abandoned solve."""
    env = {"DSCT_SOLVE_TIMEOUT": "2", "DSCT_ISOLATE_MIN_BYTES": "0"}  # 0: every body in the threads
    with running_server(tmp_path, workers=2, env=env) as srv:
        r = httpx.post(srv.url + "/schedule", content=_model_batch(100_000, "dsct-best"), headers=JSON_HEADERS,
                       timeout=120)
        assert r.status_code == 503 and r.json()["error"]["code"] == "solve_timeout", r.text
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=10) == 0


def test_a_server_started_while_the_old_one_drains_starts(tmp_path):
    """The old server has stopped listening and only finishes a request in flight; a new
    `dsct serve` on the same port (a restart) starts: the old supervisor releases the
    port's start-up lock as soon as it starts to stop."""
    env = {**LONG, "DSCT_ISOLATE_MIN_BYTES": "0"}
    with running_server(tmp_path, workers=2, env=env) as srv:
        body = _long_search()
        threading.Thread(target=lambda: httpx.post(srv.url + "/schedule", content=body, headers=JSON_HEADERS,
                                                   timeout=300), daemon=True).start()
        time.sleep(4.0)  # the request is being solved
        srv.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _listening(srv.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _listening(srv.port)
        assert srv.proc.poll() is None, "the old server should still be finishing its request"
        new = subprocess.Popen([DSCT, "serve"], env=_env(srv.port, DSCT_HOST="127.0.0.1", DSCT_WORKERS="1"),
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            up = False
            for _ in range(300):
                if new.poll() is not None:
                    break
                try:
                    up = httpx.get(srv.url + "/livez", timeout=1).status_code == 200
                except httpx.HTTPError:
                    pass
                if up:
                    break
                time.sleep(0.1)
            out = "" if new.poll() is None else new.communicate(timeout=10)[0].decode()
            assert up, f"restart refused (exit {new.returncode}): {out}"
        finally:
            if new.poll() is None:
                os.killpg(new.pid, signal.SIGTERM)
                new.wait(timeout=60)


@pytest.mark.parametrize("hosts", [("127.0.0.1", "localhost"), ("0.0.0.0", "127.0.0.1"), ("::", "0.0.0.0")])
def test_two_servers_started_together_on_one_address_do_not_both_serve(hosts):
    """Two `dsct serve` started at the same moment on one port, the address spelled two
    ways (a name and its address; the wildcard and an address it covers; IPv6's wildcard,
    which takes IPv4 too, and IPv4's): one of them refuses, since the start-up lock is
    named after the port, not the host string (otherwise both would pass it and their
    workers would share the port through SO_REUSEPORT)."""
    port = free_port()
    procs = [subprocess.Popen([DSCT, "serve", "--host", h], env=_env(port, DSCT_WORKERS="2"), cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True) for h in hosts]
    try:
        time.sleep(12)  # both past start-up (spawned workers importing the app take seconds)
        alive = [p.poll() is None for p in procs]
        assert alive.count(True) <= 1, f"both serve port {port}"
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.communicate(timeout=60)


def test_ctrl_c_writes_only_json(tmp_path):
    """Ctrl-C in a terminal sends SIGINT to the whole process group: supervisor, workers and
    their solver processes. The service still writes nothing but JSON lines: a solver
    process ignores SIGINT (its worker ends it), rather than dying of KeyboardInterrupt
    with a plain-text traceback."""
    with running_server(tmp_path, workers=2, env={"DSCT_LOG_LEVEL": "INFO"}) as srv:
        time.sleep(3)  # the solver processes started at start-up are up
        os.killpg(srv.proc.pid, signal.SIGINT)
        assert srv.proc.wait(timeout=60) == 0
        time.sleep(0.5)
        lines = [ln for ln in srv.logs().splitlines() if ln.strip()]
    _assert_only_json(lines)


def test_a_forced_stop_during_an_isolated_solve_writes_only_json(tmp_path):
    """A second SIGINT forces the stop while a large body is solved in the solver process:
    the request is cut, and the solver process is ended by the lifespan's clean-up; the
    future the request was waiting on is cancelled with it, so asyncio never reports it as
    "never retrieved" with a plain-text traceback. Every line written is JSON."""
    env = {**LONG, "DSCT_ISOLATE_MIN_BYTES": "1000", "DSCT_LOG_LEVEL": "INFO"}
    with running_server(tmp_path, workers=1, env=env) as srv:
        body = _long_search()
        assert len(body) > 1000  # solved in the solver process
        threading.Thread(target=lambda: httpx.post(srv.url + "/schedule", content=body, headers=JSON_HEADERS,
                                                   timeout=300), daemon=True).start()
        time.sleep(4.0)  # the request is being solved in the solver process
        srv.proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGINT)
        assert srv.proc.wait(timeout=60) == 0
        time.sleep(0.5)
        lines = [ln for ln in srv.logs().splitlines() if ln.strip()]
    _assert_only_json(lines)

"""Slow, stalled and greedy clients against a real ``dsct serve`` on a loopback port: each
attack is bounded in time and in requests, and the server is stopped afterwards."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from .conftest import (
    DSCT,
    JSON_HEADERS,
    ROOT,
    free_port,
    random_batch,
    running_server,
    spec_request,
)

pytestmark = pytest.mark.slow

SMALL = json.dumps(spec_request()).encode()
#: fast guards, so that the attacks are answered within a test's time
QUICK = {"DSCT_IDLE_TIMEOUT": "1", "DSCT_HEADER_TIMEOUT": "1", "DSCT_BODY_TIMEOUT": "1",
         "DSCT_MIN_BODY_RATE": "100000", "DSCT_WRITE_TIMEOUT": "1", "DSCT_LOG_LEVEL": "INFO"}


def _head(path: str = "/schedule", length: int | None = None, extra: str = "") -> bytes:
    cl = "" if length is None else f"Content-Length: {length}\r\n"
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{cl}{extra}\r\n").encode()


def _read_all(sock: socket.socket, seconds: float) -> tuple[bytes, bool]:
    """What the server sends within ``seconds``, and whether it closed the connection."""
    sock.settimeout(0.2)
    data = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            got = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return data, True
        if not got:
            return data, True
        data += got
    return data, False


def _metric(url: str, name: str, **labels: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


def _access_lines(logs: str) -> list[dict]:
    return [json.loads(line) for line in logs.splitlines() if line.startswith("{") and '"dsct.access"' in line]


# 1 ---------------------------------------------------------------- slow and idle connections

def test_idle_slowloris_stalled_body_and_unread_answer_are_cut_off(tmp_path):
    with running_server(tmp_path, workers=1, env=QUICK) as srv:
        addr = ("127.0.0.1", srv.port)
        idle = socket.create_connection(addr)
        loris = socket.create_connection(addr)
        stalled = socket.create_connection(addr)
        stalled.sendall(_head(length=10_000_000) + b'{"tasks": [')  # promises 10 MB, sends 11 bytes
        for byte in _head(length=len(SMALL))[:40]:  # one header byte every 0.1 s, never finished
            try:
                loris.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
        data, closed = _read_all(idle, 5)
        assert closed and data == b"", "an idle connection was held"
        data, closed = _read_all(loris, 5)
        assert closed and data.startswith(b"HTTP/1.1 408") and b"request_timeout" in data, data[:200]
        data, closed = _read_all(stalled, 5)
        assert closed and data.startswith(b"HTTP/1.1 408") and b"request_timeout" in data, data[:200]
        for s in (idle, loris, stalled):
            s.close()
        # a client that never reads a large answer is disconnected, and the answer dropped
        big = json.dumps(random_batch(50_000, 100, 3, "edf-nocompression")).encode()
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.connect(addr)
        reader.sendall(_head(length=len(big)) + big)
        deadline = time.monotonic() + 60
        while _metric(srv.url, "dsct_connections_closed_total", reason="write_timeout") < 1:
            assert time.monotonic() < deadline, "a client that does not read kept its answer alive"
            time.sleep(0.5)
        reader.close()
        assert httpx.post(srv.url + "/schedule", content=SMALL, headers=JSON_HEADERS, timeout=10).status_code == 200


# 2 ---------------------------------------------------------------- memory budget

def test_uploads_over_the_memory_budget_are_refused_at_once(tmp_path):
    env = {"DSCT_MEMORY_BUDGET": str(16 * 2**20), "DSCT_LOG_LEVEL": "INFO"}  # 1 MiB of body at 16x
    with running_server(tmp_path, workers=1, env=env) as srv:
        addr = ("127.0.0.1", srv.port)
        first = socket.create_connection(addr)  # 600 kB announced, never finished: holds 9.6 MB
        first.sendall(_head(length=600_000) + b"[")
        time.sleep(0.3)
        second = socket.create_connection(addr)
        second.sendall(_head(length=600_000))
        data, _ = _read_all(second, 5)
        assert data.startswith(b"HTTP/1.1 503") and b'"overloaded"' in data, data[:300]
        assert re.search(rb"(?i)retry-after: 1\r\n", data) and b"DSCT_MEMORY_BUDGET" in data
        first.close()
        second.close()
        time.sleep(0.3)  # the first upload's charge is released when its client leaves
        r = httpx.post(srv.url + "/schedule", content=SMALL, headers=JSON_HEADERS, timeout=10)
        assert r.status_code == 200


# 3 ---------------------------------------------------------------- disconnect mid-body

def test_disconnect_mid_body_is_its_own_outcome_without_traceback(tmp_path):
    with running_server(tmp_path, workers=1, env={"DSCT_LOG_LEVEL": "INFO"}) as srv:
        with socket.create_connection(("127.0.0.1", srv.port)) as s:
            s.sendall(_head(length=100_000) + b'{"machines": [')
            time.sleep(0.3)
        deadline = time.monotonic() + 10
        while _metric(srv.url, "dsct_requests_total", outcome="disconnected") < 1:
            assert time.monotonic() < deadline, srv.logs()[-2000:]
            time.sleep(0.1)
        assert _metric(srv.url, "dsct_requests_total", outcome="error") == 0
        logs = srv.logs()
        assert "Traceback" not in logs and "internal_error" not in logs
        line = [rec for rec in _access_lines(logs) if rec["endpoint"] == "/schedule"][-1]
        assert line["outcome"] == "disconnected" and line["status"] is None


# 4 ---------------------------------------------------------------- header limits

def test_header_size_and_count_limits(tmp_path):
    with running_server(tmp_path, workers=1) as srv:
        addr = ("127.0.0.1", srv.port)
        for extra in ("X-Big: " + "a" * 20_000 + "\r\n", "".join(f"X-H{i}: {i}\r\n" for i in range(100))):
            with socket.create_connection(addr) as s:
                try:
                    s.sendall(_head(length=len(SMALL), extra=extra) + SMALL)
                except OSError:
                    pass  # the server may close before it has read everything
                data, closed = _read_all(s, 5)
            assert data.startswith(b"HTTP/1.1 431") and b'"headers_too_large"' in data, data[:300]
            assert closed
        # a megabyte of header is cut off after the first 16 KiB, before the parser buffers it
        with socket.create_connection(addr) as s:
            s.sendall(_head(length=2, extra="X-Big: "))
            try:
                for _ in range(64):
                    s.sendall(b"a" * 16384)
            except OSError:
                pass
            data, _ = _read_all(s, 5)
        assert data.startswith(b"HTTP/1.1 431"), data[:200]
        assert httpx.post(srv.url + "/schedule", content=SMALL, headers=JSON_HEADERS, timeout=10).status_code == 200


# 5 ---------------------------------------------------------------- echoed strings

def test_validate_and_the_access_log_cap_echoed_strings(tmp_path):
    body = json.dumps({**spec_request(), "algorithm": "x" * 200_000}).encode()
    with running_server(tmp_path, workers=1, env={"DSCT_LOG_LEVEL": "INFO"}) as srv:
        r = httpx.post(srv.url + "/schedule/validate", content=body, headers=JSON_HEADERS, timeout=10)
        assert r.status_code == 200 and r.json()["valid"] is False
        assert len(r.text) < 2_000, len(r.text)
        assert r.json()["algorithm"].startswith("xxx") and "200000 characters" in r.json()["algorithm"]
        r = httpx.post(srv.url + "/schedule", content=body, headers={"content-type": "application/" + "x" * 10_000},
                       timeout=10)
        assert r.status_code == 415 and len(r.text) < 2_000
        time.sleep(0.3)
        assert max(len(line) for line in srv.logs().splitlines()) < 2_000


# 6 ---------------------------------------------------------------- searches apart

def test_searches_cannot_starve_polynomial_solves_or_readiness(tmp_path):
    """Four clients of the `exact` algorithm at a 4 s time limit: two are admitted (their own
    thread and queue), two refused at once; a 1,000-task dsct-approx batch (a solver thread)
    and /readyz are answered while the admitted searches still run."""
    exact = random_batch(60, 3, 1, "exact")
    exact["time_limit"] = 4
    exact_body = json.dumps(exact).encode()
    approx_body = json.dumps(random_batch(1_000, 10, 2)).encode()
    with running_server(tmp_path, workers=1, env={"DSCT_LOG_LEVEL": "INFO"}) as srv:
        answers: dict[int, tuple[httpx.Response, float]] = {}

        def search(i: int) -> None:
            r = httpx.post(srv.url + "/schedule", content=exact_body, headers=JSON_HEADERS, timeout=60)
            answers[i] = (r, time.monotonic())

        threads = [threading.Thread(target=search, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
            time.sleep(0.1)
        time.sleep(0.5)
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            r = c.post("/schedule", content=approx_body, headers=JSON_HEADERS)
            approx_done = time.monotonic()
            ready = c.get("/readyz")
            ready_done = time.monotonic()
        for t in threads:
            t.join(60)
        assert r.status_code == 200 and ready.status_code == 200
        assert sorted(a.status_code for a, _ in answers.values()) == [200, 200, 503, 503]
        first_search_done = min(done for a, done in answers.values() if a.status_code == 200)
        assert approx_done < first_search_done and ready_done < first_search_done


# 7 and the port ---------------------------------------------------- the supervisor and the port

def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _ignores_sigint(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            ign = next(line for line in fh if line.startswith("SigIgn:"))
    except (OSError, StopIteration):
        return False
    return bool(int(ign.split()[1], 16) >> (signal.SIGINT - 1) & 1)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


def test_workers_die_with_their_supervisor(tmp_path):
    """kill -9 of `dsct serve`: its workers and their solver processes exit within seconds
    (multiprocessing's resource tracker, which serves nothing, leaves when its pipe closes)."""
    with running_server(tmp_path, workers=2) as srv:
        deadline = time.monotonic() + 60
        while True:  # the workers, and the solver process each starts
            workers = [p for p in _children(srv.proc.pid) if "spawn_main" in _cmdline(p)]
            solvers = [c for p in workers for c in _children(p) if "spawn_main" in _cmdline(c)]
            # a solver process binds its life to its worker's once started (it then ignores
            # SIGINT): one killed while still importing would only notice when it got there
            if len(workers) == 2 and len(solvers) == 2 and all(map(_ignores_sigint, solvers)):
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(workers) == 2 and len(solvers) == 2, (workers, solvers)
        workers += solvers
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(5)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in workers), "workers outlived their supervisor"
        with pytest.raises(httpx.ConnectError):
            httpx.get(srv.url + "/livez", timeout=2)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_second_server_refuses_a_port_in_use(tmp_path, workers):
    with running_server(tmp_path, workers=2) as srv:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DSCT_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update({"DSCT_PORT": str(srv.port), "DSCT_WORKERS": str(workers), "DSCT_API_KEYS": "secret"})
        second = subprocess.run([DSCT, "serve"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert f"cannot listen on 127.0.0.1:{srv.port}" in second.stderr, second.stderr
        # every request still reaches the first server alone (no key asked)
        for _ in range(12):
            r = httpx.post(srv.url + "/schedule", content=SMALL, headers=JSON_HEADERS, timeout=10)
            assert r.status_code == 200


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the start-up lock is Linux's abstract socket")
def test_a_server_starting_on_the_same_port_at_the_same_moment_is_refused(tmp_path):
    """Two servers started at once could both find the port free before either listens: the
    one that takes the port's start-up lock second refuses, whatever the order of the checks.
    The first is played here by a process holding that lock (as a starting server does)."""
    port = free_port()
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    holder.bind(f"\0dsct-serve-port-{port}")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DSCT_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update({"DSCT_HOST": "127.0.0.1", "DSCT_PORT": str(port), "DSCT_WORKERS": "2"})
        second = subprocess.run([DSCT, "serve"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert f"cannot listen on port {port}: another dsct serve" in second.stderr, second.stderr
    finally:
        holder.close()


# 8 ---------------------------------------------------------------- SIGTERM under keep-alive load

REQUEST = (b"POST /schedule HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
           + str(len(SMALL)).encode() + b"\r\n\r\n" + SMALL)


def _response(sock: socket.socket, buf: bytes) -> tuple[bytes, bytes, bytes] | None:
    """One response (head, body) read from ``sock``, and what follows; None if closed first."""
    while b"\r\n\r\n" not in buf:
        got = sock.recv(65536)
        if not got:
            return None
        buf += got
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
    while len(rest) < length:
        got = sock.recv(65536)
        if not got:
            return None
        rest += got
    return head, rest[:length], rest[length:]


def _keep_alive_client(port: int, stop: threading.Event, tally: dict, lock: threading.Lock) -> None:
    sock = None
    buf = b""
    while True:
        if sock is None:
            if stop.is_set():
                return
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            except OSError:
                return  # refused: the server has stopped listening (nothing was sent)
            buf = b""
        try:
            sock.sendall(REQUEST)
            got = _response(sock, buf)
        except OSError:
            got = None
        with lock:
            tally["sent"] += 1
            if got is None:
                tally["lost"] += 1
            else:
                tally["answered"] += 1
        if got is None or b"connection: close" in got[0].lower():
            tally["closed"] += got is not None
            sock.close()
            sock = None
            if got is None:
                return
        else:
            buf = got[2]


def test_sigterm_under_keep_alive_load_loses_no_request(tmp_path):
    """16 keep-alive connections send small /schedule requests back to back; SIGTERM: every
    request sent is answered (those in progress with Connection: close), none is lost."""
    with running_server(tmp_path, workers=2) as srv:
        stop = threading.Event()
        lock = threading.Lock()
        tally = {"sent": 0, "answered": 0, "lost": 0, "closed": 0}
        clients = [threading.Thread(target=_keep_alive_client, args=(srv.port, stop, tally, lock))
                   for _ in range(16)]
        for c in clients:
            c.start()
        time.sleep(1.5)
        srv.proc.send_signal(signal.SIGTERM)
        for c in clients:
            c.join(45)
        stop.set()
        assert srv.proc.wait(30) == 0
        print(f"\nSIGTERM under keep-alive load: {tally}")
        assert tally["answered"] > 100 and tally["closed"] >= 1, tally
        assert tally["lost"] == 0, tally


# 9 ---------------------------------------------------------------- large batches apart

def test_large_batches_are_solved_in_a_separate_process(tmp_path):
    """A body over DSCT_ISOLATE_MIN_BYTES is parsed and solved by the worker's solver process
    (its pid in the access line), a small one in the worker; the answers are the same as
    without isolation."""
    big = json.dumps(random_batch(8_000, 20, 4)).encode()
    assert len(big) > 2**20
    answers = {}
    for isolate in ("1048576", "0"):
        env = {"DSCT_LOG_LEVEL": "INFO", "DSCT_ISOLATE_MIN_BYTES": isolate}
        with running_server(tmp_path, workers=1, env=env) as srv:
            r = httpx.post(srv.url + "/schedule", content=big, headers=JSON_HEADERS, timeout=60)
            assert r.status_code == 200
            doc = r.json()
            assert doc["run_id"] == r.headers["x-run-id"]
            answers[isolate] = (doc["objective"], doc["machines"], doc["unscheduled"])
            assert httpx.post(srv.url + "/schedule", content=SMALL, headers=JSON_HEADERS, timeout=10).status_code == 200
            time.sleep(0.3)
            lines = [rec for rec in _access_lines(srv.logs()) if rec["endpoint"] == "/schedule"]
        big_line, small_line = lines[-2], lines[-1]
        assert big_line["n"] == 8_000 and small_line["n"] == 1
        assert small_line.get("solver_pid") is None
        if isolate != "0":
            assert big_line["solver_pid"] not in (None, big_line["pid"]), big_line
        else:
            assert big_line.get("solver_pid") is None
    assert answers["1048576"] == answers["0"]


# 10 --------------------------------------------------------------- smaller points

def test_no_host_reflection_forwarded_headers_gzip_and_gone_clients(tmp_path):
    gone = json.dumps(random_batch(100_000, 1_000, 6, "edf-nocompression")).encode()
    env = {"DSCT_LOG_LEVEL": "INFO", "DSCT_MEMORY_BUDGET": str(4 * 2**30), "DSCT_SOLVER_THREADS": "1"}
    with running_server(tmp_path, workers=1, env=env) as srv:
        r = httpx.post(srv.url + "/schedule/", content=SMALL,
                       headers={**JSON_HEADERS, "Host": "evil.example", "X-Forwarded-Proto": "https"}, timeout=10)
        assert r.status_code != 307 and "evil.example" not in r.headers.get("location", "") + r.text
        r = httpx.post(srv.url + "/schedule", content=SMALL, timeout=10,
                       headers={**JSON_HEADERS, "Content-Encoding": "gzip", "X-Forwarded-For": "203.0.113.9"})
        assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
        time.sleep(0.2)
        assert _access_lines(srv.logs())[-1]["client"] == "127.0.0.1"  # the header from a peer not trusted
        # a batch whose client left while it waited for the solver is never solved
        first = threading.Thread(target=lambda: httpx.post(srv.url + "/schedule", content=gone,
                                                           headers=JSON_HEADERS, timeout=120))
        first.start()
        time.sleep(1.0)
        with socket.create_connection(("127.0.0.1", srv.port)) as s:
            s.sendall(_head(length=len(gone)) + gone)
            time.sleep(0.5)
        first.join(120)
        deadline = time.monotonic() + 60
        while _metric(srv.url, "dsct_solves_in_flight") > 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(0.5)
        assert _metric(srv.url, "dsct_batch_tasks_count") == 1
        assert _metric(srv.url, "dsct_requests_total", outcome="disconnected") == 1
    env = {"DSCT_LOG_LEVEL": "INFO", "DSCT_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with running_server(tmp_path, workers=1, env=env) as srv:
        r = httpx.post(srv.url + "/schedule", content=SMALL, headers={**JSON_HEADERS, "X-Forwarded-For": "203.0.113.9"},
                       timeout=10)
        assert r.status_code == 200
        time.sleep(0.2)
        assert _access_lines(srv.logs())[-1]["client"] == "203.0.113.9"  # from a configured proxy

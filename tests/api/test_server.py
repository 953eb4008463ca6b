"""Against a real ``dsct serve`` (uvicorn, httptools, uvloop) on a loopback port chosen by the OS."""

from __future__ import annotations

import json
import re
import signal
import socket
import statistics
import threading
import time

import httpx
import pytest

from .conftest import JSON_HEADERS, random_batch, running_server, spec_request

pytestmark = pytest.mark.slow

SMALL = json.dumps(spec_request()).encode()


def _requests_ok(text: str) -> float:
    m = re.search(r'^dsct_requests_total\{endpoint="/schedule",outcome="ok"\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def _raw(port: int, head: bytes, body_chunks=(), read_timeout: float = 10.0) -> bytes:
    """Send a raw HTTP/1.1 request (possibly never finishing its body) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(head)
        for chunk in body_chunks:
            try:
                s.sendall(chunk)
            except OSError:
                break
        data = b""
        while not _complete(data):
            try:
                got = s.recv(65536)
            except OSError:
                break
            if not got:
                break
            data += got
        return data


def _complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole answer: its head and as many body bytes as its
    Content-Length says (the head and the body may arrive in separate reads)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    return m is None or len(body) >= int(m.group(1))


def test_real_server_schedule_and_body_limits(tmp_path):
    env = {"DSCT_MAX_BODY_BYTES": "65536"}
    with running_server(tmp_path, workers=1, env=env) as srv:
        r = httpx.post(srv.url + "/schedule", content=SMALL, headers=JSON_HEADERS, timeout=10)
        assert r.status_code == 200 and r.json()["machines"][0]["assignments"]
        assert httpx.get(srv.url + "/readyz", timeout=10).status_code == 200
        # a declared Content-Length over the limit: 413 without sending a byte of body
        head = (f"POST /schedule HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {100 * 2**20}\r\n\r\n").encode()
        answer = _raw(srv.port, head)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b'"body_too_large"' in answer
        # chunked, no length: 413 once 64 KiB have streamed in, the body never finished
        head = (b"POST /schedule HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"400\r\n" + b" " * 1024 + b"\r\n"
        answer = _raw(srv.port, head, [b"6\r\n{\"a\":1\r\n"] + [chunk] * 80)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b'"body_too_large"' in answer


def test_livez_and_small_schedule_answer_during_a_big_solve(tmp_path):
    """The largest allowed batch (100,000 tasks, 1,000 machines, ~17 MB) on a single worker:
    /livez and a small /schedule still answer (bound 1 s; the measured latencies are printed)."""
    big = json.dumps(random_batch(100_000, 1_000, 5, "edf-nocompression")).encode()
    with running_server(tmp_path, workers=1) as srv:
        done = threading.Event()
        result: dict = {}

        def send_big() -> None:
            try:
                result["r"] = httpx.post(srv.url + "/schedule", content=big, headers=JSON_HEADERS, timeout=120)
            finally:
                done.set()

        t0 = time.perf_counter()
        threading.Thread(target=send_big, daemon=True).start()
        time.sleep(0.2)  # the body is on its way / being parsed
        live, small = [], []
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            while not done.is_set():
                t = time.perf_counter()
                assert c.get("/livez").status_code == 200
                lt = time.perf_counter() - t
                t = time.perf_counter()
                r = c.post("/schedule", content=SMALL, headers=JSON_HEADERS)
                st = time.perf_counter() - t
                if not done.is_set():  # only probes that overlapped the big request count
                    live.append(lt)
                    small.append(st)
                assert r.status_code == 200
                time.sleep(0.01)
        big_seconds = time.perf_counter() - t0
        assert result["r"].status_code == 200, result["r"].text[:500]
        assert len(live) >= 3, (live, big_seconds)
        print(f"\nbig request {big_seconds:.2f} s; /livez during it: max {max(live) * 1e3:.1f} ms, "
              f"median {statistics.median(live) * 1e3:.1f} ms over {len(live)}; small /schedule: "
              f"max {max(small) * 1e3:.1f} ms, median {statistics.median(small) * 1e3:.1f} ms")
        assert max(live) < 1.0 and max(small) < 1.0


def _schedule_pids(logs: str) -> list[int]:
    """The worker pid of every POST /schedule access line in the server's log."""
    out = []
    for line in logs.splitlines():
        if line.startswith("{") and '"dsct.access"' in line:
            rec = json.loads(line)
            if rec.get("method") == "POST" and rec.get("endpoint") == "/schedule":
                out.append(rec["pid"])
    return out


def test_metrics_add_up_across_two_workers(tmp_path):
    """prometheus-client's multiprocess mode: the counts of both worker processes are summed."""
    with running_server(tmp_path, workers=2, env={"DSCT_LOG_LEVEL": "INFO"}) as srv:
        n = 0
        pids: set[str] = set()
        for _round in range(5):
            def one(_: int) -> int:
                # a fresh connection each time, so the kernel spreads them over both workers
                return httpx.post(srv.url + "/schedule", content=SMALL, headers=JSON_HEADERS, timeout=10).status_code

            statuses: list[int] = []
            threads = [threading.Thread(target=lambda out=statuses: out.append(one(0))) for _ in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert statuses == [200] * 20
            n += 20
            pids = set(_schedule_pids(srv.logs()))
            if len(pids) >= 2:
                break
        assert len(pids) == 2, f"only workers {pids} served requests"
        deadline = time.monotonic() + 10
        total = -1.0
        while time.monotonic() < deadline:
            total = _requests_ok(httpx.get(srv.url + "/metrics", timeout=10).text)
            if total == n:
                break
            time.sleep(0.1)
        assert total == n
        text = httpx.get(srv.url + "/metrics", timeout=10).text
        assert "dsct_build_info{" in text and "dsct_solves_in_flight" in text


def test_sigterm_finishes_in_flight_requests(tmp_path):
    """SIGTERM while a slow solve runs: it completes with 200, the process exits 0, and new
    connections are refused afterwards."""
    big = json.dumps(random_batch(100_000, 1_000, 6, "edf-nocompression")).encode()
    with running_server(tmp_path, workers=1) as srv:
        result: dict = {}

        def send_big() -> None:
            try:
                result["r"] = httpx.post(srv.url + "/schedule", content=big, headers=JSON_HEADERS, timeout=120)
            except Exception as exc:  # noqa: BLE001  (reported below)
                result["exc"] = exc

        t = threading.Thread(target=send_big, daemon=True)
        t.start()
        time.sleep(0.5)
        assert t.is_alive(), "the big request finished before SIGTERM: make it bigger"
        srv.proc.send_signal(signal.SIGTERM)
        t.join(120)
        assert "exc" not in result, result.get("exc")
        r = result["r"]
        assert r.status_code == 200
        body = r.json()
        assert sum(len(mc["assignments"]) for mc in body["machines"]) + len(body["unscheduled"]) == 100_000
        assert srv.proc.wait(timeout=30) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(srv.url + "/livez", timeout=2)


def test_keep_alive_connections_spread_over_workers(tmp_path):
    """Each worker has its own SO_REUSEPORT socket: 16 keep-alive connections opened at once
    reach both workers (with one shared socket, the first worker to wake took them all).
    Chance that the kernel's hash puts all 16 on one worker: 2 / 2**16."""
    with running_server(tmp_path, workers=2, env={"DSCT_LOG_LEVEL": "INFO"}) as srv:
        clients = [httpx.Client(base_url=srv.url, timeout=10) for _ in range(16)]
        try:
            for c in clients:  # open every connection before any request is served
                assert c.get("/livez").status_code == 200
            for c in clients:
                for _ in range(3):
                    assert c.post("/schedule", content=SMALL, headers=JSON_HEADERS).status_code == 200
        finally:
            for c in clients:
                c.close()
        deadline = time.monotonic() + 10  # a log line may land just after its response
        while True:
            pids = _schedule_pids(srv.logs())
            if len(pids) >= 48 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(pids) == 48
        assert len(set(pids)) == 2, f"all requests on worker(s) {set(pids)}"


def test_sigterm_exits_cleanly_with_every_log_line_json(tmp_path):
    """SIGTERM to two workers, each with its solver process started (at start-up) and one of
    them used by a large batch: the service exits 0 and writes nothing but JSON lines, so no
    traceback and no resource-tracker warning about semaphores left behind."""
    big = json.dumps(random_batch(20_000, 20, 7, "dsct-approx")).encode()
    with running_server(tmp_path, workers=2, env={"DSCT_LOG_LEVEL": "INFO", "DSCT_ISOLATE_MIN_BYTES": "1000000"}) as srv:
        r = httpx.post(srv.url + "/schedule", content=big, headers=JSON_HEADERS, timeout=120)
        assert r.status_code == 200
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=60) == 0
        time.sleep(0.5)  # the resource tracker writes after the processes are gone
        lines = [ln for ln in srv.logs().splitlines() if ln.strip()]
    assert lines, "the server logged nothing at INFO"
    for line in lines:
        assert isinstance(json.loads(line), dict), line

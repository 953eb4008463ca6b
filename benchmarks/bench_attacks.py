"""Slow, stalled and greedy clients against a live ``dsct serve`` (2 workers, loopback, a
free port), and what they cost it: the figures of docs/robustness.md.

    .venv/bin/python benchmarks/bench_attacks.py                  # this tree, all attacks (~4 min)
    .venv/bin/python benchmarks/bench_attacks.py --root DIR       # another checkout (e.g. the code before)
    .venv/bin/python benchmarks/bench_attacks.py --only sigterm,orphans

A script, not a test: it prints figures. Every attack is bounded in time and connections;
the server is stopped (its process group killed) afterwards. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parents[1]
JSON = {"content-type": "application/json"}


def batch(n: int, m: int, seed: int = 0, algorithm: str = "dsct-approx", pad: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    horizon = max(1.0, 0.05 * n / m)
    deadline, theta = rng.uniform(0, horizon, n), rng.uniform(1, 80, n)
    a_min = rng.uniform(0, 0.1, n)
    a_max = a_min + rng.uniform(0.05, 0.9, n)
    t_max = rng.uniform(0.01, 0.2, n)
    suffix = "x" * pad
    tasks = [{"id": f"t{j}{suffix}", "deadline": float(deadline[j]), "theta": float(theta[j]),
              "a_min": float(a_min[j]), "a_max": float(min(a_max[j], 1.0)), "t_max": float(t_max[j])}
             for j in range(n)]
    machines = [{"id": f"m{r}", "speed": float(s), "available_at": 0.0} for r, s in enumerate(rng.uniform(0.5, 4, m))]
    return json.dumps({"algorithm": algorithm, "machines": machines, "tasks": tasks}).encode()


SMALL = batch(1, 2)
MID = batch(1_000, 10, 2)


class Server:
    def __init__(self, proc: subprocess.Popen, port: int):
        self.proc, self.port = proc, port
        self.url = f"http://127.0.0.1:{port}"

    def tree(self) -> list[int]:
        """The supervisor and every process below it."""
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    pass
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo += [c for c, p in parents.items() if p == pid]
        return out

    def rss_mib(self) -> float:
        total = 0
        for pid in self.tree():
            try:
                with open(f"/proc/{pid}/status") as fh:
                    total += int(re.search(r"VmRSS:\s+(\d+)", fh.read()).group(1))
            except (OSError, AttributeError):
                pass
        return total / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(root: Path, workers: int = 2, env: dict[str, str] | None = None) -> Iterator[Server]:
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("DSCT_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    full.update({"DSCT_PORT": str(port), "DSCT_WORKERS": str(workers), "DSCT_LOG_LEVEL": "WARNING"}, **(env or {}))
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], cwd=root, env=full, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    srv = Server(proc, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(srv.url + "/livez", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(log.read().decode(errors="replace")[-3000:])
            time.sleep(0.2)
        time.sleep(2)  # solver processes start
        yield srv
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
        time.sleep(1)


def sampler(srv: Server) -> tuple[Callable[[], float], threading.Event]:
    peak = [srv.rss_mib()]
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], srv.rss_mib())
            time.sleep(0.1)

    threading.Thread(target=run, daemon=True).start()
    return lambda: peak[0], stop


def head(length: int | None, path: str = "/schedule") -> bytes:
    cl = f"Content-Length: {length}\r\n" if length is not None else ""
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{cl}\r\n".encode()


def closed_within(socks: list[socket.socket], seconds: float) -> list[float | None]:
    """For each socket, when the server closed it (seconds), or None if still open."""
    t0 = time.monotonic()
    out: list[float | None] = [None] * len(socks)
    for s in socks:
        s.setblocking(False)
    while time.monotonic() - t0 < seconds and any(x is None for x in out):
        for i, s in enumerate(socks):
            if out[i] is None:
                try:
                    if not s.recv(65536):
                        out[i] = time.monotonic() - t0
                except BlockingIOError:
                    pass
                except OSError:
                    out[i] = time.monotonic() - t0
        time.sleep(0.05)
    return out


def describe_closed(times: list[float | None], seconds: float) -> str:
    held = sum(t is None for t in times)
    done = [t for t in times if t is not None]
    med = f"closed after {statistics.median(done):.1f} s (median)" if done else "none closed"
    return f"{held} of {len(times)} held after {seconds:g} s; {med}"


# ---------------------------------------------------------------- attacks

def idle_and_slowloris(root: Path) -> dict[str, str]:
    with server(root) as srv:
        addr = ("127.0.0.1", srv.port)
        idle = [socket.create_connection(addr) for _ in range(200)]
        loris = [socket.create_connection(addr) for _ in range(200)]
        stop = threading.Event()

        def drip() -> None:
            line = head(len(SMALL))
            i = 0
            while not stop.is_set() and i < len(line) - 2:
                for s in loris:
                    try:
                        s.send(line[i:i + 1])
                    except OSError:
                        pass
                i += 1
                time.sleep(1.0)

        threading.Thread(target=drip, daemon=True).start()
        seconds = 30
        times = closed_within(idle + loris, seconds)
        times_idle, times_loris = times[:len(idle)], times[len(idle):]
        stop.set()
        # a body announced at 10 MB and dripped at 1 kB/s
        drip_sock = socket.create_connection(addr)
        drip_sock.sendall(head(10_000_000))
        t0 = time.monotonic()
        closed = None
        drip_sock.setblocking(False)
        while time.monotonic() - t0 < 40:
            try:
                drip_sock.send(b" " * 1000)
            except BlockingIOError:
                pass
            except OSError:
                closed = time.monotonic() - t0
                break
            try:
                if drip_sock.recv(65536) == b"":
                    closed = time.monotonic() - t0
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed = time.monotonic() - t0
                break
            time.sleep(1.0)
        for s in idle + loris + [drip_sock]:
            s.close()
    return {"idle connections (200)": describe_closed(times_idle, seconds),
            "slowloris, a header byte a second (200)": describe_closed(times_loris, seconds),
            "10 MB body at 1 kB/s": "held after 40 s" if closed is None else f"closed after {closed:.1f} s"}


def uploads_and_batches(root: Path, parallel: int) -> dict[str, str]:
    """``parallel`` near-limit uploads never finished, then ``parallel`` near-limit batches."""
    body = batch(100_000, 1_000, 7, "edf-nocompression", pad=150)
    out = {}
    with server(root) as srv:
        peak, stop = sampler(srv)
        socks = []
        for _ in range(parallel):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(head(len(body)))
            try:
                s.sendall(body[:-1])
            except OSError:
                pass
            socks.append(s)
        time.sleep(5)
        # one more upload, its head only: how long until the server answers it
        waits = []
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", srv.port)) as s:
                t = time.monotonic()
                s.sendall(head(len(body)))
                s.settimeout(10)
                try:
                    got = s.recv(200)
                except OSError:
                    got = b""
                waits.append(time.monotonic() - t if got.startswith(b"HTTP/1.1 503") else None)
        stop.set()
        answered = [w for w in waits if w is not None]
        out[f"{parallel} uploads held: time to a 503 for one more (head only)"] = (
            f"median {statistics.median(answered) * 1e3:.1f} ms" if answered else "no answer within 10 s (5 tries)")
        refused = 0
        for s in socks:
            s.setblocking(False)
            try:
                refused += s.recv(200).startswith(b"HTTP/1.1 503")
            except OSError:
                pass
            s.close()
        out[f"{parallel} uploads of {len(body) / 2**20:.0f} MiB never finished: RSS peak"] = \
            f"{peak():,.0f} MiB ({refused} answered 503)"
    with server(root) as srv:
        peak, stop = sampler(srv)
        results: list[tuple[int, float]] = []

        def send() -> None:
            t = time.monotonic()
            try:
                r = httpx.post(srv.url + "/schedule", content=body, headers=JSON, timeout=120)
                results.append((r.status_code, time.monotonic() - t))
            except httpx.HTTPError:
                results.append((0, time.monotonic() - t))

        threads = [threading.Thread(target=send) for _ in range(parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(150)
        stop.set()
        codes = [c for c, _ in results]
        first_503 = [s for c, s in results if c == 503]
        ok = [s for c, s in results if c == 200]
        out[f"{parallel} batches of {len(body) / 2**20:.0f} MiB at once: RSS peak"] = (
            f"{peak():,.0f} MiB; {codes.count(200)} x 200, {codes.count(503)} x 503, {codes.count(0)} failed")
        out[f"{parallel} batches: time to a 503"] = (
            f"median {statistics.median(first_503):.2f} s" if first_503 else "no 503") + (
            f"; 200s in median {statistics.median(ok):.1f} s" if ok else "")
    return out


def latency_during(root: Path, what: str) -> dict[str, str]:
    """Small /schedule and /livez, one client each, while 4 large batches (17 MB) or 4 exact
    clients (time_limit 10) keep the server busy."""
    if what == "large":
        body, count = batch(100_000, 1_000, 5, "edf-nocompression"), 4
    else:
        b = json.loads(batch(60, 3, 1, "exact"))
        b["time_limit"] = 10
        body, count = json.dumps(b).encode(), 4
    with server(root) as srv:
        done = threading.Event()
        statuses: list[int] = []

        def load() -> None:
            try:
                statuses.append(httpx.post(srv.url + "/schedule", content=body, headers=JSON, timeout=120).status_code)
            except httpx.HTTPError:
                statuses.append(0)

        threads = [threading.Thread(target=load) for _ in range(count)]
        for t in threads:
            t.start()
        watcher = threading.Thread(target=lambda: ([t.join() for t in threads], done.set()))
        watcher.start()
        time.sleep(0.5)
        small, live, small_status, mid = [], [], [], []

        def probe_live() -> None:
            with httpx.Client(base_url=srv.url, timeout=30) as c:
                while not done.is_set():
                    t = time.perf_counter()
                    c.get("/livez")
                    live.append(time.perf_counter() - t)
                    time.sleep(0.01)

        pl = threading.Thread(target=probe_live)
        pl.start()
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            while not done.is_set():
                t = time.perf_counter()
                try:
                    small_status.append(c.post("/schedule", content=SMALL, headers=JSON).status_code)
                except httpx.HTTPError:
                    small_status.append(0)
                small.append(time.perf_counter() - t)
                if len(small) % 20 == 1:  # a 1,000-task dsct-approx batch now and then (a solver thread)
                    t = time.perf_counter()
                    try:
                        code = c.post("/schedule", content=MID, headers=JSON).status_code
                    except httpx.HTTPError:
                        code = 0
                    mid.append((time.perf_counter() - t, code))
                time.sleep(0.01)
        pl.join()
        watcher.join()
    q = np.quantile(small, [0.5, 0.99]) * 1e3 if small else [float("nan")] * 2
    label = "4 large batches (17 MB)" if what == "large" else "4 exact clients (time_limit 10 s)"
    bad = sum(s != 200 for s in small_status)
    return {f"during {label}: small /schedule p50 / p99, /livez max": (
        f"{q[0]:.0f} / {q[1]:.0f} ms ({len(small)} requests, {bad} not 200), /livez max "
        f"{max(live) * 1e3:.0f} ms; 1,000-task dsct-approx: max {max(x for x, _ in mid) * 1e3:.0f} ms, "
        f"{sum(c != 200 for _, c in mid)} of {len(mid)} not 200; the load: {sorted(statuses)}")}


REQUEST = head(len(SMALL)) + SMALL


def sigterm(root: Path) -> dict[str, str]:
    """16 keep-alive connections sending small /schedule back to back; SIGTERM after 3 s."""
    tally = {"sent": 0, "answered": 0, "lost": 0}
    lock = threading.Lock()
    with server(root) as srv:
        def client() -> None:
            sock, buf = None, b""
            while True:
                if sock is None:
                    try:
                        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
                    except OSError:
                        return
                    buf = b""
                ok = False
                close = False
                try:
                    sock.sendall(REQUEST)
                    while b"\r\n\r\n" not in buf:
                        got = sock.recv(65536)
                        if not got:
                            raise ConnectionError
                        buf += got
                    h, _, rest = buf.partition(b"\r\n\r\n")
                    n = int(re.search(rb"(?i)content-length: (\d+)", h).group(1))
                    while len(rest) < n:
                        got = sock.recv(65536)
                        if not got:
                            raise ConnectionError
                        rest += got
                    buf = rest[n:]
                    ok = True
                    close = b"connection: close" in h.lower()
                except OSError:
                    pass
                with lock:
                    tally["sent"] += 1
                    tally["answered" if ok else "lost"] += 1
                if not ok:
                    return
                if close:
                    sock.close()
                    sock = None

        threads = [threading.Thread(target=client) for _ in range(16)]
        for t in threads:
            t.start()
        time.sleep(3)
        srv.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(60)
        srv.proc.wait(60)
    return {"SIGTERM under keep-alive load (16 connections)": f"{tally['lost']} lost of {tally['sent']} sent"}


def orphans(root: Path) -> dict[str, str]:
    with server(root) as srv:
        workers = [p for p in srv.tree() if p != srv.proc.pid]
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        t0 = time.monotonic()
        served = 0
        while time.monotonic() - t0 < 30:
            alive = [p for p in workers if os.path.exists(f"/proc/{p}") and
                     open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
            try:
                served += httpx.get(srv.url + "/livez", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                pass
            if not alive:
                break
            time.sleep(0.05)
        gone = time.monotonic() - t0
    still = f"{len(alive)} of {len(workers)} still alive after 30 s" if alive else f"all gone in {gone:.2f} s"
    return {"workers after kill -9 of the supervisor": f"{still}; {served} /livez answered meanwhile"}


ATTACKS: dict[str, Callable[[Path], dict[str, str]]] = {
    "slow": idle_and_slowloris,
    "memory20": lambda root: uploads_and_batches(root, 20),
    "memory40": lambda root: uploads_and_batches(root, 40),
    "large": lambda root: latency_during(root, "large"),
    "exact": lambda root: latency_during(root, "exact"),
    "sigterm": sigterm,
    "orphans": orphans,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=HERE, help="the checkout to serve (default: this one)")
    ap.add_argument("--only", default=",".join(ATTACKS), help="comma-separated: " + ", ".join(ATTACKS))
    args = ap.parse_args()
    print(f"# {args.root} ({os.cpu_count()} cores, shared)", flush=True)
    for name in args.only.split(","):
        for key, value in ATTACKS[name](args.root).items():
            print(f"| {key} | {value} |", flush=True)


if __name__ == "__main__":
    main()

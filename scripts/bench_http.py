#!/usr/bin/env python3
"""Quick HTTP throughput figure: POST /schedule with a 100-task, 10-machine batch.

Starts ``dsct serve --workers 2`` on a free loopback port (or uses --url), then drives it
with keep-alive connections from an asyncio client over raw sockets (one process, so the
client itself takes a share of the 2 cores), several runs, and prints the median
requests/s and latency percentiles. Not a test; the full load benchmark is elsewhere.

    .venv/bin/python scripts/bench_http.py [--tasks 100 --machines 10 --connections 16 --seconds 5 --runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.api.conftest import random_batch  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def worker(host: str, port: int, request: bytes, stop: float, lat: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head.split(b"\r\n")[0].decode())
    finally:
        writer.close()


async def run_once(host: str, port: int, request: bytes, connections: int, seconds: float) -> tuple[float, list[float], list[str]]:
    lat: list[float] = []
    errors: list[str] = []
    t0 = time.perf_counter()
    stop = t0 + seconds
    await asyncio.gather(*(worker(host, port, request, stop, lat, errors) for _ in range(connections)))
    return len(lat) / (time.perf_counter() - t0), lat, errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="an already running server, e.g. http://127.0.0.1:8000")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tasks", type=int, default=100)
    ap.add_argument("--machines", type=int, default=10)
    ap.add_argument("--algorithm", default="dsct-approx")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    body = json.dumps(random_batch(args.tasks, args.machines, 1, args.algorithm)).encode()
    proc = None
    if args.url:
        host, port = args.url.split("//")[1].rsplit(":", 1)
        port = int(port)
    else:
        host, port = "127.0.0.1", free_port()
        env = dict(os.environ)  # DSCT_* settings pass through (e.g. DSCT_SOLVER_THREADS)
        env.update(DSCT_PORT=str(port), DSCT_WORKERS=str(args.workers), DSCT_LOG_LEVEL="WARNING")
        proc = subprocess.Popen([str(Path(sys.executable).with_name("dsct")), "serve"], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{host}:{port}/livez", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("server did not start") from None
                time.sleep(0.1)
        request = (f"POST /schedule HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        asyncio.run(run_once(host, port, request, args.connections, 1.0))  # warm-up
        rates = []
        for i in range(args.runs):
            rate, lat, errors = asyncio.run(run_once(host, port, request, args.connections, args.seconds))
            lat.sort()
            p = lambda q, lat=lat: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e3  # noqa: E731
            print(f"run {i + 1}: {rate:8.0f} req/s  p50 {p(0.5):6.2f} ms  p99 {p(0.99):6.2f} ms  "
                  f"errors {len(errors)}", flush=True)
            rates.append(rate)
        print(f"median over {args.runs} runs: {statistics.median(rates):.0f} requests/s "
              f"({args.tasks} tasks, {args.machines} machines, {args.algorithm}, body {len(body)} bytes, "
              f"{args.connections} keep-alive connections, {args.workers} workers, {os.cpu_count()} cores)")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

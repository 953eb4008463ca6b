#!/usr/bin/env python3
"""Load benchmark of a real ``dsct serve`` on loopback (a script, not a test; docs/robustness.md).

Starts ``dsct serve`` with the default deployment's worker count (``DSCT_WORKERS``, default
2) and ``DSCT_BENCH_ROUTES=1`` on a free 127.0.0.1 port, then drives it from a separate
load-generator process over keep-alive connections (``wrk`` with a Lua script when it is
installed, ``apt-get install wrk``; else an asyncio raw-socket client in a subprocess).

For each batch size (100 tasks / 10 machines, 10,000 tasks / 100 machines) it measures, with
the same body on the same server:

* ``echo``      POST /bench/echo: the body back unparsed (HTTP, middleware, bytes in and out);
* ``validate``  POST /schedule/validate: + JSON parsing, pydantic, batch checks, mapping;
* ``schedule``  POST /schedule: + the solve and the response.

Several runs each; the table gives the median of the runs' throughput, p50 and p99.

``--soak SECONDS`` instead holds a steady load (small batches, every ``--soak-large-every``-th
request on each connection a large one, a think time per connection) and samples the RSS of
the server's processes from /proc: at start (after a warm-up), every 30 s, and at the end,
with the error count.

Everything stops by itself: bounded durations, the server is stopped (SIGTERM, then SIGKILL
of its own process group) in ``finally``.

    .venv/bin/python benchmarks/bench_load.py                    # the table (about 4 minutes)
    .venv/bin/python benchmarks/bench_load.py --soak 600         # the 10-minute soak
    .venv/bin/python benchmarks/bench_load.py --profile          # in-process time per stage
    .venv/bin/python benchmarks/bench_load.py --algorithms dsct-approx,dsct-best --endpoints schedule
    .venv/bin/python benchmarks/bench_load.py --py-spy PATH --endpoints schedule   # CPU per stage under load
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = {"small": (100, 10, 1), "large": (10_000, 100, 2)}  # tasks, machines, seed
ENDPOINTS = {"echo": "/bench/echo", "validate": "/schedule/validate", "schedule": "/schedule"}


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``dsct serve`` on a free loopback port, in its own process group."""

    def __init__(self, workers: int, log_level: str, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update(DSCT_HOST="127.0.0.1", DSCT_PORT=str(self.port), DSCT_WORKERS=str(workers),
                   DSCT_LOG_LEVEL=log_level, DSCT_BENCH_ROUTES="1")
        self.workers = workers
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([str(Path(sys.executable).with_name("dsct")), "serve"], env=env,
                                     cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                urllib.request.urlopen(self.url + "/livez", timeout=1).read()
                if len(self.pids()) >= 1 + (self.workers > 1) * self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"server not ready within {timeout} s; see {self.log_path}")

    def pids(self) -> list[int]:
        """The serve process and all its descendants (uvicorn workers, multiprocessing helpers)."""
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            try:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    kids = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
                    todo.extend(int(k) for k in kids)
            except OSError:
                continue
        return out

    def rss(self) -> dict[int, int]:
        """VmRSS in bytes of every server process."""
        out = {}
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out[pid] = int(line.split()[1]) * 1024
            except OSError:
                pass
        return out

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by every server process (all threads)."""
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
            except (OSError, IndexError, ValueError):
                pass
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


# --------------------------------------------------------------------------- load generators

LUA = r"""
local bodies, every, think = {%(bodies)s}, %(every)d, %(think)d
local reqs, n = {}, 0
function init(args)
  for i, b in ipairs(bodies) do
    local f = assert(io.open(b[2], "rb")); local body = f:read("*a"); f:close()
    reqs[i] = wrk.format("POST", b[1], {["Content-Type"] = "application/json"}, body)
  end
end
function request()
  n = n + 1
  if every > 0 and #reqs > 1 and n %% every == 0 then return reqs[2] end
  return reqs[1]
end
if think > 0 then function delay() return think end end
function done(s, lat, r)
  io.write(string.format('WRKJSON {"requests":%%d,"seconds":%%f,"status_errors":%%d,' ..
    '"socket_errors":%%d,"p50_ms":%%f,"p99_ms":%%f,"max_ms":%%f}\n', s.requests, s.duration / 1e6,
    s.errors.status, s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout,
    lat:percentile(50) / 1e3, lat:percentile(99) / 1e3, lat.max / 1e3))
end
"""


def run_wrk(url: str, bodies: list[tuple[str, Path]], connections: int, seconds: float,
            every: int = 0, think_ms: int = 0, tmp: Path = Path(".")) -> dict[str, Any]:
    script = tmp / f"load-{os.getpid()}-{time.monotonic_ns()}.lua"
    script.write_text(LUA % {"bodies": ", ".join(f'{{"{p}", "{f}"}}' for p, f in bodies),
                             "every": every, "think": think_ms})
    threads = max(1, min(2, connections))
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "60s",
           "-s", str(script), url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    script.unlink()
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout}\n{proc.stderr}")
    out = json.loads(line[len("WRKJSON "):])
    out["rate"] = out["requests"] / out["seconds"]
    return out


async def _client(host: str, port: int, requests: list[bytes], connections: int, seconds: float,
                  every: int, think: float) -> dict[str, Any]:
    lat: list[float] = []
    errors = {"status": 0, "socket": 0}

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        n = 0
        try:
            while time.perf_counter() < stop:
                n += 1
                req = requests[1] if every and len(requests) > 1 and n % every == 0 else requests[0]
                t0 = time.perf_counter()
                writer.write(req)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                lat.append(time.perf_counter() - t0)
                if not head.startswith(b"HTTP/1.1 2"):
                    errors["status"] += 1
                if think:
                    await asyncio.sleep(think)
        except (OSError, asyncio.IncompleteReadError):
            errors["socket"] += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    stop = t0 + seconds
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    elapsed = time.perf_counter() - t0
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3 if lat else float("nan")  # noqa: E731
    return {"requests": len(lat), "seconds": elapsed, "rate": len(lat) / elapsed, "p50_ms": q(0.5),
            "p99_ms": q(0.99), "max_ms": lat[-1] * 1e3 if lat else float("nan"),
            "status_errors": errors["status"], "socket_errors": errors["socket"]}


def client_main(argv: list[str]) -> int:
    """``bench_load.py --_client SPEC_JSON``: the asyncio generator, run as its own process."""
    spec = json.loads(argv[0])
    requests = []
    for path, file in spec["bodies"]:
        body = Path(file).read_bytes()
        requests.append((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    out = asyncio.run(_client("127.0.0.1", spec["port"], requests, spec["connections"], spec["seconds"],
                              spec["every"], spec["think_ms"] / 1e3))
    print("WRKJSON " + json.dumps(out), flush=True)
    return 0


def run_python(port: int, bodies: list[tuple[str, Path]], connections: int, seconds: float,
               every: int = 0, think_ms: int = 0) -> dict[str, Any]:
    spec = {"port": port, "bodies": [(p, str(f)) for p, f in bodies], "connections": connections,
            "seconds": seconds, "every": every, "think_ms": think_ms}
    proc = subprocess.run([sys.executable, __file__, "--_client", json.dumps(spec)], capture_output=True,
                          text=True, timeout=seconds + 120)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"load client failed: {proc.stderr}")
    return json.loads(line[len("WRKJSON "):])


class Load:
    def __init__(self, server: Server, client: str, tmp: Path):
        self.server, self.client, self.tmp = server, client, tmp

    def __call__(self, bodies: list[tuple[str, Path]], connections: int, seconds: float,
                 every: int = 0, think_ms: int = 0) -> dict[str, Any]:
        if self.client == "wrk":
            return run_wrk(self.server.url, bodies, connections, seconds, every, think_ms, self.tmp)
        return run_python(self.server.port, bodies, connections, seconds, every, think_ms)


# --------------------------------------------------------------------------- modes


def load_avg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def make_bodies(tmp: Path, algorithm: str | None = None) -> dict[str, Path]:
    """The benchmark batches; ``algorithm`` None leaves the field out (the server's default)."""
    from tests.api.conftest import random_batch

    out = {}
    for name, (n, m, seed) in SIZES.items():
        doc = random_batch(n, m, seed)
        if algorithm is None:
            del doc["algorithm"]
        else:
            doc["algorithm"] = algorithm
        out[name] = tmp / f"{name}-{algorithm or 'default'}.json"
        out[name].write_bytes(json.dumps(doc).encode())
    return out


def check_answers(url: str, bodies: dict[str, Path]) -> None:
    """Every endpoint answers 200 to every body before the load starts (else the figures lie)."""
    for name, file in bodies.items():
        for ep, path in ENDPOINTS.items():
            req = urllib.request.Request(url + path, data=file.read_bytes(), method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                data = r.read()
            if ep == "validate" and not json.loads(data)["valid"]:
                raise SystemExit(f"the {name} batch is not valid: {data[:300]!r}")
            if ep == "schedule":
                print(f"  {name}: body {file.stat().st_size:,} bytes, schedule response {len(data):,} bytes")


def per_worker(log_path: Path, since: int) -> dict[str, int]:
    """Requests per worker pid in the access log lines written after byte ``since``."""
    counts: dict[str, int] = {}
    with open(log_path, "rb") as fh:
        fh.seek(since)
        for line in fh:
            if line.startswith(b"{") and b'"pid"' in line:
                try:
                    pid = str(json.loads(line)["pid"])
                except (ValueError, KeyError):
                    continue
                counts[pid] = counts.get(pid, 0) + 1
    return counts


def _endpoint_runs(args: argparse.Namespace) -> list[str]:
    """The endpoints to load, ``schedule`` once per algorithm of ``--algorithms``."""
    out = []
    for ep in args.endpoints:
        if ep == "schedule" and args.algorithms:
            out.extend(f"schedule {a}" for a in args.algorithms)
        else:
            out.append(ep)
    return out


def _body_for(args: argparse.Namespace, bodies: dict[str, Path], ep: str, size: str) -> Path:
    if ep.startswith("schedule ") and args.algorithms:
        return args.algorithm_bodies[ep.split(" ", 1)[1]][size]
    return bodies[size]


def table(args: argparse.Namespace, server: Server, load: Load, bodies: dict[str, Path]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    plan = [("small", args.connections, args.seconds), ("large", args.large_connections, args.large_seconds)]
    for size, conns, seconds in plan:
        if size not in args.sizes:
            continue
        eps = _endpoint_runs(args)
        for ep in eps:  # warm-up
            load([(ENDPOINTS[ep.split(" ")[0]], _body_for(args, bodies, ep, size))], conns, min(3.0, seconds))
        runs: dict[str, list[dict[str, Any]]] = {ep: [] for ep in eps}
        # run by run, every endpoint in turn: a change in the machine's load hits them all alike
        for i in range(args.runs):
            for ep in eps:
                path = ENDPOINTS[ep.split(" ")[0]]
                body = _body_for(args, bodies, ep, size)
                mark = server.log_path.stat().st_size
                cpu = server.cpu_seconds()
                r = load([(path, body)], conns, seconds)
                r["cpu_ms"] = (server.cpu_seconds() - cpu) / max(1, r["requests"]) * 1e3
                r["load"] = load_avg()
                r["per_worker"] = per_worker(server.log_path, mark)
                runs[ep].append(r)
                print(f"  {size:5} {ep:8} run {i + 1}: {r['rate']:8.1f} req/s  p50 {r['p50_ms']:8.2f} ms  "
                      f"p99 {r['p99_ms']:8.2f} ms  server CPU {r['cpu_ms']:7.3f} ms/req  "
                      f"errors {r['status_errors'] + r['socket_errors']}  "
                      f"per worker {sorted(r['per_worker'].values())}  load {r['load']}", flush=True)
        for ep, rs in runs.items():
            results[f"{size}/{ep}"] = {
                "connections": conns, "seconds": seconds, "runs": rs,
                "rate": statistics.median(r["rate"] for r in rs),
                "p50_ms": statistics.median(r["p50_ms"] for r in rs),
                "p99_ms": statistics.median(r["p99_ms"] for r in rs),
                "cpu_ms": statistics.median(r["cpu_ms"] for r in rs),
                "errors": sum(r["status_errors"] + r["socket_errors"] for r in rs),
            }
    print(f"\nmedian of {args.runs} runs ({server.workers} workers, {args.client} client, "
          f"{os.cpu_count()} cores; load average before: {args.load_before}, after: {load_avg()})")
    print(f"{'batch':<29}{'endpoint':<26}{'conns':>6}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}"
          f"{'errors':>8}{'echo/this':>11}{'CPU ms/req':>12}{'2-core cap.':>13}")
    for size in ("small", "large"):
        echo = results.get(f"{size}/echo")
        for ep in _endpoint_runs(args):
            r = results.get(f"{size}/{ep}")
            if r is None:
                continue
            n, m, _ = SIZES[size]
            ratio = f"{echo['rate'] / r['rate']:.1f}" if echo else "-"
            label = "POST " + ENDPOINTS[ep.split(" ")[0]] + ep[len(ep.split(" ")[0]):]
            print(f"{f'{n:,} tasks / {m} machines':<29}{label:<26}{r['connections']:>6}"
                  f"{r['rate']:>10.1f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{r['errors']:>8}{ratio:>11}"
                  f"{r['cpu_ms']:>12.3f}{2e3 / r['cpu_ms']:>13.0f}")
    print("CPU ms/req: user + system CPU of all server processes per request (robust to other jobs "
          "on the machine);\n2-core cap.: 2,000 CPU-ms per second / CPU ms per request, the rate two "
          "otherwise idle cores could serve (server only, client elsewhere)")
    return results


def soak(args: argparse.Namespace, server: Server, load: Load, bodies: dict[str, Path]) -> dict[str, Any]:
    mix = [("/schedule", bodies["small"]), ("/schedule", bodies["large"])]
    idle = server.rss()
    load(mix, args.soak_connections, 30, args.soak_large_every, args.soak_think_ms)  # warm-up
    start = server.rss()
    print(f"  RSS idle {_mib(idle)}, after a 30 s warm-up {_mib(start)} (load {load_avg()})", flush=True)
    samples = [(0.0, sum(start.values()))]
    result: dict[str, Any] = {}

    def generate() -> None:
        result.update(load(mix, args.soak_connections, args.soak, args.soak_large_every, args.soak_think_ms))

    import threading

    t = threading.Thread(target=generate, daemon=True)
    t0 = time.monotonic()
    t.start()
    while t.is_alive():
        t.join(30)
        rss = server.rss()
        samples.append((time.monotonic() - t0, sum(rss.values())))
        print(f"  t={samples[-1][0]:5.0f} s  RSS {_mib(rss)}  load {load_avg()}", flush=True)
    end = server.rss()
    growth = (sum(end.values()) - sum(start.values())) / sum(start.values())
    errors = result["status_errors"] + result["socket_errors"]
    log = server.log_path.read_text(errors="replace")
    tracebacks = log.count("Traceback")
    print(f"\nsoak {args.soak:.0f} s: {result['requests']:,} requests ({result['rate']:.1f}/s, every "
          f"{args.soak_large_every}th per connection a 10,000-task batch, {args.soak_connections} connections, "
          f"think {args.soak_think_ms} ms), p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms; "
          f"errors {errors}, tracebacks in the server log {tracebacks}")
    print(f"RSS (all server processes) at start {sum(start.values()) / 2**20:.1f} MiB, end "
          f"{sum(end.values()) / 2**20:.1f} MiB, max {max(s for _, s in samples) / 2**20:.1f} MiB: "
          f"growth {growth * 100:+.1f}%  (per process: start {_mib(start)}, end {_mib(end)})")
    return {"result": result, "rss_idle": idle, "rss_start": start, "rss_end": end, "growth": growth,
            "samples": samples, "errors": errors, "tracebacks": tracebacks}


def _mib(rss: dict[int, int]) -> str:
    return "{" + ", ".join(f"{pid}: {v / 2**20:.1f} MiB" for pid, v in sorted(rss.items())) + "}"


def profile(args: argparse.Namespace, bodies: dict[str, Path]) -> None:
    """Time per stage of ``app.api.service.schedule_json``, in-process, no HTTP (median of runs)."""
    import json as _json

    from app.api.service import dumps_response, solve_options
    from app.batch import from_request, read
    from app.mapping import check_batch, to_response
    from app.settings import Settings
    from app.solver import options_of, solve
    from schemas import ScheduleRequest

    settings = Settings()
    for size, file in bodies.items():
        if size not in args.sizes:
            continue
        body = file.read_bytes()
        reps = 200 if size == "small" else 7
        stages: dict[str, list[float]] = {}
        for _ in range(reps):
            t = [time.perf_counter()]
            _json.loads(body)
            t.append(time.perf_counter())
            from_request(ScheduleRequest.model_validate_json(body))
            t.append(time.perf_counter())
            batch = read(body)
            t.append(time.perf_counter())
            problem, issues = check_batch(batch, settings.max_tasks, settings.max_machines)
            assert problem is not None, issues
            t.append(time.perf_counter())
            sol = solve(problem, batch.algorithm, **solve_options(batch, settings))
            t.append(time.perf_counter())
            out = to_response(batch, problem, sol, "0" * 32)
            out["timings"] = {"parse_seconds": 0.0, "solve_seconds": 0.0, "total_seconds": 0.0}
            t.append(time.perf_counter())
            dumps_response(out)
            t.append(time.perf_counter())
            names = ["json.loads (reference only)", "pydantic models (reference only)", "read (orjson + checks)",
                     "check_batch (with to_problem)", f"solve ({batch.algorithm})", "to_response", "dumps_response"]
            for k, name in enumerate(names):
                stages.setdefault(name, []).append(t[k + 1] - t[k])
            for algo in args.algorithms:  # the same problem, other algorithms, in the same minute
                t0 = time.perf_counter()
                solve(problem, algo, **({"time_limit": settings.max_time_limit} if "time_limit" in options_of(algo) else {}))
                stages.setdefault(f"solve ({algo}) (reference only)", []).append(time.perf_counter() - t0)
        n, m, _ = SIZES[size]
        total = sum(statistics.median(v) for k, v in stages.items() if not k.endswith("(reference only)"))
        print(f"\n{n:,} tasks / {m} machines ({len(body):,} bytes), median of {reps}:")
        for name, v in stages.items():
            med = statistics.median(v)
            share = "" if name.endswith("(reference only)") else f"{med / total * 100:5.1f}%"
            print(f"  {name:<34}{med * 1e3:9.3f} ms  {share}")
        print(f"  {'pipeline total':<34}{total * 1e3:9.3f} ms")


# Where a sampled stack's time goes: the innermost frame matching one of these (in this order
# of test per frame) names the stage. py-spy records Python frames only, so C code (pydantic's
# core, json, numpy) is charged to the Python function that called it.
STAGES = [
    ("solver", ("app/solver/",)),
    ("mapping (check_batch, to_problem, to_response)", ("app/mapping.py",)),
    ("parse + validate (orjson, pydantic)", ("app/batch.py", "schemas/", "pydantic", "parse (app/api/service.py",
                                             "report (app/api/validation.py")),
    ("response serialisation (json)", ("dumps_response", "_dump_list", "dumps (app/api/service.py")),
    ("freeing big lists", ("_release (app/api/service.py",)),
    ("logging (JSON access line)", ("app/logging.py", "/logging/")),
    ("metrics (prometheus_client)", ("prometheus_client", "app/metrics.py")),
    ("body reading and limits", ("read_body", "app/api/deps.py")),
    ("framework (starlette, fastapi, middleware)", ("starlette/", "fastapi/", "app/api/middleware.py",
                                                    "app/api/routes.py", "app/api/bench.py")),
    ("HTTP protocol (uvicorn, httptools)", ("uvicorn/protocols", "httptools", "h11")),
    ("thread pools (hand-off, wake-ups)", ("app/api/runner.py", "concurrent/futures", "threading.py",
                                           "queue.py", "anyio/")),
    ("event loop (uvloop/asyncio: sockets, scheduling)", ("asyncio/", "uvloop", "uvicorn/")),
]


def _stage(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, pats in STAGES:
            if any(p in frame for p in pats):
                return name
    return "other (interpreter, imports, gc)"


def breakdown(args: argparse.Namespace, server: Server, load: Load, bodies: dict[str, Path], tmp: Path) -> None:
    """Sample the worker processes with py-spy while each endpoint is under load; print the
    share of samples per stage. ``--gil``: only the thread holding the GIL is sampled, so the
    shares are of the Python time that serialises a worker (C code that releases the GIL,
    e.g. epoll waits, is not in them)."""
    workers = [p for p in server.pids() if p != server.proc.pid
               and "spawn_main" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")] or [server.proc.pid]
    for size in args.sizes:
        conns = args.connections if size == "small" else args.large_connections
        seconds = args.seconds if size == "small" else args.large_seconds
        for ep in args.endpoints:
            path = ENDPOINTS[ep]
            load([(path, bodies[size])], conns, 2)  # warm-up
            outs, spies = [], []
            for pid in workers:
                out = tmp / f"spy-{size}-{ep}-{pid}.txt"
                outs.append(out)
                spies.append(subprocess.Popen([args.py_spy, "record", "-p", str(pid), "-d", str(int(seconds)),
                                               "-r", "200", "-f", "raw", "-o", str(out), "--gil"],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            r = load([(path, bodies[size])], conns, seconds)
            for spy in spies:
                spy.wait(timeout=seconds + 60)
            counts: dict[str, int] = {}
            leaves: dict[str, int] = {}
            for out in outs:
                if not out.exists():
                    continue
                for line in out.read_text(errors="replace").splitlines():
                    stack, _, n = line.rpartition(" ")
                    if n.isdigit() and stack:
                        counts[_stage(stack)] = counts.get(_stage(stack), 0) + int(n)
                        leaf = stack.rsplit(";", 1)[-1]
                        leaves[leaf] = leaves.get(leaf, 0) + int(n)
            total = sum(counts.values()) or 1
            print(f"\n{size} batch, POST {path}: {r['rate']:.1f} req/s, p50 {r['p50_ms']:.2f} ms; "
                  f"py-spy --gil samples of {len(workers)} workers at 200 Hz: {total}")
            for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
                print(f"  {name:<48}{n / total * 100:6.1f}%")
            print("  innermost Python frames (self time, top 20):")
            for name, n in sorted(leaves.items(), key=lambda kv: -kv[1])[:20]:
                print(f"    {n / total * 100:5.1f}%  {name[:110]}")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_client"]:
        return client_main(argv[1:])
    from app.settings import from_env

    default_workers = from_env().workers
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=default_workers,
                    help=f"server worker processes (default: DSCT_WORKERS or its default, {default_workers})")
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                    help="load generator (auto: wrk when installed)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10, help="per run, small batches")
    ap.add_argument("--large-seconds", type=float, default=15, help="per run, large batches")
    ap.add_argument("--connections", type=int, default=16, help="keep-alive connections, small batches")
    ap.add_argument("--large-connections", type=int, default=4, help="keep-alive connections, large batches")
    ap.add_argument("--sizes", default="small,large")
    ap.add_argument("--endpoints", default="echo,validate,schedule")
    ap.add_argument("--log-level", default=None, help="server DSCT_LOG_LEVEL (default: the deployment's, INFO)")
    ap.add_argument("--soak", type=float, default=0, help="soak for this many seconds instead of the table")
    ap.add_argument("--soak-connections", type=int, default=8)
    ap.add_argument("--soak-think-ms", type=int, default=10, help="pause per connection between requests")
    ap.add_argument("--soak-large-every", type=int, default=100)
    ap.add_argument("--profile", action="store_true", help="in-process time per pipeline stage, no server")
    ap.add_argument("--py-spy", metavar="PATH", help="with this py-spy binary: sample the workers under "
                    "load and print where the CPU goes per stage, instead of the table")
    ap.add_argument("--json", type=Path, help="write the raw results here")
    ap.add_argument("--algorithms", default="",
                    help="comma list: load /schedule once per algorithm (same batches), e.g. "
                    "dsct-approx,dsct-best; default: the request leaves it out (the server's default)")
    args = ap.parse_args(argv)
    args.sizes = args.sizes.split(",")
    args.endpoints = args.endpoints.split(",")
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"

    tmp = Path(tempfile.mkdtemp(prefix="dsct-bench-"))
    try:
        bodies = make_bodies(tmp)
        args.algorithms = [a for a in args.algorithms.split(",") if a]
        args.algorithm_bodies = {a: make_bodies(tmp, a) for a in args.algorithms}
        if args.profile:
            profile(args, bodies)
            return 0
        args.load_before = load_avg()
        log_level = args.log_level or from_env().log_level
        server = Server(args.workers, log_level, tmp / "server.log")
        try:
            server.wait_ready()
            print(f"dsct serve on {server.url}: {args.workers} workers, pids {server.pids()}, log level "
                  f"{log_level}, client {args.client}, {os.cpu_count()} cores, load {args.load_before}", flush=True)
            check_answers(server.url, bodies)
            load = Load(server, args.client, tmp)
            if args.py_spy:
                breakdown(args, server, load, bodies, tmp)
                return 0
            out = soak(args, server, load, bodies) if args.soak else table(args, server, load, bodies)
        finally:
            server.stop()
        if args.json:
            args.json.write_text(json.dumps(out, indent=1, default=str))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

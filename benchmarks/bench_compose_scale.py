#!/usr/bin/env python3
"""Scale-out through the compose stack (a script, not a test; docs/deployment.md).

Brings up the `dsct` and `proxy` services of docker-compose.yml with podman-compose, as the
deployment tests do (tests/deploy/podman.py: the image built from the Dockerfile on the local
Debian base, Debian's nginx-light standing in for the nginx image), with 1, 2, ... replicas of
one worker each (DSCT_WORKERS=1), all up at once, and drives POST /schedule of a 100-task batch
through each stack's proxy with bench_load.py's load generator, alternating the replica counts
run by run. Prints the median throughput, latency and CPU time per request of the replicas
and of the proxy (from the containers' cgroups). The load generator, nginx and every replica share the
machine: on 2 cores, more than 2 replicas can only add contention.

    .venv/bin/python benchmarks/bench_compose_scale.py --replicas 1,2,3 --runs 3 --seconds 10
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from bench_load import load_avg, run_python  # noqa: E402

from tests.api.conftest import random_batch  # noqa: E402
from tests.deploy import podman, promql  # noqa: E402
from tests.deploy.test_image import free_port, http  # noqa: E402
from tests.deploy.test_stack import compose, down  # noqa: E402


def stack_file(tmp: Path, replicas: int, port: int) -> Path:
    cfg = copy.deepcopy(promql.load_yaml(promql.COMPOSE))
    services = {k: cfg["services"][k] for k in ("dsct", "proxy")}
    dsct, proxy = services["dsct"], services["proxy"]
    del dsct["build"]
    dsct["image"] = podman.IMAGE
    dsct["environment"]["DSCT_WORKERS"] = "1"
    dsct["deploy"]["replicas"] = replicas
    proxy["image"] = podman.PROXY_IMAGE
    proxy["volumes"] = [str(REPO / v[2:]) if v.startswith("./") else v for v in proxy["volumes"]]
    proxy["ports"] = [f"127.0.0.1:{port}:8080"]
    out = tmp / f"compose-{replicas}.yml"
    out.write_text(yaml.safe_dump({"services": services}, sort_keys=False))
    return out


def cpu_ns(project: str) -> dict[str, int]:
    """CPU time used so far by each container of the stack (cgroup v1 cpuacct), by service."""
    out: dict[str, int] = {}
    lines = podman.podman("ps", "--filter", f"label=io.podman.compose.project={project}", "--format",
                          '{{.ID}} {{index .Labels "com.docker.compose.service"}}', "--no-trunc").stdout
    for line in lines.splitlines():
        cid, service = line.split()
        usage = Path(f"/sys/fs/cgroup/cpuacct/libpod_parent/libpod-{cid}/cpuacct.usage")
        if usage.exists():
            out[service] = out.get(service, 0) + int(usage.read_text())
    return out


class Stack:
    def __init__(self, replicas: int, tmp: Path):
        self.replicas, self.port = replicas, free_port()
        self.file = stack_file(tmp, replicas, self.port)
        self.project = f"dsctscale{replicas}x{int(time.time())}"
        self.url = f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        compose(self.file, self.project, "up", "-d")
        deadline = time.monotonic() + 180
        while True:
            try:
                if http(self.url + "/readyz", timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the stack did not become ready")
            time.sleep(0.5)

    def down(self) -> None:
        down(self.file, self.project)

    def run(self, body: Path, connections: int, seconds: float) -> dict:
        before = cpu_ns(self.project)
        r = run_python(self.port, [("/schedule", body)], connections, seconds)
        after = cpu_ns(self.project)
        if not r["requests"]:
            raise SystemExit(f"no request answered: {r}")
        for service in ("dsct", "proxy"):
            r[f"{service}_cpu_ms"] = (after.get(service, 0) - before.get(service, 0)) / 1e6 / r["requests"]
        return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicas", default="1,2,3")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    podman.prepare()
    podman.build_project_image()
    podman.build_stand_ins()
    results: dict[int, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="dsct-scale-") as tmp:
        body = Path(tmp) / "small.json"
        body.write_bytes(json.dumps(random_batch(100, 10, 1)).encode())
        stacks = [Stack(int(x), Path(tmp)) for x in args.replicas.split(",")]
        try:
            for st in stacks:  # every stack up at once (idle replicas cost next to nothing) ...
                st.up()
                st.run(body, args.connections, 3)  # warm-up
            for _ in range(args.runs):  # ... so that the counts alternate within each minute
                for st in stacks:
                    r = st.run(body, args.connections, args.seconds)
                    results.setdefault(st.replicas, []).append(r)
                    print(f"  {st.replicas} replica(s): {r['rate']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, "
                          f"p99 {r['p99_ms']:.1f} ms, CPU-ms per request: dsct {r['dsct_cpu_ms']:.2f}, "
                          f"proxy {r['proxy_cpu_ms']:.2f}, non-2xx {r['status_errors']}, socket errors "
                          f"{r['socket_errors']} (load average {load_avg()})", flush=True)
        finally:
            for st in stacks:
                st.down()
    print(f"\nPOST /schedule, 100 tasks / 10 machines, {args.connections} connections through the "
          f"proxy, median of {args.runs} runs of {args.seconds:.0f} s")
    print("| replicas (1 worker each) | req/s | p50 ms | p99 ms | CPU-ms/request, dsct | CPU-ms/request, proxy |")
    print("| --- | --- | --- | --- | --- | --- |")
    keys = ("rate", "p50_ms", "p99_ms", "dsct_cpu_ms", "proxy_cpu_ms")
    for n, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in keys}
        print(f"| {n} | {med['rate']:,.0f} | {med['p50_ms']:.1f} | {med['p99_ms']:.1f} | "
              f"{med['dsct_cpu_ms']:.2f} | {med['proxy_cpu_ms']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Scale-out through the compose stack (a script, not a test; docs/deployment.md).

Brings up the `dsct` and `proxy` services of docker-compose.yml with podman-compose, as the
deployment tests do (tests/deploy/podman.py: the image built from the Dockerfile on the local
Debian base, Debian's nginx-light standing in for the nginx image), with 1, 2, ... replicas of
one worker each (DSCT_WORKERS=1), and drives POST /schedule of a 100-task batch through the
proxy's one address with bench_load.py's load generator. Several runs per replica count; prints
the median throughput and latency. The load generator, nginx and every replica share the
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
from tests.deploy.test_stack import compose  # noqa: E402


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


def measure(replicas: int, args: argparse.Namespace, body: Path, tmp: Path) -> list[dict]:
    port = free_port()
    f = stack_file(tmp, replicas, port)
    project = f"dsctscale{replicas}x{int(time.time())}"
    url = f"http://127.0.0.1:{port}"
    try:
        compose(f, project, "up", "-d")
        deadline = time.monotonic() + 180
        while True:
            try:
                if http(url + "/readyz", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the stack did not become ready")
            time.sleep(0.5)
        run_python(port, [("/schedule", body)], args.connections, 3)  # warm-up
        runs = []
        for _ in range(args.runs):
            r = run_python(port, [("/schedule", body)], args.connections, args.seconds)
            if r["status_errors"] or r["socket_errors"]:
                raise SystemExit(f"errors under load: {r}")
            runs.append(r)
            print(f"  {replicas} replica(s): {r['rate']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, "
                  f"p99 {r['p99_ms']:.1f} ms (load average {load_avg()})", flush=True)
        return runs
    finally:
        compose(f, project, "down", "-t", "5", timeout=300)


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
    results = {}
    with tempfile.TemporaryDirectory(prefix="dsct-scale-") as tmp:
        body = Path(tmp) / "small.json"
        body.write_bytes(json.dumps(random_batch(100, 10, 1)).encode())
        for n in (int(x) for x in args.replicas.split(",")):
            results[n] = measure(n, args, body, Path(tmp))
    print(f"\nPOST /schedule, 100 tasks / 10 machines, {args.connections} connections through the "
          f"proxy, median of {args.runs} runs of {args.seconds:.0f} s")
    print("| replicas (1 worker each) | req/s | p50 ms | p99 ms |")
    print("| --- | --- | --- | --- |")
    for n, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("rate", "p50_ms", "p99_ms")}
        print(f"| {n} | {med['rate']:,.0f} | {med['p50_ms']:.1f} | {med['p99_ms']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

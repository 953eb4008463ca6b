"""The compose stack, up: docker-compose.yml run by Debian's podman-compose, with the image built
from the repository's Dockerfile and local stand-ins for the pinned third-party images (no
image registry is reachable here): Debian's prometheus binary for prom/prometheus, Debian's
nginx-light for nginx. Grafana has no stand-in, so its service is left out; its dashboard and
provisioning are checked by test_grafana.py and its queries by test_scrape.py.

The file the test runs is docker-compose.yml changed only in those images, the host ports
(free ones), the scrape and evaluation intervals (1 s) and DSCT_MAX_TASKS (so that a large batch
is a 413); a check asserts that nothing else differs. Three replicas of `dsct` run behind the
proxy: Prometheus must find and scrape each of them, every recording rule must produce a value,
and requests through the one published address must reach every replica."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.deploy import podman, promql
from tests.deploy.test_image import free_port, http
from tests.deploy.test_scrape import MAX_TASKS, PromAPI, send_traffic, wait_for

# The first test's set-up builds the images: on a machine without the cache, the base image
# and the dependencies' layer take minutes (docs/deployment.md has the figures).
pytestmark = pytest.mark.timeout(1500)
PODMAN_COMPOSE = shutil.which("podman-compose")
REPLICAS = 3
TOTAL_WAIT = 180.0  # seconds, for everything after `up`


@dataclass
class Stack:
    project: str
    file: Path
    url: str  # the proxy
    prom: PromAPI


def compose(stack_file: Path, project: str, *args: str, timeout: float = 600) -> str:
    proc = subprocess.run(
        [PODMAN_COMPOSE, "-f", str(stack_file), "-p", project, *args],
        env=podman.env(), capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, cwd=stack_file.parent,
    )
    if proc.returncode != 0:
        raise AssertionError(f"podman-compose {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def down(stack_file: Path, project: str) -> None:
    """``podman-compose down``, then whatever it leaves (1.0.3 keeps the network)."""
    try:
        compose(stack_file, project, "down", "-v", "-t", "10", timeout=300)
    finally:
        for kind in ("container", "volume", "network"):
            ids = podman.podman(kind, "ls", "-q", "--filter",
                                f"label=io.podman.compose.project={project}",
                                check=False).stdout.split()
            if ids:
                podman.podman(kind, "rm", "-f", *ids, check=False)


def adapted(original: dict, prom_dir: Path, image: str, proxy_port: int, prom_port: int) -> dict:
    """docker-compose.yml for this machine (see the module docstring)."""
    cfg = copy.deepcopy(original)
    services = cfg["services"]
    del services["grafana"]
    del cfg["volumes"]["grafana-data"]
    dsct, proxy, prometheus = services["dsct"], services["proxy"], services["prometheus"]
    del dsct["build"]
    dsct["image"] = image
    dsct["environment"]["DSCT_MAX_TASKS"] = str(MAX_TASKS)
    dsct["deploy"]["replicas"] = REPLICAS
    proxy["image"] = podman.PROXY_IMAGE
    proxy["volumes"] = [str(promql.REPO / v[2:]) if v.startswith("./") else v for v in proxy["volumes"]]
    proxy["ports"] = [f"127.0.0.1:{proxy_port}:8080"]
    prometheus["image"] = podman.PROMETHEUS_IMAGE
    prometheus["volumes"] = [f"{prom_dir}:/etc/prometheus:ro" if v.startswith("./deploy/prometheus:")
                             else v for v in prometheus["volumes"]]
    prometheus["ports"] = [f"127.0.0.1:{prom_port}:9090"]
    # Nothing else differs (asserted, so that the test keeps to its word).
    back = copy.deepcopy(cfg)
    back["services"]["grafana"] = original["services"]["grafana"]
    back["volumes"]["grafana-data"] = original["volumes"]["grafana-data"]
    for name in ("dsct", "proxy", "prometheus"):
        for key in ("image", "build", "volumes", "ports", "deploy"):
            back["services"][name].pop(key, None)
            if key in original["services"][name]:
                back["services"][name][key] = original["services"][name][key]
    back["services"]["dsct"]["environment"].pop("DSCT_MAX_TASKS")
    assert back == original
    return cfg


def adapted_prometheus_dir(tmp: Path) -> Path:
    """deploy/prometheus with 1 s scrape and evaluation intervals and DNS refresh."""
    prom_dir = tmp / "prometheus"
    shutil.copytree(promql.PROMETHEUS_DIR, prom_dir)
    cfg = promql.load_yaml(promql.PROMETHEUS_CONFIG)
    cfg["global"]["scrape_interval"] = cfg["global"]["evaluation_interval"] = "1s"
    for job in cfg["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            sd["refresh_interval"] = "1s"
    (prom_dir / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    prom_dir.chmod(0o755)
    for f in prom_dir.rglob("*"):
        f.chmod(0o755 if f.is_dir() else 0o644)
    return prom_dir


@pytest.fixture(scope="module")
def stack(project_image, tmp_path_factory) -> Iterator[Stack]:
    if PODMAN_COMPOSE is None:
        pytest.skip("podman-compose not installed (Debian's package; scripts/test installs it)")
    try:
        seconds = podman.build_stand_ins()
    except podman.EngineUnavailable as exc:
        pytest.skip(str(exc))
    print(f"\nstand-in images built in {seconds:.0f} s")
    tmp = tmp_path_factory.mktemp("stack")
    tmp.chmod(0o755)
    proxy_port, prom_port = free_port(), free_port()
    cfg = adapted(promql.load_yaml(promql.COMPOSE), adapted_prometheus_dir(tmp), project_image,
                  proxy_port, prom_port)
    stack_file = tmp / "docker-compose.yml"
    stack_file.write_text(yaml.safe_dump(cfg, sort_keys=False))
    project = f"dsctstack{int(time.time())}"
    s = Stack(project, stack_file, f"http://127.0.0.1:{proxy_port}",
              PromAPI(f"http://127.0.0.1:{prom_port}"))
    try:
        started = time.monotonic()
        compose(stack_file, project, "up", "-d")
        wait_for("the proxy to answer /livez", lambda: http(s.url + "/livez", timeout=2)[0] == 200,
                 time.monotonic() + TOTAL_WAIT)
        print(f"stack up and answering in {time.monotonic() - started:.0f} s")
        yield s
    finally:
        logs = subprocess.run(["podman", "ps", "-a", "--filter", f"label=io.podman.compose.project={project}",
                               "--format", "{{.Names}} {{.Status}}"], env=podman.env(),
                              capture_output=True, text=True)
        print(logs.stdout)
        down(stack_file, project)


def replica_names(stack: Stack) -> list[str]:
    out = podman.podman("ps", "--filter", f"label=io.podman.compose.project={stack.project}",
                        "--filter", "label=com.docker.compose.service=dsct",
                        "--format", "{{.Names}}").stdout.split()
    return sorted(out)


def test_replicas_run_behind_one_address(stack):
    """Every replica runs the project's image; requests through the proxy reach all of them."""
    assert len(replica_names(stack)) == REPLICAS
    example = (promql.REPO / "app" / "data" / "example.json").read_bytes()
    for _ in range(6 * REPLICAS):
        status, body = http(stack.url + "/schedule", example, {"Content-Type": "application/json"})
        assert status == 200, body[:300]

    def served_by_each() -> bool:
        counts = [float(s["value"][1]) for s in stack.prom.query(
            'sum by (instance) (dsct_requests_total{endpoint="/schedule", outcome="ok"})')]
        return len(counts) == REPLICAS and all(c > 0 for c in counts)

    wait_for("requests counted on every replica", served_by_each, time.monotonic() + 60)


def test_prometheus_scrapes_every_replica_and_every_rule_has_a_value(stack):
    deadline = time.monotonic() + TOTAL_WAIT
    wait_for("Prometheus ready", lambda: http(stack.prom.base + "/-/ready", timeout=2)[0] == 200,
             deadline)

    def targets_up() -> list[dict]:
        active = [t for t in stack.prom.call("targets")["activeTargets"]
                  if t["labels"]["job"] == "dsct"]
        return active if len(active) == REPLICAS and all(t["health"] == "up" for t in active) else []

    targets = wait_for(f"{REPLICAS} dsct targets up", targets_up, deadline)
    for t in targets:  # found through the name `dsct`, on the service's port
        assert t["discoveredLabels"]["__meta_dns_name"] == "dsct"
        assert t["discoveredLabels"]["__address__"].endswith(":8000")
    algorithms = json.loads(http(stack.url + "/readyz", timeout=30)[1])["algorithms"]
    missing: list[str] = []

    def recorded() -> bool:
        missing[:] = [n for n in sorted(promql.recorded_names()) if not stack.prom.query(n)]
        return not missing

    # Two rounds a few seconds apart: a rate needs two samples of a series that has changed.
    for _ in range(2):
        statuses = send_traffic(stack.url, algorithms)
        assert statuses.get(200) and statuses.get(422) and statuses.get(413), statuses
        time.sleep(3)
    wait_for("values from every recording rule", recorded, deadline, detail=lambda: missing)
    rules = [r for g in stack.prom.call("rules")["groups"] for r in g["rules"]]
    assert len(rules) == len(promql.rules())
    assert not [(r["name"], r.get("lastError")) for r in rules if r["health"] == "err"]

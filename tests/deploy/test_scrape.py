"""A real scrape: the service (`dsct serve`, two workers, multiprocess metrics as in the image)
and a real Prometheus server (Debian's binary) with the repo's own configuration and rules,
adapted only in the target address and a 1 s scrape and evaluation interval. Both listen on
loopback only, and both are terminated at the end whatever happens."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.deploy import promql

PROMETHEUS = shutil.which("prometheus")
DSCT = promql.REPO / ".venv" / "bin" / "dsct"
pytestmark = [
    pytest.mark.skipif(PROMETHEUS is None, reason="the prometheus server binary is not installed "
                       "(Debian's prometheus package; scripts/test installs it as root)"),
    pytest.mark.skipif(not DSCT.exists(), reason=".venv/bin/dsct missing: run scripts/test"),
]

TOTAL_WAIT = 60.0  # seconds, for everything after start-up together
MAX_TASKS = 20  # the service's DSCT_MAX_TASKS here, so that a larger batch is a 413


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def post(url: str, body: bytes) -> int:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    return get_req(req)


def get_req(req: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        e.read()
        return e.code


def wait_for(what: str, check, deadline: float, interval: float = 0.25, detail=None):
    """Poll ``check()`` until it returns something truthy or the deadline passes; on time-out,
    fail with ``detail()`` (what is still missing) or the last result."""
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, urllib.error.URLError) as exc:
            last = exc
        time.sleep(interval)
    pytest.fail(f"timed out waiting for {what}; still missing: {detail() if detail else last!r}")


def start(cmd: list[str], log: Path, **kw) -> subprocess.Popen:
    # A session of its own, so that stopping it reaches the worker processes too.
    return subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, **kw)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def adapted_config(target: str) -> dict:
    """The repo's prometheus.yml, changed only in the dsct target (the loopback address instead
    of the compose service's name, found through DNS) and the intervals."""
    original = promql.load_yaml(promql.PROMETHEUS_CONFIG)
    cfg = json.loads(json.dumps(original))
    cfg["global"]["scrape_interval"] = "1s"
    cfg["global"]["evaluation_interval"] = "1s"
    (job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == "dsct"]
    discovery = job.pop("dns_sd_configs")
    job["static_configs"] = [{"targets": [target]}]
    # Nothing else differs (asserted, so that the test keeps to its word).
    back = json.loads(json.dumps(cfg))
    back["global"].update({k: original["global"][k] for k in ("scrape_interval", "evaluation_interval")})
    (back_job,) = [j for j in back["scrape_configs"] if j["job_name"] == "dsct"]
    del back_job["static_configs"]
    back_job["dns_sd_configs"] = discovery
    assert back == original
    return cfg


def batch(n_tasks: int, algorithm: str, unschedulable: bool = False) -> dict:
    machines = [{"id": "m0", "speed": 1.0, "available_at": 0.0},
                {"id": "m1", "speed": 2.5, "available_at": 0.01}]
    tasks = [{"id": f"t{i}", "deadline": 0.05 + 0.02 * i, "theta": 20.0 + i, "a_min": 0.01,
              "a_max": 0.9, "t_max": 0.03} for i in range(n_tasks)]
    if unschedulable:
        # Every machine is busy until after this task's deadline: it is given no time.
        machines = [dict(m, available_at=1.0 + m["available_at"]) for m in machines]
        tasks.append({"id": "late", "deadline": 0.5, "theta": 10.0, "a_max": 0.8, "t_max": 0.1})
        tasks.append({"id": "fits", "deadline": 2.0, "theta": 10.0, "a_max": 0.8, "t_max": 0.1})
    return {"label": "scrape test", "algorithm": algorithm, "machines": machines, "tasks": tasks}


def send_traffic(base: str, algorithms: list[str]) -> dict[int, int]:
    """Requests of every kind, so that every outcome label we can provoke appears."""
    statuses: dict[int, int] = {}

    def count(status: int) -> None:
        statuses[status] = statuses.get(status, 0) + 1

    for algorithm in algorithms:
        for body in (batch(6, algorithm), batch(3, algorithm, unschedulable=True)):
            count(post(base + "/schedule", json.dumps(body).encode()))
    count(post(base + "/schedule/validate", json.dumps(batch(4, algorithms[0])).encode()))
    count(post(base + "/schedule", b'{"tasks": ['))  # malformed JSON
    count(post(base + "/schedule", b'{"machines": [], "tasks": []}'))  # no machines
    count(post(base + "/schedule", json.dumps(batch(2, "no-such-algorithm")).encode()))
    count(post(base + "/schedule", json.dumps(batch(MAX_TASKS + 5, algorithms[0])).encode()))
    return statuses


class PromAPI:
    def __init__(self, base: str):
        self.base = base

    def call(self, path: str, **params) -> dict:
        url = f"{self.base}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, body = get(url, timeout=10)
        data = json.loads(body)
        if status != 200 or data.get("status") != "success":
            raise AssertionError(f"{path} {params}: HTTP {status}: {data.get('errorType')}: {data.get('error')}")
        return data["data"]

    def query(self, expr: str) -> list[dict]:
        return self.call("query", query=expr)["result"]


def test_prometheus_scrapes_the_service_and_every_query_evaluates(tmp_path):
    svc_port, prom_port = free_port(), free_port()
    base = f"http://127.0.0.1:{svc_port}"
    env = {**os.environ, "DSCT_HOST": "127.0.0.1", "DSCT_PORT": str(svc_port), "DSCT_WORKERS": "2",
           "DSCT_MAX_TASKS": str(MAX_TASKS), "DSCT_LOG_LEVEL": "WARNING",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "dsct-metrics")}
    prom_dir = tmp_path / "prometheus"
    shutil.copytree(promql.PROMETHEUS_DIR, prom_dir)
    (prom_dir / "prometheus.yml").write_text(yaml.safe_dump(adapted_config(f"127.0.0.1:{svc_port}")))

    service = prometheus = None
    try:
        service = start([str(DSCT), "serve"], tmp_path / "dsct.log", env=env, cwd=tmp_path)
        prometheus = start([PROMETHEUS, f"--config.file={prom_dir / 'prometheus.yml'}",
                            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                            f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                           tmp_path / "prometheus.log", cwd=tmp_path)
        deadline = time.monotonic() + TOTAL_WAIT
        prom = PromAPI(f"http://127.0.0.1:{prom_port}")

        def alive():
            for name, p in (("dsct serve", service), ("prometheus", prometheus)):
                if p.poll() is not None:
                    log = (tmp_path / ("dsct.log" if p is service else "prometheus.log")).read_text()
                    pytest.fail(f"{name} exited with {p.returncode}:\n{log[-3000:]}")
            return True

        wait_for("/livez", lambda: alive() and get(base + "/livez")[0] == 200, deadline)
        status, body = get(base + "/readyz", timeout=30)
        assert status == 200, body
        algorithms = json.loads(body)["algorithms"]

        # The image's HEALTHCHECK command, against the real service.
        from tests.deploy.test_dockerfile import healthcheck_command
        hc = subprocess.run([sys.executable, *healthcheck_command()[1:]], env=env, timeout=30,
                            capture_output=True)
        assert hc.returncode == 0, hc.stderr

        wait_for("Prometheus ready", lambda: alive() and get(prom.base + "/-/ready")[0] == 200, deadline)
        wait_for("a successful scrape", lambda: [s for s in prom.query('up{job="dsct"}')
                                                 if s["value"][1] == "1"], deadline)

        # Round 1 creates the labelled series; round 2, once they have been scraped, makes
        # their rates non-zero (Prometheus does not count a series' first sample as an increase).
        statuses = send_traffic(base, algorithms)
        assert statuses.get(200, 0) >= 2 * len(algorithms) and statuses.get(422) and statuses.get(413), statuses
        wanted = {promql.exported_family(n) for n in promql.referenced_dsct_metrics()}

        seen: set[str] = set()

        def families():
            seen.clear()
            seen.update(s["metric"]["__name__"]
                        for s in prom.query('{__name__=~"dsct_.+", job="dsct"}'))
            return {promql.exported_family(n) for n in seen} >= wanted and set(seen)
        names = wait_for("the dsct_ series the dashboard and rules read",
                         lambda: alive() and families(), deadline,
                         detail=lambda: sorted(wanted - {promql.exported_family(n) for n in seen}))
        assert {n for n in promql.referenced_dsct_metrics()} <= names, (
            "series the dashboard or rules read that the service does not export: "
            f"{sorted(promql.referenced_dsct_metrics() - names)}")
        # each outcome's series arrives with the scrape after its request: wait for all three
        outcomes: set[str] = set()

        def every_outcome() -> bool:
            outcomes.clear()
            outcomes.update(s["metric"]["outcome"] for s in prom.query("dsct_requests_total"))
            return {"ok", "invalid", "too_large"} <= outcomes

        wait_for("the ok, invalid and too_large outcomes", every_outcome, deadline,
                 detail=lambda: outcomes)
        assert prom.query("dsct_unscheduled_tasks_total"), "the unschedulable task was counted"

        send_traffic(base, algorithms)

        # The recording rules produce values, the latency quantiles a number per algorithm.
        missing: list[str] = []

        def recorded():
            missing[:] = [n for n in sorted(promql.recorded_names()) if not prom.query(n)]
            q = prom.query('job_algorithm:dsct_solve_duration_seconds:histogram_quantile_rate5m{quantile="0.99"}')
            finite = {s["metric"]["algorithm"] for s in q if math.isfinite(float(s["value"][1]))}
            missing.extend(f"p99 of {a}" for a in sorted(set(algorithms) - finite))
            return not missing
        wait_for("values from every recording rule", lambda: alive() and recorded(), deadline,
                 detail=lambda: missing)

        # Every expression of the dashboard and of the rules evaluates without error; every
        # dashboard query also has data to show.
        for _, expr in promql.all_exprs():
            prom.query(expr)  # raises with Prometheus's error message

        def dashboard_has_data():
            missing[:] = [w for w, e in promql.dashboard_exprs() if not prom.query(e)]
            return not missing
        wait_for("data in every dashboard query", lambda: alive() and dashboard_has_data(), deadline,
                 detail=lambda: missing)

        # Every rule group was loaded and evaluates without error.
        def rules_ok():
            groups = prom.call("rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            assert len(rules) == len(promql.rules()), [r["name"] for r in rules]
            bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] == "err"]
            assert not bad, bad
            return all(r["health"] == "ok" for r in rules)
        wait_for("every rule evaluated", rules_ok, deadline)
        (target,) = prom.call("targets")["activeTargets"]
        assert target["health"] == "up" and target["labels"]["job"] == "dsct"
    finally:
        for p in (prometheus, service):
            if p is not None:
                stop(p)

"""The Kubernetes manifests (deploy/kubernetes, kustomize), checked offline: yamllint on every
file; the base and each overlay rendered by kustomize (built into kubectl) and validated with
kubernetes-validate --strict against the oldest and newest Kubernetes it bundles (a kind
without a schema fails unless it is a listed custom resource); and the manifests against the
code: probe paths, ports, settings names and values, the metric the autoscaler reads, the
multiprocess metrics folder on a writable volume, the shutdown grace period.

What this does not prove: that a cluster runs it (no kubelet, no image registry here); that the
NetworkPolicy admits and blocks what it should under a given CNI; that prometheus-adapter serves
the metric (its rule is checked against the metric's name and type only)."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from app import metrics
from app.cli import graceful_shutdown_seconds
from app.settings import PREFIX, Settings, from_env
from tests.deploy import promql

K8S = promql.REPO / "deploy" / "kubernetes"
BASE = K8S / "base"
OVERLAYS = sorted(p.parent for p in (K8S / "overlays").glob("*/kustomization.yaml"))
ADAPTER_VALUES = K8S / "prometheus-adapter" / "values.yaml"
KUBECTL = shutil.which("kubectl")
VERSIONS = ("1.30.0", "1.37.0")  # the oldest maintained by the providers we know of, the newest
# Custom resources have no schema in kubernetes-validate; these, and only these, are allowed
# (each is checked against the objects it refers to below).
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def _all_yaml() -> list[Path]:
    return sorted(p for p in K8S.rglob("*") if p.suffix in (".yaml", ".yml"))


def test_yamllint():
    yamllint = promql.tool("yamllint")
    assert yamllint, "yamllint is in the test extras (requirements-dev.lock)"
    r = subprocess.run([yamllint, "-s", "-f", "parsable", "-c", str(K8S / ".yamllint.yaml"), str(K8S)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(_all_yaml()) >= 10


@cache
def render(folder: Path) -> tuple[dict[str, Any], ...]:
    if KUBECTL is None:
        pytest.skip("kubectl not installed: kustomize, which renders the manifests, is built into it")
    r = subprocess.run([KUBECTL, "kustomize", str(folder)], capture_output=True, text=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return tuple(d for d in yaml.safe_load_all(r.stdout) if d)


def objects(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for d in render(folder):
        assert d["kind"] not in out, f"two {d['kind']} objects: split the checks below"
        out[d["kind"]] = d
    return out


@pytest.mark.parametrize("folder", [BASE, *OVERLAYS], ids=lambda p: p.name)
def test_renders_and_validates_strictly(folder, tmp_path):
    validator = promql.tool("kubernetes-validate")
    assert validator, "kubernetes-validate is in the test extras (requirements-dev.lock)"
    docs = render(folder)
    files = []
    for i, d in enumerate(docs):
        if (d["apiVersion"], d["kind"]) in CUSTOM_KINDS:
            continue
        f = tmp_path / f"{i}-{d['kind']}.yaml"
        f.write_text(yaml.safe_dump(d))
        files.append(f)
    assert files
    for version in VERSIONS:
        r = subprocess.run([validator, "--strict", "-k", version, *map(str, files)],
                           capture_output=True, text=True, timeout=120)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out
        assert "Couldn't find schema" not in out, out
        assert out.count(" passed for resource ") == len(files), out


def test_base_has_the_expected_objects():
    assert set(objects(BASE)) == {"Deployment", "Service", "PodDisruptionBudget",
                                  "HorizontalPodAutoscaler", "NetworkPolicy"}
    for overlay in OVERLAYS:
        assert set(objects(overlay)) >= set(objects(BASE))


# --- the manifests against the code ------------------------------------------------------------


def container(objs: dict[str, dict]) -> dict:
    (c,) = objs["Deployment"]["spec"]["template"]["spec"]["containers"]
    return c


def env_of(c: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in c.get("env", [])}


@cache
def answers(path: str) -> int:
    """The status of GET ``path`` on the app (lifespan run: /readyz solves through the pool)."""
    with warnings.catch_warnings():  # starlette's notice about httpx, as in tests/api
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(Settings()), raise_server_exceptions=False) as client:
        return client.get(path).status_code


def test_probes_hit_real_routes_on_the_service_port():
    objs = objects(BASE)
    c = container(objs)
    (port,) = c["ports"]
    env = env_of(c)
    assert port["containerPort"] == int(env.get("DSCT_PORT", Settings().port))
    assert env.get("DSCT_HOST") == "0.0.0.0", "reachable from outside the pod"
    probes = {k: c[k]["httpGet"] for k in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["startupProbe"]["path"] == probes["livenessProbe"]["path"] == "/livez"
    assert probes["readinessProbe"]["path"] == "/readyz"
    for p in probes.values():
        assert answers(p["path"]) == 200, p["path"]
        assert p["port"] == port["name"]
    (svc_port,) = objs["Service"]["spec"]["ports"]
    assert svc_port["targetPort"] == port["name"]
    # startup gets at least a minute on a slow node; liveness tolerates a busy event loop
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60
    assert c["livenessProbe"]["timeoutSeconds"] >= 2 and c["livenessProbe"]["failureThreshold"] >= 3


def test_settings_exist_and_are_valid():
    c = container(objects(BASE))
    env = env_of(c)
    names = {PREFIX + f.upper() for f in Settings.model_fields}
    dsct = {k: v for k, v in env.items() if k.startswith(PREFIX)}
    assert set(dsct) <= names, f"not settings of the service: {sorted(set(dsct) - names)}"
    from_env(dsct)  # raises on a bad value
    assert set(env) - set(dsct) == {"PROMETHEUS_MULTIPROC_DIR"}


def test_resources_follow_the_worker_count():
    """About one core per worker process: the CPU request is the number of workers."""
    c = container(objects(BASE))
    workers = int(env_of(c).get("DSCT_WORKERS", Settings().workers))
    req, lim = c["resources"]["requests"], c["resources"]["limits"]
    assert float(req["cpu"]) == workers and float(lim["cpu"]) >= workers
    mib = {"Mi": 1, "Gi": 1024}
    memory = {k: int(v[:-2]) * mib[v[-2:]] for k, v in (("req", req["memory"]), ("lim", lim["memory"]))}
    assert 0 < memory["req"] <= memory["lim"]


def test_read_only_root_with_metrics_on_a_volume():
    objs = objects(BASE)
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    c = container(objs)
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (user,) = re.findall(r"^USER (\d+):(\d+)$", promql.DOCKERFILE.read_text(), re.M)
    assert (str(pod["securityContext"]["runAsUser"]), str(pod["securityContext"]["runAsGroup"])) == user
    # the workers' metric files, and anything else written, land on an emptyDir
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    multiproc = Path(env_of(c)["PROMETHEUS_MULTIPROC_DIR"])
    mounted = [Path(m) for m in mounts if multiproc.is_relative_to(m)]
    assert mounted, f"{multiproc} is on the read-only root filesystem"
    assert "emptyDir" in volumes[mounts[str(mounted[0])]]
    assert metrics.multiprocess_dir.__name__  # the variable app/metrics.py reads:
    assert "PROMETHEUS_MULTIPROC_DIR" in Path(metrics.__file__).read_text()


def test_grace_period_outlasts_the_drain():
    """SIGTERM comes after the preStop pause; uvicorn then drains for graceful_shutdown_seconds.
    The kubelet must not kill the pod before both are over."""
    objs = objects(BASE)
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    c = container(objs)
    timeout = float(env_of(c).get("DSCT_SOLVE_TIMEOUT", Settings().solve_timeout))
    pause = c["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(pause[1]) + graceful_shutdown_seconds(timeout)


def test_replicas_disruption_budget_and_selectors():
    objs = objects(BASE)
    deployment = objs["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["replicas"] >= 2
    assert objs["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0

    def selects(selector: dict) -> bool:
        return selector and selector.items() <= labels.items()

    assert selects(deployment["spec"]["selector"]["matchLabels"])
    assert selects(objs["Service"]["spec"]["selector"])
    assert selects(objs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"])
    assert selects(objs["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"])
    target = objs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_network_policy_admits_only_the_service_port():
    objs = objects(BASE)
    policy = objs["NetworkPolicy"]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["egress"] == [], "the service calls nothing"
    (port,) = container(objs)["ports"]
    for rule in policy["ingress"]:
        assert rule["from"], "an ingress rule without `from` admits everyone"
        assert [p["port"] for p in rule["ports"]] == [port["name"]]


def _gauge_names() -> dict[str, str]:
    """Every metric app/metrics.py defines, by name: its type."""
    out = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                out[family.name] = family.type
    return out


def test_autoscaler_reads_a_metric_the_service_exports():
    """The HPA's custom metric, the prometheus-adapter rule that serves it and the gauge in
    app/metrics.py must agree: renaming the metric breaks this test."""
    (overlay,) = [o for o in OVERLAYS if o.name == "prometheus-operator"]
    hpa = objects(overlay)["HorizontalPodAutoscaler"]["spec"]
    kinds = {m["type"] for m in hpa["metrics"]}
    assert kinds == {"Resource", "Pods"}, "CPU and the service's own metric"
    (pods,) = [m["pods"] for m in hpa["metrics"] if m["type"] == "Pods"]
    name = pods["metric"]["name"]
    assert _gauge_names().get(name) == "gauge", f"{name} is not a gauge of app/metrics.py"
    assert pods["target"]["type"] == "AverageValue"
    (rule,) = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]["custom"]
    assert rule["name"]["as"] == name
    assert rule["seriesQuery"].startswith(name + "{")
    assert re.fullmatch(rule["name"]["matches"], name)
    assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}
    # The base alone scales on CPU only, and nothing else autoscales the Deployment.
    assert [m["type"] for m in objects(BASE)["HorizontalPodAutoscaler"]["spec"]["metrics"]] == ["Resource"]


def test_service_monitor_scrapes_the_service_as_job_dsct():
    """The ServiceMonitor (no schema available: checked here) selects the Service and scrapes
    its named port; the job label Prometheus gives it, the Service's name, is the job the
    recording and alert rules select."""
    (overlay,) = [o for o in OVERLAYS if o.name == "prometheus-operator"]
    objs = objects(overlay)
    sm, svc = objs["ServiceMonitor"], objs["Service"]
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in svc["spec"]["ports"]}
    assert endpoint["path"] == "/metrics" and answers(endpoint["path"]) == 200
    assert "jobLabel" not in sm["spec"]
    jobs = {j["job_name"] for j in promql.load_yaml(promql.PROMETHEUS_CONFIG)["scrape_configs"]}
    assert svc["metadata"]["name"] in jobs
    selected = {j for _, e in promql.rule_exprs() for j in re.findall(r'job="([^"]*)"', e)}
    assert selected == {svc["metadata"]["name"]}
    # Prometheus itself is admitted by the NetworkPolicy in this overlay
    sources = [f for rule in objs["NetworkPolicy"]["spec"]["ingress"] for f in rule["from"]]
    assert any(f["podSelector"]["matchLabels"].get("app.kubernetes.io/name") == "prometheus"
               for f in sources)

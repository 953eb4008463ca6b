"""docker-compose.yml: valid for Compose (Debian's docker-compose parses and validates it
without a Docker engine), pinned images, mounts of files that exist."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.deploy import promql

DOCKER_COMPOSE = promql.tool("docker-compose")


@pytest.mark.skipif(
    DOCKER_COMPOSE is None,
    reason="docker-compose not found: install Debian's docker-compose package (scripts/test does, as root)",
)
def test_docker_compose_config_validates():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "COMPOSE_"))}
    env["GRAFANA_ADMIN_PASSWORD"] = "chosen-by-the-operator"
    r = subprocess.run(
        [DOCKER_COMPOSE, "--project-directory", str(promql.REPO), "-f", str(promql.COMPOSE),
         "config", "-q"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_services_and_pinned_images():
    services = promql.load_yaml(promql.COMPOSE)["services"]
    assert set(services) == {"dsct", "proxy", "prometheus", "grafana"}
    assert services["dsct"]["build"] == "."
    for name, official in (("prometheus", "prom/prometheus"), ("grafana", "grafana/grafana"),
                           ("proxy", "nginx")):
        image, _, tag = services[name]["image"].partition(":")
        assert image == official
        assert tag and tag != "latest" and any(c.isdigit() for c in tag), f"{name}: pin a version"


def test_bind_mounts_exist_and_are_read_only():
    services = promql.load_yaml(promql.COMPOSE)["services"]
    for name, svc in services.items():
        for v in svc.get("volumes", []):
            if v.startswith("./"):
                src, _, rest = v.partition(":")
                assert (promql.REPO / src).exists(), f"{name}: {src} missing"
                assert rest.endswith(":ro"), f"{name}: mount {src} read-only"


def test_service_settings_come_from_the_environment():
    dsct = promql.load_yaml(promql.COMPOSE)["services"]["dsct"]
    env = dsct["environment"]
    assert env["DSCT_HOST"] == "0.0.0.0"
    # Multiprocess metrics need a folder the unprivileged user can write: under /tmp.
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    published = [p for s in promql.load_yaml(promql.COMPOSE)["services"].values()
                 for p in s.get("ports", [])]
    assert all(p.startswith("127.0.0.1:") for p in published), "publish on loopback by default"


def test_the_service_scales_behind_the_proxy():
    """Replicas of `dsct` publish no port of their own (N replicas could not share one host
    port); the proxy publishes the one address and forwards to `dsct` on DSCT_PORT."""
    services = promql.load_yaml(promql.COMPOSE)["services"]
    dsct, proxy = services["dsct"], services["proxy"]
    port = dsct["environment"]["DSCT_PORT"]
    assert "ports" not in dsct and dsct["expose"] == [port]
    assert dsct["deploy"]["replicas"] == "${DSCT_REPLICAS:-1}"
    (published,) = proxy["ports"]
    assert published == "127.0.0.1:${DSCT_PUBLISH_PORT:-8000}:8080"
    conf = (promql.REPO / "deploy" / "nginx" / "nginx.conf").read_text()
    assert f"server dsct:{port};" in conf and "listen 8080;" in conf
    assert "dsct" in proxy["depends_on"]
    assert proxy["user"] != "0" and not proxy["user"].startswith("0:"), "the proxy runs unprivileged"


@pytest.mark.skipif(DOCKER_COMPOSE is None, reason="docker-compose not found (scripts/test installs it, as root)")
def test_compose_refuses_to_start_without_a_grafana_password(tmp_path):
    """Grafana's admin password has no default (it was admin/admin): without
    GRAFANA_ADMIN_PASSWORD, compose stops with a message naming it."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DOCKER_", "COMPOSE_")) and k != "GRAFANA_ADMIN_PASSWORD"}
    r = subprocess.run(
        [DOCKER_COMPOSE, "--project-directory", str(tmp_path), "-f", str(promql.COMPOSE), "config", "-q"],
        capture_output=True, text=True, timeout=60, env=env,  # tmp_path: no .env file read
    )
    assert r.returncode != 0
    assert "set GRAFANA_ADMIN_PASSWORD" in r.stdout + r.stderr


def test_grafana_password_has_no_default():
    grafana = promql.load_yaml(promql.COMPOSE)["services"]["grafana"]["environment"]
    value = grafana["GF_SECURITY_ADMIN_PASSWORD"]
    assert value.startswith("${GRAFANA_ADMIN_PASSWORD:?"), value  # required, with a message

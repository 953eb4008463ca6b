"""What the deployment files say: the PromQL of the dashboard and the rules, and the tools.

Shared by the tests of tests/deploy. Grafana's built-in interval variables are replaced by
concrete durations so that every dashboard query is plain PromQL that Prometheus can parse.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES_DIR = PROMETHEUS_DIR / "rules"
RULE_TESTS = PROMETHEUS_DIR / "tests" / "dsct-rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "dsct.json"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "dsct.yml"
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

# Grafana's built-in variables and the durations that stand in for them outside Grafana.
GRAFANA_BUILTINS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def tool(name: str) -> str | None:
    """Path of a command-line tool, from PATH or the project's .venv/bin."""
    found = shutil.which(name)
    if found:
        return found
    venv = REPO / ".venv" / "bin" / name
    return str(venv) if venv.exists() else None


def load_yaml(path: Path) -> Any:
    with path.open() as f:
        return yaml.safe_load(f)


def dashboard() -> dict[str, Any]:
    with DASHBOARD.open() as f:
        return json.load(f)


def dashboard_panels(dash: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every panel, those nested in collapsed rows included."""
    out: list[dict[str, Any]] = []
    for p in (dash or dashboard())["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def substitute(expr: str) -> str:
    for var, value in GRAFANA_BUILTINS.items():
        expr = expr.replace("${" + var[1:] + "}", value).replace(var, value)
    return expr


def dashboard_exprs() -> list[tuple[str, str]]:
    """(where, PromQL) for every query of the dashboard, Grafana variables substituted."""
    out = []
    for p in dashboard_panels():
        for t in p.get("targets", []):
            if t.get("expr"):
                out.append((f"panel {p['title']!r} query {t['refId']}", substitute(t["expr"])))
    return out


def rule_groups() -> list[tuple[Path, dict[str, Any]]]:
    return [(f, g) for f in sorted(RULES_DIR.glob("*.yml")) for g in load_yaml(f)["groups"]]


def rules() -> list[dict[str, Any]]:
    return [r for _, g in rule_groups() for r in g["rules"]]


def recorded_names() -> set[str]:
    return {r["record"] for r in rules() if "record" in r}


def rule_exprs() -> list[tuple[str, str]]:
    return [(f"rule {r.get('record') or r.get('alert')}", r["expr"]) for r in rules()]


def all_exprs() -> list[tuple[str, str]]:
    return dashboard_exprs() + rule_exprs()


def _strip_strings(expr: str) -> str:
    """The expression without string literals and range or subquery brackets ([1m:])."""
    return re.sub(r"\[[^\]]*\]", "", re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr))


def metric_names(expr: str) -> set[str]:
    """Names of series an expression selects (a heuristic that is exact for our files:
    dsct_* metrics, recording rules with colons, and up / ALERTS)."""
    names = set()
    for word in _NAME.findall(_strip_strings(expr)):
        if word.startswith("dsct_") or ":" in word or word in ("up", "ALERTS"):
            names.add(word)
    return names


def exported_family(name: str) -> str:
    """The metric family a sample name belongs to (histogram suffixes removed)."""
    for suffix in _HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def referenced_dsct_metrics() -> set[str]:
    """Every dsct_* sample name the dashboard and the rules read."""
    return {n for _, e in all_exprs() for n in metric_names(e) if n.startswith("dsct_")}

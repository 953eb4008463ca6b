"""The Prometheus files: promtool's checks, the rules' unit tests, and every PromQL
expression of the dashboard parsed by promtool (no server needed)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.deploy import promql

PROMTOOL = promql.tool("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not found: install Debian's prometheus package (scripts/test does, as root)",
)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)


@needs_promtool
def test_promtool_check_config():
    # Also checks the rule files that rule_files names (relative to the config file).
    r = promtool("check", "config", str(promql.PROMETHEUS_CONFIG))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(list(promql.RULES_DIR.glob('*.yml')))} rule files found" in r.stdout


@needs_promtool
def test_promtool_check_rules():
    files = sorted(str(f) for f in promql.RULES_DIR.glob("*.yml"))
    assert files, "no rule files under deploy/prometheus/rules"
    r = promtool("check", "rules", *files)
    assert r.returncode == 0, r.stdout + r.stderr


@needs_promtool
def test_promtool_rule_unit_tests():
    """The alert thresholds and recording rules, on synthetic series (deploy/prometheus/tests)."""
    r = promtool("test", "rules", str(promql.RULE_TESTS))
    assert r.returncode == 0, r.stdout + r.stderr


@needs_promtool
def test_every_rule_has_a_unit_test():
    tested = set()
    for case in promql.load_yaml(promql.RULE_TESTS)["tests"]:
        tested |= {a["alertname"] for a in case.get("alert_rule_test", [])}
        for t in case.get("promql_expr_test", []):
            tested |= promql.metric_names(t["expr"])
    names = {r.get("alert") or r.get("record") for r in promql.rules()}
    assert names - tested == set(), "rules without a promtool unit test"


@needs_promtool
def test_dashboard_promql_parses(tmp_path):
    """Every dashboard query, wrapped as a recording rule, passes promtool's parser."""
    exprs = promql.dashboard_exprs()
    assert exprs
    rules = [{"record": f"dashboard:query_{i}", "expr": e} for i, (_, e) in enumerate(exprs)]
    f = tmp_path / "dashboard.rules.yml"
    f.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    r = promtool("check", "rules", str(f))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "$" not in "".join(e for _, e in exprs), "a Grafana variable was left unsubstituted"


def test_rule_files_and_scrape_config_fit_the_stack():
    cfg = promql.load_yaml(promql.PROMETHEUS_CONFIG)
    assert cfg["rule_files"] == ["rules/*.yml"], "rules are mounted with the config folder"
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    # Every replica of the compose service, found by its name, on DSCT_PORT.
    (sd,) = jobs["dsct"]["dns_sd_configs"]
    compose = promql.load_yaml(promql.COMPOSE)
    port = compose["services"]["dsct"]["environment"]["DSCT_PORT"]
    assert "static_configs" not in jobs["dsct"], "a static dsct:8000 would scrape one replica at random"
    assert (sd["names"], sd["type"], str(sd["port"])) == (["dsct"], "A", port)
    assert jobs["dsct"].get("metrics_path", "/metrics") == "/metrics"
    # The alerts select job="dsct": keep the job name and the rules in step.
    assert all('job="dsct"' in r["expr"] for r in promql.rules() if "up{" in r["expr"])


def test_recording_rules_used_by_the_dashboard_exist():
    used = {n for _, e in promql.all_exprs() for n in promql.metric_names(e) if ":" in n}
    assert used <= promql.recorded_names(), used - promql.recorded_names()
    # And the latency panel reads the three quantiles recorded per algorithm.
    quantiles = {r["labels"]["quantile"] for r in promql.rules()
                 if r.get("record", "").endswith("histogram_quantile_rate5m")}
    assert quantiles == {"0.5", "0.95", "0.99"}


def test_rule_groups_leave_the_evaluation_interval_to_the_config():
    # So that the scrape test's short global interval applies to every group.
    assert all("interval" not in g for _, g in promql.rule_groups())

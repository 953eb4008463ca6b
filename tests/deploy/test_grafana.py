"""The Grafana files: a valid dashboard that reads only the provisioned data source, and
provisioning paths that match the compose mounts."""

from __future__ import annotations

import re

from tests.deploy import promql


def datasource():
    (ds,) = promql.load_yaml(promql.DATASOURCES)["datasources"]
    return ds


def test_datasource_points_at_the_compose_prometheus():
    ds = datasource()
    assert ds["type"] == "prometheus" and ds["uid"]
    services = promql.load_yaml(promql.COMPOSE)["services"]
    assert ds["url"] == "http://prometheus:9090" and "prometheus" in services
    assert ds.get("isDefault") is True


def test_dashboard_is_a_valid_grafana_dashboard():
    dash = promql.dashboard()
    for key in ("uid", "title", "schemaVersion", "panels", "time"):
        assert key in dash, key
    assert dash.get("id") is None, "a provisioned dashboard carries no database id"
    assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dash["uid"])
    panels = promql.dashboard_panels(dash)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    titles = [p["title"] for p in panels]
    assert len(titles) == len(set(titles)), "panel titles are unique"
    cells = set()
    for p in panels:
        assert p["type"] in {"timeseries", "stat", "row", "table", "gauge", "bargauge", "text"}
        assert p.get("title") and p.get("description"), f"panel {p.get('id')} needs a title and description"
        g = p["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24 and g["h"] > 0
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"panel {p['title']!r} overlaps another"
                cells.add((x, y))
        if p["type"] != "row":
            refs = [t["refId"] for t in p["targets"]]
            assert p["targets"] and len(refs) == len(set(refs))


def test_dashboard_uses_only_the_provisioned_datasource():
    uid = datasource()["uid"]
    dash = promql.dashboard()
    text = promql.DASHBOARD.read_text()
    assert "${DS_" not in text and "__inputs" not in dash, "an export for import, not for provisioning"
    seen = []

    def walk(node):
        if isinstance(node, dict):
            if "datasource" in node:
                seen.append(node["datasource"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(dash["panels"])
    assert seen
    assert all(ds == {"type": "prometheus", "uid": uid} for ds in seen), seen


def test_dashboard_variables_are_grafana_builtins_only():
    for where, expr in [(w, t["expr"]) for p in promql.dashboard_panels()
                        for w, t in [(p["title"], t) for t in p.get("targets", [])]]:
        for var in re.findall(r"\$\{?\w+", expr):
            assert var.replace("{", "") in promql.GRAFANA_BUILTINS, f"{where}: unknown variable {var}"


def test_dashboard_covers_what_an_operator_asks_first():
    exprs = " ".join(e for _, e in promql.dashboard_exprs())
    for name in ("dsct_requests", "histogram_quantile_rate5m", "dsct_batch_tasks",
                 "dsct_batch_machines", "dsct_solution_mean_accuracy", "dsct_solution_gap_ratio",
                 "dsct_unscheduled_tasks_total", "dsct_solves_in_flight", "dsct_build_info"):
        assert name in exprs, name


def test_provisioning_paths_match_the_compose_mounts():
    grafana = promql.load_yaml(promql.COMPOSE)["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"] if v.startswith("./"))
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    (provider,) = promql.load_yaml(promql.DASHBOARD_PROVIDERS)["providers"]
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == provider["options"]["path"] + "/" + promql.DASHBOARD.name


def test_dashboard_shows_tasks_below_their_floor():
    """The reason an orchestrator acts on (send the task elsewhere) has its own panel, and every
    reason the dashboard names is one the service reports."""
    from app.solver import REASONS
    from app.solver.schedule import BELOW_MIN_ACCURACY

    exprs = promql.dashboard_exprs()
    named = set(re.findall(r'reason="([^"]+)"', " ".join(e for _, e in exprs)))
    assert named <= set(REASONS), named - set(REASONS)
    assert any(f'reason="{BELOW_MIN_ACCURACY}"' in e and "dsct_unscheduled_tasks_total" in e for _, e in exprs)

"""The operations endpoints (/livez, /readyz, /metrics), errors on other paths, and what every
request leaves behind: its metrics and its access log line."""

from __future__ import annotations

import json
import re

from app.solver import ALGORITHMS

from .conftest import post, spec_request


def test_livez_readyz(client):
    assert client.get("/livez").json() == {"status": "ok"}
    body = client.get("/readyz").json()
    assert body["status"] == "ready" and set(body["algorithms"]) == set(ALGORITHMS)


def test_errors_on_other_paths_have_the_error_body(client):
    r = client.get("/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.get("/schedule")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def _sample(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(2) or "{}")[1:-1].split(","))) if m.group(2) else ""
        if all(f'{k}="{v}"' in (m.group(2) or "") for k, v in labels.items()) or want == got:
            total += float(m.group(3))
    return total


def test_metrics_after_requests(client):
    before = client.get("/metrics").text
    ok0 = _sample(before, "dsct_requests_total", endpoint="/schedule", outcome="ok")
    inv0 = _sample(before, "dsct_requests_total", endpoint="/schedule", outcome="invalid")
    req = spec_request()
    req["machines"] = [{"id": "busy", "available_at": 1.0}]
    post(client, req)
    post(client, spec_request())
    post(client, b"{")
    post(client, spec_request(), "/schedule/validate")
    r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert _sample(text, "dsct_requests_total", endpoint="/schedule", outcome="ok") == ok0 + 2
    assert _sample(text, "dsct_requests_total", endpoint="/schedule", outcome="invalid") == inv0 + 1
    assert _sample(text, "dsct_requests_total", endpoint="/schedule/validate", outcome="ok") >= 1
    for name in ("dsct_request_duration_seconds_bucket", "dsct_solve_duration_seconds_bucket",
                 "dsct_batch_tasks_bucket", "dsct_batch_machines_bucket", "dsct_solution_mean_accuracy_bucket",
                 "dsct_solution_gap_ratio_bucket", "dsct_unscheduled_tasks_total", "dsct_solves_in_flight",
                 "dsct_build_info"):
        assert re.search(rf"^{name}[{{ ]", text, re.M), name
    assert 'dsct_solve_duration_seconds_bucket{algorithm="dsct-approx",le="0.0001"}' in text
    assert 'dsct_solve_duration_seconds_bucket{algorithm="dsct-approx",le="60.0"}' in text
    assert _sample(text, "dsct_unscheduled_tasks_total", reason="deadline_before_available") >= 1


def test_access_log_line(client, caplog):
    caplog.set_level("INFO", logger="dsct.access")
    r = post(client, spec_request())
    rec = [x for x in caplog.records if x.name == "dsct.access"][-1]
    f = rec.fields
    assert f["run_id"] == r.json()["run_id"] == r.headers["x-run-id"]
    assert (f["endpoint"], f["algorithm"], f["n"], f["m"], f["outcome"], f["status"]) == (
        "/schedule", "dsct-approx", 1, 2, "ok", 200)
    assert f["solve_seconds"] > 0
    from app.logging import JsonFormatter

    line = json.loads(JsonFormatter().format(rec))
    assert line["logger"] == "dsct.access" and line["run_id"] == f["run_id"]


def _count(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def test_readiness_probes_are_not_traffic(client):
    """/readyz solves the bundled batch but records nothing in the solve or request metrics."""
    names = ("dsct_batch_tasks_count", "dsct_batch_machines_count", "dsct_solution_mean_accuracy_count",
             "dsct_solve_duration_seconds_count", "dsct_solution_gap_ratio_count", "dsct_requests_total",
             "dsct_request_duration_seconds_count", "dsct_unscheduled_tasks_total")
    before = client.get("/metrics").text
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
    after = client.get("/metrics").text
    assert {n: _count(after, n) for n in names} == {n: _count(before, n) for n in names}
    assert post(client, spec_request()).status_code == 200  # a real request does count
    assert _count(client.get("/metrics").text, "dsct_batch_tasks_count") == _count(before, "dsct_batch_tasks_count") + 1

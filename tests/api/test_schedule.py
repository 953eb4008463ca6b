"""POST /schedule and /schedule/validate in-process: schedules, limits, keys, time caps, metrics."""

from __future__ import annotations

import json
import re
import sys
import threading
import time

import pytest

from app.api.openapi import DEFAULT_PATH, document
from app.cli import main as cli_main
from app.settings import SettingsError, from_env
from app.solver import ALGORITHMS, DEFAULT_ALGORITHM, check
from app.solver.schedule import make_solution

from .conftest import ROOT, post, random_batch, spec_request
from .helpers import problem_of, solution_of, strict_json


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize(("n", "m", "seed"), [(0, 1, 0), (1, 3, 1), (60, 4, 2), (300, 7, 3)])
def test_schedule_passes_the_checker(client, algorithm, n, m, seed):
    req = random_batch(n, m, seed, algorithm)
    req["time_limit"] = 0.5  # the searching algorithm (exact) stops there
    r = post(client, req)
    assert r.status_code == 200, r.text
    body = strict_json(r.text)
    sol = solution_of(req, body)  # every task exactly once
    report = check(problem_of(req), sol)
    assert report.ok, report.violations
    assert body["objective"]["total_accuracy"] <= body["objective"]["upper_bound"] + 1e-9
    mean = body["objective"]["mean_accuracy"]
    assert mean == (pytest.approx(body["objective"]["total_accuracy"] / n) if n else 0.0)
    assert body["label"] == req["label"]


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_determinism(client, algorithm):
    # the exact search is deterministic when it proves optimality (not when cut by a time limit)
    req = random_batch(8, 2, 11, algorithm) if algorithm == "exact" else random_batch(200, 5, 11, algorithm)
    a, b = post(client, req).json(), post(client, req).json()
    if algorithm == "exact":
        assert a["status"] == "optimal"

    assert a["run_id"] != b["run_id"]
    for key in ("machines", "unscheduled", "objective", "status", "algorithm", "label"):
        assert a[key] == b[key]


def test_unscheduled_reasons_and_a_min(client):
    req = spec_request()
    req["machines"] = [{"id": "busy", "speed": 1.0, "available_at": 1.0}]
    req["tasks"].append({"id": "late", "deadline": 2.0, "theta": 3.0, "a_min": 0.2, "a_max": 0.9})
    body = post(client, req).json()
    assert body["unscheduled"] == [{"task_id": "cam3/1182", "reason": "deadline_before_available", "accuracy": 0.001}]
    assert [a["task_id"] for a in body["machines"][0]["assignments"]] == ["late"]
    assert body["machines"][0]["assignments"][0]["compression"] is None


def test_defaults_and_label_absent(client):
    req = {"machines": [{"id": "m"}], "tasks": [{"id": "t", "deadline": 1.0, "theta": 2.0}]}
    body = post(client, req).json()
    assert body["label"] is None and body["algorithm"] == DEFAULT_ALGORITHM == "dsct-best"
    a = body["machines"][0]["assignments"][0]
    assert a["start"] == 0.0 and a["end"] == pytest.approx(1.0) and a["compression"] is None


def test_label_echoed_at_limit(client):
    req = spec_request()
    req["label"] = "é" * 256
    req["tasks"][0]["id"] = "i" * 256
    body = post(client, req).json()
    assert body["label"] == "é" * 256


def test_time_limit_is_accepted_and_passed_capped(make_client, monkeypatch):
    seen = {}

    def spy(problem, **options):
        seen.update(options)
        return make_solution(problem, machine=[-1] * problem.n, start=[0.0] * problem.n,
                             duration=[0.0] * problem.n, work=[0.0] * problem.n, upper_bound=0.0,
                             algorithm="spy")

    monkeypatch.setitem(ALGORITHMS, "spy", spy)
    c = make_client(max_time_limit=2.0)
    req = spec_request()
    req.update(algorithm="spy", time_limit=1e6)
    assert post(c, req).status_code == 200
    assert seen["time_limit"] == 2.0
    req["time_limit"] = 0.5
    post(c, req)
    assert seen["time_limit"] == 0.5


# ---------------------------------------------------------------- limits


def test_too_many_tasks(make_client):
    c = make_client(max_tasks=10)
    r = post(c, random_batch(11, 2))
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_tasks"
    assert post(c, random_batch(10, 2)).status_code == 200


def test_too_many_machines(make_client):
    c = make_client(max_machines=3)
    r = post(c, random_batch(5, 4))
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_machines"


def test_body_too_large_from_content_length(make_client):
    c = make_client(max_body_bytes=4096)
    req = random_batch(200, 2)
    r = post(c, req)
    assert r.status_code == 413
    err = r.json()["error"]
    assert err["code"] == "body_too_large" and "4096" in err["message"]


# ---------------------------------------------------------------- API keys


def test_api_keys(make_client):
    c = make_client(api_keys=("k1-secret", "k2-secret"))
    for path in ("/schedule", "/schedule/validate"):
        r = post(c, spec_request(), path)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")
        for bad in ("Bearer nope", "Basic k1-secret", "k1-secret", "Bearer k1-secret-x", "Bearer "):
            assert post(c, spec_request(), path, headers={"authorization": bad}).status_code == 401, bad
        for good in ("Bearer k1-secret", "Bearer k2-secret", "bearer k2-secret"):
            assert post(c, spec_request(), path, headers={"authorization": good}).status_code == 200, good
    # checked before the body: a wrong key with a bad body is still 401
    assert post(c, b"{", headers={"authorization": "Bearer x"}).status_code == 401
    for path in ("/livez", "/readyz", "/metrics"):
        assert c.get(path).status_code == 200


def test_api_keys_from_env():
    s = from_env({"DSCT_API_KEYS": " a , b,, "})
    assert s.api_keys == ("a", "b")
    assert from_env({}).api_keys == ()


def test_invalid_settings_fail_clearly():
    with pytest.raises(SettingsError, match="DSCT_WORKERS"):
        from_env({"DSCT_WORKERS": "zero"})
    with pytest.raises(SettingsError, match="DSCT_SOLVE_TIMEOUT"):
        from_env({"DSCT_SOLVE_TIMEOUT": "-1"})
    with pytest.raises(SettingsError, match="DSCT_LOG_LEVEL"):
        from_env({"DSCT_LOG_LEVEL": "loud"})
    s = from_env({})
    assert (s.host, s.port, s.workers) == ("127.0.0.1", 8000, 2)


def test_readme_lists_every_setting():
    from app.settings import PREFIX, Settings

    readme = (ROOT / "README.md").read_text()
    for name, info in Settings.model_fields.items():
        if name == "bench_routes":  # benchmark-only, documented in docs/robustness.md
            continue
        var = PREFIX + name.upper()
        assert f"`{var}`" in readme, var
        default = info.default
        if isinstance(default, int | float) and not isinstance(default, bool):
            row = next(line for line in readme.splitlines() if line.startswith(f"| `{var}`"))
            assert f"`{default:g}`" in row or f"`{default}`" in row, (var, row)


# ---------------------------------------------------------------- validate-only


def test_validate_valid(client):
    r = post(client, spec_request(), "/schedule/validate")
    assert r.status_code == 200
    assert r.json() == {"valid": True, "tasks": 1, "machines": 2, "algorithm": "dsct-approx", "errors": [],
                        "warnings": []}


def test_validate_reports_every_problem(client):
    req = spec_request()
    req["tasks"][0]["theta"] = -1
    req["tasks"].append({"id": "x", "deadline": "soon", "theta": 1.0, "colour": "red"})
    req["machines"][1]["speed"] = 0
    body = post(client, req, "/schedule/validate").json()
    assert body["valid"] is False and body["tasks"] == 2 and body["machines"] == 2
    locs = {tuple(e["loc"]) for e in body["errors"]}
    assert locs == {("tasks", 0, "theta"), ("tasks", 1, "deadline"), ("tasks", 1, "colour"),
                    ("machines", 1, "speed")}
    assert {e["code"] for e in body["errors"]} == {"invalid_request"}


def test_validate_semantic_problems(make_client):
    c = make_client(max_tasks=3)
    req = spec_request()
    req["algorithm"] = "nope"
    req["tasks"].append(dict(req["tasks"][0]))
    body = post(c, req, "/schedule/validate").json()
    assert body["valid"] is False
    assert [e["code"] for e in body["errors"]] == ["duplicate_id", "unknown_algorithm"]
    body = post(c, random_batch(5, 1), "/schedule/validate").json()
    assert [e["code"] for e in body["errors"]] == ["too_many_tasks"]


def test_validate_malformed_and_transport_errors(make_client):
    c = make_client(max_body_bytes=2048)
    body = post(c, b'{"tasks": [', "/schedule/validate").json()
    assert body["valid"] is False and body["errors"][0]["code"] == "malformed_json" and body["tasks"] is None
    assert post(c, random_batch(100, 2), "/schedule/validate").status_code == 413
    r = c.post("/schedule/validate", content=b"{}", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_validate_does_not_solve(client, monkeypatch):
    def boom(problem, **options):
        raise AssertionError("validate must not solve")

    monkeypatch.setitem(ALGORITHMS, "boom", boom)
    req = spec_request()
    req["algorithm"] = "boom"
    assert post(client, req, "/schedule/validate").json()["valid"] is True


# ---------------------------------------------------------------- time cap and admission


def _sleeper(seconds: float, started: threading.Event | None = None):
    def algo(problem, **options):
        if started is not None:
            started.set()
        time.sleep(seconds)
        return make_solution(problem, machine=[-1] * problem.n, start=[0.0] * problem.n,
                             duration=[0.0] * problem.n, work=[0.0] * problem.n, upper_bound=0.0,
                             algorithm="sleep")

    return algo


def test_solve_timeout_then_worker_free(make_client, monkeypatch):
    monkeypatch.setitem(ALGORITHMS, "sleep", _sleeper(2.0))
    c = make_client(solve_timeout=0.1)
    req = spec_request()
    req["algorithm"] = "sleep"
    r = post(c, req)
    runner = c.app.state.runner
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "solve_timeout" and "retry-after" in r.headers
    # answered at the cap, not when the solve ended: the abandoned solve is still running
    # and holds its admission slot
    assert runner.in_flight == 1
    assert post(c, spec_request()).status_code == 200  # the server keeps answering
    deadline = time.monotonic() + 10
    while runner.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert runner.in_flight == 0


@pytest.mark.parametrize("inline_max_tasks", [0, 512])
def test_overloaded(make_client, monkeypatch, inline_max_tasks):
    """A full lane refuses what would queue for it (503 overloaded). The searching lane is
    apart from the polynomial one: while a search fills its lane, polynomial batches, small
    (on the event loop) or not (in a solver thread), still get through."""
    started = threading.Event()
    monkeypatch.setitem(ALGORITHMS, "sleep", _sleeper(1.0, started))
    c = make_client(max_in_flight=1, max_searches=1, solve_timeout=5.0, inline_max_tasks=inline_max_tasks)
    req = spec_request()
    req["algorithm"] = "sleep"
    results = {}
    t = threading.Thread(target=lambda: results.setdefault("slow", post(c, req)))
    t.start()
    assert started.wait(5)
    r = post(c, req)
    assert r.status_code == 503 and r.json()["error"]["code"] == "overloaded", r.text
    assert "DSCT_MAX_SEARCHES" in r.json()["error"]["message"] and r.headers["retry-after"] == "1"
    assert post(c, spec_request()).status_code == 200
    r = post(c, {**spec_request(), "algorithm": "dsct-approx", "tasks": random_batch(600, 3)["tasks"]})
    assert r.status_code == 200, r.text
    t.join(10)
    assert results["slow"].status_code == 200
    assert post(c, req).status_code == 200


# ---------------------------------------------------------------- ops endpoints, metrics, logs


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


# ---------------------------------------------------------------- OpenAPI and CLI


def test_openapi_has_not_drifted():
    committed = DEFAULT_PATH.read_text(encoding="utf-8")
    assert committed == document(), "openapi/openapi.json is stale: run .venv/bin/python scripts/export_openapi.py"


def test_openapi_describes_the_contract():
    spec = json.loads(DEFAULT_PATH.read_text())
    schemas = spec["components"]["schemas"]
    req_ref = spec["paths"]["/schedule"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert req_ref == "#/components/schemas/ScheduleRequest"
    assert schemas["ScheduleRequest"]["additionalProperties"] is False
    assert schemas["ScheduleRequest"]["properties"]["algorithm"]["type"] == "string"
    assert "enum" not in schemas["ScheduleRequest"]["properties"]["algorithm"]
    for name in ("ScheduleRequest", "ScheduleResponse", "Task", "Machine", "ErrorResponse", "Assignment"):
        assert schemas[name].get("examples"), name
    for code in ("401", "413", "415", "422", "503"):
        assert code in spec["paths"]["/schedule"]["post"]["responses"]


def test_cli_solve_prints_the_endpoint_json(client, capsys):
    path = ROOT / "app" / "data" / "example.json"
    assert cli_main(["solve", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    http = post(client, path.read_bytes()).json()
    for key in ("machines", "unscheduled", "objective", "label", "algorithm", "status"):
        assert out[key] == http[key]


def test_cli_solve_invalid_input(tmp_path, capsys):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(dict(spec_request(), machines=[])))
    assert cli_main(["solve", str(f)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert json.loads(captured.err)["error"]["code"] == "invalid_request"


def test_cli_experiments_dispatches(capsys):
    """`dsct experiments` hands its arguments to app.experiments.cli.main."""
    with pytest.raises(SystemExit) as exc:
        cli_main(["experiments", "--help"])
    assert exc.value.code == 0
    assert "--instances" in capsys.readouterr().out


def test_cli_experiments_missing_module(capsys, monkeypatch):
    """A build without app.experiments says so and exits 2 (the service does not need it)."""
    monkeypatch.setitem(sys.modules, "app.experiments.cli", None)  # import raises
    assert cli_main(["experiments", "--help"]) == 2
    assert "app.experiments" in capsys.readouterr().err


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

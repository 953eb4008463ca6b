"""The ``dsct`` command line: --version, solve's options, the validate mode, and JSON logs
from every process of ``dsct serve``."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import httpx
import pytest

from app import __version__
from app.cli import main as cli_main

from .conftest import DSCT, ROOT, post, running_server, spec_request

EXAMPLE = ROOT / "app" / "data" / "example.json"


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"dsct {__version__}"


def test_version_from_the_installed_command():
    out = subprocess.run([DSCT, "--version"], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == f"dsct {__version__}"


@pytest.mark.parametrize("algorithm", ["edf-3levels", "dsct-refined"])
def test_solve_algorithm_overrides_the_body(client, capsys, algorithm):
    assert cli_main(["solve", str(EXAMPLE), "--algorithm", algorithm]) == 0
    out = json.loads(capsys.readouterr().out)
    req = json.loads(EXAMPLE.read_bytes())
    req["algorithm"] = algorithm
    http = post(client, req).json()
    assert out["algorithm"] == algorithm
    for key in ("machines", "unscheduled", "objective", "label", "status"):
        assert out[key] == http[key]


def test_solve_unknown_algorithm_lists_the_known_ones(capsys):
    assert cli_main(["solve", str(EXAMPLE), "--algorithm", "fastest"]) == 2
    err = json.loads(capsys.readouterr().err)["error"]
    assert err["code"] == "unknown_algorithm" and "dsct-approx" in err["message"]


def test_solve_pretty_is_the_same_json_indented(capsys):
    assert cli_main(["solve", str(EXAMPLE)]) == 0
    compact = capsys.readouterr().out
    assert cli_main(["solve", str(EXAMPLE), "--pretty"]) == 0
    pretty = capsys.readouterr().out
    assert "\n" not in compact.strip() and pretty.startswith("{\n  \"run_id\"")
    a, b = json.loads(compact), json.loads(pretty)
    for d in (a, b):
        d.pop("run_id"), d.pop("timings")
    assert a == b


@pytest.mark.parametrize("argv", [["validate"], ["solve", "--validate"]])
def test_validate_mode(tmp_path, capsys, argv):
    assert cli_main([*argv, str(EXAMPLE)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["valid"] is True and got["errors"] == [] and got["tasks"] == 5
    bad = dict(spec_request(), machines=[{"id": "a"}, {"id": "a"}])
    bad["tasks"][0]["theta"] = "x"
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(bad))
    assert cli_main([*argv, str(f), "--pretty"]) == 2
    out = capsys.readouterr().out
    got = json.loads(out)
    assert out.startswith("{\n") and got["valid"] is False
    assert {e["code"] for e in got["errors"]} == {"invalid_request", "duplicate_id"}


def test_validate_from_stdin_with_algorithm(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(EXAMPLE.read_bytes())))
    assert cli_main(["validate", "-", "--algorithm", "nope"]) == 2
    got = json.loads(capsys.readouterr().out)
    assert [e["code"] for e in got["errors"]] == ["unknown_algorithm"] and got["algorithm"] == "nope"


# ---------------------------------------------------------------- every log line is JSON


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_every_server_log_line_is_json(tmp_path, workers):
    """uvicorn's start-up and shutdown lines and the supervisor's are JSON like the access
    lines, with one worker and with several."""
    with running_server(tmp_path, workers=workers, env={"DSCT_LOG_LEVEL": "INFO"}) as server:
        assert post(httpx.Client(base_url=server.url), spec_request()).status_code == 200
    lines = [line for line in server.logs().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not JSON: {line!r}\n{server.logs()}")
    loggers = {r.get("logger") for r in records}
    assert {"uvicorn.error", "dsct.access"} <= loggers, loggers
    assert any("startup complete" in r.get("message", "") for r in records)
    if workers > 1:
        assert "dsct.serve" in loggers


@pytest.mark.slow
def test_server_log_level_holds_for_every_process(tmp_path):
    """At DSCT_LOG_LEVEL=WARNING (the helper's default) neither uvicorn nor the supervisor
    writes its info lines."""
    with running_server(tmp_path, workers=2) as server:
        assert httpx.get(server.url + "/livez").status_code == 200
    records = [json.loads(line) for line in server.logs().splitlines() if line.strip()]
    assert not [r for r in records if r["level"] in ("info", "debug")], records

"""The dsct command (app/cli.py): solve prints what POST /schedule answers; experiments dispatches."""

from __future__ import annotations

import json
import sys

import pytest

from app.cli import main as cli_main

from .api.conftest import ROOT, post, spec_request


@pytest.fixture
def client():
    """An in-process client of the app with default settings."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings

    with TestClient(create_app(Settings()), raise_server_exceptions=False) as c:
        yield c


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

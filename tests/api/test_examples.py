"""Every example: the spec's, the schemas', the bundled batch, and the golden pairs in docs/examples."""

from __future__ import annotations

import json
import os

import pytest

from app.solver import ALGORITHMS, GUARANTEED
from schemas import (
    ErrorResponse,
    ScheduleRequest,
    ScheduleResponse,
    ValidationReport,
    example,
)

from .conftest import ROOT, post, spec_request

EXAMPLES = ROOT / "docs" / "examples"
VOLATILE = ("run_id", "timings")


def masked(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in VOLATILE}


def test_spec_example(client):
    r = post(client, spec_request())
    assert r.status_code == 200, r.text
    body = r.json()
    ScheduleResponse.model_validate(body)
    assert set(body) >= {"run_id", "label", "algorithm", "status", "objective", "machines", "unscheduled", "timings"}
    assert body["label"] == "cell-17 batch 8812" and body["algorithm"] == "dsct-approx" and body["status"] == "ok"
    assert [mc["id"] for mc in body["machines"]] == ["jetson-a", "a2000-b"]
    placed = [a for mc in body["machines"] for a in mc["assignments"]]
    assert [a["task_id"] for a in placed] == ["cam3/1182"] and body["unscheduled"] == []
    a = placed[0]
    # the full model fits before the deadline: no compression, a(0.115) = 0.8118 as in the spec
    assert a["work"] == pytest.approx(0.115) and a["compression"] == pytest.approx(0.0, abs=1e-12)
    assert a["accuracy"] == pytest.approx(0.8118, abs=1e-4)
    assert body["objective"]["total_accuracy"] == pytest.approx(0.8118, abs=1e-4)
    assert body["objective"]["upper_bound"] == pytest.approx(0.8118, abs=1e-4)
    assert len(body["run_id"]) == 32 and int(body["run_id"], 16) >= 0
    assert set(body["timings"]) == {"parse_seconds", "solve_seconds", "total_seconds"}


def test_schema_examples_are_valid():
    ScheduleRequest.model_validate(example(ScheduleRequest))
    ScheduleResponse.model_validate(example(ScheduleResponse))
    ErrorResponse.model_validate(example(ErrorResponse))
    for ex in ValidationReport.model_config["json_schema_extra"]["examples"]:
        ValidationReport.model_validate(ex)


def test_schema_request_example_solves(client):
    r = post(client, example(ScheduleRequest))
    assert r.status_code == 200, r.text


def test_bundled_example(client):
    body = (ROOT / "app" / "data" / "example.json").read_bytes()
    r = post(client, body)
    assert r.status_code == 200, r.text
    ScheduleResponse.model_validate(r.json())


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_algorithm_is_selectable(client, algorithm):
    req = spec_request()
    req["algorithm"] = algorithm
    r = post(client, req)
    assert r.status_code == 200, r.text
    assert r.json()["algorithm"] == algorithm
    guarantee = r.json()["objective"]["guarantee"]
    # Theorem 3's bound only for what is never worse than dsct-approx: null for the baselines
    assert (guarantee is None) == (algorithm not in GUARANTEED), (algorithm, guarantee)


GOLDEN = sorted(p.name.removesuffix(".request.json") for p in EXAMPLES.glob("*.request.json"))


def test_golden_examples_exist():
    assert len(GOLDEN) >= 3


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_pair(client, name):
    """docs/examples/NAME.request.json gives NAME.response.json (run_id and timings aside).
    Regenerate with DSCT_UPDATE_GOLDEN=1 after an intended change."""
    req = (EXAMPLES / f"{name}.request.json").read_bytes()
    r = post(client, req)
    assert r.status_code == 200, r.text
    got = r.json()
    path = EXAMPLES / f"{name}.response.json"
    if os.environ.get("DSCT_UPDATE_GOLDEN"):
        path.write_text(json.dumps(got, indent=2) + "\n")
    want = json.loads(path.read_text())
    _close(masked(got), masked(want))


def _close(a, b, rel=1e-9) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        return all(_close(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b)
        return all(_close(x, y, rel) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=rel, abs=1e-12)
        return True
    assert a == b
    return True

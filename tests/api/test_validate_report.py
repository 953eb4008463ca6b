"""POST /schedule/validate: every problem listed even beside schema errors, and warnings for
legal but suspicious values that never make a batch invalid."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.api.validation import LONG_SECONDS, WARNINGS, _best_single_machine_work

from .conftest import post, spec_request


def _validate(client, req):
    r = post(client, req, "/schedule/validate")
    assert r.status_code == 200, r.text
    return r.json()


def _codes(items) -> list[tuple[str, tuple]]:
    return [(e["code"], tuple(e["loc"])) for e in items]


# ---------------------------------------------------------------- every problem at once


def test_duplicate_machine_ids_beside_a_schema_error(client):
    req = spec_request()
    req["machines"][1]["id"] = req["machines"][0]["id"]
    req["tasks"][0]["theta"] = "fast"  # a schema error elsewhere in the body
    body = _validate(client, req)
    assert body["valid"] is False
    assert ("invalid_request", ("tasks", 0, "theta")) in _codes(body["errors"])
    assert ("duplicate_id", ("machines", 1, "id")) in _codes(body["errors"])


def test_duplicate_task_ids_and_unknown_algorithm_beside_schema_errors(client):
    req = spec_request()
    req["algorithm"] = "fastest"
    req["tasks"].append(dict(req["tasks"][0], colour="red"))  # same id, and an unknown field
    req["machines"].append({"speed": 2.0})  # no id: its position still counts
    req["machines"].append({"id": "a2000-b"})  # duplicate of machines[1]
    body = _validate(client, req)
    got = _codes(body["errors"])
    assert ("invalid_request", ("tasks", 1, "colour")) in got
    assert ("invalid_request", ("machines", 2, "id")) in got
    assert ("duplicate_id", ("tasks", 1, "id")) in got
    assert ("duplicate_id", ("machines", 3, "id")) in got
    assert ("unknown_algorithm", ("algorithm",)) in got
    assert body["tasks"] == 2 and body["machines"] == 4 and body["algorithm"] == "fastest"


def test_a_schema_error_on_the_algorithm_is_reported_once(client):
    req = spec_request()
    req["algorithm"] = "x" * 100  # over the schema's length limit
    req["tasks"][0]["deadline"] = -1
    body = _validate(client, req)
    assert [c for c, loc in _codes(body["errors"]) if loc[:1] == ("algorithm",)] == ["invalid_request"]


def test_limits_beside_a_schema_error(make_client):
    req = spec_request()
    req["tasks"] = [dict(req["tasks"][0], id=f"t{j}") for j in range(4)]
    req["tasks"][2]["deadline"] = None
    body = _validate(make_client(max_tasks=3), req)
    codes = [c for c, _ in _codes(body["errors"])]
    assert "too_many_tasks" in codes and "invalid_request" in codes


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"tasks": "none", "machines": 3}', b"{"])
def test_unreadable_rest_adds_nothing(client, body):
    got = _validate(client, body)
    assert got["valid"] is False and got["errors"] and got["warnings"] == []
    assert {e["code"] for e in got["errors"]} <= {"invalid_request", "malformed_json"}


# ---------------------------------------------------------------- warnings


def test_milliseconds_are_warned_about_not_rejected(client):
    req = spec_request()
    req["tasks"][0].update(deadline=150, t_max=115)  # 150 ms and 115 ms, sent as numbers of ms
    body = _validate(client, req)
    assert body["valid"] is True and body["errors"] == []
    assert _codes(body["warnings"]) == [("long_deadline", ("tasks", 0, "deadline")),
                                        ("long_t_max", ("tasks", 0, "t_max"))]
    assert all("milliseconds" in w["msg"] for w in body["warnings"])
    assert post(client, req).status_code == 200  # still solved as sent


def test_one_warning_per_kind_counts_the_tasks(client):
    req = spec_request()
    base = req["tasks"][0]
    req["tasks"] = [dict(base, id="ok")] + [dict(base, id=f"t{j}", deadline=LONG_SECONDS + j + 1)
                                            for j in range(5)]
    body = _validate(client, req)
    assert _codes(body["warnings"]) == [("long_deadline", ("tasks", 1, "deadline"))]
    assert body["warnings"][0]["msg"].startswith("5 tasks ")


def test_t_max_out_of_reach(client):
    req = spec_request()  # machines: speed 1 free at 0, speed 3.5 free at 0.02
    req["tasks"][0].update(deadline=0.1, t_max=0.5)  # at most 3.5 * 0.08 = 0.28 fits
    req["tasks"].append(dict(req["tasks"][0], id="fits", t_max=0.2))
    req["tasks"].append(dict(req["tasks"][0], id="uncapped", t_max=None))
    body = _validate(client, req)
    assert body["valid"] is True
    assert _codes(body["warnings"]) == [("t_max_out_of_reach", ("tasks", 0, "t_max"))]
    assert body["warnings"][0]["msg"].startswith("1 task ")


def test_plain_batches_have_no_warnings(client):
    body = _validate(client, spec_request())
    assert body["valid"] is True and body["warnings"] == []


def test_every_warning_code_is_documented():
    from .conftest import ROOT

    api = (ROOT / "docs" / "api.md").read_text()
    for code in WARNINGS:
        assert f"`{code}`" in api, code


@pytest.mark.parametrize("seed", range(20))
def test_single_machine_reach_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 30))
    speed = rng.choice([0.5, 1.0, 2.0, 3.5], m) if seed % 2 else rng.uniform(0.1, 5, m)
    available_at = rng.choice([0.0, 0.1, 0.5], m) if seed % 3 == 0 else rng.uniform(0, 1, m)
    deadline = rng.uniform(-0.5, 2.0, 200)
    brute = (speed[None, :] * (deadline[:, None] - available_at[None, :])).max(axis=1)
    got = _best_single_machine_work(speed, available_at, deadline)
    np.testing.assert_allclose(got, brute, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_out_of_reach_warning_against_brute_force(seed):
    from app.api.validation import warnings_for
    from app.batch import read

    from .conftest import random_batch

    rng = np.random.default_rng(seed)
    req = random_batch(int(rng.integers(1, 80)), int(rng.integers(1, 6)), seed)
    body = read(json.dumps(req).encode())
    speed, available_at = body.machines["speed"], body.machines["available_at"]
    deadline, t_max = body.tasks["deadline"], body.tasks["t_max"]
    reach = (speed[None, :] * (deadline[:, None] - available_at[None, :])).max(axis=1)
    far = np.flatnonzero(np.isfinite(t_max) & (t_max > reach) & (reach > 0))
    got = [w for w in warnings_for(body) if w.code == "t_max_out_of_reach"]
    if not far.shape[0]:
        assert got == []
    else:
        assert len(got) == 1 and got[0].loc == ("tasks", int(far[0]), "t_max")
        assert got[0].msg.startswith(f"{far.shape[0]} task")

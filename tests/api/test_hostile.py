"""The hostile-input table: each case with its expected status and error.code.

Nothing a client sends may produce a 500, and no response may carry NaN or Infinity.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.solver import ALGORITHMS, check

from .conftest import post, spec_request
from .helpers import problem_of, solution_of, strict_json


def with_(path: tuple, value: Any, base: dict | None = None) -> dict:
    req = base or spec_request()
    target = req
    for p in path[:-1]:
        target = target[p]
    if value is _DELETE:
        del target[path[-1]]
    elif isinstance(target, list) and path[-1] == len(target):
        target.append(value)
    else:
        target[path[-1]] = value
    return req


_DELETE = object()
BIG_ID = "x" * 257

# name, body (dict, or raw str/bytes), expected status, expected code, expected first loc (or None)
CASES: list[tuple[str, Any, int, str, list | None]] = [
    ("empty body", b"", 422, "malformed_json", []),
    ("truncated json", json.dumps(spec_request())[:-7], 422, "malformed_json", []),
    ("not json", "label=x&tasks=1", 422, "malformed_json", []),
    ("trailing garbage", json.dumps(spec_request()) + " }", 422, "malformed_json", []),
    ("invalid utf-8", b'{"label": "\xff\xfe", "machines": [], "tasks": []}', 422, "malformed_json", []),
    ("json array", "[1, 2, 3]", 422, "invalid_request", []),
    ("json null", "null", 422, "invalid_request", []),
    ("json string", '"hello"', 422, "invalid_request", []),
    ("NaN literal", json.dumps(spec_request()).replace('"theta": 40.0', '"theta": NaN'), 422,
     "invalid_request", ["tasks", 0, "theta"]),
    ("Infinity literal", json.dumps(spec_request()).replace('"deadline": 0.25', '"deadline": Infinity'), 422,
     "invalid_request", ["tasks", 0, "deadline"]),
    ("-Infinity literal", json.dumps(spec_request()).replace('"speed": 1.0', '"speed": -Infinity'), 422,
     "invalid_request", ["machines", 0, "speed"]),
    ("1e400 overflows to inf", json.dumps(spec_request()).replace('"t_max": 0.115', '"t_max": 1e400'), 422,
     "invalid_request", ["tasks", 0, "t_max"]),
    ("string number", with_(("tasks", 0, "theta"), "40"), 422, "invalid_request", ["tasks", 0, "theta"]),
    ("bool number", with_(("machines", 0, "speed"), True), 422, "invalid_request", ["machines", 0, "speed"]),
    ("number id", with_(("tasks", 0, "id"), 7), 422, "invalid_request", ["tasks", 0, "id"]),
    ("tasks not a list", with_(("tasks",), {"a": 1}), 422, "invalid_request", ["tasks"]),
    ("machine not an object", with_(("machines", 1), "a2000-b"), 422, "invalid_request", ["machines", 1]),
    ("missing deadline", with_(("tasks", 0, "deadline"), _DELETE), 422, "invalid_request", ["tasks", 0, "deadline"]),
    ("missing tasks", with_(("tasks",), _DELETE), 422, "invalid_request", ["tasks"]),
    ("zero speed", with_(("machines", 0, "speed"), 0), 422, "invalid_request", ["machines", 0, "speed"]),
    ("negative speed", with_(("machines", 1, "speed"), -3.5), 422, "invalid_request", ["machines", 1, "speed"]),
    ("negative available_at", with_(("machines", 0, "available_at"), -1), 422, "invalid_request",
     ["machines", 0, "available_at"]),
    ("negative deadline", with_(("tasks", 0, "deadline"), -0.1), 422, "invalid_request", ["tasks", 0, "deadline"]),
    ("zero theta", with_(("tasks", 0, "theta"), 0), 422, "invalid_request", ["tasks", 0, "theta"]),
    ("a_min equal a_max", with_(("tasks", 0, "a_min"), 0.82), 422, "invalid_request", ["tasks", 0, "a_max"]),
    ("a_min above a_max", with_(("tasks", 0, "a_min"), 0.9), 422, "invalid_request", ["tasks", 0, "a_max"]),
    ("a_max above 1", with_(("tasks", 0, "a_max"), 1.5), 422, "invalid_request", ["tasks", 0, "a_max"]),
    ("a_min 1, a_max left at its default 1", with_(("tasks", 0, "a_min"), 1.0, with_(("tasks", 0, "a_max"), _DELETE)),
     422, "invalid_request", ["tasks", 0, "a_max"]),
    ("zero t_max", with_(("tasks", 0, "t_max"), 0), 422, "invalid_request", ["tasks", 0, "t_max"]),
    ("duplicate task ids", with_(("tasks", 1), dict(spec_request()["tasks"][0])), 422, "duplicate_id",
     ["tasks", 1, "id"]),
    ("duplicate machine ids", with_(("machines", 1, "id"), "jetson-a"), 422, "duplicate_id", ["machines", 1, "id"]),
    ("empty task id", with_(("tasks", 0, "id"), ""), 422, "invalid_request", ["tasks", 0, "id"]),
    ("enormous task id", with_(("tasks", 0, "id"), BIG_ID), 422, "invalid_request", ["tasks", 0, "id"]),
    ("empty machine id", with_(("machines", 0, "id"), ""), 422, "invalid_request", ["machines", 0, "id"]),
    ("enormous label", with_(("label",), "l" * 257), 422, "invalid_request", ["label"]),
    ("no machines", with_(("machines",), []), 422, "invalid_request", ["machines"]),
    ("unknown algorithm", with_(("algorithm",), "simulated-annealing"), 422, "unknown_algorithm", ["algorithm"]),
    ("empty algorithm", with_(("algorithm",), ""), 422, "invalid_request", ["algorithm"]),
    ("unknown top-level field", with_(("priority",), 3), 422, "invalid_request", ["priority"]),
    ("unknown task field", with_(("tasks", 0, "priority"), 2.0), 422, "invalid_request", ["tasks", 0, "priority"]),
    ("zero time_limit", with_(("time_limit",), 0), 422, "invalid_request", ["time_limit"]),
    ("deeply nested junk", '{"label": ' + "[" * 100_000 + "]" * 100_000 + "}", 422, "malformed_json", []),
    ("deeply nested objects", '{"tasks": ' + '{"a":' * 5_000 + "1" + "}" * 5_000 + "}", 422, "malformed_json", []),
]


@pytest.mark.parametrize(("name", "body", "status", "code", "loc"), CASES, ids=[c[0] for c in CASES])
def test_hostile_input(client, name, body, status, code, loc):
    r = post(client, body)
    assert r.status_code == status, r.text
    err = strict_json(r.text)["error"]
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    if loc is not None:
        assert err["details"], err
        assert err["details"][0]["loc"] == loc, err


def test_duplicate_ids_name_both_indices(client):
    req = spec_request()
    req["tasks"] = [dict(req["tasks"][0], id=i) for i in ("a", "b", "a", "c", "b")]
    r = post(client, req)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "duplicate_id"
    assert [d["loc"] for d in err["details"]] == [["tasks", 2, "id"], ["tasks", 4, "id"]]
    assert "tasks[0]" in err["details"][0]["msg"] and "tasks[1]" in err["details"][1]["msg"]


def test_every_invalid_field_is_reported(client):
    req = spec_request()
    req["tasks"][0]["theta"] = -1
    req["machines"][1]["speed"] = "fast"
    req["extra"] = 1
    r = post(client, req)
    assert r.status_code == 422
    locs = {tuple(d["loc"]) for d in r.json()["error"]["details"]}
    assert locs == {("tasks", 0, "theta"), ("machines", 1, "speed"), ("extra",)}


def test_unknown_algorithm_lists_known_ones(client):
    r = post(client, with_(("algorithm",), "nope"))
    msg = r.json()["error"]["message"]
    assert all(name in msg for name in ALGORITHMS)


@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded", "", "application/xml"])
def test_wrong_content_type(client, media):
    r = client.post("/schedule", content=json.dumps(spec_request()), headers={"content-type": media})
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "unsupported_media_type"


def test_json_content_type_variants_accepted(client):
    for media in ("application/json; charset=utf-8", "Application/JSON", "application/vnd.dsct+json"):
        r = client.post("/schedule", content=json.dumps(spec_request()), headers={"content-type": media})
        assert r.status_code == 200, (media, r.text)


# ---------------------------------------------------------------- extreme but finite numbers

NUMERIC_FIELDS = [("machines", 0, "speed"), ("machines", 1, "available_at"), ("tasks", 0, "deadline"),
                  ("tasks", 0, "theta"), ("tasks", 0, "a_min"), ("tasks", 0, "a_max"), ("tasks", 0, "t_max"),
                  ("time_limit",)]
# (field, value) -> expected (status, code); every algorithm agrees
EXTREMES = {
    (("machines", 0, "speed"), 1e308): (200, None),
    (("machines", 0, "speed"), 5e-324): (422, "numeric_range"),
    (("machines", 1, "available_at"), 1e308): (200, None),
    (("machines", 1, "available_at"), 5e-324): (200, None),
    (("tasks", 0, "deadline"), 1e308): (422, "numeric_range"),
    (("tasks", 0, "deadline"), 5e-324): (200, None),
    (("tasks", 0, "theta"), 1e308): (200, None),
    (("tasks", 0, "theta"), 5e-324): (422, "numeric_range"),
    (("tasks", 0, "a_min"), 1e308): (422, "invalid_request"),
    (("tasks", 0, "a_min"), 5e-324): (200, None),
    (("tasks", 0, "a_max"), 1e308): (422, "invalid_request"),
    (("tasks", 0, "a_max"), 5e-324): (422, "invalid_request"),
    (("tasks", 0, "t_max"), 1e308): (200, None),
    (("tasks", 0, "t_max"), 5e-324): (200, None),
    (("time_limit",), 1e308): (200, None),
    (("time_limit",), 5e-324): (200, None),
}


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize(("field", "value"), list(EXTREMES), ids=[f"{'.'.join(map(str, f))}={v:g}" for f, v in EXTREMES])
def test_extreme_numbers(client, field, value, algorithm):
    req = with_(field, value)
    req["algorithm"] = algorithm
    r = post(client, req)
    body = strict_json(r.text)  # never NaN or Infinity
    status, code = EXTREMES[(field, value)]
    assert r.status_code == status, body
    if status == 200:
        problem = problem_of(req)
        report = check(problem, solution_of(req, body))
        assert report.ok, report.violations
    else:
        assert body["error"]["code"] == code
        assert body["error"]["details"][0]["loc"][: len(field)] == list(field)


def test_extremes_everywhere_at_once(client):
    """Several extreme values in one batch: a schedule with finite numbers, or a 422 that says why."""
    req = spec_request()
    req["tasks"] += [
        {"id": "tiny", "deadline": 5e-324, "theta": 1e308, "a_min": 5e-324, "a_max": 1.0, "t_max": 5e-324},
        {"id": "huge", "deadline": 1e6, "theta": 1e-300, "t_max": 1e308},
    ]
    req["machines"].append({"id": "fast", "speed": 1e300, "available_at": 1e300})
    r = post(client, req)
    body = strict_json(r.text)
    assert r.status_code in (200, 422), body
    if r.status_code == 422:
        assert body["error"]["code"] in ("numeric_range", "invalid_request")
    else:
        assert check(problem_of(req), solution_of(req, body)).ok


def test_default_a_max_is_checked_against_a_min(client):
    """a_max left out defaults to 1, which must still be above a_min: the schema says so
    (validate_default), not only the solver's domain check."""
    body = with_(("tasks", 0, "a_min"), 1.0, with_(("tasks", 0, "a_max"), _DELETE))
    detail = strict_json(post(client, body).text)["error"]["details"][0]
    assert detail["loc"] == ["tasks", 0, "a_max"] and detail["type"] == "a_max_not_above_a_min", detail

"""Priorities and accuracy floors on the wire: tasks[].weight and tasks[].min_accuracy, the
weighted objective, the reason below_min_accuracy, validate's warnings, and hostile values.

Every 200 is judged by the solver's independent checker on the request's own numbers (weights
and floors included): feasibility, no scheduled task below its floor, the reported objectives.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

from app.solver import ALGORITHMS, REASONS, check
from app.solver.schedule import BELOW_MIN_ACCURACY
from schemas import WEIGHT_MAX

from .conftest import ROOT, post, random_batch, spec_request
from .helpers import problem_of, solution_of, strict_json
from .test_ops import _sample

EXAMPLE = ROOT / "docs" / "examples" / "priorities.request.json"


def solved(client, req: dict[str, Any]) -> dict[str, Any]:
    """POST /schedule: a 200 whose schedule the checker accepts for the request's problem
    (for a batch of curve tasks; one with model tasks is checked for its shape only)."""
    r = post(client, req)
    assert r.status_code == 200, r.text
    body = strict_json(r.text)
    if any("model" in t for t in req["tasks"]):
        placed = [a["task_id"] for mc in body["machines"] for a in mc["assignments"]]
        assert sorted(placed + list(reasons(body))) == sorted(t["id"] for t in req["tasks"])
    else:
        report = check(problem_of(req), solution_of(req, body))
        assert report.ok, report.violations
    obj = body["objective"]
    assert obj["weighted_accuracy"] <= obj["upper_bound"] * (1 + 1e-9) + 1e-12
    return body


def accuracies(body: dict[str, Any]) -> dict[str, float]:
    """task id -> accuracy, scheduled or not."""
    out = {a["task_id"]: a["accuracy"] for mc in body["machines"] for a in mc["assignments"]}
    out.update({u["task_id"]: u["accuracy"] for u in body["unscheduled"]})
    return out


def reasons(body: dict[str, Any]) -> dict[str, str]:
    return {u["task_id"]: u["reason"] for u in body["unscheduled"]}


def without_priorities(req: dict[str, Any]) -> dict[str, Any]:
    plain = copy.deepcopy(req)
    for t in plain["tasks"]:
        t.pop("weight", None)
        t.pop("min_accuracy", None)
    return plain


# ------------------------------------------------------------------ the response


def test_weighted_accuracy_equals_total_without_weights(client):
    body = solved(client, random_batch(30, 3, 5))
    obj = body["objective"]
    assert obj["weighted_accuracy"] == obj["total_accuracy"]
    assert obj["guarantee"] is not None  # dsct-approx, curves, no floors: Theorem 3 applies


def test_weighted_accuracy_is_the_weighted_sum(client):
    req = random_batch(30, 3, 6)
    rng = np.random.default_rng(6)
    for t in req["tasks"]:
        t["weight"] = float(rng.choice([0.0, 0.001, 0.5, 1.0, 3.0, 1000.0]))
    body = solved(client, req)
    acc = accuracies(body)
    want = sum(t["weight"] * acc[t["id"]] for t in req["tasks"])
    assert body["objective"]["weighted_accuracy"] == pytest.approx(want, rel=1e-12)
    assert body["objective"]["total_accuracy"] == pytest.approx(sum(acc.values()), rel=1e-12)
    # no floor: the guarantee is G with the weighted ranges
    assert body["objective"]["guarantee"] is not None


def test_a_floor_nulls_the_guarantee(client):
    req = random_batch(10, 2, 7)
    req["tasks"][3]["min_accuracy"] = 0.01
    body = solved(client, req)
    assert body["objective"]["guarantee"] is None


def test_a_null_floor_is_no_floor(client):
    req = random_batch(10, 2, 8)
    plain = solved(client, req)
    for t in req["tasks"]:
        t["min_accuracy"] = None
        t["weight"] = 1
    same = solved(client, req)
    for key in ("objective", "machines", "unscheduled"):
        assert same[key] == plain[key]


def test_priorities_take_the_fast_reader():
    """weight and min_accuracy are read by the fast path (no special case): it accepts the
    body and gives the columns pydantic's models give."""
    from app.batch import from_request, read_fast
    from schemas import ScheduleRequest

    req = random_batch(20, 3, 9)
    for j, t in enumerate(req["tasks"]):
        if j % 3 == 0:
            t["weight"] = j / 2
        if j % 4 == 1:
            t["min_accuracy"] = None if j % 8 == 1 else 0.3
    body = json.dumps(req).encode()
    fast = read_fast(body)
    assert fast is not None
    ref = from_request(ScheduleRequest.model_validate_json(body))
    for name in ("weight", "min_accuracy"):
        assert fast.tasks[name].tobytes() == ref.tasks[name].tobytes()
    assert fast.tasks["weight"][0] == 0.0 and fast.tasks["weight"][1] == 1.0
    assert np.isinf(fast.tasks["min_accuracy"][[0, 1]]).all() and fast.tasks["min_accuracy"][5] == 0.3


def test_every_scheduled_task_meets_its_floor(client):
    """Floors on many tasks of a crowded batch: each is met or answered below_min_accuracy."""
    req = random_batch(40, 3, 10)
    for j, t in enumerate(req["tasks"]):
        if j % 3 == 0:
            t["min_accuracy"] = round(t["a_min"] + 0.6 * (t["a_max"] - t["a_min"]), 6)
            t["weight"] = 2.0
    body = solved(client, req)
    acc, why = accuracies(body), reasons(body)
    for t in req["tasks"]:
        floor = t.get("min_accuracy")
        if floor is not None and t["id"] not in why:
            assert acc[t["id"]] >= floor
        if floor is None:
            assert why.get(t["id"]) != BELOW_MIN_ACCURACY


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_floors_with_every_algorithm_are_met_or_refused(client, algorithm):
    """What stays true for every algorithm, whatever it handles itself: a floor on a curve task
    gives a schedule that meets it (or drops the task with below_min_accuracy), or a 422 that
    names the field; and /schedule/validate says the same."""
    req = spec_request()
    req["algorithm"] = algorithm
    req["tasks"].append({"id": "low", "deadline": 0.25, "theta": 30.0, "a_max": 0.9, "t_max": 0.2,
                         "weight": 0.5, "min_accuracy": 0.7})
    r = post(client, req)
    valid = post(client, req, "/schedule/validate").json()
    assert r.status_code in (200, 422), r.text
    assert valid["valid"] == (r.status_code == 200), (valid, r.text)
    if r.status_code == 422:
        err = r.json()["error"]
        assert err["details"][0]["loc"] == ["tasks", 1, "min_accuracy"], err
        assert valid["errors"][0]["loc"] == ["tasks", 1, "min_accuracy"]
    else:
        body = solved(client, req)
        acc = accuracies(body)
        assert acc["low"] >= 0.7 or reasons(body)["low"] == BELOW_MIN_ACCURACY


def test_an_algorithm_that_cannot_honour_floors_is_a_clear_422(client, monkeypatch):
    """A searching algorithm that neither handles curve floors itself nor can afford the
    admission loop: 422 naming tasks[i].min_accuracy, from /schedule and /schedule/validate;
    the same batch without the floor is solved by it."""
    plain = ALGORITHMS["dsct-approx"]
    monkeypatch.setitem(ALGORITHMS, "search-stub", lambda problem: plain(problem))
    req = spec_request()
    req["algorithm"] = "search-stub"
    req["tasks"][0]["min_accuracy"] = 0.5
    r = post(client, req)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_request"
    assert err["details"][0]["loc"] == ["tasks", 0, "min_accuracy"]
    assert "search-stub" in err["message"]
    report = post(client, req, "/schedule/validate").json()
    assert not report["valid"] and report["errors"][0]["loc"] == ["tasks", 0, "min_accuracy"]
    req["tasks"][0]["min_accuracy"] = None
    assert post(client, req).status_code == 200


# ------------------------------------------------------------------ the golden example


def test_golden_priorities_example_lifts_floors_at_the_expense_of_low_weights(client):
    """docs/examples/priorities: the high-priority tasks are lifted to their floors, the
    low-priority car-park cameras are compressed to make room, the plate reader whose floor
    its curve cannot reach is sent elsewhere. Each claim is checked against the same batch
    without weights and floors."""
    req = json.loads(EXAMPLE.read_text())
    body = solved(client, req)
    plain = solved(client, without_priorities(req))
    acc, base, why = accuracies(body), accuracies(plain), reasons(body)
    weight = {t["id"]: t.get("weight", 1.0) for t in req["tasks"]}
    floors = {t["id"]: t["min_accuracy"] for t in req["tasks"] if t.get("min_accuracy") is not None}
    lifted = [j for j, f in floors.items() if j not in why and acc[j] >= f and base[j] < f]
    assert lifted, "no floor task was lifted to its floor"
    top = min(weight[j] for j in lifted)
    squeezed = [j for j in weight if weight[j] < top and (j in why or acc[j] < base[j])]
    assert squeezed, "no lower-weight task gave up time"
    assert why == {"plate/4410": BELOW_MIN_ACCURACY}
    assert body["objective"]["weighted_accuracy"] > plain["objective"]["weighted_accuracy"] + 1.0
    assert body["objective"]["guarantee"] is None
    warnings = post(client, req, "/schedule/validate").json()["warnings"]
    assert [(w["code"], w["loc"]) for w in warnings] == [("min_accuracy_above_curve", ["tasks", 4, "min_accuracy"])]


# ------------------------------------------------------------------ floors no schedule can meet

MODEL_TASK = {"id": "cls", "deadline": 0.2, "model": "ofa-note10"}


def unreachable_cases() -> list[tuple[str, dict[str, Any], str]]:
    """(name, task appended to the spec request, validate's warning code)."""
    return [
        ("floor above a_max", {"id": "x", "deadline": 0.25, "theta": 40.0, "a_max": 0.8, "min_accuracy": 0.85},
         "min_accuracy_above_curve"),
        ("floor equal to a_max", {"id": "x", "deadline": 0.25, "theta": 40.0, "a_max": 0.8, "min_accuracy": 0.8},
         "min_accuracy_above_curve"),
        ("floor above the curve at t_max", {"id": "x", "deadline": 0.25, "theta": 40.0, "a_max": 0.8,
                                            "t_max": 0.01, "min_accuracy": 0.5},
         "min_accuracy_above_curve"),
        ("floor above every configuration", dict(MODEL_TASK, min_accuracy=0.99), "min_accuracy_above_configs"),
        ("floor out of reach before the deadline", {"id": "x", "deadline": 0.021, "theta": 1.0, "a_max": 0.9,
                                                    "min_accuracy": 0.5},
         "min_accuracy_out_of_reach"),
        ("model floor out of reach before the deadline", dict(MODEL_TASK, deadline=0.001, min_accuracy=0.5),
         "min_accuracy_out_of_reach"),
    ]


@pytest.mark.parametrize(("task", "code"), [c[1:] for c in unreachable_cases()],
                         ids=[c[0] for c in unreachable_cases()])
def test_unreachable_floor_is_answered_and_warned(client, task, code):
    req = spec_request()
    req["algorithm"] = "dsct-best"
    req["tasks"].append(task)
    body = solved(client, req)
    assert reasons(body) == {"x" if "model" not in task else "cls": BELOW_MIN_ACCURACY}
    report = post(client, req, "/schedule/validate").json()
    assert report["valid"] and report["errors"] == []
    floor_warnings = [w for w in report["warnings"] if w["code"].startswith("min_accuracy")]
    assert [(w["code"], w["loc"]) for w in floor_warnings] == [(code, ["tasks", 1, "min_accuracy"])]
    assert "1 task " in floor_warnings[0]["msg"] and "below_min_accuracy" in floor_warnings[0]["msg"]


def test_floor_warnings_count_and_name_the_first(client):
    req = spec_request()
    req["tasks"] += [{"id": f"x{k}", "deadline": 0.25, "theta": 40.0, "a_max": 0.8, "min_accuracy": 0.9}
                     for k in range(3)]
    req["tasks"][0]["min_accuracy"] = 0.5  # reachable: no warning
    report = post(client, req, "/schedule/validate").json()
    (w,) = report["warnings"]
    assert w["code"] == "min_accuracy_above_curve" and w["loc"] == ["tasks", 1, "min_accuracy"]
    assert w["msg"].startswith("3 tasks ") and "0.9" in w["msg"] and "a_max 0.8" in w["msg"]


def test_reachable_floors_give_no_warning(client):
    req = spec_request()
    req["tasks"][0]["min_accuracy"] = 0.8
    assert post(client, req, "/schedule/validate").json()["warnings"] == []


# ------------------------------------------------------------------ hostile values

TASK = ("tasks", 0)
# name, task field, value (or a raw JSON token), expected status, expected code
HOSTILE: list[tuple[str, str, Any, int, str | None]] = [
    ("negative weight", "weight", -1.0, 422, "invalid_request"),
    ("tiny negative weight", "weight", -5e-324, 422, "invalid_request"),
    ("NaN weight", "weight", "NaN", 422, "invalid_request"),
    ("Infinity weight", "weight", "Infinity", 422, "invalid_request"),
    ("weight 1e400 (overflows to inf)", "weight", "1e400", 422, "invalid_request"),
    ("weight above the maximum", "weight", WEIGHT_MAX * 1.0000001, 422, "invalid_request"),
    ("weight 1e308", "weight", 1e308, 422, "invalid_request"),
    ("weight as a string", "weight", "2", 422, "invalid_request"),
    ("weight as a boolean", "weight", True, 422, "invalid_request"),
    ("weight null", "weight", None, 422, "invalid_request"),
    ("weight at the maximum", "weight", WEIGHT_MAX, 200, None),
    ("weight 5e-324", "weight", 5e-324, 200, None),
    ("zero weight", "weight", 0, 200, None),
    ("floor above 1", "min_accuracy", 1.5, 422, "invalid_request"),
    ("floor just above 1", "min_accuracy", 1.0000000000000002, 422, "invalid_request"),
    ("floor below 0", "min_accuracy", -0.1, 422, "invalid_request"),
    ("NaN floor", "min_accuracy", "NaN", 422, "invalid_request"),
    ("floor as a string", "min_accuracy", "0.5", 422, "invalid_request"),
    ("floor as a list", "min_accuracy", [0.5], 422, "invalid_request"),
    ("floor 1 (above every curve)", "min_accuracy", 1, 200, None),
    ("floor 0 (always met)", "min_accuracy", 0, 200, None),
]


def _body(field: str, value: Any) -> str:
    req = spec_request()
    req["tasks"].append({"id": "other", "deadline": 0.2, "theta": 20.0})
    req["tasks"][0][field] = "__VALUE__"
    token = value if isinstance(value, str) and value in ("NaN", "Infinity", "1e400") else json.dumps(value)
    return json.dumps(req).replace('"__VALUE__"', token)


@pytest.mark.parametrize("algorithm", ["dsct-best", "dsct-approx", "edf-3levels"])
@pytest.mark.parametrize(("field", "value", "status", "code"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_priorities(client, field, value, status, code, algorithm):
    body = _body(field, value).replace('"dsct-approx"', json.dumps(algorithm))
    r = post(client, body)
    out = strict_json(r.text)
    assert r.status_code == status, out
    if status == 422:
        assert out["error"]["code"] == code
        assert out["error"]["details"][0]["loc"] == [*TASK, field], out
        report = post(client, body, "/schedule/validate").json()
        assert not report["valid"] and report["errors"][0]["loc"] == [*TASK, field]
    else:
        req = json.loads(body)
        report = check(problem_of(req), solution_of(req, out))
        assert report.ok, report.violations


def test_zero_weights_are_served_only_with_spare_time(client):
    """A task of weight 0 adds nothing: it never takes time a weighted task could use, and it
    still runs when time is left over (documented in docs/api.md)."""
    crowded = spec_request()
    crowded["machines"] = [{"id": "m"}]
    crowded["tasks"] = [{"id": "paid", "deadline": 0.1, "theta": 10.0, "a_max": 0.9},
                        {"id": "free", "deadline": 0.1, "theta": 40.0, "a_max": 0.9, "weight": 0}]
    body = solved(client, crowded)
    alone = solved(client, {**crowded, "tasks": crowded["tasks"][:1]})
    assert accuracies(body)["paid"] == pytest.approx(accuracies(alone)["paid"], rel=1e-12)
    spare = spec_request()
    spare["machines"] = [{"id": "m"}]
    spare["tasks"] = [{"id": "paid", "deadline": 0.1, "theta": 40.0, "a_max": 0.9, "t_max": 0.03},
                      {"id": "free", "deadline": 0.1, "theta": 40.0, "a_max": 0.9, "weight": 0}]
    body = solved(client, spare)
    assert "free" not in reasons(body) and accuracies(body)["free"] > 0.0
    assert body["objective"]["weighted_accuracy"] == pytest.approx(accuracies(body)["paid"], rel=1e-12)


def test_every_weight_zero(client):
    req = random_batch(12, 2, 11)
    for t in req["tasks"]:
        t["weight"] = 0
    body = solved(client, req)
    assert body["objective"]["weighted_accuracy"] == 0.0
    assert body["objective"]["upper_bound"] >= 0.0


def test_weights_spanning_the_range(client):
    req = random_batch(20, 2, 12)
    for j, t in enumerate(req["tasks"]):
        t["weight"] = [WEIGHT_MAX, 1e-6, 5e-324, 0.0][j % 4]
    solved(client, req)


# ------------------------------------------------------------------ metrics


def test_below_min_accuracy_is_counted(client):
    before = client.get("/metrics").text
    assert all(f'dsct_unscheduled_tasks_total{{reason="{r}"}}' in before for r in REASONS)
    req = spec_request()
    req["tasks"].append({"id": "x", "deadline": 0.25, "theta": 40.0, "a_max": 0.8, "min_accuracy": 0.9})
    req["tasks"].append({"id": "y", "deadline": 0.25, "theta": 40.0, "a_max": 0.8, "min_accuracy": 0.95})
    solved(client, req)
    after = client.get("/metrics").text
    count = _sample(after, "dsct_unscheduled_tasks_total", reason=BELOW_MIN_ACCURACY)
    assert count == _sample(before, "dsct_unscheduled_tasks_total", reason=BELOW_MIN_ACCURACY) + 2


def test_weights_and_floors_on_model_tasks_of_the_batch(client):
    """A batch with its own models[] (read by pydantic, not the fast reader): a model task's
    floor leaves it only the configurations at or above it, and its weight counts."""
    req = {
        "algorithm": "dsct-best",
        "models": [{"id": "plate-reader", "a_min": 0.0,
                    "configs": [{"id": "int8", "work": 0.006, "accuracy": 0.52},
                                {"id": "fp16", "work": 0.011, "accuracy": 0.61},
                                {"id": "fp32", "work": 0.019, "accuracy": 0.66}]}],
        "machines": [{"id": "m", "speed": 1.0}],
        "tasks": [{"id": f"p{k}", "deadline": 0.03, "model": "plate-reader", "weight": w, "min_accuracy": f}
                  for k, (w, f) in enumerate([(3.0, 0.6), (1.0, None), (1.0, 0.6), (2.0, None)])],
    }
    body = solved(client, req)
    run = {a["task_id"]: a for mc in body["machines"] for a in mc["assignments"]}
    for t in req["tasks"]:
        if t["id"] in run and t["min_accuracy"] is not None:
            assert run[t["id"]]["accuracy"] >= t["min_accuracy"] and run[t["id"]]["config"] in ("fp16", "fp32")
    assert "p0" in run  # the heaviest floor task fits (0.011 of 0.03 s) and is worth the most
    acc = accuracies(body)
    assert body["objective"]["weighted_accuracy"] == pytest.approx(
        sum(t["weight"] * acc[t["id"]] for t in req["tasks"]), rel=1e-12)
    assert body["objective"]["guarantee"] is None


EXTREME_TASKS = [
    {"theta": 1e308, "weight": WEIGHT_MAX},
    {"theta": 1e308, "weight": WEIGHT_MAX, "min_accuracy": 0.5},
    {"theta": 1e-300, "weight": WEIGHT_MAX, "deadline": 1e300},
    {"theta": 3e-306, "weight": 1e-6},
    {"weight": 5e-324, "a_min": 1e-300, "a_max": 1e-299, "min_accuracy": 1e-300},
    {"weight": 1e-300, "min_accuracy": 0.3, "t_max": 5e-324},
]


@pytest.mark.parametrize("algorithm", ["dsct-best", "dsct-approx", "edf-nocompression", "exact"])
@pytest.mark.parametrize("extreme", EXTREME_TASKS, ids=[json.dumps(t) for t in EXTREME_TASKS])
def test_extreme_weights_same_verdict_from_schedule_and_validate(client, extreme, algorithm):
    """Extreme but legal weights with extreme curves: a checked schedule, or a 422 naming a
    field of the task, and /schedule/validate says the same before any solve."""
    req = spec_request()
    req["algorithm"] = algorithm
    req["machines"].append({"id": "fast", "speed": 1e300})
    req["tasks"][0].update(extreme)
    req["tasks"].append({"id": "other", "deadline": 0.2, "theta": 3.0, "weight": 2.0})
    r = post(client, req)
    out = strict_json(r.text)
    report = post(client, req, "/schedule/validate").json()
    assert r.status_code in (200, 422), out
    assert report["valid"] == (r.status_code == 200), (report, out)
    if r.status_code == 422:
        assert out["error"]["code"] in ("numeric_range", "invalid_request")
        assert out["error"]["details"][0]["loc"][:2] == ["tasks", 0]
        assert report["errors"][0]["loc"] == out["error"]["details"][0]["loc"]
    else:
        solved(client, req)

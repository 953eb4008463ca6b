"""Measured models on the wire: models[], tasks[].model, each assignment's config, the
catalogue (GET /models), and every error naming its field."""

from __future__ import annotations

import copy

from app.catalogue import entries
from app.solver import MODELS

from .conftest import post

OWN = {"id": "yolo-cam", "a_min": 0.0,
       "configs": [{"id": "int8-320", "work": 0.006, "accuracy": 0.52},
                   {"id": "fp16-480", "work": 0.011, "accuracy": 0.61},
                   {"id": "fp16-640", "work": 0.019, "accuracy": 0.66}]}


def batch() -> dict:
    return {
        "algorithm": "dsct-approx",
        "models": [copy.deepcopy(OWN)],
        "machines": [{"id": "note10", "speed": 1.0}, {"id": "jetson", "speed": 0.6}],
        "tasks": [
            {"id": "cam1/1", "deadline": 0.030, "model": "ofa-note10"},
            {"id": "cam2/1", "deadline": 0.040, "model": "yolo-cam"},
            {"id": "cam3/1", "deadline": 0.050, "theta": 90.0, "a_max": 0.8, "t_max": 0.03},
            {"id": "cam1/2", "deadline": 0.060, "model": "ofa-note10"},
        ],
    }


def test_models_schedule_with_configurations(client):
    r = post(client, batch())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["objective"]["guarantee"] is None
    placed = {a["task_id"]: a for mc in body["machines"] for a in mc["assignments"]}
    shelf = {m.id: m for m in entries()}
    own = {c["id"]: c for c in OWN["configs"]}
    for tid, a in placed.items():
        if tid == "cam3/1":
            assert a["config"] is None
            continue
        model = "yolo-cam" if tid == "cam2/1" else "ofa-note10"
        configs = own if model == "yolo-cam" else {c.id: c.model_dump() for c in shelf[model].configs}
        cfg = configs[a["config"]]
        assert a["work"] == cfg["work"] and a["accuracy"] == cfg["accuracy"]
        largest = max(c["work"] for c in configs.values())
        assert abs(a["compression"] - (1 - cfg["work"] / largest)) < 1e-12
        assert a["end"] <= next(t["deadline"] for t in batch()["tasks"] if t["id"] == tid) + 1e-12


def test_every_model_algorithm_answers_and_the_others_refuse(client):
    for algorithm in ("dsct-best", "dsct-approx", "dsct-refined", "edf-nocompression", "edf-3levels",
                      "edf-3levels-lee-song", "exact"):
        req = batch()
        req["algorithm"] = algorithm
        r = post(client, req)
        if algorithm in MODELS:
            assert r.status_code == 200, (algorithm, r.text)
            assert r.json()["algorithm"] == algorithm and r.json()["objective"]["guarantee"] is None
        else:  # Lee-Song chooses among levels of a curve only
            assert algorithm == "edf-3levels-lee-song"
            assert r.status_code == 422
            err = r.json()["error"]
            assert err["code"] == "models_unsupported" and algorithm in err["message"]
            assert err["details"][0]["loc"] == ["algorithm"]
    req = batch()
    req["algorithm"] = "exact"
    req["tasks"] = [t for t in req["tasks"] if "model" in t]
    r = post(client, req)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "optimal" and r.json()["objective"]["proven_bound"] is not None


def test_catalogue_lists_the_bundled_models(client):
    r = client.get("/models")
    assert r.status_code == 200
    models = r.json()["models"]
    assert len(models) == 10 and {m["id"] for m in models} >= {"ofa-note10", "ofa-gpu-v100-batch64"}
    for m in models:
        assert "Once-for-All" in m["source"] and "MIT" in m["source"] and m["device"]
        assert m["configs"] and all(0 < c["work"] < 1 and m["a_min"] <= c["accuracy"] <= 1 for c in m["configs"])


def _errors(client, req) -> list[dict]:
    r = post(client, req, "/schedule/validate")
    assert r.status_code == 200
    return r.json()["errors"]


def test_validate_reports_every_model_problem(client):
    req = batch()
    req["models"].append(copy.deepcopy(OWN))  # duplicate model id
    req["models"][0]["configs"].append({"id": "int8-320", "work": 0.004, "accuracy": 0.5})  # duplicate config id
    req["models"][0]["a_min"] = 0.6  # two accuracies below it
    req["tasks"][0]["model"] = "no-such-net"
    got = {(e["code"], tuple(e["loc"])) for e in _errors(client, req)}
    assert got == {
        ("duplicate_id", ("models", 1, "id")),
        ("duplicate_id", ("models", 0, "configs", 3, "id")),
        ("invalid_request", ("models", 0, "configs", 0, "accuracy")),
        ("invalid_request", ("models", 0, "configs", 3, "accuracy")),
        ("unknown_model", ("tasks", 0, "model")),
    }
    r = post(client, req)
    assert r.status_code == 422 and r.json()["error"]["details"]


def test_schema_errors_name_the_field(client):
    req = batch()
    req["tasks"][1]["theta"] = 3.0  # a model and a curve field
    req["tasks"][2].pop("theta")  # a curve task without theta
    req["models"][0]["configs"][1]["work"] = 0  # non-positive work
    req["models"][0]["configs"][2]["accuracy"] = 1.5  # above 1
    req["models"].append({"id": "empty", "configs": []})
    errors = _errors(client, req)
    locs = {tuple(e["loc"]) for e in errors}
    assert {("tasks", 1), ("tasks", 2), ("models", 0, "configs", 1, "work"),
            ("models", 0, "configs", 2, "accuracy"), ("models", 1, "configs")} <= locs
    msgs = " ".join(e["msg"] for e in errors)
    assert "theta" in msgs and "model" in msgs


def test_limits_on_models_and_configurations(make_client):
    client = make_client(max_models=1, max_configs=2)
    req = batch()
    req["models"].append({"id": "b", "configs": [{"id": "x", "work": 1.0, "accuracy": 0.5}]})
    r = post(client, req)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_models"
    r = post(client, batch())
    assert r.status_code == 413
    assert r.json()["error"]["details"][0]["loc"] == ["models", 0, "configs"]


def test_same_request_same_answer(client):
    a, b = post(client, batch()).json(), post(client, batch()).json()
    for body in (a, b):
        body.pop("run_id")
        body.pop("timings")
    assert a == b


def test_validate_gives_the_same_refusal_as_schedule(client):
    req = batch()
    req["algorithm"] = "edf-3levels-lee-song"
    errors = _errors(client, req)
    assert [(e["code"], e["loc"]) for e in errors] == [("models_unsupported", ["algorithm"])]
    assert post(client, req).json()["error"]["details"][0]["msg"] == errors[0]["msg"]


def test_exact_schedules_a_batch_mixing_curve_and_model_tasks(client):
    req = batch()
    req["algorithm"] = "exact"
    assert _errors(client, req) == []
    r = post(client, req)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "optimal" and body["algorithm"] == "exact"
    objective = body["objective"]
    assert objective["total_accuracy"] <= objective["proven_bound"] + 1e-9 <= objective["upper_bound"] + 2e-9
    placed = {a["task_id"]: a for mc in body["machines"] for a in mc["assignments"]}
    assert placed["cam3/1"]["config"] is None
    assert all(placed[t]["config"] for t in placed if t != "cam3/1")



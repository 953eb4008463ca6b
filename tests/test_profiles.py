"""dsct models import-model-analyzer: Triton Model Analyzer results -> models[] JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from app.profiles import ProfileError, from_model_analyzer
from schemas import ScheduleRequest

DATA = Path(__file__).resolve().parent / "data"
CSV = DATA / "metrics-model-inference.csv"
ACC = json.loads((DATA / "accuracies.json").read_text())


def test_one_configuration_per_config_path_at_batch_1_concurrency_1() -> None:
    models = from_model_analyzer(CSV.read_text(), ACC)
    assert [m["id"] for m in models] == ["resnet50_onnx", "mobilenetv2"]
    res = {c["id"]: c for c in models[0]["configs"]}
    assert list(res) == ["resnet50_onnx_config_default", "resnet50_onnx_config_0",
                         "resnet50_trt_fp16_config_1", "resnet50_trt_int8_config_2"]
    assert res["resnet50_onnx_config_default"]["work"] == 0.0051  # p99, concurrency 1, in seconds
    assert res["resnet50_trt_int8_config_2"]["work"] == 0.0012  # the batch-4 row is not taken
    assert res["resnet50_trt_fp16_config_1"]["accuracy"] == 0.7609


def test_latency_column_batch_and_concurrency_by_flag() -> None:
    p50 = from_model_analyzer(CSV.read_text(), ACC, latency="p50")
    assert p50[0]["configs"][0]["work"] == 0.0043
    avg = from_model_analyzer(CSV.read_text(), ACC, latency="Avg Latency (ms)")
    assert avg[1]["configs"][1]["work"] == 0.0004
    with pytest.raises(ProfileError, match="no row at batch 4"):  # mobilenetv2 has none
        from_model_analyzer(CSV.read_text(), {"resnet50_trt_int8_config_2": 0.75}, batch=4)
    with pytest.raises(ProfileError, match="no column 'p42"):
        from_model_analyzer(CSV.read_text(), ACC, latency="p42 Latency (ms)")


def test_nothing_dropped_silently() -> None:
    short = dict(ACC)
    del short["mobilenetv2_trt_fp16_config_0"]
    with pytest.raises(ProfileError, match="no accuracy for model configuration 'mobilenetv2_trt_fp16_config_0'"):
        from_model_analyzer(CSV.read_text(), short)
    with pytest.raises(ProfileError, match="not in the results"):
        from_model_analyzer(CSV.read_text(), {**ACC, "vgg_config_9": 0.7})
    with pytest.raises(ProfileError, match=r"in \[0.0, 1\]"):
        from_model_analyzer(CSV.read_text(), {**ACC, "mobilenetv2_config_default": 71.88})


def test_command_writes_models_a_batch_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "models.json"
    assert main(["models", "import-model-analyzer", str(CSV), "--accuracy", str(DATA / "accuracies.json"),
                 "-o", str(out)]) == 0
    models = json.loads(out.read_text())["models"]
    batch = {"machines": [{"id": "t4-a"}], "models": models,
             "tasks": [{"id": "cam1", "deadline": 0.004, "model": "resnet50_onnx"}]}
    ScheduleRequest.model_validate(batch)
    assert main(["models", "import-model-analyzer", str(CSV), "--accuracy", str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err

"""The committed OpenAPI document (openapi/openapi.json): current, and describing the contract."""

from __future__ import annotations

import json

from app.main import openapi_document

DEFAULT_PATH = __import__("pathlib").Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def test_openapi_has_not_drifted():
    committed = DEFAULT_PATH.read_text(encoding="utf-8")
    assert committed == openapi_document(), "openapi/openapi.json is stale: run .venv/bin/python scripts/export_openapi.py"


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

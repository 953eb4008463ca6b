"""Fuzzing from the contract: schemathesis against the committed openapi/openapi.json on a
live ``dsct serve`` (2 workers, loopback, a port from the OS).

Every built-in check runs (no 5xx, status code, content type, headers and response schema
conformance, negative data rejected, ...) except the two replaced per operation by
``schemathesis.toml`` with the dsct-specific checks of ``tests/fuzz/hooks.py``; the reasons
are in docs/robustness.md. Deterministic: a fixed seed and no example database.

    DSCT_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/fuzz -s    # a larger run
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import ROOT, running_server

pytestmark = pytest.mark.slow

ST = str(Path(sys.executable).with_name("st"))
SPEC = "openapi/openapi.json"
CONFIG = ROOT / "schemathesis.toml"
# examples per operation and phase; the default keeps the run to a few seconds
EXAMPLES = int(os.environ.get("DSCT_FUZZ_EXAMPLES", "100"))
# ~55 s for 2,000 examples here: allow generously more for larger on-demand runs
TIMEOUT = max(300, EXAMPLES // 5 + 120)
CUSTOM_CHECKS = ("schema_valid_rejected_only_for_cross_field_rules", "validate_reports_schema_violations")


def _st(url: str, *args: str, config: Path = CONFIG, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """``st run`` from the repository root (the hooks path in the config is relative to it)."""
    env = {k: v for k, v in os.environ.items() if k != "SCHEMATHESIS_HOOKS"}
    cmd = [ST, "--config-file", str(config), "run", SPEC, "--url", url, "--no-color", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _interactions(ndjson: Path) -> list[dict[str, Any]]:
    """Every (case, response, checks run) of a run, from schemathesis's NDJSON report."""
    out = []
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        rec = finished["recorder"]
        for cid, case in rec.get("cases", {}).items():
            it = rec.get("interactions", {}).get(cid)
            response = it.get("response") if it else None
            content = (response or {}).get("content") or {}
            raw = base64.b64decode(content["$base64"]) if "$base64" in content else b""
            out.append({"method": case["value"]["method"], "path": case["value"]["path"],
                        "status": response["status_code"] if response else None, "body": raw,
                        "checks": {c["name"] for c in rec.get("checks", {}).get(cid, [])}})
    return out


def _tail(proc: subprocess.CompletedProcess, n: int = 12_000) -> str:
    return (proc.stdout + proc.stderr)[-n:]


@pytest.mark.timeout(TIMEOUT + 60)
def test_openapi_contract_holds_under_fuzzing(tmp_path):
    report = tmp_path / "fuzz.ndjson"
    with running_server(tmp_path, workers=2) as srv:
        proc = _st(srv.url, "--max-examples", str(EXAMPLES), "--workers", "1",
                   "--report", "ndjson", "--report-ndjson-path", str(report))
        server_log = srv.logs()
    print(proc.stdout[-1500:])
    assert proc.returncode == 0, f"schemathesis found problems:\n{_tail(proc)}\n--- server log ---\n{server_log[-4000:]}"
    assert "Traceback" not in server_log, server_log[-4000:]

    runs = _interactions(report)
    # a few hundred cases at least, most of them on the scheduling endpoints
    schedule = [r for r in runs if r["method"] == "POST" and r["path"] == "/schedule"]
    assert len(runs) >= min(300, 3 * EXAMPLES), len(runs)
    assert len(schedule) >= EXAMPLES, len(schedule)
    # belt and braces besides not_a_server_error: every case got an answer, none a 5xx
    statuses = Counter(r["status"] for r in runs)
    assert None not in statuses and not any(s >= 500 for s in statuses), statuses
    # the fuzzer got past validation: real schedules were computed
    assert statuses[200] > 0 and sum(1 for r in schedule if r["status"] == 200) >= 10, statuses
    # the hooks were loaded and their checks ran on every case
    ran = set().union(*(r["checks"] for r in runs))
    assert set(CUSTOM_CHECKS) <= ran, ran
    assert {"not_a_server_error", "status_code_conformance", "content_type_conformance",
            "response_schema_conformance", "negative_data_rejection"} <= ran, ran


def test_the_fuzzer_can_fail(tmp_path):
    """Without the documented exclusions schemathesis reports the validate endpoint's in-band
    answer to a schema-violating body (ST201): the harness sees failures and fails on them."""
    bare = tmp_path / "schemathesis.toml"
    bare.write_text('seed = 20240607\n[generation]\ndatabase = "none"\n[cache]\nenabled = false\n')
    with running_server(tmp_path, workers=1) as srv:
        proc = _st(srv.url, "--include-path", "/schedule/validate", "--phases", "coverage",
                   "--max-examples", "20", config=bare)
    assert proc.returncode == 1, _tail(proc)
    assert "ST201" in proc.stdout and "Schema-violating request accepted" in proc.stdout, _tail(proc)

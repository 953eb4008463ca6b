"""Schemathesis hooks for fuzzing dsct (loaded by ``schemathesis.toml``; see docs/robustness.md).

Two of schemathesis's built-in checks disagree with documented design decisions, so the
configuration disables each for the one operation concerned, and the checks below replace
it with a stricter, dsct-specific version rather than dropping the property altogether:

* ``positive_data_acceptance`` on ``POST /schedule``: a request that is valid under the JSON
  Schema may still be a legitimate 422 when a rule that JSON Schema cannot state fails: the
  cross-field rules (a_max > a_min, unique ids, a registered algorithm name) and the numeric
  range of the solver's arithmetic (1/theta, 1/speed, deadline * total speed must be finite
  doubles). ``schema_valid_rejected_only_for_cross_field_rules`` accepts exactly those 422s
  and fails on any other rejection of schema-valid data (e.g. a pydantic rule the schema
  does not show).
* ``negative_data_rejection`` on ``POST /schedule/validate``: the dry run reports problems in
  its body with 200 (``{"valid": false, "errors": [...]}``) by design.
  ``validate_reports_schema_violations`` requires exactly that answer for schema-violating
  bodies (and the same cross-field-only rule as above for schema-valid ones).
"""

from __future__ import annotations

from typing import Any

import schemathesis

# 422 codes for rules JSON Schema cannot express (docs/api.md, "Errors")
CROSS_FIELD_CODES = {"duplicate_id", "unknown_algorithm", "numeric_range", "unknown_model", "models_unsupported"}
# the one cross-field rule pydantic reports as invalid_request
A_MAX_RULE = "a_max_not_above_a_min"
# server limits are settings, not schema: a schema-valid batch may pass them
LIMIT_CODES = {"too_many_tasks", "too_many_machines", "body_too_large", "too_many_models", "too_many_configs"}


def _mode(case: Any) -> str | None:
    meta = getattr(case, "meta", None)
    if meta is None:
        return None
    mode = meta.generation.mode
    return "positive" if mode.is_positive else "negative"


def _is(case: Any, path: str) -> bool:
    return case.method.upper() == "POST" and case.operation.path == path


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise AssertionError(f"response is not JSON: {response.text[:200]!r}") from exc


def _cross_field_only(problems: list[dict[str, Any]], type_key: str) -> list[dict[str, Any]]:
    """The problems that a schema-valid request should never have."""
    bad = []
    for p in problems:
        code = p.get("code")
        if code in CROSS_FIELD_CODES:
            continue
        if code == "invalid_request" and p.get(type_key) == A_MAX_RULE:
            continue
        if code == "invalid_request" and p.get("loc", [None])[-1] == "accuracy" and "a_min" in p.get("msg", ""):
            continue  # a configuration's accuracy below its model's a_min: cross-field
        bad.append(p)
    return bad


@schemathesis.check
def schema_valid_rejected_only_for_cross_field_rules(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schema-valid ``POST /schedule``: 200, or 413 for a server limit, or a 422 whose every
    detail is a rule JSON Schema cannot express."""
    if not _is(case, "/schedule") or _mode(case) != "positive":
        return None
    status = response.status_code
    if status == 200 or status >= 500:  # 5xx: not_a_server_error reports it
        return None
    body = _json(response)
    error = body.get("error", {}) if isinstance(body, dict) else {}
    code = error.get("code")
    if status == 413 and code in LIMIT_CODES:
        return None
    if status == 422:
        if code in CROSS_FIELD_CODES:
            return None
        details = [{"code": "invalid_request", "type": d.get("type")} for d in error.get("details", [])]
        # mixed issues are reported as invalid_request; each detail type is then the rule
        # (a_max_not_above_a_min, duplicate_id, numeric_range, ...)
        allowed_types = {A_MAX_RULE, "duplicate_id", "unknown_algorithm", "numeric_range", "unknown_model",
                         "models_unsupported", "accuracy_below_a_min"}
        leftover = [d for d in details if d["type"] not in allowed_types]
        if code == "invalid_request" and details and not leftover:
            return None
        raise AssertionError(f"schema-valid request rejected for a rule the schema could express: "
                             f"{status} {response.text[:500]}")
    raise AssertionError(f"schema-valid request answered {status}: {response.text[:500]}")


@schemathesis.check
def validate_reports_schema_violations(ctx: Any, response: Any, case: Any) -> bool | None:
    """``POST /schedule/validate`` answers content problems in-band: a schema-violating body
    is 200 with ``valid: false`` and at least one error; a schema-valid one is 200 with only
    cross-field problems, if any."""
    if not _is(case, "/schedule/validate") or response.status_code != 200:
        return None
    mode = _mode(case)
    if mode is None:
        return None
    report = _json(response)
    if mode == "negative":
        if report.get("valid") is not False or not report.get("errors"):
            raise AssertionError(f"schema-violating body reported as valid: {response.text[:500]}")
        return None
    leftover = _cross_field_only(report.get("errors", []), "type")
    # the report's errors carry code/loc/msg: recognise the a_max rule by where it points
    leftover = [p for p in leftover
                if not (p.get("code") == "invalid_request" and p.get("loc", [None])[-1] == "a_max"
                        and "a_min" in p.get("msg", ""))]
    if leftover:
        raise AssertionError(f"schema-valid body reported with problems the schema could express: "
                             f"{leftover[:5]}")
    return None

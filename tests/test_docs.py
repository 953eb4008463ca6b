"""The documentation: docs/api.md agrees with the generated OpenAPI document, and no link in
the README or docs/ points outside the repository."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.errors import CODES

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api.md"
OPENAPI = json.loads((ROOT / "openapi" / "openapi.json").read_text())
SCHEMAS = OPENAPI["components"]["schemas"]


def tables(text: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """Every markdown table: (the heading above it, its header cells, its rows of cells)."""
    out, heading, lines = [], "", text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line
        if line.startswith("|") and i + 1 < len(lines) and re.match(r"^\|\s*-", lines[i + 1]):
            header = _cells(line)
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            out.append((heading, header, rows))
            continue
        i += 1
    return out


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _resolve(node: dict) -> dict:
    """A schema with its $ref followed and a nullable anyOf reduced to its non-null branch."""
    if "$ref" in node:
        return _resolve(SCHEMAS[node["$ref"].rsplit("/", 1)[1]])
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        if len(branches) == 1:
            return _resolve(branches[0])
    return node


def field_paths(schema: dict, prefix: str = "") -> set[str]:
    """``a``, ``a.b``, ``a[]``, ``a[].b``: every field under ``schema``, as docs/api.md names them."""
    out = set()
    for name, sub in _resolve(schema).get("properties", {}).items():
        sub = _resolve(sub)
        path = prefix + name
        if sub.get("type") == "array" and "properties" in _resolve(sub.get("items", {})):
            out.add(path + "[]")
            out |= field_paths(_resolve(sub["items"]), path + "[].")
        elif "properties" in sub:
            out.add(path)
            out |= field_paths(sub, path + ".")
        else:
            out.add(path)
    return out


def field_tables() -> dict[str, set[str]]:
    """component name (in backticks in the heading) -> the fields its table names."""
    out: dict[str, set[str]] = {}
    for heading, header, rows in tables(API.read_text()):
        if header[0] != "field":
            continue
        m = re.search(r"\(`(\w+)`\)\s*$", heading)
        assert m, f"a field table under {heading!r} names no OpenAPI component"
        out[m.group(1)] = {r[0].strip("`") for r in rows}
    return out


def test_every_documented_field_is_in_the_openapi_document_and_back():
    documented = field_tables()
    assert {"ScheduleRequest", "ScheduleResponse", "ErrorResponse", "ValidationReport"} <= set(documented)
    for component, fields in documented.items():
        assert component in SCHEMAS, component
        assert fields == field_paths(SCHEMAS[component]), component


def test_every_endpoint_is_documented_and_back():
    rows = next(rows for _, header, rows in tables(API.read_text()) if header[:2] == ["method", "path"])
    documented = {(r[0].lower(), r[1].strip("`")) for r in rows}
    actual = {(method, path) for path, ops in OPENAPI["paths"].items() for method in ops}
    assert documented == actual


def test_every_error_code_is_documented():
    rows = next(rows for _, header, rows in tables(API.read_text()) if header[:2] == ["code", "status"])
    assert {r[0].strip("`"): int(r[1]) for r in rows} == {c: s for c, (s, _) in CODES.items()}


def test_every_unscheduled_reason_is_documented():
    from app.solver import REASONS

    rows = next(rows for _, header, rows in tables(API.read_text()) if header[0] == "reason")
    assert {r[0].strip("`") for r in rows} == set(REASONS)
    # the README's row of the counter of unscheduled tasks lists its label values
    readme = (ROOT / "README.md").read_text()
    metric = next(r for _, header, rows in tables(readme) if header[0] == "metric" for r in rows
                  if r[0] == "`dsct_unscheduled_tasks_total`")
    assert set(re.findall(r"`(\w+)`", metric[2])) - {"reason"} == set(REASONS)


# ------------------------------------------------------------------------ links

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)|<(https?://[^>]+)>|(?<![(<\w])(https?://[^\s)>\]]+)")
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0")


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # commands, not links
    return [a or b or c for a, b, c in _LINK.findall(text)]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_stay_inside_the_repository(path):
    for target in links(path):
        if target.startswith("#"):
            continue
        if re.match(r"^[a-z]+://", target):
            host = re.sub(r"^[a-z]+://([^/:]+).*", r"\1", target)
            assert host in _LOCAL_HOSTS, f"{path.name}: {target} points outside the repository"
            continue
        resolved = (path.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{path.name}: {target} points outside the repository"
        assert resolved.exists(), f"{path.name}: {target} does not exist"

"""``dsct solve --gantt`` and ``dsct gantt``: the SVG files they write."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from app.cli import main
from app.gantt import SVG_NS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "app" / "data" / "example.json"
NS = {"s": SVG_NS}


def bars(svg: str) -> list[str]:
    return [b.get("data-task") for b in ET.fromstring(svg).findall(".//s:g[@class='bar']", NS)]


def test_solve_writes_the_schedule_and_its_chart(tmp_path, capsys):
    out = tmp_path / "chart.svg"
    assert main(["solve", str(EXAMPLE), "--gantt", str(out)]) == 0
    response = json.loads(capsys.readouterr().out)  # stdout is the schedule, as without --gantt
    placed = [a["task_id"] for mc in response["machines"] for a in mc["assignments"]]
    assert bars(out.read_text()) == placed
    lanes = ET.fromstring(out.read_text()).findall(".//s:g[@class='lane']", NS)
    assert [g.get("data-machine") for g in lanes] == ["jetson-a", "a2000-b"]


def test_gantt_draws_a_response_file_with_or_without_its_request(tmp_path, capsys):
    assert main(["solve", str(EXAMPLE)]) == 0
    response = tmp_path / "response.json"
    response.write_text(capsys.readouterr().out)
    out = tmp_path / "chart.svg"
    assert main(["gantt", str(response), "--request", str(EXAMPLE), "-o", str(out)]) == 0
    with_request = out.read_text()
    assert ET.fromstring(with_request).findall(".//s:line[@class='deadline']", NS)
    assert main(["gantt", str(response)]) == 0  # to stdout, without deadlines and speeds
    alone = capsys.readouterr().out
    assert bars(alone) == bars(with_request) and "drawn without the request" in alone


def test_gantt_refuses_a_request_that_is_not_the_responses(tmp_path, capsys):
    response = ROOT / "docs" / "examples" / "unscheduled.response.json"
    assert main(["gantt", str(response), "-r", str(EXAMPLE), "-o", str(tmp_path / "x.svg")]) == 2
    err = capsys.readouterr().err
    assert "response.machines has 3 machines, the request 2" in err and not (tmp_path / "x.svg").exists()
    bad = tmp_path / "bad.json"
    bad.write_text('{"error": {"code": "invalid_request"}}')
    assert main(["gantt", str(bad)]) == 2
    assert "response.machines is missing" in capsys.readouterr().err
    bad.write_text("{not json")
    assert main(["gantt", str(bad)]) == 2
    assert main(["gantt", str(tmp_path / "missing.json")]) == 2

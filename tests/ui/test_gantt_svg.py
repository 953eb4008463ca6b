"""The SVG writer (app/gantt.py): the SVG is parsed and its coordinates, colours and texts are
checked against the response they were drawn from."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app import gantt
from app.api.service import schedule_json
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
NS = {"s": gantt.SVG_NS}
PLOT = gantt.WIDTH - gantt.LABEL_WIDTH - gantt.RIGHT_MARGIN
EVIL = '<script>alert("x")</script>&amp;]]>'

REQUEST = {
    "label": "<b>batch</b> & co",
    "machines": [{"id": "m-slow", "speed": 1.0, "available_at": 0.0},
                 {"id": EVIL, "speed": 2.5, "available_at": 0.1}],
    "tasks": [{"id": "t1", "deadline": 0.3, "theta": 10},
              {"id": "t2", "deadline": 0.8, "theta": 10},
              {"id": "<img src=x onerror=alert(1)>", "deadline": 0.5, "theta": 10},
              {"id": "late", "deadline": 0.05, "theta": 10}],
}
RESPONSE = {
    "run_id": "0" * 32, "label": "<b>batch</b> & co", "algorithm": "dsct-approx", "status": "ok",
    "objective": {"total_accuracy": 1.9, "mean_accuracy": 0.475, "upper_bound": 2.0, "guarantee": 1.5,
                  "proven_bound": None, "weighted_accuracy": 1.7},
    "machines": [
        {"id": "m-slow", "assignments": [
            {"task_id": "t1", "start": 0.0, "end": 0.25, "duration": 0.25, "work": 0.25,
             "compression": 0.5, "accuracy": 0.0},
            {"task_id": "t2", "start": 0.25, "end": 1.0, "duration": 0.75, "work": 0.75,
             "compression": None, "accuracy": 1.0}]},
        {"id": EVIL, "assignments": [
            {"task_id": "<img src=x onerror=alert(1)>", "start": 0.1, "end": 0.5, "duration": 0.4,
             "work": 1.0, "compression": 0.2, "accuracy": 0.5, "config": "r224-d4"}]},
    ],
    "unscheduled": [{"task_id": "late", "reason": "deadline_before_available", "accuracy": 0.0}],
    "timings": {"parse_seconds": 0.0001, "solve_seconds": 0.0002, "total_seconds": 0.0004},
}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def lanes(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//s:g[@class='lane']", NS)


def x_of(t: float, horizon: float) -> float:
    return gantt.LABEL_WIDTH + PLOT * t / horizon


def test_one_lane_per_machine_one_bar_per_assignment_in_order():
    root = parse(gantt.render(RESPONSE, REQUEST))
    got = lanes(root)
    assert [g.get("data-machine") for g in got] == [mc["id"] for mc in RESPONSE["machines"]]
    for g, mc in zip(got, RESPONSE["machines"], strict=True):
        bars = g.findall("s:g[@class='bar']", NS)
        assert [b.get("data-task") for b in bars] == [a["task_id"] for a in mc["assignments"]]


def test_bar_geometry_follows_start_and_end():
    root = parse(gantt.render(RESPONSE, REQUEST))
    horizon = 1.0  # the last end (t2 ends at 1.0, after every deadline)
    for g, mc in zip(lanes(root), RESPONSE["machines"], strict=True):
        for bar, a in zip(g.findall("s:g[@class='bar']", NS), mc["assignments"], strict=True):
            rect = bar.find("s:rect", NS)
            assert float(rect.get("x")) == pytest.approx(x_of(a["start"], horizon), abs=0.01)
            assert float(rect.get("width")) == pytest.approx(x_of(a["end"], horizon) - x_of(a["start"], horizon),
                                                             abs=0.02)


def test_bar_colour_is_the_scale_at_its_accuracy():
    root = parse(gantt.render(RESPONSE, REQUEST))
    stops = gantt.SCALE["stops"]
    fills = {b.get("data-task"): b.find("s:rect", NS).get("fill") for b in root.iter(f"{{{gantt.SVG_NS}}}g")
             if b.get("class") == "bar"}
    assert fills["t1"] == stops[0]            # accuracy 0: the dark end
    assert fills["t2"] == stops[-1]           # accuracy 1: the light end
    assert fills["<img src=x onerror=alert(1)>"] == stops[(len(stops) - 1) // 2]  # 0.5: the middle stop


def test_colour_scale_is_viridis():
    """An independent reference: matplotlib's viridis (256 entries) at the same accuracies."""
    mpl = pytest.importorskip("matplotlib")
    import matplotlib.colors as mcolors

    viridis = mpl.colormaps["viridis"]
    for k in range(101):
        a = k / 100
        ours = gantt._rgb(gantt.color(a))
        ref = tuple(round(255 * c) for c in mcolors.to_rgb(viridis(a)))
        assert max(abs(p - q) for p, q in zip(ours, ref, strict=True)) <= 4, (a, ours, ref)  # 4/255: not visible
    assert gantt.color(-3.0) == gantt.SCALE["stops"][0] and gantt.color(7.0) == gantt.SCALE["stops"][-1]


def test_ids_and_labels_stay_text():
    svg = gantt.render(RESPONSE, REQUEST)
    root = parse(svg)  # well-formed despite the markup in ids
    tags = {el.tag.split("}")[1] for el in root.iter()}
    assert not tags & {"script", "img", "b", "foreignObject"}
    assert "<script>" not in svg and "<img" not in svg and "<b>" not in svg
    evil_lane = lanes(root)[1]
    assert evil_lane.get("data-machine") == EVIL
    label = evil_lane.find("s:text[@class='lane-label']", NS).text
    assert label.startswith(EVIL[:23])
    title = root.find(".//s:g[@data-task='<img src=x onerror=alert(1)>']/s:title", NS).text
    assert title.startswith("<img src=x onerror=alert(1)> on " + EVIL)
    assert root.find("s:text[@class='heading']", NS).text.startswith("<b>batch</b> & co")


def test_busy_time_deadlines_config_and_tooltip():
    root = parse(gantt.render(RESPONSE, REQUEST))
    slow, evil = lanes(root)
    assert slow.find("s:rect[@class='busy']", NS) is None  # available at 0
    busy = evil.find("s:rect[@class='busy']", NS)
    assert float(busy.get("width")) == pytest.approx(x_of(0.1, 1.0) - gantt.LABEL_WIDTH, abs=0.01)
    ticks = {t.get("data-task"): float(t.get("x1")) for t in root.findall(".//s:line[@class='deadline']", NS)}
    assert ticks == pytest.approx({"t1": x_of(0.3, 1.0), "t2": x_of(0.8, 1.0),
                                   "<img src=x onerror=alert(1)>": x_of(0.5, 1.0)}, abs=0.01)
    bar = evil.find("s:g[@class='bar']", NS)
    assert bar.find("s:text[@class='config']", NS).text == "r224-d4"
    tip = bar.find("s:title", NS).text.split("\n")
    assert tip == ["<img src=x onerror=alert(1)> on " + EVIL, "start 0.1 s, end 0.5 s",
                   "work 1, configuration r224-d4", "accuracy 0.5", "deadline 0.5 s"]
    t2 = root.find(".//s:g[@data-task='t2']/s:title", NS).text
    assert "compression n/a (no t_max)" in t2


def test_objective_and_unscheduled():
    root = parse(gantt.render(RESPONSE, REQUEST))
    text = root.find("s:text[@class='objective']", NS).text
    # the gap is taken from the weighted objective when there is one: 2.0 - 1.7
    assert "total accuracy 1.9" in text and "weighted 1.7" in text and "gap 0.3 (15%)" in text
    assert "guarantee G 1.5" in text and "status ok" in text and "solve 0.2 ms" in text
    rows = root.findall(".//s:text[@class='unscheduled-task']", NS)
    assert [r.get("data-task") for r in rows] == ["late"]
    assert rows[0].text == "late: deadline_before_available, accuracy 0, deadline 0.05 s"


def test_without_the_request():
    root = parse(gantt.render(RESPONSE))
    assert len(lanes(root)) == 2 and not root.findall(".//s:line[@class='deadline']", NS)
    assert not root.findall(".//s:rect[@class='busy']", NS)
    assert "drawn without the request" in root.find("s:text[@class='note']", NS).text


@pytest.mark.parametrize("change, field", [
    (lambda q, r: q["machines"].pop(), "response.machines has 2 machines, the request 1"),
    (lambda q, r: q["machines"][0].update(id="other"), "response.machines[0].id 'm-slow'"),
    (lambda q, r: r["machines"][0]["assignments"][0].update(task_id="ghost"),
     "response.machines[0].assignments[0].task_id 'ghost'"),
    (lambda q, r: r["machines"][1]["assignments"][0].pop("start"), "response.machines[1].assignments[0].start"),
    (lambda q, r: r["unscheduled"][0].update(accuracy="high"), "response.unscheduled[0].accuracy"),
    (lambda q, r: q["tasks"][0].pop("deadline"), "request.tasks[0].deadline"),
    (lambda q, r: r["machines"][0]["assignments"][1].update(end=float("nan")),
     "response.machines[0].assignments[1].end is not finite"),
    (lambda q, r: r["machines"][1]["assignments"][0].update(config=7), "response.machines[1].assignments[0].config"),
])
def test_mismatches_name_the_field(change, field):
    req, resp = copy.deepcopy(REQUEST), copy.deepcopy(RESPONSE)
    change(req, resp)
    with pytest.raises(gantt.GanttInputError, match=field.replace("[", r"\[").replace("]", r"\]")):
        gantt.render(resp, req)


def test_aggregated_above_the_detail_limit():
    """Past detail_limit scheduled tasks the lanes are drawn in time bins: height = busy share,
    colour = time-weighted mean accuracy."""
    n = gantt.SCALE["detail_limit"] + 1
    step = 1.0 / n
    # machine 0: busy the whole horizon; the first half at accuracy 0.2, the second at 0.8
    assignments = [{"task_id": f"t{j}", "start": j * step, "end": (j + 1) * step, "duration": step,
                    "work": step, "compression": 0.0, "accuracy": 0.2 if j < n / 2 else 0.8} for j in range(n)]
    request = {"machines": [{"id": "a"}, {"id": "b", "available_at": 0.5}],
               "tasks": [{"id": a["task_id"], "deadline": 1.0, "theta": 1} for a in assignments]}
    response = {**RESPONSE, "machines": [{"id": "a", "assignments": assignments}, {"id": "b", "assignments": []}],
                "unscheduled": []}
    root = parse(gantt.render(response, request))
    assert not root.findall(".//s:g[@class='bar']", NS) and not root.findall(".//s:line[@class='deadline']", NS)
    a, b = lanes(root)
    bins = a.findall("s:rect[@class='bin']", NS)
    nbins = gantt.bins_per_lane(2)
    assert len(bins) == nbins and not b.findall("s:rect[@class='bin']", NS)
    lane_h = float(a.find("s:rect[@class='lane-bg']", NS).get("height"))
    for k, r in enumerate(bins):
        assert float(r.get("height")) == pytest.approx(lane_h, rel=1e-3)  # fully busy
        mid = (k + 0.5) / nbins
        if abs(mid - 0.5) > 1 / nbins:
            assert r.get("fill") == gantt.level_color(0.2 if mid < 0.5 else 0.8)
    assert "over 5000" in root.find("s:text[@class='note']", NS).text


def test_level_colours_are_the_scale_at_round_steps():
    top = gantt.SCALE["levels"] - 1
    assert gantt.level_color(0.0) == gantt.color(0.0) and gantt.level_color(1.0) == gantt.color(1.0)
    assert gantt.level_color(0.2) == gantt.color(round(0.2 * top) / top) == gantt.level_color(0.2 + 0.4 / top)
    assert len({gantt.level_color(k / 1000) for k in range(1001)}) == top + 1


def test_aggregate_weights_by_time():
    lane = gantt.Lane("m", 1.0, 0.0, (
        gantt.Bar("x", 0.0, 0.3, 0.3, 0.0, None, 0.9, None),
        gantt.Bar("y", 0.3, 0.4, 0.1, 0.0, None, 0.1, None),
        gantt.Bar("z", 0.6, 1.0, 0.4, 0.0, None, 0.5, None)))
    b0, b1 = gantt.aggregate(lane, 1.0, 2)
    assert (b0.busy, b0.tasks, b1.tasks) == (pytest.approx(0.4), 2, 1)
    assert b0.accuracy == pytest.approx((0.3 * 0.9 + 0.1 * 0.1) / 0.4)
    assert b1.busy == pytest.approx(0.4) and b1.accuracy == pytest.approx(0.5)


def test_axis_ticks_are_round():
    assert gantt.axis_ticks(0.4) == pytest.approx([0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4])
    assert gantt.axis_ticks(7.3) == pytest.approx([0, 1, 2, 3, 4, 5, 6, 7])


def test_a_real_schedule_of_every_golden_example():
    """Every golden request solved by the service and drawn: every task exactly once, as a bar
    on its machine's lane or a row of the unscheduled list."""
    for path in sorted((ROOT / "docs" / "examples").glob("*.request.json")):
        body = path.read_bytes()
        response = json.loads(schedule_json(body, Settings()))
        root = parse(gantt.render(response, json.loads(body)))
        drawn = [b.get("data-task") for b in root.findall(".//s:g[@class='bar']", NS)]
        listed = [t.get("data-task") for t in root.findall(".//s:text[@class='unscheduled-task']", NS)]
        assert sorted(drawn + listed) == sorted(t["id"] for t in json.loads(body)["tasks"]), path.name


def test_numbers_are_written_as_the_page_writes_them():
    """Four significant digits, without exponents for ordinary magnitudes (JavaScript's
    Number(x.toPrecision(4)).toString())."""
    assert [gantt._g(v) for v in (45890.123, 0.81176, 3.0, 1e-7, None)] == ["45890", "0.8118", "3", "1e-07", "n/a"]

"""The page in a real browser: Debian's headless Chromium, driven through chromedriver, against
a live ``dsct serve`` on loopback with an API key configured. What is checked is read from the
rendered DOM and compared with what ``POST /schedule`` answers for the same batch."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from app import gantt
from tests.api.conftest import JSON_HEADERS, running_server
from tests.ui.browser import MISSING, chromium

pytestmark = [pytest.mark.slow, pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]

ROOT = Path(__file__).resolve().parents[2]
KEY = "browser-test-key"
AUTH = {**JSON_HEADERS, "authorization": f"Bearer {KEY}"}

# ids and labels carrying markup: they must show up as text, and no element may come of them
EVIL_BATCH = {
    "label": "<i>label</i><script>window.__pwned = 'label'</script>",
    "machines": [
        {"id": "<img src=x onerror=\"window.__pwned='machine'\">", "speed": 2.0, "available_at": 0.01},
        {"id": "m\"><svg onload=\"window.__pwned='svg'\"></svg>", "speed": 1.0, "available_at": 0.01},
    ],
    "tasks": [
        {"id": "<script>window.__pwned='task'</script>", "deadline": 0.3, "theta": 30, "t_max": 0.1},
        {"id": "<b>bold</b> &amp; <em>co</em>", "deadline": 0.2, "theta": 20, "t_max": 0.05},
        {"id": "plain", "deadline": 0.25, "theta": 10, "t_max": 0.08},
        {"id": "<iframe src=\"/livez\"></iframe>", "deadline": 0.005, "theta": 10, "t_max": 0.05},
    ],
}

STATUS = """const s = document.getElementById('status').textContent;
return s.startsWith('solved') || s === 'failed' ? s : null;"""

DRAWN = """const run = arguments[0];
const svg = document.querySelector(`svg.gantt[data-run="${run}"]`);
return {
  lanes: [...svg.querySelectorAll('g.lane')].map((g) => ({
    id: g.getAttribute('data-machine'),
    label: g.querySelector('.lane-label').textContent,
    bars: [...g.querySelectorAll('.bar')].map((b) => b.getAttribute('data-task')),
  })),
  unscheduled: [...document.querySelectorAll(`section[data-run="${run}"] table.unscheduled tbody tr`)]
    .map((tr) => [...tr.cells].slice(0, 2).map((td) => td.textContent)),
  ticks: (svg.querySelector('.deadlines') || {getAttribute: () => ''}).getAttribute('d').split('M').length - 1,
  fills: Object.fromEntries([...svg.querySelectorAll('.bar')].map((b) => [b.getAttribute('data-task'),
    b.getAttribute('fill')])),
  focusable: [...svg.querySelectorAll('.bar')].every((b) => b.getAttribute('tabindex') === '0'
    && b.getAttribute('aria-label').startsWith(b.getAttribute('data-task') + ' on ')),
};"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("server"), env={"DSCT_API_KEYS": KEY}) as srv, \
            chromium() as browser:
        browser.get(srv.url + "/ui")
        browser.wait_for("return window.dsctGantt && window.dsctGantt.ready")
        yield browser, srv


def solve(browser, algorithm="dsct-approx", compare="", key=KEY) -> str:
    browser.execute("""document.getElementById('algorithm').value = arguments[0];
        document.getElementById('compare').value = arguments[1];
        document.getElementById('api-key').value = arguments[2];
        document.getElementById('solve').click();""", algorithm, compare, key)
    return browser.wait_for(STATUS)


def expected(srv, batch: dict) -> dict:
    r = httpx.post(srv.url + "/schedule", content=json.dumps(batch), headers=AUTH, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def press(browser, key: str) -> None:
    browser.cmd("POST", "/actions", {"actions": [{"type": "key", "id": "keyboard", "actions": [
        {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]})


def test_bundled_example_lanes_bars_and_key(page):
    browser, srv = page
    algorithms = browser.execute("return [...document.getElementById('algorithm').options].map((o) => o.value)")
    assert algorithms == httpx.get(srv.url + "/readyz", timeout=30).json()["algorithms"]
    browser.execute("document.getElementById('load-example').click()")
    text = browser.wait_for("return document.getElementById('batch').value")
    assert json.loads(text) == json.loads((ROOT / "app" / "data" / "example.json").read_text())

    assert solve(browser, key="wrong") == "failed"  # the server's key check, shown to the user
    assert "401 unauthorized" in browser.execute("return document.getElementById('errors').textContent")

    assert solve(browser).startswith("solved 5 tasks on 2 machines")
    want = expected(srv, {**json.loads(text), "algorithm": "dsct-approx"})
    got = browser.execute(DRAWN, "A")
    assert [lane["id"] for lane in got["lanes"]] == [mc["id"] for mc in want["machines"]]
    assert [lane["label"] for lane in got["lanes"]] == ["jetson-a ×1", "a2000-b ×3.5"]
    assert [lane["bars"] for lane in got["lanes"]] == [[a["task_id"] for a in mc["assignments"]]
                                                       for mc in want["machines"]]
    assert got["unscheduled"] == [] == want["unscheduled"] and got["focusable"]
    assert got["ticks"] == 5  # a deadline tick for every scheduled task
    for mc in want["machines"]:  # the page's colour scale is the SVG writer's (a lookup table: +-2/255)
        for a in mc["assignments"]:
            page_rgb, ref = gantt._rgb(got["fills"][a["task_id"]]), gantt._rgb(gantt.color(a["accuracy"]))
            assert max(abs(p - q) for p, q in zip(page_rgb, ref, strict=True)) <= 2, a


def test_keyboard_reaches_the_bars_and_shows_the_numbers(page):
    browser, _ = page
    browser.execute("document.getElementById('load-example').click()")
    browser.wait_for("return document.getElementById('batch').value")
    solve(browser)
    browser.execute("document.getElementById('solve').focus()")
    press(browser, "\ue004")  # Tab: from the last control to the first bar
    first = browser.execute("const a = document.activeElement; return a.classList.contains('bar') && "
                            "a.getAttribute('data-task')")
    assert first == "cam9/0007"
    tip = browser.execute("const t = document.getElementById('tooltip'); return !t.hidden && t.innerText")
    assert tip.startswith("cam9/0007 on jetson-a") and "accuracy 0.2855" in tip and "deadline 15 ms" in tip
    press(browser, "\ue014")  # ArrowRight: the next bar
    assert browser.execute("return document.activeElement.getAttribute('data-task')") == "cam5/0417"
    press(browser, "\ue015")  # ArrowDown: the next lane
    assert browser.execute("return document.activeElement.getAttribute('data-task')") == "cam3/1182"


def test_two_algorithms_side_by_side(page):
    browser, srv = page
    browser.execute("document.getElementById('load-example').click()")
    text = browser.wait_for("return document.getElementById('batch').value")
    assert solve(browser, "dsct-approx", "edf-3levels").startswith("solved")
    rows = browser.execute("return [...document.querySelectorAll('#comparison tbody tr')]"
                           ".map((tr) => [...tr.cells].map((td) => td.textContent))")
    for row, algorithm in zip(rows, ["dsct-approx", "edf-3levels"], strict=True):
        want = expected(srv, {**json.loads(text), "algorithm": algorithm})
        assert row[:3] == [row[0], algorithm, "ok"]
        assert float(row[3]) == pytest.approx(want["objective"]["total_accuracy"], rel=1e-3)
        got = browser.execute(DRAWN, row[0])
        assert [lane["bars"] for lane in got["lanes"]] == [[a["task_id"] for a in mc["assignments"]]
                                                           for mc in want["machines"]]
    assert len(rows) == 2 and browser.execute("return document.getElementById('comparison').hidden") is False


def test_markup_in_ids_and_labels_stays_text(page):
    browser, srv = page
    browser.execute("document.getElementById('batch').value = arguments[0]", json.dumps(EVIL_BATCH))
    assert solve(browser).startswith("solved 4 tasks on 2 machines")
    want = expected(srv, {**EVIL_BATCH, "algorithm": "dsct-approx"})
    got = browser.execute(DRAWN, "A")
    assert [lane["id"] for lane in got["lanes"]] == [m["id"] for m in EVIL_BATCH["machines"]]
    assert [lane["label"].rsplit(" ×", 1)[0] for lane in got["lanes"]] == [
        m["id"] if len(m["id"]) <= 24 else m["id"][:23] + "…" for m in EVIL_BATCH["machines"]]
    assert [lane["bars"] for lane in got["lanes"]] == [[a["task_id"] for a in mc["assignments"]]
                                                       for mc in want["machines"]]
    assert got["unscheduled"] == [[u["task_id"], u["reason"]] for u in want["unscheduled"]]
    assert got["unscheduled"], "the batch has a task that cannot be placed"
    heading = browser.execute("return document.querySelector('section[data-run=\"A\"] h2').textContent")
    assert EVIL_BATCH["label"] in heading
    injected = browser.execute("""return {
        pwned: window.__pwned === undefined ? null : window.__pwned,
        scripts: [...document.scripts].map((s) => s.getAttribute('src')),
        elements: document.querySelectorAll('img, b, i, em, iframe').length,
        svgs: document.querySelectorAll('svg').length,
        nested: document.querySelectorAll('svg svg').length};""")
    assert injected == {"pwned": None, "scripts": ["/ui/gantt.js"], "elements": 0, "svgs": 2, "nested": 0}


def test_configurations_and_weighted_objective_when_the_response_has_them(page):
    """Responses for measured models carry ``config`` on assignments and
    ``objective.weighted_accuracy``: drawn from a response given to the page directly."""
    browser, _ = page
    request = {"machines": [{"id": "a", "speed": 1.0}],
               "tasks": [{"id": "wide", "deadline": 1.0, "model": "ofa"}, {"id": "thin", "deadline": 1.0, "model": "ofa"}]}
    response = {"run_id": "0" * 32, "label": None, "algorithm": "dsct-approx", "status": "ok",
                "objective": {"total_accuracy": 1.4, "mean_accuracy": 0.7, "upper_bound": 1.6, "guarantee": None,
                              "proven_bound": None, "weighted_accuracy": 1.2},
                "machines": [{"id": "a", "assignments": [
                    {"task_id": "wide", "start": 0.0, "end": 0.9, "duration": 0.9, "work": 0.9, "compression": 0.0,
                     "accuracy": 0.784, "config": "r224-d4"},
                    {"task_id": "thin", "start": 0.9, "end": 0.905, "duration": 0.005, "work": 0.005,
                     "compression": 0.8, "accuracy": 0.714, "config": "r160-d2"}]}],
                "unscheduled": [], "timings": {"parse_seconds": 0, "solve_seconds": 0.001, "total_seconds": 0.001}}
    browser.execute("window.dsctGantt.draw(arguments[0], [arguments[1]])", request, response)
    got = browser.execute("""return {
        texts: [...document.querySelectorAll('svg.gantt .config')].map((t) => t.textContent),
        label: document.querySelector('.bar[data-task="thin"]').getAttribute('aria-label'),
        objective: [...document.querySelectorAll('.objective div')].map((d) => d.textContent)};""")
    assert got["texts"] == ["r224-d4"]  # the thin bar has no room: its configuration is in its label
    assert "configuration r160-d2" in got["label"]
    assert "weighted1.2" in got["objective"] and "gap0.4 (25%)" in got["objective"]
    assert "guarantee Gn/a" in got["objective"]


def test_past_the_detail_limit_the_page_draws_bins_and_hover_finds_them(page):
    browser, _ = page
    n = gantt.SCALE["detail_limit"] + 1
    step = 1.0 / n
    # machine a busy all the time: the first half at accuracy 0.2, the second at 0.8; b idle
    assignments = [{"task_id": f"t{j}", "start": j * step, "end": (j + 1) * step, "duration": step, "work": step,
                    "compression": 0.0, "accuracy": 0.2 if j < n / 2 else 0.8} for j in range(n)]
    request = {"machines": [{"id": "a"}, {"id": "b", "available_at": 0.5}],
               "tasks": [{"id": a["task_id"], "deadline": 1.0, "theta": 1} for a in assignments]}
    response = {"run_id": "0" * 32, "label": None, "algorithm": "dsct-approx", "status": "ok",
                "objective": {"total_accuracy": 2500.0, "mean_accuracy": 0.5, "upper_bound": 2600.0,
                              "guarantee": 3.0, "proven_bound": None},
                "machines": [{"id": "a", "assignments": assignments}, {"id": "b", "assignments": []}],
                "unscheduled": [], "timings": {"parse_seconds": 0, "solve_seconds": 0.01, "total_seconds": 0.01}}
    browser.execute("window.dsctGantt.draw(arguments[0], [arguments[1]])", request, response)
    got = browser.execute("""const svg = document.querySelector('svg.gantt');
        svg.scrollIntoView();
        const fills = [...svg.querySelectorAll('.bin-level')].map((p) => p.getAttribute('fill'));
        // the middle of lane a at a tenth of the time axis, in viewport pixels
        const lane = svg.querySelector('g.lane rect');
        const pt = new DOMPoint(+lane.getAttribute('x') + 0.1 * +lane.getAttribute('width'),
                                +lane.getAttribute('y') + 0.5 * +lane.getAttribute('height'))
          .matrixTransform(svg.getScreenCTM());
        return {bars: document.querySelectorAll('.bar').length, fills, x: pt.x, y: pt.y,
                note: document.querySelector('.run .note').textContent};""")
    assert got["bars"] == 0 and sorted(got["fills"]) == sorted({gantt.level_color(0.2), gantt.level_color(0.8)})
    assert got["note"].startswith(f"{n} scheduled tasks is over {gantt.SCALE['detail_limit']}")
    browser.cmd("POST", "/actions", {"actions": [{"type": "pointer", "id": "mouse", "parameters": {
        "pointerType": "mouse"}, "actions": [{"type": "pointerMove", "origin": "viewport", "duration": 0,
                                             "x": round(got["x"]), "y": round(got["y"])}]}]})
    tip = browser.wait_for("const t = document.getElementById('tooltip'); return !t.hidden && t.innerText")
    lines = tip.split("\n")
    assert lines[0].startswith("a, ") and "busy 100%" in lines and "mean accuracy 0.2" in lines

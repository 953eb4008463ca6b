"""The Gantt page in headless Chromium: how long drawing takes, and the README's screenshot.

    .venv/bin/python benchmarks/bench_ui.py                          # the draw-time table
    .venv/bin/python benchmarks/bench_ui.py --screenshot docs/gantt-page.png

Starts ``dsct serve`` (one worker) and Debian's Chromium (through chromedriver, as the browser
tests do) on loopback. For each batch shape the page posts the batch to ``/schedule`` once,
then draws the response ``--runs`` times (after one warm-up draw) and reports medians of:

- draw: ``performance.now()`` around reading the response, building the SVG and the tables
  and a forced layout (what the page shows as "drawn in ... ms"): wall time, so it grows
  with the machine's load;
- CPU to frame: the CPU time of the page's main thread (DevTools ``Performance.getMetrics``
  ``ThreadTime``) from just before the draw to the first task after the next animation
  frame, so style, layout and paint are in it; it includes the WebDriver round trip, whose
  own cost (an empty script and a frame) is printed as the baseline. CPU time holds still
  on a loaded machine, where wall time does not;
- style + layout: the part of that span in ``RecalcStyleDuration + LayoutDuration``.

It also times the command line's SVG writer (``app.gantt.render``, CPU time) on the same
responses.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import gantt  # noqa: E402
from tests.api.conftest import JSON_HEADERS, random_batch, running_server  # noqa: E402
from tests.ui.browser import MISSING, chromium  # noqa: E402

SHAPES = [(1_000, 50), (10_000, 100), (100_000, 50), (100_000, 1_000)]

LOAD = """
const [body, done] = arguments;
(async () => {
  const r = await fetch('/schedule', {method: 'POST', headers: {'content-type': 'application/json'}, body});
  const response = await r.json();
  if (!r.ok) { done({error: response}); return; }
  window.__bench = {request: JSON.parse(body), response};
  done({});
})();
"""
DRAW = "return window.dsctGantt.draw(window.__bench.request, [window.__bench.response]);"
FRAME = "const done = arguments[0]; requestAnimationFrame(() => setTimeout(done, 0));"
DRAWN = """return {bars: document.querySelectorAll('.bar').length,
               paths: document.querySelectorAll('.bin-level').length,
               elements: document.querySelector('svg.gantt').querySelectorAll('*').length};"""


def metrics(browser) -> dict[str, float]:
    out = browser.cmd("POST", "/goog/cdp/execute", {"cmd": "Performance.getMetrics", "params": {}})
    return {m["name"]: m["value"] for m in out["metrics"]}


def measured(browser, script: str) -> tuple[float | None, dict[str, float]]:
    """Run ``script``, wait for the next frame; its return value and the main thread's CPU
    milliseconds (in all, and in style and layout) over both."""
    m0 = metrics(browser)
    value = browser.execute(script)
    browser.execute_async(FRAME)
    m1 = metrics(browser)

    def d(*names: str) -> float:
        return 1000 * sum(m1[n] - m0[n] for n in names)

    return value, {"cpu": d("ThreadTime"), "layout": d("LayoutDuration", "RecalcStyleDuration")}


def screenshot(browser, url: str, path: Path) -> None:
    browser.get(url + "/ui")
    browser.wait_for("return window.dsctGantt && window.dsctGantt.ready")
    browser.execute("document.getElementById('load-example').click()")
    browser.wait_for("return document.getElementById('batch').value")
    for _ in range(2):  # the second time with a warm page, as it is in use
        browser.execute("""document.getElementById('batch').rows = 6;
            document.getElementById('compare').value = 'edf-3levels';
            document.getElementById('solve').click();""")
        browser.wait_for("return document.getElementById('status').textContent.startsWith('solved')")
    # hover the first bar, so that the tooltip shows in the picture
    browser.execute("const b = document.querySelector('.bar'); b.focus();")
    height = browser.execute("return document.documentElement.scrollHeight")
    browser.set_window(1280, min(height + 120, 2400))
    browser.execute("document.querySelector('.bar').focus();")
    time.sleep(0.3)
    path.write_bytes(browser.screenshot())
    print(f"wrote {path}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--screenshot", type=Path, help="write the page with the bundled example here (PNG)")
    ap.add_argument("--shapes", default=",".join(f"{n}x{m}" for n, m in SHAPES))
    args = ap.parse_args()
    if MISSING:
        print(MISSING, file=sys.stderr)
        return 2
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",") if s]
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp)) as srv, chromium() as browser:
        browser.cmd("POST", "/timeouts", {"script": 600_000})
        browser.cmd("POST", "/goog/cdp/execute", {"cmd": "Performance.enable", "params": {"timeDomain": "threadTicks"}})
        if args.screenshot:
            screenshot(browser, srv.url, args.screenshot)
            browser.set_window(1280, 900)
        browser.get(srv.url + "/ui")
        browser.wait_for("return window.dsctGantt && window.dsctGantt.ready")
        base = statistics.median(measured(browser, "return 0")[1]["cpu"] for _ in range(args.runs))
        print(f"baseline (an empty script and a frame): {base:.1f} ms of main-thread CPU")
        print("| tasks | machines | scheduled | drawn as | draw ms | CPU to frame ms | style + layout ms | "
              "SVG writer CPU ms |")
        print("| --: | --: | --: | --- | --: | --: | --: | --: |")
        for n, m in shapes:
            batch = random_batch(n, m, seed=1)
            body = json.dumps(batch)
            out = browser.execute_async(LOAD, body)
            if "error" in out:
                print(f"{n}x{m}: {out['error']}", file=sys.stderr)
                continue
            measured(browser, DRAW)  # warm-up
            runs = [measured(browser, DRAW) for _ in range(args.runs)]
            drawn = browser.execute(DRAWN)
            response = httpx.post(srv.url + "/schedule", content=body, headers=JSON_HEADERS, timeout=120).json()
            cli = []
            for _ in range(3):
                t0 = time.process_time()
                gantt.render(response, batch)
                cli.append(1000 * (time.process_time() - t0))
            scheduled = sum(len(mc["assignments"]) for mc in response["machines"])
            what = (f"{drawn['bars']:,} bars" if drawn["bars"] else f"bins, {drawn['paths']} paths") + \
                f" ({drawn['elements']:,} SVG elements)"

            def med(key: str, runs=runs) -> float:
                return statistics.median(r[1][key] for r in runs)

            print(f"| {n:,} | {m:,} | {scheduled:,} | {what} | {statistics.median(r[0] for r in runs):.0f} | "
                  f"{med('cpu'):.0f} | {med('layout'):.0f} | {statistics.median(cli):.0f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

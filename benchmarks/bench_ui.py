"""The Gantt page in headless Chromium: how long drawing takes, and the README's screenshot.

    .venv/bin/python benchmarks/bench_ui.py                          # the draw-time table
    .venv/bin/python benchmarks/bench_ui.py --screenshot docs/gantt-page.png

Starts ``dsct serve`` (one worker) and Debian's Chromium (through chromedriver, as the browser
tests do) on loopback. For each batch shape the page posts the batch to ``/schedule`` once,
then draws the response ``--runs`` times (after one warm-up draw) and reports the median of:

- draw: ``performance.now()`` around building the SVG and the tables and a forced layout
  (what the page shows as "drawn in ... ms");
- to frame: from the start of the draw to the first task after the next animation frame,
  which includes style, layout and paint.

It also times the command line's SVG writer (``app.gantt.render``) on the same responses.
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

MEASURE = """
const [body, runs, done] = arguments;
(async () => {
  const r = await fetch('/schedule', {method: 'POST', headers: {'content-type': 'application/json'}, body});
  const response = await r.json();
  if (!r.ok) { done({error: response}); return; }
  const request = JSON.parse(body);
  const frame = () => new Promise((res) => requestAnimationFrame(() => setTimeout(res, 0)));
  window.dsctGantt.draw(request, [response]);  // warm-up
  await frame();
  const draw = [], toFrame = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    draw.push(window.dsctGantt.draw(request, [response]));
    await frame();
    toFrame.push(performance.now() - t0);
  }
  done({draw, toFrame, bars: document.querySelectorAll('.bar').length,
        bins: document.querySelectorAll('.bin').length, note: (document.querySelector('.run .note') || {}).textContent || null});
})();
"""


def screenshot(browser, url: str, path: Path) -> None:
    browser.get(url + "/ui")
    browser.wait_for("return window.dsctGantt && window.dsctGantt.ready")
    browser.execute("document.getElementById('load-example').click()")
    browser.wait_for("return document.getElementById('batch').value")
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
        if args.screenshot:
            screenshot(browser, srv.url, args.screenshot)
            browser.set_window(1280, 900)
        browser.get(srv.url + "/ui")
        browser.wait_for("return window.dsctGantt && window.dsctGantt.ready")
        print(f"| tasks | machines | scheduled | drawn as | draw ms (median of {args.runs}) | to frame ms | "
              "SVG writer ms (CLI) |")
        print("| --: | --: | --: | --- | --: | --: | --: |")
        for n, m in shapes:
            batch = random_batch(n, m, seed=1)
            body = json.dumps(batch)
            out = browser.execute_async(MEASURE, body, args.runs)
            if "error" in out:
                print(f"{n}x{m}: {out['error']}", file=sys.stderr)
                continue
            response = httpx.post(srv.url + "/schedule", content=body, headers=JSON_HEADERS, timeout=120).json()
            cli = []
            for _ in range(3):
                t0 = time.perf_counter()
                gantt.render(response, batch)
                cli.append(1000 * (time.perf_counter() - t0))
            scheduled = sum(len(mc["assignments"]) for mc in response["machines"])
            drawn = f"{out['bars']} bars" if out["bars"] else f"{out['bins']} bins"
            print(f"| {n:,} | {m:,} | {scheduled:,} | {drawn} | {statistics.median(out['draw']):.1f} | "
                  f"{statistics.median(out['toFrame']):.1f} | {statistics.median(cli):.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

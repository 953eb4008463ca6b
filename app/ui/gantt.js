// The dsct schedule viewer: a batch in, POST /schedule on this origin, the schedule drawn as
// inline SVG. Plain JavaScript, no library. Every id and label from a batch or a response is
// inserted as text (textContent, createTextNode or an attribute value), never as markup.
// The colour scale and the aggregation thresholds come from /ui/gantt-scale.json, which the
// command line's SVG writer (app/gantt.py) reads too.
"use strict";

(() => {
  const NS = "http://www.w3.org/2000/svg";
  // the geometry, from gantt-scale.json's layout (set by start): WIDTH is in viewBox units
  // (the SVG is scaled to the page's width); lanes shrink from LANE_HEIGHT to fit LANES_HEIGHT
  let WIDTH, LABEL_WIDTH, RIGHT_MARGIN, LANE_HEIGHT, MIN_LANE_HEIGHT, LANES_HEIGHT, LABELLED_LANE;
  const BIG_TEXT = 1 << 20;    // a batch larger than this (characters) is kept out of the text box

  const $ = (id) => document.getElementById(id);
  const state = { scale: null, bigBatch: null, runs: [] };

  // ------------------------------------------------------------------ small helpers

  function svgEl(tag, attrs, parent) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function htmlEl(tag, text, parent, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }

  const fmt = (x, digits = 4) => (typeof x === "number" && isFinite(x) ? Number(x.toPrecision(digits)).toString() : "n/a");

  function timeUnit(horizon) {
    const u = horizon < 1 ? { name: "ms", scale: 1000 } : { name: "s", scale: 1 };
    u.fmt = (t) => (typeof t === "number" ? `${fmt(t * u.scale)} ${u.name}` : "n/a");
    return u;
  }

  function axisTicks(horizon, target = 8) {
    const raw = horizon / target;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw);
    const ticks = [];
    for (let k = 0; k * step <= horizon * (1 + 1e-9); k++) ticks.push(k * step);
    return ticks;
  }

  // ------------------------------------------------------------------ colours

  // The scale as a function of accuracy: linear between the stops, clamped to the domain (as
  // app/gantt.py's color), looked up in a table of 1,024 entries (at most 1/4 of a colour step off).
  function makeColour(scale) {
    const stops = scale.stops.map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));
    const [lo, hi] = scale.domain;
    const size = 1024;
    const table = [];
    for (let k = 0; k < size; k++) {
      const pos = (k / (size - 1)) * (stops.length - 1);
      const i = Math.min(Math.floor(pos), stops.length - 2);
      const f = pos - i;
      const c = stops[i].map((a, j) => Math.round(a + (stops[i + 1][j] - a) * f));
      table.push("#" + c.map((v) => v.toString(16).padStart(2, "0")).join(""));
    }
    return (acc) => {
      const u = isFinite(acc) ? Math.min(Math.max((acc - lo) / (hi - lo), 0), 1) : 0;
      return table[Math.round(u * (size - 1))];
    };
  }

  function textColour(hex) {
    const lin = (c) => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4); };
    const [r, g, b] = [1, 3, 5].map((i) => lin(parseInt(hex.slice(i, i + 2), 16)));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.18 ? "#000000" : "#ffffff";
  }

  // ------------------------------------------------------------------ reading a run

  // One request and its response, as the chart needs them: lanes with speed, available_at
  // and bars (with each task's deadline), the unscheduled tasks, the horizon.
  function readRun(request, response) {
    const deadline = new Map();
    for (const t of request.tasks || []) deadline.set(t.id, t.deadline);
    const reqMachines = request.machines || [];
    let horizon = 0;   // the last end or deadline; a machine busy past it is shaded to the edge
    let busiest = 0;
    let scheduled = 0;
    const lanes = response.machines.map((mc, i) => {
      const rm = reqMachines[i] || {};
      const available = typeof rm.available_at === "number" ? rm.available_at : 0;
      busiest = Math.max(busiest, available);
      const bars = mc.assignments;  // as in the response; deadlines are looked up by task id
      for (const a of bars) {
        const d = deadline.get(a.task_id);
        horizon = Math.max(horizon, a.end, typeof d === "number" ? d : 0);
      }
      scheduled += bars.length;
      return { id: mc.id, speed: typeof rm.speed === "number" ? rm.speed : 1, available, bars };
    });
    horizon = horizon || busiest || 1;
    return { request, response, lanes, unscheduled: response.unscheduled, deadline, scheduled, horizon };
  }

  // ------------------------------------------------------------------ drawing

  function barLabel(bar, machine, unit, deadline) {
    const shape = bar.config != null ? `configuration ${bar.config}`
      : bar.compression == null ? "compression n/a (no t_max)" : `compression ${fmt(bar.compression, 3)}`;
    return [`${bar.task_id} on ${machine}`, `start ${unit.fmt(bar.start)}, end ${unit.fmt(bar.end)}`,
      `work ${fmt(bar.work)}, ${shape}`, `accuracy ${fmt(bar.accuracy)}`, `deadline ${unit.fmt(deadline)}`];
  }

  function binsPerLane(m) {
    const s = state.scale;
    return Math.max(1, Math.min(s.max_bins_per_lane, Math.floor(s.bin_budget / Math.max(m, 1))));
  }

  // Each lane's busy share and time-weighted mean accuracy in equal time bins (the picture of
  // a batch above detail_limit scheduled tasks, as app/gantt.py draws it). O(bars + bins).
  function aggregate(lane, horizon, nbins) {
    const width = horizon / nbins;
    const busy = new Float64Array(nbins), acc = new Float64Array(nbins), count = new Int32Array(nbins);
    for (const bar of lane.bars) {
      const first = Math.min(Math.floor(bar.start / width), nbins - 1);
      const last = Math.min(Math.floor(bar.end / width), nbins - 1);
      for (let b = first; b <= last; b++) {
        const overlap = Math.min(bar.end, (b + 1) * width) - Math.max(bar.start, b * width);
        if (overlap > 0 || bar.end === bar.start) {
          busy[b] += Math.max(overlap, 0); acc[b] += Math.max(overlap, 0) * bar.accuracy; count[b] += 1;
        }
      }
    }
    const out = [];
    for (let b = 0; b < nbins; b++) {
      if (count[b]) out.push({ index: b, start: b * width, end: (b + 1) * width, busy: busy[b], tasks: count[b],
        accuracy: busy[b] > 0 ? acc[b] / busy[b] : 0 });
    }
    return out;
  }

  // The chart of one run as an <svg> element. `items` collects what each focusable or
  // hoverable element stands for (its data-index), for the tooltip.
  function drawChart(run, horizon, colour) {
    const m = Math.max(run.lanes.length, 1);
    const h = Math.max(MIN_LANE_HEIGHT, Math.min(LANE_HEIGHT, LANES_HEIGHT / m));
    const unit = timeUnit(horizon);
    const plot = WIDTH - LABEL_WIDTH - RIGHT_MARGIN;
    const x = (t) => LABEL_WIDTH + plot * Math.min(Math.max(t, 0), horizon) / horizon;
    const aggregated = run.scheduled > state.scale.detail_limit;
    const nbins = binsPerLane(run.lanes.length);
    const top = 22;
    const height = top + h * m + 6;
    const svg = svgEl("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: "gantt", role: "group" });
    svg.setAttribute("aria-label", `Gantt chart: ${run.lanes.length} machines, ${run.scheduled} scheduled tasks`);
    const defs = svgEl("defs", {}, svg);
    const pat = svgEl("pattern", { id: `busy-${run.key}`, width: 6, height: 6, patternUnits: "userSpaceOnUse",
      patternTransform: "rotate(45)" }, defs);
    svgEl("rect", { width: 6, height: 6, fill: "#e6e6e6" }, pat);
    svgEl("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#9a9a9a", "stroke-width": 2 }, pat);

    const axis = svgEl("g", { class: "axis" }, svg);
    for (const t of axisTicks(horizon)) {
      svgEl("line", { x1: x(t), x2: x(t), y1: top - 4, y2: top + h * m, stroke: "#dddddd" }, axis);
      svgEl("text", { x: x(t), y: top - 6, "text-anchor": "middle", class: "axis-label" }, axis)
        .textContent = String(Number((t * unit.scale).toPrecision(6)));
    }
    svgEl("text", { x: LABEL_WIDTH - 6, y: top - 6, "text-anchor": "end", class: "axis-label" }, axis)
      .textContent = `time (${unit.name})`;

    const items = [];
    // aggregated: the bins of every lane as one path per colour level (a few dozen elements
    // instead of thousands of rectangles); the tooltip finds the bin under the pointer
    const levels = state.scale.levels;
    const [lo, hi] = state.scale.domain;
    const levelOf = (acc) => Math.round(Math.min(Math.max(isFinite(acc) ? (acc - lo) / (hi - lo) : 0, 0), 1) * (levels - 1));
    const paths = [];
    const ticks = [];
    const grid = { top, h, plot, nbins, horizon, unit, lanes: [] };
    const lanesG = svgEl("g", { class: "lanes" }, svg);
    run.lanes.forEach((lane, i) => {
      const y = top + i * h;
      const g = svgEl("g", { class: "lane" }, lanesG);
      g.setAttribute("data-machine", lane.id);
      svgEl("rect", { x: LABEL_WIDTH, y, width: plot, height: h, fill: i % 2 ? "#f7f7f7" : "#ffffff" }, g);
      if (h >= LABELLED_LANE) {
        const name = lane.id.length <= 24 ? lane.id : lane.id.slice(0, 23) + "…";
        const label = svgEl("text", { x: LABEL_WIDTH - 6, y: y + h / 2 + 4, "text-anchor": "end", class: "lane-label" }, g);
        label.textContent = `${name} ×${fmt(lane.speed, 3)}`;
        if (name !== lane.id) svgEl("title", {}, label).textContent = lane.id;
      }
      if (lane.available > 0) {
        const busy = svgEl("rect", { x: LABEL_WIDTH, y, width: x(lane.available) - LABEL_WIDTH, height: h,
          fill: `url(#busy-${run.key})`, class: "busy", "data-index": items.length }, g);
        busy.setAttribute("data-machine", lane.id);
        items.push([`${lane.id} busy until ${unit.fmt(lane.available)}`, "(available_at)"]);
      }
      if (aggregated) {
        const cells = new Array(nbins);
        for (const b of aggregate(lane, horizon, nbins)) {
          const bh = h * b.busy / (b.end - b.start);
          const x0 = x(b.start);
          const level = levelOf(b.accuracy);
          paths[level] = (paths[level] || "") +
            `M${x0.toFixed(2)} ${(y + h - bh).toFixed(2)}h${(x(b.end) - x0).toFixed(2)}v${bh.toFixed(2)}H${x0.toFixed(2)}z`;
          cells[b.index] = b;
        }
        grid.lanes.push({ id: lane.id, cells });
        return;
      }
      for (const bar of lane.bars) {
        const x0 = x(bar.start), x1 = x(bar.end);
        const fill = colour(bar.accuracy);
        const lines = barLabel(bar, lane.id, unit, run.deadline.get(bar.task_id));
        const r = svgEl("rect", { x: x0, y: y + 2, width: Math.max(x1 - x0, 0.5), height: Math.max(h - 4, 1),
          fill, class: "bar", tabindex: 0, role: "img", "data-index": items.length }, g);
        r.setAttribute("data-task", bar.task_id);
        r.setAttribute("aria-label", lines.join("; "));
        items.push(lines);
        if (bar.config != null && h >= LABELLED_LANE) {
          const fits = Math.floor((x1 - x0 - 4) / 6.5);
          if (fits >= 2) {
            const text = bar.config.length <= fits ? bar.config : bar.config.slice(0, fits - 1) + "…";
            svgEl("text", { x: x0 + 3, y: y + h / 2 + 4, fill: textColour(fill), class: "config" }, g).textContent = text;
          }
        }
      }
      const tick = Math.min(8, h / 2).toFixed(2);
      for (const bar of lane.bars) {
        const d = run.deadline.get(bar.task_id);
        if (typeof d === "number") ticks.push(`M${x(d).toFixed(2)} ${y.toFixed(2)}v${tick}`);
      }
    });
    // every deadline tick in one path: they carry no tooltip of their own (the bar has the deadline)
    if (ticks.length) {
      svgEl("path", { d: ticks.join(""), stroke: "#d62728", "stroke-width": 1.5, fill: "none",
        class: "deadlines", "pointer-events": "none" }, lanesG);
    }
    if (aggregated) {
      const binsG = svgEl("g", { class: "bins" }, svg);
      paths.forEach((d, level) => {
        if (d) svgEl("path", { d, fill: colour(lo + (hi - lo) * level / (levels - 1)), class: "bin-level" }, binsG);
      });
    }
    return { svg, items, aggregated, nbins, grid: aggregated ? grid : null };
  }

  function drawLegend(parent, key) {
    const w = 240, x0 = 70;
    const svg = svgEl("svg", { viewBox: "0 0 700 34", width: 700, height: 34, class: "legend", role: "img" }, parent);
    svg.setAttribute("aria-label", `Colour scale: accuracy from ${state.scale.domain[0]} (dark purple) to ` +
      `${state.scale.domain[1]} (yellow), ${state.scale.palette}`);
    const grad = svgEl("linearGradient", { id: `scale-${key}`, x1: 0, x2: 1, y1: 0, y2: 0 }, svgEl("defs", {}, svg));
    const last = state.scale.stops.length - 1;
    state.scale.stops.forEach((c, i) => svgEl("stop", { offset: i / last, "stop-color": c }, grad));
    svgEl("text", { x: x0 - 6, y: 11, "text-anchor": "end" }, svg).textContent = "accuracy";
    svgEl("rect", { x: x0, y: 1, width: w, height: 12, fill: `url(#scale-${key})` }, svg);
    const [lo, hi] = state.scale.domain;
    for (let k = 0; k <= 4; k++) {
      svgEl("line", { x1: x0 + w * k / 4, x2: x0 + w * k / 4, y1: 13, y2: 17, stroke: "#333" }, svg);
      svgEl("text", { x: x0 + w * k / 4, y: 29, "text-anchor": "middle" }, svg).textContent = String(lo + (hi - lo) * k / 4);
    }
    svgEl("rect", { x: x0 + w + 30, y: 1, width: 18, height: 12, fill: `url(#busy-${key})` }, svg);
    svgEl("text", { x: x0 + w + 54, y: 11 }, svg).textContent = "busy before available_at";
    svgEl("line", { x1: x0 + w + 236, x2: x0 + w + 236, y1: 1, y2: 13, stroke: "#d62728", "stroke-width": 1.5 }, svg);
    svgEl("text", { x: x0 + w + 244, y: 11 }, svg).textContent = "deadline";
  }

  function objectiveRows(run) {
    const o = run.response.objective;
    const value = typeof o.weighted_accuracy === "number" ? o.weighted_accuracy : o.total_accuracy;
    const gap = o.upper_bound - value;
    const rows = [["total accuracy", fmt(o.total_accuracy)]];
    if (typeof o.weighted_accuracy === "number") rows.push(["weighted", fmt(o.weighted_accuracy)]);
    rows.push(["mean accuracy", fmt(o.mean_accuracy)], ["upper bound", fmt(o.upper_bound)],
      ["gap", o.upper_bound > 0 ? `${fmt(gap, 3)} (${fmt(100 * gap / o.upper_bound, 3)}%)` : fmt(gap, 3)],
      ["guarantee G", fmt(o.guarantee)]);
    if (o.proven_bound != null) rows.push(["proven bound", fmt(o.proven_bound)]);
    rows.push(["status", run.response.status], ["solve", `${fmt(1000 * run.response.timings.solve_seconds, 3)} ms`]);
    return rows;
  }

  function drawUnscheduled(parent, run, unit) {
    htmlEl("h3", `Unscheduled (${run.unscheduled.length})`, parent);
    if (!run.unscheduled.length) { htmlEl("p", "none: every task got time", parent, "note"); return; }
    const table = htmlEl("table", null, parent, "unscheduled");
    const head = htmlEl("tr", null, htmlEl("thead", null, table));
    for (const c of ["task", "reason", "accuracy", "deadline"]) htmlEl("th", c, head).scope = "col";
    const body = htmlEl("tbody", null, table);
    const limit = state.scale.list_limit;
    for (const u of run.unscheduled.slice(0, limit)) {
      const tr = htmlEl("tr", null, body);
      tr.setAttribute("data-task", u.task_id);
      htmlEl("td", u.task_id, tr);
      htmlEl("td", u.reason, tr);
      htmlEl("td", fmt(u.accuracy), tr, "num");
      htmlEl("td", unit.fmt(run.deadline.get(u.task_id)), tr, "num");
    }
    if (run.unscheduled.length > limit) {
      htmlEl("p", `… and ${run.unscheduled.length - limit} more (the first ${limit} are listed; the response has them all)`,
        parent, "note");
    }
  }

  function drawComparison(runs) {
    const table = $("comparison");
    table.hidden = runs.length < 2;
    const weighted = runs.some((r) => typeof r.response.objective.weighted_accuracy === "number");
    const cols = ["run", "algorithm", "status", "total accuracy", ...(weighted ? ["weighted"] : []),
      "upper bound", "gap", "scheduled", "unscheduled", "solve ms"];
    const head = htmlEl("tr");
    for (const c of cols) htmlEl("th", c, head).scope = "col";
    table.tHead.replaceChildren(head);
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const run of runs) {
      const o = run.response.objective;
      const tr = htmlEl("tr", null, body);
      const value = weighted ? o.weighted_accuracy : o.total_accuracy;
      const cells = [[run.key, false], [run.response.algorithm, false], [run.response.status, false],
        [fmt(o.total_accuracy), true], ...(weighted ? [[fmt(o.weighted_accuracy), true]] : []),
        [fmt(o.upper_bound), true], [fmt(o.upper_bound - value, 3), true], [run.scheduled, true],
        [run.unscheduled.length, true], [fmt(1000 * run.response.timings.solve_seconds, 3), true]];
      for (const [v, num] of cells) htmlEl("td", v, tr, num ? "num" : null);
    }
  }

  // Draws every run (one or two) on a shared time axis.
  function render(runs) {
    const colour = makeColour(state.scale);
    const horizon = Math.max(...runs.map((r) => r.horizon));
    const unit = timeUnit(horizon);
    const out = document.createDocumentFragment();
    state.items = new Map();
    state.grids = new Map();
    for (const run of runs) {
      const sec = htmlEl("section", null, out, "run");
      sec.setAttribute("data-run", run.key);
      const r = run.response;
      htmlEl("h2", `${run.key}: ${r.algorithm}${r.label ? " · " + r.label : ""} · ${run.lanes.length} machines, ` +
        `${run.scheduled} scheduled, ${run.unscheduled.length} unscheduled`, sec);
      const dl = htmlEl("dl", null, sec, "objective");
      for (const [k, v] of objectiveRows(run)) {
        const d = htmlEl("div", null, dl);
        htmlEl("dt", k, d);
        htmlEl("dd", v, d);
      }
      const chart = drawChart(run, horizon, colour);
      if (chart.aggregated) {
        htmlEl("p", `${run.scheduled} scheduled tasks is over ${state.scale.detail_limit}: each lane is drawn ` +
          `in ${chart.nbins} time bins (height = share of the bin the machine is busy, colour = mean accuracy); ` +
          "no individual bars or deadline ticks. Hover a bin for its numbers.", sec, "note");
      }
      const box = htmlEl("div", null, sec, "chart");
      box.appendChild(chart.svg);
      chart.svg.setAttribute("data-run", run.key);
      state.items.set(run.key, chart.items);
      if (chart.grid) state.grids.set(run.key, chart.grid);
      drawLegend(box, run.key);
      drawUnscheduled(sec, run, unit);
    }
    drawComparison(runs);
    $("runs").replaceChildren(out);
  }

  // Reads and draws one or two [request, response] pairs; the milliseconds it took, layout
  // included (performance.now around reading, building the DOM and a forced layout).
  function draw(pairs) {
    const t0 = performance.now();
    const runs = pairs.map(([request, response], i) => Object.assign(readRun(request, response), { key: "AB"[i] }));
    state.runs = runs;
    render(runs);
    void document.body.offsetHeight;  // force style and layout inside the measured time
    api.lastDrawMs = performance.now() - t0;
    return { runs, ms: api.lastDrawMs };
  }

  // ------------------------------------------------------------------ tooltip and keyboard

  function itemFor(target) {
    if (!(target instanceof Element) || !target.hasAttribute("data-index")) return null;
    const svg = target.closest("svg");
    const items = svg && state.items && state.items.get(svg.getAttribute("data-run"));
    return items ? items[Number(target.getAttribute("data-index"))] : null;
  }

  // What the pointer is over: an element with data-index (a bar, a busy stretch), or in an
  // aggregated chart the bin under it, found from the pointer's position.
  function itemAt(e) {
    const lines = itemFor(e.target);
    if (lines || !(e.target instanceof Element)) return lines;
    const svg = e.target.closest("svg.gantt");
    const grid = svg && state.grids && state.grids.get(svg.getAttribute("data-run"));
    if (!grid) return null;
    const p = new DOMPoint(e.clientX, e.clientY).matrixTransform(svg.getScreenCTM().inverse());
    const lane = grid.lanes[Math.floor((p.y - grid.top) / grid.h)];
    const b = lane && lane.cells[Math.floor((p.x - LABEL_WIDTH) / grid.plot * grid.nbins)];
    if (!b) return null;
    const u = grid.unit;
    return [`${lane.id}, ${u.fmt(b.start)} to ${u.fmt(b.end)}`, `${b.tasks} tasks`,
      `busy ${fmt(100 * b.busy / (b.end - b.start), 3)}%`, `mean accuracy ${fmt(b.accuracy)}`];
  }

  function showTip(lines, x, y) {
    const tip = $("tooltip");
    tip.replaceChildren();
    lines.forEach((line, i) => htmlEl("div", line, tip, i ? null : "tip-title"));
    tip.hidden = false;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = `${Math.max(4, Math.min(x + 12, window.innerWidth - w - 4))}px`;
    tip.style.top = `${Math.max(4, y + 16 + h > window.innerHeight ? y - h - 8 : y + 16)}px`;
  }

  function hideTip() { $("tooltip").hidden = true; }

  function wireTooltips() {
    const runs = $("runs");
    runs.addEventListener("mousemove", (e) => {
      const lines = itemAt(e);
      if (lines) showTip(lines, e.clientX, e.clientY);
      else if (!$("tooltip").hidden && !(document.activeElement && runs.contains(document.activeElement))) hideTip();
    });
    runs.addEventListener("mouseleave", hideTip);
    runs.addEventListener("focusin", (e) => {
      const lines = itemFor(e.target);
      if (!lines) return;
      const box = e.target.getBoundingClientRect();
      showTip(lines, box.left, box.bottom);
    });
    runs.addEventListener("focusout", hideTip);
    runs.addEventListener("keydown", (e) => {
      if (!(e.target instanceof Element) || !e.target.classList.contains("bar")) return;
      if (e.key === "Escape") { hideTip(); return; }
      const svg = e.target.closest("svg");
      const bars = Array.from(svg.querySelectorAll(".bar"));
      const i = bars.indexOf(e.target);
      let next = null;
      if (e.key === "ArrowRight") next = bars[i + 1];
      else if (e.key === "ArrowLeft") next = bars[i - 1];
      else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        const lanes = Array.from(svg.querySelectorAll(".lane"));
        let k = lanes.indexOf(e.target.closest(".lane"));
        const dir = e.key === "ArrowDown" ? 1 : -1;
        for (k += dir; k >= 0 && k < lanes.length && !next; k += dir) next = lanes[k].querySelector(".bar");
      }
      if (next) { e.preventDefault(); next.focus(); }
    });
  }

  // ------------------------------------------------------------------ talking to the service

  function setStatus(text) { $("status").textContent = text; }

  function showErrors(list) {
    const ul = $("errors");
    ul.replaceChildren();
    for (const line of list) htmlEl("li", line, ul);
  }

  async function getJSON(path) {
    const r = await fetch(path, { credentials: "same-origin", mode: "same-origin" });
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.json();
  }

  function errorLines(status, body) {
    const err = body && body.error;
    if (!err) return [`HTTP ${status}`];
    const lines = [`${status} ${err.code}: ${err.message}`];
    for (const d of (err.details || []).slice(0, 50)) lines.push(`${(d.loc || []).join(".")}: ${d.msg}`);
    return lines;
  }

  async function postSchedule(request) {
    const headers = { "content-type": "application/json" };
    const key = $("api-key").value.trim();
    if (key) headers.authorization = `Bearer ${key}`;
    const r = await fetch("/schedule", { method: "POST", headers, body: JSON.stringify(request),
      credentials: "same-origin", mode: "same-origin", cache: "no-store" });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) throw Object.assign(new Error("request failed"), { lines: errorLines(r.status, body) });
    return body;
  }

  function batchText() {
    const text = $("batch").value;
    return text.trim() ? text : state.bigBatch;
  }

  function setBatch(text, what) {
    if (text.length > BIG_TEXT) {
      state.bigBatch = text;
      $("batch").value = "";
      $("batch").placeholder = `${what}: ${(text.length / 1e6).toFixed(1)} MB, kept out of this box; ` +
        "type or paste here to replace it";
    } else {
      state.bigBatch = null;
      $("batch").value = text;
    }
    setStatus(`${what} loaded`);
  }

  async function solve() {
    showErrors([]);
    const text = batchText();
    if (!text) { showErrors(["no batch: load an example, choose a file, generate one or paste one"]); return; }
    let request;
    try { request = JSON.parse(text); } catch (e) { showErrors([`the batch is not JSON: ${e.message}`]); return; }
    if (!request || typeof request !== "object" || Array.isArray(request)) {
      showErrors(["the batch must be a JSON object with machines and tasks"]); return;
    }
    const algorithms = [$("algorithm").value, $("compare").value].filter(Boolean);
    setStatus("solving…");
    $("solve").disabled = true;
    try {
      const pairs = [];
      for (const algorithm of algorithms) {
        const req = { ...request, algorithm };
        pairs.push([req, await postSchedule(req)]);
      }
      const { runs, ms } = draw(pairs);
      const n = runs[0].scheduled + runs[0].unscheduled.length;
      setStatus(`solved ${n} tasks on ${runs[0].lanes.length} machines; drawn in ${ms.toFixed(1)} ms`);
    } catch (e) {
      setStatus("failed");
      showErrors(e.lines || [String(e.message || e)]);
    } finally {
      $("solve").disabled = false;
    }
  }

  // A deterministic random batch (a small linear congruential generator): n tasks, m machines,
  // deadlines spread so that some tasks are compressed and some cannot be placed.
  function generate(n, m) {
    let s = 12345;
    const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
    const horizon = Math.max(1, 0.05 * n / Math.max(m, 1));
    const machines = [];
    for (let r = 0; r < m; r++) {
      machines.push({ id: `m${r}`, speed: +(0.5 + 3.5 * rnd()).toFixed(3), available_at: +(horizon / 4 * rnd()).toFixed(4) });
    }
    const tasks = [];
    for (let j = 0; j < n; j++) {
      const aMin = +(0.1 * rnd()).toFixed(4);
      tasks.push({ id: `t${j}`, deadline: +(horizon * rnd()).toFixed(4), theta: +(1 + 79 * rnd()).toFixed(3),
        a_min: aMin, a_max: +(aMin + 0.05 + (0.95 - aMin) * rnd()).toFixed(4),
        t_max: j % 7 === 3 ? null : +(0.01 + 0.19 * rnd()).toFixed(4) });
    }
    return { label: `generated: ${n} tasks on ${m} machines`, machines, tasks };
  }

  // ------------------------------------------------------------------ start

  function fillAlgorithms(names) {
    for (const sel of [$("algorithm"), $("compare")]) {
      for (const name of names) { const o = htmlEl("option", name, sel); o.value = name; }
    }
    if (names.includes("dsct-approx")) $("algorithm").value = "dsct-approx";
  }

  const api = {
    lastDrawMs: null,
    ready: false,
    // For measurements: draw a request and its response (or two) without asking the server.
    draw(request, responses) { return draw(responses.map((r) => [request, r])).ms; },
  };
  window.dsctGantt = api;

  async function start() {
    wireTooltips();
    $("solve").addEventListener("click", solve);
    $("load-example").addEventListener("click", async () => {
      const name = $("example").value;
      try {
        const r = await fetch(`/ui/examples/${encodeURIComponent(name)}`, { mode: "same-origin" });
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        setBatch(await r.text(), `example ${name}`);
      } catch (e) { showErrors([`could not load the example: ${e.message}`]); }
    });
    $("file").addEventListener("change", async () => {
      const f = $("file").files[0];
      if (f) setBatch(await f.text(), `file ${f.name}`);
    });
    $("generate").addEventListener("click", () => {
      const n = Math.max(0, Math.min(100000, Number($("gen-n").value) || 0));
      const m = Math.max(1, Math.min(10000, Number($("gen-m").value) || 1));
      setBatch(JSON.stringify(generate(n, m)), `generated batch of ${n} tasks on ${m} machines`);
    });
    $("batch").addEventListener("input", () => { if ($("batch").value.trim()) state.bigBatch = null; });
    try {
      state.scale = await getJSON("/ui/gantt-scale.json");
      ({ width: WIDTH, label_width: LABEL_WIDTH, right_margin: RIGHT_MARGIN, lane_height: LANE_HEIGHT,
        min_lane_height: MIN_LANE_HEIGHT, lanes_height: LANES_HEIGHT, labelled_lane: LABELLED_LANE } =
        state.scale.layout);
      const [ready, examples] = await Promise.all([getJSON("/readyz").catch(() => null), getJSON("/ui/examples")]);
      fillAlgorithms(ready ? ready.algorithms : ["dsct-approx"]);
      if (!ready) showErrors(["GET /readyz did not answer: only dsct-approx is offered"]);
      for (const name of examples.examples) { const o = htmlEl("option", name, $("example")); o.value = name; }
      api.ready = true;
      setStatus("ready");
    } catch (e) {
      showErrors([`could not start: ${e.message}`]);
    }
  }

  document.addEventListener("DOMContentLoaded", start);
})();

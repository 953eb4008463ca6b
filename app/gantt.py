"""Gantt charts of a schedule as SVG text, written by the service's own code (no plotting
library, so the runtime image needs none).

The picture: one lane per machine (its id and speed), one bar per assignment from ``start``
to ``end`` coloured by the task's accuracy on a sequential, colour-blind-safe scale (viridis,
labelled 0 to 1), the configuration name on the bar when the assignment has a ``config``,
the machine's busy time before ``available_at`` hatched, each scheduled task's deadline as a
tick on its lane, a ``<title>`` per bar (the tooltip of SVG viewers: task id, start, end,
work, compression or configuration, accuracy, deadline), the objective above the lanes and
the unscheduled tasks with their reasons below.

The page at ``/ui`` draws the same picture in the browser. Both read the colour scale and
the aggregation thresholds from ``app/ui/gantt-scale.json``, so they are written once. Above
``detail_limit`` scheduled tasks a chart is aggregated: each lane is cut into equal time
bins, each bin drawn as high as the share of it the machine is busy and coloured by the
time-weighted mean accuracy of what runs in it, rounded to one of ``levels`` steps (the page
draws each step as one path); deadline ticks are left out (a note says so).

Input: a response of ``POST /schedule`` as decoded JSON and, optionally, its request (for
the speeds, ``available_at`` and deadlines; without it those are left out and the chart says
so). Everything is built as ElementTree elements, so ids and labels are escaped by the
serialiser, never pasted into markup. Time and memory O(n + m + bins).
"""

from __future__ import annotations

import importlib.resources
import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SCALE", "Bar", "Chart", "GanttInputError", "Lane", "Missing", "build", "color", "level_color",
           "render", "to_svg"]

SCALE: dict[str, Any] = json.loads(
    importlib.resources.files("app").joinpath("ui/gantt-scale.json").read_text(encoding="utf-8"))

SVG_NS = "http://www.w3.org/2000/svg"
_LAYOUT = SCALE["layout"]
WIDTH = _LAYOUT["width"]                  # px, the whole picture
LABEL_WIDTH = _LAYOUT["label_width"]      # px, the machines' names left of the lanes
RIGHT_MARGIN = _LAYOUT["right_margin"]
LANE_HEIGHT = _LAYOUT["lane_height"]      # px, shrunk for many machines down to MIN_LANE_HEIGHT
MIN_LANE_HEIGHT = _LAYOUT["min_lane_height"]
LANES_HEIGHT = _LAYOUT["lanes_height"]    # px the lanes may take before they shrink
LABELLED_LANE = _LAYOUT["labelled_lane"]  # px: thinner lanes have no text
FONT = "font-family:sans-serif;font-size:11px"


class GanttInputError(ValueError):
    """The response (or the request given with it) cannot be drawn; the message names the field."""


@dataclass(frozen=True)
class Bar:
    """One assignment as drawn."""

    task_id: str
    start: float
    end: float
    work: float
    compression: float | None
    config: str | None
    accuracy: float
    deadline: float | None


@dataclass(frozen=True)
class Lane:
    """One machine: its id, speed (None without the request), busy time and bars."""

    machine_id: str
    speed: float | None
    available_at: float
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Missing:
    """An unscheduled task."""

    task_id: str
    reason: str
    accuracy: float
    deadline: float | None


@dataclass(frozen=True)
class Chart:
    """Everything the picture shows, read from a response and its request."""

    label: str | None
    algorithm: str
    status: str
    objective: Mapping[str, Any]
    solve_seconds: float | None
    lanes: tuple[Lane, ...]
    unscheduled: tuple[Missing, ...]
    horizon: float
    has_request: bool
    scheduled: int  # assignments, over all lanes

    @property
    def aggregated(self) -> bool:
        return self.scheduled > SCALE["detail_limit"]


# --------------------------------------------------------------------------- colours


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


_STOPS = [_rgb(c) for c in SCALE["stops"]]


def color(accuracy: float) -> str:
    """The scale's colour of ``accuracy``: linear between the stops, clamped to the domain."""
    lo, hi = SCALE["domain"]
    u = 0.0 if not math.isfinite(accuracy) else min(max((accuracy - lo) / (hi - lo), 0.0), 1.0)
    pos = u * (len(_STOPS) - 1)
    i = min(int(pos), len(_STOPS) - 2)
    f = pos - i
    r, g, b = (round(a + (c - a) * f) for a, c in zip(_STOPS[i], _STOPS[i + 1], strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def level_color(accuracy: float) -> str:
    """The colour of an aggregated bin: its accuracy rounded to one of ``levels`` equal steps
    of the domain (the page draws each level as one path; 64 levels differ by less than the
    eye can tell apart, and the tooltip has the exact mean)."""
    lo, hi = SCALE["domain"]
    top = SCALE["levels"] - 1
    u = 0.0 if not math.isfinite(accuracy) else min(max((accuracy - lo) / (hi - lo), 0.0), 1.0)
    return color(lo + (hi - lo) * round(u * top) / top)


def text_color(fill: str) -> str:
    """Black or white, whichever reads on ``fill`` (WCAG relative luminance)."""
    def lin(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in _rgb(fill))
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.18 else "#ffffff"


# --------------------------------------------------------------------------- reading


def _field(obj: Any, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(obj, Mapping) or key not in obj:
        raise GanttInputError(f"{where}.{key} is missing")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise GanttInputError(f"{where}.{key} has the wrong type ({type(value).__name__})")
    if isinstance(value, float) and not math.isfinite(value):
        raise GanttInputError(f"{where}.{key} is not finite")
    return value


def _num(obj: Any, key: str, where: str) -> float:
    return float(_field(obj, key, where, (int, float)))


def _request_parts(request: Mapping[str, Any] | None) -> tuple[list[Any], dict[str, float]]:
    if request is None:
        return [], {}
    machines = _field(request, "machines", "request", list)
    tasks = _field(request, "tasks", "request", list)
    deadlines = {}
    for j, t in enumerate(tasks):
        task_id, deadline = (t.get("id"), t.get("deadline")) if type(t) is dict else (None, None)
        if type(task_id) is not str or type(deadline) not in _NUMBER or not math.isfinite(deadline):
            task_id = _field(t, "id", f"request.tasks[{j}]", str)
            deadline = _num(t, "deadline", f"request.tasks[{j}]")
        deadlines[task_id] = float(deadline)
    return machines, deadlines


_NUMBER = (float, int)


def _plain_bar(a: Any, deadlines: Mapping[str, float], has_request: bool) -> Bar | None:
    """An assignment of the usual shape, read without building a field name for each check
    (a third of the time at 100,000 tasks); None for anything else, which :func:`_bar` reads
    and reports."""
    if type(a) is not dict:
        return None
    task_id, start, end, work, accuracy = (a.get("task_id"), a.get("start"), a.get("end"), a.get("work"),
                                           a.get("accuracy"))
    compression, config = a.get("compression"), a.get("config")
    if (type(task_id) is not str or (has_request and task_id not in deadlines)
            or type(start) not in _NUMBER or type(end) not in _NUMBER or type(work) not in _NUMBER
            or type(accuracy) not in _NUMBER or not (compression is None or type(compression) in _NUMBER)
            or not (config is None or type(config) is str)
            or not all(map(math.isfinite, (start, end, work, accuracy, compression or 0.0)))):
        return None
    return Bar(task_id, float(start), float(end), float(work), None if compression is None else float(compression),
               config, float(accuracy), deadlines.get(task_id))


def _bar(a: Any, where: str, deadlines: Mapping[str, float], has_request: bool) -> Bar:
    task_id = _field(a, "task_id", where, str)
    if has_request and task_id not in deadlines:
        raise GanttInputError(f"{where}.task_id {task_id!r} is not a task of the request")
    compression = a.get("compression")
    config = a.get("config")
    return Bar(task_id, _num(a, "start", where), _num(a, "end", where), _num(a, "work", where),
               None if compression is None else _num(a, "compression", where),
               None if config is None else _field(a, "config", where, str),
               _num(a, "accuracy", where), deadlines.get(task_id))


def build(response: Mapping[str, Any], request: Mapping[str, Any] | None = None) -> Chart:
    """What to draw, from a response of ``POST /schedule`` and optionally its request.
    Raises :class:`GanttInputError` naming the field when they do not fit together."""
    req_machines, deadlines = _request_parts(request)
    machines = _field(response, "machines", "response", list)
    if request is not None and len(req_machines) != len(machines):
        raise GanttInputError(f"response.machines has {len(machines)} machines, the request "
                              f"{len(req_machines)}: is it the response to this request?")
    lanes = []
    for i, mc in enumerate(machines):
        where = f"response.machines[{i}]"
        machine_id = _field(mc, "id", where, str)
        speed, available = None, 0.0
        if request is not None:
            rm = req_machines[i]
            if _field(rm, "id", f"request.machines[{i}]", str) != machine_id:
                raise GanttInputError(f"{where}.id {machine_id!r} is not request.machines[{i}].id "
                                      f"{rm['id']!r}: is it the response to this request?")
            speed = _num(rm, "speed", f"request.machines[{i}]") if "speed" in rm else 1.0
            available = _num(rm, "available_at", f"request.machines[{i}]") if "available_at" in rm else 0.0
        has = request is not None
        bars = tuple(_plain_bar(a, deadlines, has) or _bar(a, f"{where}.assignments[{k}]", deadlines, has)
                     for k, a in enumerate(_field(mc, "assignments", where, list)))
        lanes.append(Lane(machine_id, speed, available, bars))
    missing = []
    for k, u in enumerate(_field(response, "unscheduled", "response", list)):
        where = f"response.unscheduled[{k}]"
        task_id = _field(u, "task_id", where, str)
        missing.append(Missing(task_id, _field(u, "reason", where, str), _num(u, "accuracy", where),
                               deadlines.get(task_id)))
    ends = [b.end for lane in lanes for b in lane.bars]
    ticks = [b.deadline for lane in lanes for b in lane.bars if b.deadline is not None]
    # the time axis ends at the last end or deadline; a machine busy past it is shaded to the edge
    horizon = max([*ends, *ticks, 0.0]) or max([*(lane.available_at for lane in lanes), 0.0])
    timings = response.get("timings")
    solve = timings.get("solve_seconds") if isinstance(timings, Mapping) else None
    label = response.get("label")
    return Chart(label if isinstance(label, str) else None, str(response.get("algorithm", "")),
                 str(response.get("status", "")), dict(_field(response, "objective", "response", Mapping)),
                 solve if isinstance(solve, int | float) else None, tuple(lanes), tuple(missing),
                 horizon if horizon > 0 else 1.0, request is not None, len(ends))


# --------------------------------------------------------------------------- numbers as text


def _g(x: float | None, digits: int = 4) -> str:
    """``digits`` significant digits, written out in full up to 15 digits (45890, not
    4.589e+04), as the page writes numbers."""
    return "n/a" if x is None else f"{float(f'{x:.{digits}g}'):.15g}"


@dataclass(frozen=True)
class TimeUnit:
    name: str
    scale: float

    def __call__(self, seconds: float | None) -> str:
        return "n/a" if seconds is None else f"{_g(seconds * self.scale)} {self.name}"


def time_unit(horizon: float) -> TimeUnit:
    """Milliseconds for schedules shorter than a second, else seconds."""
    return TimeUnit("ms", 1000.0) if horizon < 1.0 else TimeUnit("s", 1.0)


def axis_ticks(horizon: float, target: int = 8) -> list[float]:
    """Round tick positions (1, 2 or 5 times a power of ten) from 0 to ``horizon``."""
    raw = horizon / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(k * mag for k in (1, 2, 5, 10) if k * mag >= raw)
    return [k * step for k in range(int(horizon / step + 1e-9) + 1)]


def objective_text(chart: Chart) -> str:
    """The objective panel in one line: total (weighted when present), bound, gap, guarantee,
    proven bound (exact only), status, solve time."""
    o = chart.objective
    total = o.get("total_accuracy")
    weighted = o.get("weighted_accuracy")
    value = weighted if isinstance(weighted, int | float) else total
    bound = o.get("upper_bound")
    parts = [f"total accuracy {_g(total)}"]
    if isinstance(weighted, int | float) and weighted != total:  # equal when every weight is 1
        parts.append(f"weighted {_g(weighted)}")
    parts.append(f"upper bound {_g(bound)}")
    if isinstance(value, int | float) and isinstance(bound, int | float):
        rel = f" ({100 * (bound - value) / bound:.3g}%)" if bound > 0 else ""
        parts.append(f"gap {_g(bound - value, 3)}{rel}")
    parts.append(f"guarantee G {_g(o.get('guarantee'))}")
    if o.get("proven_bound") is not None:
        parts.append(f"proven bound {_g(o['proven_bound'])}")
    parts.append(f"status {chart.status}")
    if chart.solve_seconds is not None:
        parts.append(f"solve {chart.solve_seconds * 1000:.3g} ms")
    return " · ".join(parts)


def bar_tooltip(bar: Bar, machine_id: str, unit: TimeUnit) -> str:
    """What hovering or focusing a bar shows."""
    if bar.config is not None:
        shape = f"configuration {bar.config}"
    elif bar.compression is None:
        shape = "compression n/a (no t_max)"
    else:
        shape = f"compression {_g(bar.compression, 3)}"
    return "\n".join([f"{bar.task_id} on {machine_id}", f"start {unit(bar.start)}, end {unit(bar.end)}",
                      f"work {_g(bar.work)}, {shape}", f"accuracy {_g(bar.accuracy)}",
                      f"deadline {unit(bar.deadline)}"])


# --------------------------------------------------------------------------- aggregation


@dataclass(frozen=True)
class Bin:
    """A time bin of a lane in an aggregated chart."""

    start: float
    end: float
    busy: float      # seconds of the bin the machine runs something
    accuracy: float  # time-weighted mean accuracy of what runs in it
    tasks: int       # tasks overlapping the bin


def bins_per_lane(machines: int) -> int:
    return max(1, min(SCALE["max_bins_per_lane"], SCALE["bin_budget"] // max(machines, 1)))


def aggregate(lane: Lane, horizon: float, nbins: int) -> list[Bin]:
    """The lane's busy time and accuracy in ``nbins`` equal bins over [0, horizon]; empty bins
    left out. O(bars + bins)."""
    width = horizon / nbins
    busy = [0.0] * nbins
    acc = [0.0] * nbins
    count = [0] * nbins
    for bar in lane.bars:
        first = min(int(bar.start / width), nbins - 1)
        last = min(int(bar.end / width), nbins - 1)
        for b in range(first, last + 1):
            overlap = min(bar.end, (b + 1) * width) - max(bar.start, b * width)
            if overlap > 0 or bar.end == bar.start:
                busy[b] += max(overlap, 0.0)
                acc[b] += max(overlap, 0.0) * bar.accuracy
                count[b] += 1
    return [Bin(b * width, (b + 1) * width, busy[b], acc[b] / busy[b] if busy[b] > 0 else 0.0, count[b])
            for b in range(nbins) if count[b]]


# --------------------------------------------------------------------------- drawing


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: Any) -> ET.Element:
    el = ET.SubElement(parent, tag, {k.rstrip("_").replace("_", "-"): str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def _defs(svg: ET.Element) -> None:
    defs = _el(svg, "defs")
    grad = _el(defs, "linearGradient", id="dsct-accuracy-scale", x1=0, x2=1, y1=0, y2=0)
    last = len(SCALE["stops"]) - 1
    for i, c in enumerate(SCALE["stops"]):
        _el(grad, "stop", offset=f"{i / last:.3f}", stop_color=c)
    pat = _el(defs, "pattern", id="dsct-busy", width=6, height=6, patternUnits="userSpaceOnUse",
              patternTransform="rotate(45)")
    _el(pat, "rect", width=6, height=6, fill="#e6e6e6")
    _el(pat, "line", x1=0, y1=0, x2=0, y2=6, stroke="#9a9a9a", stroke_width=2)


@dataclass(frozen=True)
class Frame:
    """Where things go: the time axis (0 to ``horizon`` over the plot's width), the lanes'
    height, the unit of the labels, the bins per lane of an aggregated chart."""

    horizon: float
    lane_height: float
    unit: TimeUnit
    nbins: int

    def x(self, t: float) -> float:
        plot = WIDTH - LABEL_WIDTH - RIGHT_MARGIN
        return LABEL_WIDTH + plot * min(max(t, 0.0), self.horizon) / self.horizon


def _lane(parent: ET.Element, lane: Lane, i: int, y: float, frame: Frame, aggregated: bool) -> None:
    """One machine's lane: background, label, busy time, then its bins or its bars and ticks."""
    h, x = frame.lane_height, frame.x
    g = _el(parent, "g", class_="lane", data_machine=lane.machine_id)
    _el(g, "rect", class_="lane-bg", x=LABEL_WIDTH, y=f"{y:.2f}", width=WIDTH - LABEL_WIDTH - RIGHT_MARGIN,
        height=f"{h:.2f}", fill="#f7f7f7" if i % 2 else "#ffffff")
    if h >= LABELLED_LANE:
        name = lane.machine_id if len(lane.machine_id) <= 24 else lane.machine_id[:23] + "…"
        speed = "" if lane.speed is None else f" ×{_g(lane.speed, 3)}"
        _el(g, "text", name + speed, class_="lane-label", x=LABEL_WIDTH - 6, y=f"{y + h / 2 + 4:.2f}",
            text_anchor="end", style=FONT)
    if lane.available_at > 0:
        busy = _el(g, "rect", class_="busy", x=LABEL_WIDTH, y=f"{y:.2f}",
                   width=f"{x(lane.available_at) - LABEL_WIDTH:.2f}", height=f"{h:.2f}", fill="url(#dsct-busy)")
        _el(busy, "title", f"{lane.machine_id} busy until {frame.unit(lane.available_at)} (available_at)")
    if aggregated:
        _bins(g, lane, y, frame)
    else:
        _bars(g, lane, y, frame)


def _bins(g: ET.Element, lane: Lane, y: float, frame: Frame) -> None:
    h, x, unit = frame.lane_height, frame.x, frame.unit
    for b in aggregate(lane, frame.horizon, frame.nbins):
        bh = h * b.busy / (b.end - b.start)
        r = _el(g, "rect", class_="bin", x=f"{x(b.start):.2f}", y=f"{y + h - bh:.2f}",
                width=f"{x(b.end) - x(b.start):.2f}", height=f"{bh:.2f}", fill=level_color(b.accuracy))
        _el(r, "title", f"{lane.machine_id}, {unit(b.start)} to {unit(b.end)}: {b.tasks} tasks, "
            f"busy {100 * b.busy / (b.end - b.start):.3g}%, mean accuracy {_g(b.accuracy)}")


def _bars(g: ET.Element, lane: Lane, y: float, frame: Frame) -> None:
    h, x = frame.lane_height, frame.x
    for bar in lane.bars:
        fill = color(bar.accuracy)
        bg = _el(g, "g", class_="bar", data_task=bar.task_id)
        _el(bg, "title", bar_tooltip(bar, lane.machine_id, frame.unit))
        x0, x1 = x(bar.start), x(bar.end)
        _el(bg, "rect", x=f"{x0:.2f}", y=f"{y + 2:.2f}", width=f"{max(x1 - x0, 0.5):.2f}",
            height=f"{max(h - 4, 1):.2f}", fill=fill, stroke="#ffffff", stroke_width=0.5)
        if bar.config is not None and h >= LABELLED_LANE:
            fits = int((x1 - x0 - 4) / 6.5)  # characters of 11 px sans-serif that fit
            if fits >= 2:
                text = bar.config if len(bar.config) <= fits else bar.config[:fits - 1] + "…"
                _el(bg, "text", text, class_="config", x=f"{x0 + 3:.2f}", y=f"{y + h / 2 + 4:.2f}",
                    fill=text_color(fill), style=FONT)
    for bar in lane.bars:
        if bar.deadline is not None:
            xd = x(bar.deadline)
            _el(g, "line", class_="deadline", data_task=bar.task_id, x1=f"{xd:.2f}", x2=f"{xd:.2f}",
                y1=f"{y:.2f}", y2=f"{y + min(8.0, h / 2):.2f}", stroke="#d62728", stroke_width=1.5)


def _legend(svg: ET.Element, y: float) -> float:
    g = _el(svg, "g", class_="legend")
    x0, w = LABEL_WIDTH, 240
    _el(g, "text", "accuracy", x=x0 - 6, y=y + 10, text_anchor="end", style=FONT)
    _el(g, "rect", class_="scale", x=x0, y=y, width=w, height=12, fill="url(#dsct-accuracy-scale)")
    lo, hi = SCALE["domain"]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        _el(g, "line", x1=x0 + w * k / 4, x2=x0 + w * k / 4, y1=y + 12, y2=y + 16, stroke="#333")
        _el(g, "text", f"{v:g}", class_="scale-label", x=x0 + w * k / 4, y=y + 27, text_anchor="middle",
            style=FONT)
    x1 = x0 + w + 30
    _el(g, "rect", x=x1, y=y, width=18, height=12, fill="url(#dsct-busy)")
    _el(g, "text", "busy before available_at", x=x1 + 24, y=y + 10, style=FONT)
    x2 = x1 + 200
    _el(g, "line", x1=x2 + 6, x2=x2 + 6, y1=y, y2=y + 12, stroke="#d62728", stroke_width=1.5)
    _el(g, "text", "deadline", x=x2 + 14, y=y + 10, style=FONT)
    return y + 36


def to_svg(chart: Chart) -> str:
    """The chart as a standalone SVG document (text)."""
    m = max(len(chart.lanes), 1)
    h = max(MIN_LANE_HEIGHT, min(LANE_HEIGHT, LANES_HEIGHT / m))
    frame = Frame(chart.horizon, h, time_unit(chart.horizon), bins_per_lane(len(chart.lanes)))
    unit, x = frame.unit, frame.x

    svg = ET.Element("svg", {"xmlns": SVG_NS, "width": str(WIDTH), "role": "img", "class": "dsct-gantt"})
    title = (chart.label or "schedule") + f" · {chart.algorithm} · {len(chart.lanes)} machines, " \
        f"{chart.scheduled} scheduled, {len(chart.unscheduled)} unscheduled"
    _el(svg, "title", title)
    _defs(svg)
    _el(svg, "text", title, class_="heading", x=10, y=18, style="font-family:sans-serif;font-size:13px;font-weight:bold")
    _el(svg, "text", objective_text(chart), class_="objective", x=10, y=36, style=FONT)
    notes = []
    if not chart.has_request:
        notes.append("drawn without the request: no speeds, deadlines or busy times")
    if chart.aggregated:
        notes.append(f"{chart.scheduled} scheduled tasks (over {SCALE['detail_limit']}): each lane in "
                     f"{frame.nbins} time bins, height = busy share, colour = mean accuracy; no deadline ticks")
    y = 52.0
    if notes:
        _el(svg, "text", "; ".join(notes), class_="note", x=10, y=y, style=FONT + ";font-style:italic")
        y += 16
    axis = _el(svg, "g", class_="axis")
    top = y + 18
    for t in axis_ticks(chart.horizon):
        _el(axis, "line", x1=f"{x(t):.2f}", x2=f"{x(t):.2f}", y1=top - 4, y2=f"{top + h * m:.2f}",
            stroke="#dddddd")
        _el(axis, "text", f"{t * unit.scale:g}", x=f"{x(t):.2f}", y=top - 6, text_anchor="middle", style=FONT)
    _el(axis, "text", f"time ({unit.name})", x=LABEL_WIDTH - 6, y=top - 6, text_anchor="end", style=FONT)
    lanes = _el(svg, "g", class_="lanes")
    for i, lane in enumerate(chart.lanes):
        _lane(lanes, lane, i, top + i * h, frame, chart.aggregated)
    y = _legend(svg, top + h * m + 14)
    y = _unscheduled(svg, chart, unit, y + 4)
    svg.set("height", f"{y + 8:.0f}")
    svg.set("viewBox", f"0 0 {WIDTH} {y + 8:.0f}")
    svg.set("aria-label", title)
    return ET.tostring(svg, encoding="unicode", short_empty_elements=True) + "\n"


def _unscheduled(svg: ET.Element, chart: Chart, unit: TimeUnit, y: float) -> float:
    g = _el(svg, "g", class_="unscheduled")
    if not chart.unscheduled:
        _el(g, "text", "Unscheduled: none", x=10, y=y + 12, style=FONT)
        return y + 16
    limit = SCALE["list_limit"]
    _el(g, "text", f"Unscheduled ({len(chart.unscheduled)})", x=10, y=y + 12,
        style=FONT + ";font-weight:bold")
    y += 16
    for u in chart.unscheduled[:limit]:
        _el(g, "text", f"{u.task_id}: {u.reason}, accuracy {_g(u.accuracy)}, deadline {unit(u.deadline)}",
            class_="unscheduled-task", data_task=u.task_id, x=20, y=y + 12, style=FONT)
        y += 15
    if len(chart.unscheduled) > limit:
        _el(g, "text", f"… and {len(chart.unscheduled) - limit} more", x=20, y=y + 12, style=FONT)
        y += 15
    return y


def render(response: Mapping[str, Any], request: Mapping[str, Any] | None = None) -> str:
    """A response of ``POST /schedule`` (and optionally its request) as SVG text."""
    return to_svg(build(response, request))


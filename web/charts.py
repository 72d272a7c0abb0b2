"""SVG charts computed on the server: the order Gantt, trend lines and bars.

Functions here turn data into plain geometry (numbers and strings); the templates draw it, so
every text that came from a span goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tracing.timeline import Timeline
from web.formatting import as_utc, fmt_duration

GANTT_WIDTH = 1160
LABEL_WIDTH = 170
LANE_HEIGHT = 34
BAR_HEIGHT = 18
AXIS_HEIGHT = 28
MIN_BAR = 3.0
SLA_LABEL_CHAR_PX = 6.0  # width of a character of an SLA label (10 px sans-serif), generously
SLA_LABEL_ROW = 13


@dataclass(frozen=True)
class SlaMark:
    """A due time to draw on the Gantt: ``name`` due at ``due`` (met or not, when known)."""

    name: str
    due: datetime
    state: str = ""  # met, breached, at_risk, open
    label: str = ""  # what people call it (default: the name)


@dataclass
class GanttBar:
    index: int
    lane: int
    x: float
    y: float
    width: float
    label: str
    title: str
    classes: str
    manual: bool
    error: bool


@dataclass
class GanttGap:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    label_x: float
    label_y: float
    critical: bool


@dataclass
class GanttTick:
    x: float
    label: str


@dataclass
class GanttMark:
    x: float
    label: str
    title: str
    state: str
    label_y: float = 0.0  # baseline of the label (rows below the plot, so labels never overlap)


@dataclass
class Gantt:
    width: int
    height: int
    label_width: int
    lanes: list[tuple[str, str, float]]  # (system, kind, y)
    bars: list[GanttBar] = field(default_factory=list)
    gaps: list[GanttGap] = field(default_factory=list)
    ticks: list[GanttTick] = field(default_factory=list)
    marks: list[GanttMark] = field(default_factory=list)
    now_x: float | None = None
    plot_top: int = AXIS_HEIGHT
    plot_bottom: int = 0


def _seconds(value: datetime) -> float:
    return as_utc(value).timestamp()


_TICK_STEPS = [
    1,
    5,
    15,
    30,
    60,
    300,
    900,
    1800,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86400,
    2 * 86400,
    7 * 86400,
    30 * 86400,
]


def _ticks(start: float, end: float, scale: float, x0: float, count: int = 8) -> list[GanttTick]:
    span = max(end - start, 1e-3)
    step = next((s for s in _TICK_STEPS if span / s <= count), _TICK_STEPS[-1])
    first = math.ceil(start / step) * step
    ticks: list[GanttTick] = []
    value = first
    while value <= end and len(ticks) < 40:
        when = datetime.fromtimestamp(value, UTC)
        if step >= 86400:
            label = when.strftime("%m-%d")
        elif step >= 60:
            label = (
                when.strftime("%m-%d %H:%M")
                if not ticks or (when.hour == 0 and when.minute == 0)
                else when.strftime("%H:%M")
            )
        else:
            label = when.strftime("%H:%M:%S")
        ticks.append(GanttTick(x=round(x0 + (value - start) * scale, 1), label=label))
        value += step
    return ticks


def gantt(
    timeline: Timeline, *, now: datetime | None = None, sla_marks: list[SlaMark] | None = None
) -> Gantt:
    """Hops as bars in one lane per system; handoff gaps drawn as the empty space between bars with a
    dashed connector; the critical path highlighted; SLA due times and "now" as vertical lines."""
    lanes: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for hop in timeline.hops:
        if hop.system not in lanes:
            lanes[hop.system] = len(lanes)
            kinds[hop.system] = hop.system_kind
    marks = sla_marks or []
    start = _seconds(timeline.start)
    end = _seconds(timeline.end)
    now_s = _seconds(now) if now is not None and timeline.state.status == "open" else None
    if now_s is not None:
        end = max(end, now_s)
    for mark in marks:
        due = _seconds(mark.due)
        if due <= end + (end - start) * 0.5 + 3600:  # show dues that fall near the order's span
            end = max(end, due)
    span = max(end - start, 1.0)
    plot_width = GANTT_WIDTH - LABEL_WIDTH - 20
    scale = plot_width / span
    x0 = float(LABEL_WIDTH)

    def x_of(seconds: float) -> float:
        return round(x0 + (seconds - start) * scale, 1)

    plot_bottom = AXIS_HEIGHT + LANE_HEIGHT * max(1, len(lanes)) + 4
    height = plot_bottom + 18  # a row for the SLA labels
    chart = Gantt(
        width=GANTT_WIDTH,
        height=height,
        label_width=LABEL_WIDTH,
        lanes=[(name, kinds[name], AXIS_HEIGHT + i * LANE_HEIGHT) for name, i in lanes.items()],
        plot_bottom=plot_bottom,
    )
    critical_hops = {s.hop for s in timeline.critical_path.segments if s.kind == "hop"}
    critical_gaps = {s.hop for s in timeline.critical_path.segments if s.kind == "gap"}
    for hop in timeline.hops:
        lane = lanes[hop.system]
        x = x_of(_seconds(hop.start))
        width = max(MIN_BAR, x_of(_seconds(hop.end)) - x)
        classes = ["hop"]
        if hop.index in critical_hops:
            classes.append("critical")
        error = hop.status == "Error"
        if error:
            classes.append("error")
        flags = []
        if error:
            flags.append("error")
        if hop.manual_touch:
            flags.append("manual touch")
        flags.extend(f"exception {t}" for t in hop.exception_types)
        title = f"{hop.stage} on {hop.system}: {fmt_duration(hop.duration_ns / 1e9)}" + (
            f" ({', '.join(flags)})" if flags else ""
        )
        chart.bars.append(
            GanttBar(
                index=hop.index,
                lane=lane,
                x=x,
                y=AXIS_HEIGHT + lane * LANE_HEIGHT + (LANE_HEIGHT - BAR_HEIGHT) / 2,
                width=round(width, 1),
                label=hop.stage,
                title=title,
                classes=" ".join(classes),
                manual=hop.manual_touch,
                error=error,
            )
        )
    bars = {bar.index: bar for bar in chart.bars}
    for gap in timeline.gaps:
        a, b = bars.get(gap.from_hop), bars.get(gap.to_hop)
        if a is None or b is None:
            continue
        x1, x2 = a.x + a.width, b.x
        y1, y2 = a.y + BAR_HEIGHT / 2, b.y + BAR_HEIGHT / 2
        chart.gaps.append(
            GanttGap(
                x1=x1,
                y1=y1,
                x2=max(x2, x1),
                y2=y2,
                label=fmt_duration(gap.duration_ns / 1e9) if x2 - x1 > 46 else "",
                label_x=round((x1 + x2) / 2, 1),
                label_y=round(min(y1, y2) - 3 if y1 == y2 else (y1 + y2) / 2 - 3, 1),
                critical=gap.from_hop in critical_gaps,
            )
        )
    chart.ticks = _ticks(start, end, scale, x0)
    # every SLA gets its label, right-aligned at its line; a label that would overlap one already
    # placed goes to the next row down (the chart grows by a row per extra row of labels)
    row_ends: list[float] = []  # per label row: the left edge of the leftmost label placed so far
    for mark in sorted(marks, key=lambda m: m.due, reverse=True):
        due = _seconds(mark.due)
        if start <= due <= end:
            x = x_of(due)
            text = mark.label or mark.name
            width = SLA_LABEL_CHAR_PX * len(text) + 6
            left = max(x - 2 - width, 0.0)
            row = next((i for i, edge in enumerate(row_ends) if x - 2 <= edge), len(row_ends))
            if row == len(row_ends):
                row_ends.append(left)
            else:
                row_ends[row] = left
            chart.marks.append(
                GanttMark(
                    x=x,
                    label=text,
                    title=f"{text if mark.label else 'SLA ' + text} due {as_utc(mark.due):%Y-%m-%d %H:%M} UTC"
                    + (f" ({mark.state})" if mark.state else ""),
                    state=mark.state,
                    label_y=plot_bottom + 13 + SLA_LABEL_ROW * row,
                )
            )
    chart.marks.sort(key=lambda m: m.x)
    chart.height = int(plot_bottom + 18 + SLA_LABEL_ROW * max(len(row_ends) - 1, 0))
    if now_s is not None:
        chart.now_x = x_of(now_s)
    return chart


@dataclass
class TrendChart:
    width: int
    height: int
    points: str
    previous_points: str
    ticks: list[tuple[float, str]]
    y_labels: list[tuple[float, str]]
    dots: list[tuple[float, float, str]]


def trend(
    values: list[tuple[datetime | str, float | None]],
    *,
    previous: list[float | None] | None = None,
    width: int = 260,
    height: int = 70,
    formatter: str = "num",
) -> TrendChart:
    """A small line chart (sparkline with first/last labels) of ``values``; ``previous`` dashed."""
    pad_l, pad_r, pad_t, pad_b = 4, 4, 6, 16
    nums = [v for _, v in values if v is not None] + [v for v in (previous or []) if v is not None]
    low, high = (min(nums), max(nums)) if nums else (0.0, 1.0)
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    n = max(len(values), 2)
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b

    def xy(i: int, v: float) -> tuple[float, float]:
        return round(pad_l + plot_w * i / (n - 1), 1), round(
            pad_t + plot_h * (1 - (v - low) / (high - low)), 1
        )

    pts = [xy(i, v) for i, (_, v) in enumerate(values) if v is not None]
    prev = [xy(i, v) for i, v in enumerate(previous or []) if v is not None]
    dots = [
        (*xy(i, v), f"{_label(t)}: {_fmt(v, formatter)}") for i, (t, v) in enumerate(values) if v is not None
    ]
    ticks: list[tuple[float, str]] = []
    if values:
        ticks.append((pad_l, _label(values[0][0])))
        if len(values) > 1:
            ticks.append((width - pad_r, _label(values[-1][0])))
    return TrendChart(
        width=width,
        height=height,
        points=" ".join(f"{x},{y}" for x, y in pts),
        previous_points=" ".join(f"{x},{y}" for x, y in prev),
        ticks=ticks,
        y_labels=[(pad_t + 8, _fmt(high, formatter)), (pad_t + plot_h, _fmt(low, formatter))],
        dots=dots,
    )


def _label(value: datetime | str) -> str:
    if isinstance(value, datetime):
        return value.strftime("%m-%d")
    return str(value)[5:10] if len(str(value)) >= 10 else str(value)


def _fmt(value: float, formatter: str) -> str:
    if formatter == "pct":
        return f"{value * 100:.1f}%"
    if formatter == "dur":
        return fmt_duration(value)
    return f"{value:,.1f}" if not float(value).is_integer() else f"{int(value):,}"


@dataclass
class Bar:
    label: str
    value: float
    y: float
    width: float
    text: str
    href: str


def bars(
    items: list[tuple[str, float, str]], *, width: int = 420, row: int = 22, formatter: str = "num"
) -> list[Bar]:
    """Horizontal bars: (label, value, href) -> geometry scaled to the largest value."""
    top = max((v for _, v, _ in items), default=0.0) or 1.0
    return [
        Bar(
            label=label,
            value=v,
            y=i * row,
            width=round(max(1.0, (width - 200) * v / top), 1),
            text=_fmt(v, formatter),
            href=href,
        )
        for i, (label, v, href) in enumerate(items)
    ]


KIND_LAYER = {
    "ecommerce": 0,
    "edi": 0,
    "middleware": 1,
    "erp": 2,
    "wms": 3,
    "tms": 4,
    "carrier": 5,
    "finance": 6,
}


@dataclass
class MapNode:
    name: str
    kind: str
    x: float
    y: float


@dataclass
class MapEdge:
    path: str
    width: float
    label: str
    label_x: float
    label_y: float
    title: str


@dataclass
class HandoffMap:
    width: int
    height: int
    nodes: list[MapNode]
    edges: list[MapEdge]
    node_width: int = 120
    node_height: int = 30


def handoff_map(kinds: dict[str, str], edges: list[tuple[str, str, int, float]]) -> HandoffMap:
    """Systems in columns by kind (channels -> middleware -> ERP -> WMS -> carriers -> finance) and
    one curve per handoff, as wide as its volume, labelled with the median wait."""
    names = sorted(
        {n for e in edges for n in e[:2]} | set(kinds), key=lambda n: (KIND_LAYER.get(kinds.get(n, ""), 7), n)
    )
    layers: dict[int, list[str]] = {}
    for name in names:
        layers.setdefault(KIND_LAYER.get(kinds.get(name, ""), 7), []).append(name)
    columns = sorted(layers)
    col_of = {layer: i for i, layer in enumerate(columns)}
    gap_x, gap_y, node_w, node_h = 200, 70, 120, 30
    nodes: dict[str, MapNode] = {}
    for layer, members in layers.items():
        for row, name in enumerate(members):
            nodes[name] = MapNode(
                name=name, kind=kinds.get(name, ""), x=20 + col_of[layer] * gap_x, y=20 + row * gap_y
            )
    top = max((e[2] for e in edges), default=1) or 1
    drawn = []
    for source, target, volume, median_wait in edges:
        a, b = nodes[source], nodes[target]
        x1, y1 = a.x + node_w, a.y + node_h / 2
        x2, y2 = b.x, b.y + node_h / 2
        if x2 <= x1:  # back or sideways: loop under the nodes
            x1, x2 = a.x + node_w / 2, b.x + node_w / 2
            y1, y2 = a.y + node_h, b.y + node_h
            depth = max(y1, y2) + 24
            path = f"M{x1},{y1} C{x1},{depth} {x2},{depth} {x2},{y2}"
            lx, ly = (x1 + x2) / 2, depth - 4
        else:
            mid = (x1 + x2) / 2
            path = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
            lx, ly = mid, (y1 + y2) / 2 - 3
        drawn.append(
            MapEdge(
                path=path,
                width=round(1 + 7 * math.sqrt(volume / top), 1),
                label=fmt_duration(median_wait),
                label_x=round(lx, 1),
                label_y=round(ly, 1),
                title=f"{source} -> {target}: {volume:,} handoffs, median wait {fmt_duration(median_wait)}",
            )
        )
    width = 40 + max(1, len(columns)) * gap_x
    height = 60 + max((len(m) for m in layers.values()), default=1) * gap_y
    return HandoffMap(width=width, height=height, nodes=list(nodes.values()), edges=drawn)

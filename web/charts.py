"""SVG charts computed on the server: the order Gantt, trend lines and bars.

Functions here turn data into plain geometry (numbers and strings); the templates draw it, so
every text that came from a span goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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
    layer: int = 0
    label: str = ""


@dataclass
class MapEdge:
    path: str
    width: float
    label: str
    label_x: float
    label_y: float
    title: str
    back: bool = False  # against the flow (a return or a loop between systems of one layer)
    source: str = ""
    target: str = ""


@dataclass
class HandoffMap:
    width: int
    height: int
    nodes: list[MapNode]
    edges: list[MapEdge]
    node_width: int = 150
    node_height: int = 34


MAP_GAP_X = 230
MAP_GAP_Y = 58
MAP_NODE_W = 150
MAP_NODE_H = 34
MAP_LABEL_CHARS = 20
_LABEL_CHAR_W = 6.0
_LABEL_H = 12.0


def _layers(
    names: list[str], kinds: dict[str, str], edges: list[tuple[str, str, int, float]]
) -> dict[str, int]:
    """A layer per system: its kind's column (channels, middleware, ERP, WMS, TMS, carriers, finance),
    split where systems of one kind hand orders to each other (the receiver one layer later; cycles
    among them broken by a depth-first search). Handoffs against that order are drawn as returns."""
    ranks = sorted({KIND_LAYER.get(kinds.get(n, ""), 7) for n in names})
    base = {n: ranks.index(KIND_LAYER.get(kinds.get(n, ""), 7)) for n in names}
    inner: dict[str, list[str]] = {n: [] for n in names}
    for source, target, _v, _w in edges:
        if base[source] == base[target] and source != target:
            inner[source].append(target)
    sub = {n: 0 for n in names}
    state: dict[str, int] = {}

    def depth(node: str) -> int:  # longest chain of same-kind handoffs ending at node (iterative DFS)
        return sub[node]

    order = sorted(names)
    forward: dict[str, list[str]] = {n: [] for n in names}
    for root in order:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(sorted(inner[root])))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                continue
            if state.get(child) == 1:
                continue  # closes a cycle: not a layering constraint
            forward[node].append(child)
            if child not in state:
                state[child] = 1
                stack.append((child, iter(sorted(inner[child]))))
    indegree = {n: 0 for n in names}
    for n in names:
        for child in forward[n]:
            indegree[child] += 1
    ready = [n for n in order if indegree[n] == 0]
    while ready:
        node = ready.pop(0)
        for child in forward[node]:
            sub[child] = max(sub[child], depth(node) + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    columns = sorted({(base[n], sub[n]) for n in names})
    return {n: columns.index((base[n], sub[n])) for n in names}


def _crossings_of(rows: dict[int, list[str]], links: list[tuple[str, str]], layer: dict[str, int]) -> int:
    position = {n: i for members in rows.values() for i, n in enumerate(members)}
    count = 0
    by_pair: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for source, target in links:
        by_pair.setdefault((layer[source], layer[target]), []).append((position[source], position[target]))
    for pairs in by_pair.values():
        for i, (a1, a2) in enumerate(pairs):
            for b1, b2 in pairs[i + 1 :]:
                if (a1 - b1) * (a2 - b2) < 0:
                    count += 1
    return count


def _order_within_layers(
    layer: dict[str, int], kinds: dict[str, str], edges: list[tuple[str, str, int, float]]
) -> dict[int, list[str]]:
    """Rows within each layer by the barycentre of their neighbours (sweeps down and up, the
    order with the fewest crossings kept), which untangles what a name order leaves crossed."""
    rows: dict[int, list[str]] = {}
    for name in sorted(layer):
        rows.setdefault(layer[name], []).append(name)
    preds: dict[str, list[str]] = {n: [] for n in layer}
    succs: dict[str, list[str]] = {n: [] for n in layer}
    links = []
    for source, target, _v, _w in edges:
        if layer[source] < layer[target]:
            preds[target].append(source)
            succs[source].append(target)
            links.append((source, target))
    columns = sorted(rows)
    best = {c: list(m) for c, m in rows.items()}
    fewest = _crossings_of(best, links, layer)
    for sweep in range(12):
        down = sweep % 2 == 0
        sequence = columns[1:] if down else list(reversed(columns[:-1]))
        for col in sequence:
            position = {n: i for c in columns for i, n in enumerate(rows[c])}
            current = rows[col]
            centres = {}
            for i, name in enumerate(current):
                neighbours = preds[name] if down else succs[name]
                centres[name] = (
                    sum(position[n] for n in neighbours) / len(neighbours) if neighbours else float(i)
                )
            rows[col] = sorted(current, key=lambda n: (centres[n], current.index(n)))
        crossings = _crossings_of(rows, links, layer)
        if crossings < fewest:
            best, fewest = {c: list(m) for c, m in rows.items()}, crossings
    return best


def _overlaps(
    box: tuple[float, float, float, float], placed: list[tuple[float, float, float, float]]
) -> bool:
    x1, y1, x2, y2 = box
    return any(x1 < b[2] and b[0] < x2 and y1 < b[3] and b[1] < y2 for b in placed)


def handoff_map(kinds: dict[str, str], edges: list[tuple[str, str, int, float]]) -> HandoffMap:
    """The handoffs as a directed, layered graph: each system one layer after the systems that hand
    it orders (channels left, finance right), rows ordered to cut crossings, one arrow per handoff
    as wide as its volume, labelled with the median wait where the label has room (every edge
    keeps a tooltip; the table below lists them all)."""
    names = sorted({n for e in edges for n in e[:2]} | set(kinds))
    layer = _layers(names, kinds, edges)
    rows = _order_within_layers(layer, kinds, edges)
    tallest = max((len(r) for r in rows.values()), default=1)
    nodes: dict[str, MapNode] = {}
    for col, members in rows.items():
        offset = (tallest - len(members)) * MAP_GAP_Y / 2
        for row, name in enumerate(members):
            label = name if len(name) <= MAP_LABEL_CHARS else name[: MAP_LABEL_CHARS - 1] + "…"
            nodes[name] = MapNode(
                name=name,
                kind=kinds.get(name, ""),
                x=20 + col * MAP_GAP_X,
                y=round(20 + offset + row * MAP_GAP_Y, 1),
                layer=col,
                label=label,
            )
    placed = [(n.x, n.y, n.x + MAP_NODE_W, n.y + MAP_NODE_H) for n in nodes.values()]
    top = max((e[2] for e in edges), default=1) or 1
    bottom = 20.0 + tallest * MAP_GAP_Y
    drawn = []
    for source, target, volume, median_wait in sorted(edges, key=lambda e: -e[2]):
        a, b = nodes[source], nodes[target]
        back = b.layer <= a.layer
        if not back:
            x1, y1 = a.x + MAP_NODE_W, a.y + MAP_NODE_H / 2
            x2, y2 = b.x - 6, b.y + MAP_NODE_H / 2
            bend = max(40.0, (x2 - x1) / 2)
            path = f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
            candidates = [(x2 - 48, y2 + (y1 - y2) * 0.2 - 4), ((x1 + x2) / 2, (y1 + y2) / 2 - 4)]
        else:  # against the flow: leave and enter from below, under the nodes
            x1, y1 = a.x + MAP_NODE_W * 0.35, a.y + MAP_NODE_H
            x2, y2 = b.x + MAP_NODE_W * 0.65, b.y + MAP_NODE_H + 6
            depth = max(y1, y2) + 26
            bottom = max(bottom, depth + 10)
            path = f"M{x1},{y1} C{x1},{depth} {x2},{depth} {x2},{y2}"
            candidates = [((x1 + x2) / 2, depth - 4)]
        label = fmt_duration(median_wait)
        lx = ly = 0.0
        shown = ""
        half = len(label) * _LABEL_CHAR_W / 2
        for cx, cy in candidates:
            for dy in (0.0, -_LABEL_H, _LABEL_H, -2 * _LABEL_H, 2 * _LABEL_H):
                box = (cx - half - 1, cy + dy - _LABEL_H + 1, cx + half + 1, cy + dy + 3)
                if not _overlaps(box, placed):
                    placed.append(box)
                    lx, ly, shown = cx, cy + dy, label
                    break
            if shown:
                break
        drawn.append(
            MapEdge(
                path=path,
                width=round(1 + 6 * math.sqrt(volume / top), 1),
                label=shown,
                label_x=round(lx, 1),
                label_y=round(ly, 1),
                title=f"{source} -> {target}: {volume:,} handoffs, median wait {fmt_duration(median_wait)}",
                back=back,
                source=source,
                target=target,
            )
        )
    columns = max((n.layer for n in nodes.values()), default=0) + 1
    width = 40 + (columns - 1) * MAP_GAP_X + MAP_NODE_W
    return HandoffMap(width=width, height=int(bottom + 20), nodes=list(nodes.values()), edges=drawn)


# -- an alert's history ---------------------------------------------------------------------------

HISTORY_WIDTH = 900
HISTORY_LEFT = 40.0
HISTORY_BAND_Y = 20
HISTORY_BAND_H = 26
HISTORY_PLOT_TOP = 70
HISTORY_PLOT_H = 120


@dataclass
class StateBand:
    x: float
    width: float
    state: str
    label: str  # drawn in the band when it is wide enough ("" otherwise; the title always says)
    title: str


@dataclass
class ValuePoint:
    x: float
    y: float
    title: str


@dataclass
class HistoryTick:
    label: str
    label_x: float
    label_y: float
    title: str


@dataclass
class AlertHistoryChart:
    width: int
    height: int
    bands: list[StateBand]
    points: list[ValuePoint]
    line: str  # polyline points of the value, step-wise
    ticks: list[HistoryTick]
    value_max: str
    value_min: str
    band_y: int = HISTORY_BAND_Y
    band_h: int = HISTORY_BAND_H
    plot_top: int = HISTORY_PLOT_TOP
    plot_bottom: int = HISTORY_PLOT_TOP + HISTORY_PLOT_H
    left: float = HISTORY_LEFT


def alert_history_chart(
    changes: list[tuple[datetime, str, float]],
    now: datetime,
    value_text: Callable[[float], str],
    width: int = HISTORY_WIDTH,
) -> AlertHistoryChart:
    """An alert's states over time as labelled bands (pending, firing, resolved...) above a step
    line of its value at each change. ``changes`` are (at, state entered, value), any order."""
    ordered = sorted(((as_utc(at), st, v) for at, st, v in changes), key=lambda c: c[0])
    end = max(as_utc(now), ordered[-1][0]) if ordered else as_utc(now)
    start = ordered[0][0] if ordered else end
    span = max((end - start).total_seconds(), 60.0)
    left, right = HISTORY_LEFT, width - 70.0

    def x_of(moment: datetime) -> float:
        return round(left + (moment - start).total_seconds() / span * (right - left), 1)

    bands = []
    for i, (at, st, _value) in enumerate(ordered):
        until = ordered[i + 1][0] if i + 1 < len(ordered) else end
        x1, x2 = x_of(at), x_of(until)
        w = max(x2 - x1, 2.0)
        title = f"{st} from {at:%Y-%m-%d %H:%M} UTC for {fmt_duration((until - at).total_seconds())}"
        bands.append(
            StateBand(x=x1, width=round(w, 1), state=st, label=st if w >= 8 * len(st) else "", title=title)
        )
    values = [v for _, _, v in ordered if not math.isnan(v)]
    top, bottom = (max(values), min(values)) if values else (1.0, 0.0)
    if top == bottom:
        top, bottom = top + (abs(top) or 1.0) * 0.5, min(0.0, bottom)
    plot_top, plot_h = HISTORY_PLOT_TOP, HISTORY_PLOT_H

    def y_of(value: float) -> float:
        return round(plot_top + (top - value) / (top - bottom) * plot_h, 1)

    points: list[ValuePoint] = []
    line: list[str] = []
    for at, _st, value in ordered:
        if math.isnan(value):
            continue
        x, y = x_of(at), y_of(value)
        if line:
            line.append(f"{x},{line[-1].split(',')[1]}")
        line.append(f"{x},{y}")
        points.append(ValuePoint(x=x, y=y, title=f"{at:%Y-%m-%d %H:%M} UTC: {value_text(value)}"))
    if line:
        line.append(f"{x_of(end)},{line[-1].split(',')[1]}")
    ticks = []
    for k in range(5):
        moment = start + (end - start) * (k / 4)
        ticks.append(
            HistoryTick(
                label=f"{moment:%m-%d %H:%M}",
                label_x=x_of(moment),
                label_y=plot_top + plot_h + 16,
                title=f"{moment:%Y-%m-%d %H:%M:%S} UTC",
            )
        )
    return AlertHistoryChart(
        width=width,
        height=plot_top + plot_h + 26,
        bands=bands,
        points=points,
        line=" ".join(line),
        ticks=ticks,
        value_max=value_text(top),
        value_min=value_text(bottom),
    )

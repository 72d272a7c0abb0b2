"""The process map as a layered SVG drawn on the server: activities in columns by stage (the
canonical stage order), systems in rows, one curve per directly-follows edge, as wide as its volume.
Readable at 30 activities: node labels are the system (the column header names the stage), edge
labels sit at the middle of each curve, backward edges and loops run below and above the nodes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlencode

from kpis.process.mining import ProcessMap
from web.formatting import fmt_duration

STAGES = ("capture", "acknowledge", "validation", "credit", "pricing", "allocation", "pick", "pack",
          "ship", "deliver", "invoice")  # fmt: skip
NODE_W, NODE_H, GAP_X, GAP_Y, TOP, LEFT = 150, 36, 210, 64, 60, 20


@dataclass
class Node:
    name: str
    stage: str
    system: str
    x: float
    y: float
    events: int
    label: str
    href: str


@dataclass
class Line:
    path: str
    width: float
    label: str
    label_x: float
    label_y: float
    title: str
    href: str
    heat: int  # 0 (short wait) .. 4 (longest wait), the performance view's colour


@dataclass
class Column:
    x: float
    stage: str


@dataclass
class Chart:
    width: int
    height: int
    nodes: list[Node]
    edges: list[Line]
    columns: list[Column]
    node_width: int = NODE_W
    node_height: int = NODE_H


def _rank(stage: str) -> int:
    return STAGES.index(stage) if stage in STAGES else len(STAGES)


def process_chart(pm: ProcessMap, view: str, link: dict[str, str]) -> Chart:
    """Lay out ``pm``; ``view`` is ``frequency`` (labels: orders) or ``performance`` (median wait);
    ``link`` holds the filter's query parameters, kept in the click-through links."""
    stages = sorted({a.stage for a in pm.activities}, key=lambda s: (_rank(s), s))
    col = {s: i for i, s in enumerate(stages)}
    rows: dict[str, int] = {}
    nodes: dict[str, Node] = {}
    for act in sorted(pm.activities, key=lambda x: (col[x.stage], -x.events, x.system)):
        row = rows.get(act.stage, 0)
        rows[act.stage] = row + 1
        nodes[act.name] = Node(
            name=act.name,
            stage=act.stage,
            system=act.system,
            x=LEFT + col[act.stage] * GAP_X,
            y=TOP + row * GAP_Y,
            events=act.events,
            label=f"{act.system} · {act.orders:,}",
            href="/process?" + urlencode({**link, "activity": act.name}),
        )
    top = max((e.transitions for e in pm.edges), default=1) or 1
    waits = sorted(e.median_wait_s for e in pm.edges)
    depth = TOP + max(rows.values(), default=1) * GAP_Y
    lines = []
    for i, e in enumerate(pm.edges):
        a, b = nodes[e.source], nodes[e.target]
        if a is b:  # self-loop: an arc over the node
            x1, x2, y = a.x + NODE_W * 0.3, a.x + NODE_W * 0.7, a.y
            path = f"M{x1},{y} C{x1},{y - 34} {x2},{y - 34} {x2},{y}"
            lx, ly = a.x + NODE_W / 2, y - 26
        elif b.x > a.x:
            x1, y1, x2, y2 = a.x + NODE_W, a.y + NODE_H / 2, b.x, b.y + NODE_H / 2
            mid = (x1 + x2) / 2
            path = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
            lx, ly = mid, (y1 + y2) / 2 - 4
        else:  # backward or within a column: below every node, staggered so labels do not collide
            low = depth + 12 + (i % 4) * 14
            x1, y1, x2, y2 = a.x + NODE_W / 2, a.y + NODE_H, b.x + NODE_W / 2, b.y + NODE_H
            path = f"M{x1},{y1} C{x1},{low} {x2},{low} {x2},{y2}"
            lx, ly = (x1 + x2) / 2, low - 4
        rank = waits.index(e.median_wait_s) / max(len(waits) - 1, 1) if waits else 0.0
        label = f"{e.orders:,}" if view == "frequency" else fmt_duration(e.median_wait_s)
        lines.append(
            Line(
                path=path,
                width=round(1 + 7 * math.sqrt(e.transitions / top), 1),
                label=label,
                label_x=round(lx, 1),
                label_y=round(ly, 1),
                title=f"{e.source} → {e.target}: {e.orders:,} orders, {e.transitions:,} times, "
                f"median wait {fmt_duration(e.median_wait_s)}, p90 {fmt_duration(e.p90_wait_s)}",
                href="/process?" + urlencode({**link, "source": e.source, "target": e.target}),
                heat=min(4, int(rank * 5)),
            )
        )
    width = LEFT * 2 + max(1, len(stages)) * GAP_X
    height = int(depth + 80)
    columns = [Column(x=LEFT + i * GAP_X, stage=s) for i, s in enumerate(stages)]
    return Chart(width=width, height=height, nodes=list(nodes.values()), edges=lines, columns=columns)

"""The layered process map stays legible at 30 activities: no two activities overlap, every edge
starts and ends at its activities, and the drawing holds every label."""

from __future__ import annotations

from kpis.process.mining import Activity, Edge, ProcessMap
from web.process_chart import NODE_H, NODE_W, process_chart

STAGES = [
    "capture",
    "validation",
    "credit",
    "pricing",
    "allocation",
    "pick",
    "pack",
    "ship",
    "deliver",
    "invoice",
]


def thirty() -> ProcessMap:
    names = [f"{stage} @ sys-{i}" for stage in STAGES for i in range(3)]
    activities = [
        Activity(
            name=n, stage=n.split(" @ ")[0], system=n.split(" @ ")[1], events=10, orders=10, starts=0, ends=0
        )
        for n in names
    ]
    edges = [
        Edge(source=a, target=b, transitions=5 + i, orders=5, median_wait_s=60.0 * i, p90_wait_s=90.0 * i)
        for i, (a, b) in enumerate(zip(names, names[3:], strict=False))
    ]
    edges.append(
        Edge(source=names[6], target=names[6], transitions=2, orders=2, median_wait_s=5, p90_wait_s=9)
    )
    edges.append(
        Edge(source=names[20], target=names[4], transitions=1, orders=1, median_wait_s=7, p90_wait_s=7)
    )
    return ProcessMap(orders=10, activities=activities, edges=edges)


def test_thirty_activities_do_not_overlap_and_fit_the_drawing() -> None:
    chart = process_chart(thirty(), "performance", {"start": "2026-01-01"})
    assert len(chart.nodes) == 30 and len(chart.columns) == 10
    for i, a in enumerate(chart.nodes):
        assert a.x >= 0 and a.x + NODE_W <= chart.width and a.y >= 0 and a.y + NODE_H <= chart.height
        for b in chart.nodes[i + 1 :]:
            assert a.x + NODE_W <= b.x or b.x + NODE_W <= a.x or a.y + NODE_H <= b.y or b.y + NODE_H <= a.y
    for e in chart.edges:
        assert e.label_x >= 0 and e.label_y >= 0 and e.label_x <= chart.width and e.label_y <= chart.height
    assert {e.heat for e in chart.edges} >= {0, 4}
    assert all("source=" in e.href and "target=" in e.href for e in chart.edges)


def test_hostile_activity_names_stay_data() -> None:
    hostile = ProcessMap(
        orders=1,
        activities=[
            Activity(
                name='ship @ <x&"y">', stage="ship", system='<x&"y">', events=1, orders=1, starts=1, ends=1
            )
        ],
        edges=[],
    )
    chart = process_chart(hostile, "frequency", {})
    assert chart.nodes[0].href == "/process?activity=ship+%40+%3Cx%26%22y%22%3E"

"""The systems handoff map's layout: directed, layered, legible at 20 systems (no node or label
overlaps, every forward handoff drawn left to right, rows ordered to cut crossings)."""

from __future__ import annotations

import itertools
import random

from web.charts import MAP_NODE_H, MAP_NODE_W, handoff_map

KINDS = {
    **{f"shop-{i}": "ecommerce" for i in range(3)},
    **{f"edi-van-{i}": "edi" for i in range(2)},
    **{f"mulesoft-{i}": "middleware" for i in range(2)},
    **{f"erp-{r}": "erp" for r in ("east", "west", "eu")},
    **{f"wms-dc-{i}": "wms" for i in range(5)},
    "tms-1": "tms",
    **{f"carrier-{c}": "carrier" for c in ("ups", "fedex", "dhl")},
    "billing": "finance",
}


def _edges(seed: int = 3) -> list[tuple[str, str, int, float]]:
    rnd = random.Random(seed)
    by_kind: dict[str, list[str]] = {}
    for name, kind in KINDS.items():
        by_kind.setdefault(kind, []).append(name)
    flow = [("ecommerce", "middleware"), ("edi", "middleware"), ("middleware", "erp"), ("erp", "wms"),
            ("wms", "tms"), ("tms", "carrier"), ("wms", "carrier"), ("carrier", "finance"), ("erp", "finance")]  # fmt: skip
    edges = []
    for a, b in flow:
        for s in by_kind[a]:
            for t in rnd.sample(by_kind[b], min(2, len(by_kind[b]))):
                edges.append((s, t, rnd.randint(5, 500), rnd.uniform(30, 90_000)))
    edges.append(("erp-east", "erp-west", 40, 600.0))  # an ERP hands orders to another ERP
    edges.append(("wms-dc-1", "erp-east", 12, 3600.0))  # a return against the flow
    return edges


def _crossings(graph_edges: list[tuple[float, float, float, float]]) -> int:
    count = 0
    for (sa, ta, ya1, ya2), (sb, tb, yb1, yb2) in itertools.combinations(graph_edges, 2):
        if (sa, ta) == (sb, tb) and (ya1 - yb1) * (ya2 - yb2) < 0:
            count += 1
    return count


def test_twenty_systems_are_laid_out_in_layers_without_overlaps() -> None:
    edges = _edges()
    graph = handoff_map(KINDS, edges)
    assert len(graph.nodes) == len(KINDS) == 20
    nodes = {n.name: n for n in graph.nodes}
    for a, b in itertools.combinations(graph.nodes, 2):
        apart = (
            a.x + MAP_NODE_W <= b.x
            or b.x + MAP_NODE_W <= a.x
            or a.y + MAP_NODE_H <= b.y
            or b.y + MAP_NODE_H <= a.y
        )
        assert apart, (a.name, b.name)
    # directed: every handoff with the flow goes to a later layer, drawn left to right
    forward = [e for e in graph.edges if not e.back]
    assert len(forward) >= len(edges) - 1
    for e in forward:
        assert nodes[e.target].layer > nodes[e.source].layer, (e.source, e.target)
    [back] = [e for e in graph.edges if e.back]
    assert (back.source, back.target) == ("wms-dc-1", "erp-east")
    # the ERP fed by another ERP sits one layer later, and channels come first, finance last
    assert nodes["erp-west"].layer == nodes["erp-east"].layer + 1
    assert {nodes[n].layer for n in ("shop-0", "edi-van-0")} == {0}
    assert nodes["billing"].layer == max(n.layer for n in graph.nodes)
    # labels do not overlap each other or the nodes
    boxes = [
        (e.label_x - len(e.label) * 3, e.label_y - 10, e.label_x + len(e.label) * 3, e.label_y + 2)
        for e in graph.edges
        if e.label
    ]
    boxes += [(n.x, n.y, n.x + MAP_NODE_W, n.y + MAP_NODE_H) for n in graph.nodes]
    for a, b in itertools.combinations(boxes, 2):
        assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    assert sum(1 for e in graph.edges if e.label) >= len(edges) // 2
    # every node stays inside the drawing, which stays a reasonable size
    assert all(n.x + MAP_NODE_W <= graph.width and n.y + MAP_NODE_H <= graph.height for n in graph.nodes)
    assert graph.width <= 2200 and graph.height <= 800


def test_row_order_cuts_crossings_compared_with_name_order() -> None:
    graph = handoff_map(KINDS, _edges())
    nodes = {n.name: n for n in graph.nodes}
    by_layer: dict[int, list[str]] = {}
    for n in graph.nodes:
        by_layer.setdefault(n.layer, []).append(n.name)
    named = {name: i for members in by_layer.values() for i, name in enumerate(sorted(members))}
    laid = [
        (nodes[e.source].layer, nodes[e.target].layer, nodes[e.source].y, nodes[e.target].y)
        for e in graph.edges
        if not e.back
    ]
    naive = [
        (nodes[e.source].layer, nodes[e.target].layer, named[e.source], named[e.target])
        for e in graph.edges
        if not e.back
    ]
    assert _crossings(laid) < _crossings(naive)
    # three ERPs each handing to the WMS whose name sorts opposite: crossed in name order, not here
    kinds = {"erp-a": "erp", "erp-b": "erp", "erp-c": "erp", "wms-x": "wms", "wms-y": "wms", "wms-z": "wms"}
    untangled = handoff_map(
        kinds, [("erp-a", "wms-z", 5, 1.0), ("erp-b", "wms-y", 5, 1.0), ("erp-c", "wms-x", 5, 1.0)]
    )
    ys = {n.name: n.y for n in untangled.nodes}
    segments = [(0, 1, ys[s], ys[t]) for s, t in (("erp-a", "wms-z"), ("erp-b", "wms-y"), ("erp-c", "wms-x"))]
    assert _crossings(segments) == 0


def test_hostile_and_degenerate_inputs() -> None:
    assert handoff_map({}, []).nodes == []
    cycle = handoff_map({"a": "erp", "b": "erp"}, [("a", "b", 3, 1.0), ("b", "a", 2, 1.0)])
    assert sorted(e.back for e in cycle.edges) == [False, True]
    long_name = "<script>" + "x" * 300
    graph = handoff_map({long_name: "wms"}, [("erp-1", long_name, 1, 5.0)])
    [node] = [n for n in graph.nodes if n.name == long_name]
    assert len(node.label) == 20 and node.label.endswith("…")

"""The attribution step on its own: what the write-time view does, what a run adds, that runs are
idempotent, and that hostile span graphs (a span its own parent, parent cycles, links to nowhere,
array-valued keys) end and attribute nothing they should not."""

from __future__ import annotations

from datetime import timedelta

from support.spans import SpanRow, at, insert, span_id, trace_id

from storage import Store
from tracing.attribution import attribute_arrivals, attribute_window


def _rows(store: Store) -> list[tuple[str, str, str]]:
    return sorted(
        (r["OrderId"], r["SpanName"], r["Via"])
        for r in store.rows("SELECT OrderId, SpanName, Via FROM order_spans FINAL")
    )


def span(name: str, trace: str, **attributes: str) -> SpanRow:
    return SpanRow(
        trace=trace,
        key=name,
        name=name,
        start=at(5, 10),
        duration=timedelta(seconds=1),
        service="svc",
        attributes={"order.stage": "pick", **attributes},
    )


def test_a_key_whose_owner_is_stored_is_attributed_as_the_span_is_written(store: Store) -> None:
    insert(store, [span("ship", "t1", **{"order.id": "SO-1", "shipment.tracking_number": '["1Z1","1Z2"]'})])
    # no attribution run after this write: the view attributes it (a list against a list, too)
    insert(
        store,
        [
            span("scan", "t2", **{"shipment.tracking_number": "1Z2"}),
            span("scan-list", "t3", **{"shipment.tracking_number": '["1Z9","1Z1"]'}),
            span("stranger", "t4", **{"shipment.tracking_number": "1Z7"}),
        ],
        attribute=False,
    )
    assert _rows(store) == [
        ("SO-1", "scan", "key:shipment.tracking_number"),
        ("SO-1", "scan-list", "key:shipment.tracking_number"),
        ("SO-1", "ship", "order"),
    ]


def test_runs_are_idempotent_and_move_the_watermark(store: Store) -> None:
    insert(store, [span("scan", "t2", **{"shipment.tracking_number": "1Z5"})], attribute=False)
    insert(
        store,
        [span("ship", "t1", **{"order.id": "SO-5", "shipment.tracking_number": "1Z5"})],
        attribute=False,
    )
    first = attribute_arrivals(store)  # the late key: the scan came first
    assert first.attributed == 1
    again = attribute_window(store, first.since, store.now())  # the same window once more
    assert again.attributed == 0
    assert attribute_arrivals(store).attributed == 0
    assert store.scalar("SELECT count() FROM order_spans WHERE SpanName = 'scan'") == 1


def test_hostile_span_graphs_end_and_attribute_only_what_belongs(store: Store) -> None:
    named = span("hop", "t9", **{"order.id": "SO-9"})
    own_parent = span("loop", "t9")
    own_parent.parent = own_parent.span_id  # its own parent
    a, b = span("a", "t9"), span("b", "t9")
    a.parent, b.parent = b.span_id, a.span_id  # a cycle, out of reach of the order
    child = span("child", "t9")
    child.parent = named.span_id
    grandchild = span("grandchild", "t9")
    grandchild.parent = child.span_id
    dangling = span("dangling", "t10")
    dangling.links = [(trace_id("nowhere"), span_id("nowhere"))]
    # children first, as an SDK exports them; each its own write
    for row in (grandchild, child, own_parent, a, b, dangling):
        insert(store, [row], attribute=False)
        attribute_arrivals(store)
    insert(store, [named])
    assert _rows(store) == [
        ("SO-9", "child", "parent"),
        ("SO-9", "grandchild", "parent"),
        ("SO-9", "hop", "order"),
    ]


def test_a_span_naming_its_order_after_its_job_and_a_link_to_it_arrived_brings_both_to_the_order(
    store: Store,
) -> None:
    # a poller's job span and a span linking to the coming hop, each written (and attributed) before
    # the hop that names the order; the hop's own write then attributes the job (rule 7, its child
    # names the order) and the linking span (rule 5, late), and nothing else
    job = span("poll job", "t20")
    hop = span("pick", "t20", **{"order.id": "SO-20"})
    hop.parent = job.span_id
    linker = span("invoice run", "t21")
    linker.links = [(hop.trace_id, hop.span_id)]
    stranger = span("other job", "t20")
    for row in (job, linker, stranger):
        insert(store, [row])
    assert _rows(store) == []
    insert(store, [hop])
    assert _rows(store) == [
        ("SO-20", "invoice run", "linked_from"),
        ("SO-20", "pick", "order"),
        ("SO-20", "poll job", "child"),
    ]


def test_one_large_insert_of_scans_attributes_every_scan_to_its_own_order(store: Store) -> None:
    # a carrier feed flushes 20,000 scans in one insert, each carrying only the tracking number of one
    # of 20,000 shipped orders: every scan lands on its own order (and no other), as it is written
    orders = 20_000
    ships = [
        SpanRow(trace=f"o{i}", key=f"ship{i}", name="ship", start=at(5, 10), duration=timedelta(seconds=1),
                service="wms", attributes={"order.id": f"SO-{i}", "shipment.tracking_number": f"1Z{i:08d}"})
        for i in range(orders)
    ]  # fmt: skip
    insert(store, ships, attribute=False)
    scans = [
        SpanRow(trace=f"c{i}", key=f"scan{i}", name="scan", start=at(5, 12), duration=timedelta(seconds=1),
                service="carrier", attributes={"shipment.tracking_number": f"1Z{i:08d}"})
        for i in range(orders)
    ]  # fmt: skip
    insert(store, scans, attribute=False)
    scanned = store.rows(
        "SELECT OrderId, count() AS n, any(TraceId) AS trace FROM order_spans FINAL "
        "WHERE SpanName = 'scan' GROUP BY OrderId"
    )
    assert len(scanned) == orders
    assert all(r["n"] == 1 and r["trace"] == trace_id("c" + r["OrderId"][3:]) for r in scanned)

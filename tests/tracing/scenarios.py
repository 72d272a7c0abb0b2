"""Known-answer scenarios for the crosswalk and the timeline.

``edi_split_order``: EDI order SO-1001 (customer PO PO-4711) arrives in batch file B-77 with
SO-1002; middleware validates it (a new trace linked to the batch span); ERP east holds it for
credit (a person releases it) and allocates; the WMS picks, then ships it in two shipments (SH-1
now, SH-2 next day after a backorder); the carrier reports deliveries with only tracking numbers
(traces of their own); finance posts one consolidated invoice INV-9 for SO-1001 and SO-1003 with
no order id, only span links to each order's ERP span. Every trace is separate: only keys and links
join them.
"""

from __future__ import annotations

from datetime import timedelta

from support.spans import SpanRow, at, span_id

MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)

# the expected answer: (stage, system, start, end)
EXPECTED_HOPS = [
    ("capture", "edi-gateway", at(2, 8, 0), at(2, 8, 2)),
    ("validation", "middleware", at(2, 8, 10), at(2, 8, 11)),
    ("credit", "erp-east", at(2, 8, 30), at(2, 9, 30)),
    ("allocation", "erp-east", at(2, 9, 30), at(2, 9, 35)),
    ("pick", "wms-central", at(2, 10, 0), at(2, 10, 30)),
    ("ship", "wms-central", at(2, 11, 0), at(2, 11, 10)),
    ("ship", "wms-central", at(3, 9, 0), at(3, 9, 10)),
    ("deliver", "carrier-ups", at(3, 14, 0), at(3, 14, 1)),
    ("deliver", "carrier-ups", at(4, 15, 0), at(4, 15, 1)),
    ("invoice", "finance-cloud", at(4, 16, 0), at(4, 16, 5)),
]
# (from hop, to hop, minutes)
EXPECTED_GAPS = [
    (0, 1, 8),
    (1, 2, 19),
    (3, 4, 25),
    (4, 5, 30),
    (5, 6, 21 * 60 + 50),
    (6, 7, 4 * 60 + 50),
    (7, 8, 24 * 60 + 59),
    (8, 9, 59),
]
KEYS_OF_SO_1001 = {
    "SO-1001": "order.id",
    "PO-4711": "order.customer_po",
    "000000101": "edi.interchange_control_number",
    "0001": "edi.transaction_set_control_number",
    "SH-1": "shipment.id",
    "SH-2": "shipment.id",
    "1Z001": "shipment.tracking_number",
    "1Z002": "shipment.tracking_number",
    "INV-9": "invoice.id",
    "B-77": "order.batch.id",
}


def hop(trace: str, key: str, stage: str, system: str, kind: str, start, end, **attrs) -> SpanRow:  # type: ignore[no-untyped-def]
    return SpanRow(
        trace=trace,
        key=key,
        name=f"{kind}.{stage}",
        start=start,
        duration=end - start,
        service=system,
        attributes={"order.stage": stage, "system.instance": system, "system.kind": kind, **attrs},
        status="Ok",
    )


def edi_split_order() -> list[SpanRow]:
    batch = hop(
        "edi-batch-77",
        "batch",
        "capture",
        "edi-gateway",
        "edi",
        at(2, 8, 0),
        at(2, 8, 2),
        **{
            "order.batch.id": "B-77",
            "order.batch.order_ids": ["SO-1001", "SO-1002"],
            "order.batch.size": 2,
            "edi.interchange_control_number": "000000101",
            "edi.transaction_set": "850",
            "order.channel": "edi",
        },
    )
    # another order's span in the same batch trace must not leak into SO-1001
    other_in_batch = hop(
        "edi-batch-77",
        "batch-1002",
        "validation",
        "edi-gateway",
        "edi",
        at(2, 8, 1),
        at(2, 8, 3),
        **{"order.id": "SO-1002", "order.customer_po": "PO-5000"},
    )
    # the gateway's translation spans: no order id yet, only the PO and the envelope's numbers
    translations = [
        SpanRow(
            trace="edi-batch-77",
            key=f"translate-{po}",
            name="translate 850",
            start=at(2, 8, 0, 30),
            duration=10 * SEC,
            service="edi-gateway",
            attributes={
                "order.customer_po": po,
                "edi.interchange_control_number": "000000101",
                "edi.transaction_set_control_number": st,
            },
        )
        for po, st in (("PO-4711", "0001"), ("PO-5000", "0002"))
    ]
    validation = hop(
        "mw-1001",
        "validation",
        "validation",
        "middleware",
        "middleware",
        at(2, 8, 10),
        at(2, 8, 11),
        **{
            "order.id": "SO-1001",
            "order.customer_po": "PO-4711",
            "edi.transaction_set_control_number": "0001",
            "order.channel": "edi",
            "customer.id": "C-ACME",
        },
    )
    validation.links = [(batch.trace_id, batch.span_id)]
    mapping_child = SpanRow(
        trace="mw-1001",
        key="mapping",
        name="map 850 to canonical",
        start=at(2, 8, 10, 5),
        duration=20 * SEC,
        service="middleware",
        parent=validation.span_id,
    )
    credit = hop(
        "erp-1001",
        "credit",
        "credit",
        "erp-east",
        "erp",
        at(2, 8, 30),
        at(2, 9, 30),
        **{
            "order.id": "SO-1001",
            "order.manual_touch": True,
            "enduser.id": "jdoe",
            "order.status": "released",
        },
    )
    credit.events = [
        (
            at(2, 8, 31),
            "exception",
            {"order.exception.type": "credit_hold", "order.exception.outcome": "opened"},
        ),
        (
            at(2, 9, 29),
            "exception",
            {"order.exception.type": "credit_hold", "order.exception.outcome": "resolved"},
        ),
    ]
    allocation = hop(
        "erp-1001",
        "allocation",
        "allocation",
        "erp-east",
        "erp",
        at(2, 9, 30),
        at(2, 9, 35),
        **{"order.id": "SO-1001"},
    )
    pick = hop(
        "wms-1001",
        "pick",
        "pick",
        "wms-central",
        "wms",
        at(2, 10, 0),
        at(2, 10, 30),
        **{"order.id": "SO-1001"},
    )
    ship1 = hop(
        "wms-1001",
        "ship1",
        "ship",
        "wms-central",
        "wms",
        at(2, 11, 0),
        at(2, 11, 10),
        **{
            "order.id": "SO-1001",
            "shipment.id": "SH-1",
            "shipment.tracking_number": "1Z001",
            "shipment.carrier": "ups",
        },
    )
    ship2 = hop(
        "wms-1001-b",
        "ship2",
        "ship",
        "wms-central",
        "wms",
        at(3, 9, 0),
        at(3, 9, 10),
        **{
            "order.id": "SO-1001",
            "shipment.id": "SH-2",
            "shipment.tracking_number": ["1Z002"],
            "shipment.carrier": "ups",
        },
    )
    deliver1 = hop(
        "ups-1Z001",
        "deliver1",
        "deliver",
        "carrier-ups",
        "carrier",
        at(3, 14, 0),
        at(3, 14, 1),
        **{"shipment.tracking_number": "1Z001"},
    )
    deliver2 = hop(
        "ups-1Z002",
        "deliver2",
        "deliver",
        "carrier-ups",
        "carrier",
        at(4, 15, 0),
        at(4, 15, 1),
        **{"shipment.tracking_number": "1Z002"},
    )
    # SO-1003, invoiced together with SO-1001
    other_erp = hop(
        "erp-1003",
        "credit-1003",
        "credit",
        "erp-west",
        "erp",
        at(2, 12, 0),
        at(2, 12, 5),
        **{"order.id": "SO-1003"},
    )
    invoice = hop(
        "fin-inv-9",
        "invoice",
        "invoice",
        "finance-cloud",
        "finance",
        at(4, 16, 0),
        at(4, 16, 5),
        **{"invoice.id": "INV-9"},
    )
    invoice.links = [(allocation.trace_id, allocation.span_id), (other_erp.trace_id, other_erp.span_id)]
    return [
        batch,
        *translations,
        other_in_batch,
        validation,
        mapping_child,
        credit,
        allocation,
        pick,
        ship1,
        ship2,
        deliver1,
        deliver2,
        other_erp,
        invoice,
    ]


def linked_order() -> list[SpanRow]:
    """SO-2001: a nightly job span reached only by a link *from* the order, and a polling span in
    another trace reached only by its link *into* the order's trace; neither carries a key."""
    nightly = hop("nightly-job", "nightly", "pricing", "pricing-batch", "erp", at(10, 1, 0), at(10, 1, 30))
    entry = hop(
        "order-2001",
        "entry",
        "capture",
        "webshop",
        "ecommerce",
        at(10, 0, 0),
        at(10, 0, 5),
        **{"order.id": "SO-2001"},
    )
    entry.links = [(nightly.trace_id, nightly.span_id)]
    poller = hop("poller", "poll", "allocation", "erp-poller", "erp", at(10, 2, 0), at(10, 2, 10))
    poller.links = [(entry.trace_id, entry.span_id)]
    # an unrelated span in the nightly job's trace belongs to another order
    unrelated = hop(
        "nightly-job",
        "nightly-other",
        "pricing",
        "pricing-batch",
        "erp",
        at(10, 1, 0),
        at(10, 1, 20),
        **{"order.id": "SO-9999"},
    )
    return [entry, nightly, poller, unrelated]


def batch_of(size: int, batch_id: str = "B-500") -> list[SpanRow]:
    """One EDI file span listing ``size`` orders, plus one ERP span per order in its own trace."""
    orders = [f"SO-5{i:04d}" for i in range(size)]
    rows = [
        hop(
            f"file-{batch_id}",
            f"file-{batch_id}",
            "capture",
            "edi-gateway",
            "edi",
            at(20, 6, 0),
            at(20, 6, 3),
            **{"order.batch.id": batch_id, "order.batch.order_ids": orders, "order.batch.size": size},
        )
    ]
    for i, order in enumerate(orders):
        rows.append(
            hop(
                f"erp-{order}",
                f"erp-{order}",
                "validation",
                "erp-east",
                "erp",
                at(20, 7, 0, i % 60),
                at(20, 7, 1, i % 60),
                **{"order.id": order},
            )
        )
    return rows


__all__ = [
    "EXPECTED_GAPS",
    "EXPECTED_HOPS",
    "KEYS_OF_SO_1001",
    "batch_of",
    "edi_split_order",
    "linked_order",
    "span_id",
]


if __name__ == "__main__":
    # python tests/tracing/scenarios.py DATA_DIR: load the scenarios into the embedded store there
    # (for tests that run the tower command in a subprocess with its own data dir).
    import sys

    from support.spans import insert

    from storage import StorageSettings, open_store
    from storage.migrate import migrate
    from tracing.conventions import KEY_ROLES

    with open_store(StorageSettings(data_dir=sys.argv[1]), command="load scenarios") as target:
        migrate(target, KEY_ROLES)
        insert(target, edi_split_order() + linked_order())

"""Small order scenarios written straight into otel_traces (the exporter's row shape) for web tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from clock import ANCHOR
from support.spans import SpanRow, insert

from storage import Store


@dataclass
class Hop:
    stage: str
    system: str
    kind: str
    start: datetime
    minutes: float
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = "Ok"
    status_message: str = ""
    events: list[tuple[datetime, str, dict[str, str]]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)


def order_rows(order_id: str, hops: list[Hop], common: dict[str, Any] | None = None) -> list[SpanRow]:
    """One trace per order, one span per hop, the order id and ``common`` attributes on each."""
    return [
        SpanRow(
            trace=order_id,
            key=f"{order_id}:{i}",
            name=f"{hop.stage} {order_id}",
            start=hop.start,
            duration=timedelta(minutes=hop.minutes),
            service=hop.system,
            kind="Server",
            scope="tests.web",
            attributes={
                "order.id": order_id,
                "order.stage": hop.stage,
                "system.instance": hop.system,
                "system.kind": hop.kind,
                **(common or {}),
                **hop.attributes,
            },
            status=hop.status,
            status_message=hop.status_message,
            events=hop.events,
            links=hop.links,
        )
        for i, hop in enumerate(hops)
    ]


def insert_order(store: Store, order_id: str, hops: list[Hop], common: dict[str, Any] | None = None) -> None:
    insert(store, order_rows(order_id, hops, common))


# The web tests' app judges "now" at the anchor (``make_app`` passes ``clock=lambda: NOW``).
NOW = ANCHOR


def base_time() -> datetime:
    """Two days before the anchor, 08:00 UTC (a Monday): inside retention, before the app's "now"."""
    return (NOW - timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)


def standard_order(store: Store, order_id: str, *, start: datetime | None = None, **common: Any) -> None:
    """An ecommerce order captured, validated, credit-held by a person, picked, shipped, invoiced."""
    t0 = start or base_time()
    m = timedelta(minutes=1)
    insert_order(
        store,
        order_id,
        [
            Hop("capture", "shop-web", "ecommerce", t0, 1),
            Hop("validation", "middleware", "middleware", t0 + 5 * m, 2),
            Hop(
                "credit",
                "erp-east",
                "erp",
                t0 + 30 * m,
                45,
                {"order.manual_touch": "true", "enduser.id": "credit.clerk"},
                events=[
                    (
                        t0 + 31 * m,
                        "exception",
                        {"order.exception.type": "credit_hold", "order.exception.outcome": "opened"},
                    ),
                    (
                        t0 + 74 * m,
                        "exception",
                        {"order.exception.type": "credit_hold", "order.exception.outcome": "resolved"},
                    ),
                ],
            ),
            Hop("pick", "wms-central", "wms", t0 + 120 * m, 20),
            Hop("ship", "wms-central", "wms", t0 + 150 * m, 10, {"shipment.id": f"SH-{order_id}"}),
            Hop(
                "deliver",
                "carrier-ups",
                "carrier",
                t0 + 240 * m,
                1,
                {"shipment.tracking_number": f"1Z{order_id}"},
            ),
            Hop("invoice", "finance-cloud", "finance", t0 + 300 * m, 3, {"invoice.id": f"INV-{order_id}"}),
        ],
        {"order.channel": "ecommerce", "customer.id": "C-1", "order.customer_po": f"PO-{order_id}", **common},
    )


def quick_order(
    store: Store,
    order_id: str,
    *,
    start: datetime | None = None,
    manual: bool = False,
    open_exception: str = "",
    channel: str = "ecommerce",
    region: str = "east",
) -> None:
    """A small order: capture -> validation -> credit -> pick -> ship (-> invoice unless an exception
    is left open at the pick, with a WMS event opening it)."""
    t0 = start or base_time()
    m = timedelta(minutes=1)
    credit = {"order.manual_touch": "true", "enduser.id": "credit.clerk"} if manual else {}
    pick_events = (
        [
            (
                t0 + 41 * m,
                "exception",
                {"order.exception.type": open_exception, "order.exception.outcome": "opened"},
            )
        ]
        if open_exception
        else []
    )
    hops = [
        Hop("capture", "shop-web", "ecommerce", t0, 1),
        Hop("validation", "middleware", "middleware", t0 + 5 * m, 2),
        Hop("credit", "erp-east", "erp", t0 + 10 * m, 20 if manual else 1, credit),
        Hop("pick", "wms-central", "wms", t0 + 40 * m, 15, {"warehouse.id": "DC-1"}, events=pick_events),
    ]
    if not open_exception:
        hops += [
            Hop("ship", "wms-central", "wms", t0 + 70 * m, 5, {"warehouse.id": "DC-1"}),
            Hop("deliver", "carrier-ups", "carrier", t0 + 600 * m, 1),
            Hop("invoice", "finance-cloud", "finance", t0 + 700 * m, 2),
        ]
    insert_order(store, order_id, hops, {"order.channel": channel, "order.region": region})

"""Small order scenarios written straight into otel_traces (the exporter's row shape) for web tests."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from storage import Store
from tracing.attribution import attribute_window, db_now

COLUMNS = [
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind", "ServiceName",
    "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "Duration", "StatusCode",
    "StatusMessage", "Events.Timestamp", "Events.Name", "Events.Attributes", "Links.TraceId",
    "Links.SpanId", "Links.TraceState", "Links.Attributes",
]  # fmt: skip


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


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


def order_rows(order_id: str, hops: list[Hop], common: dict[str, Any] | None = None) -> list[list[Any]]:
    """One trace per order, one span per hop, the order id and ``common`` attributes on each."""
    trace = _hex(f"trace:{order_id}", 32)
    rows = []
    for i, hop in enumerate(hops):
        attrs = {
            "order.id": order_id,
            "order.stage": hop.stage,
            "system.instance": hop.system,
            "system.kind": hop.kind,
            **(common or {}),
            **hop.attributes,
        }
        text = {k: json.dumps(v) if isinstance(v, list) else str(v) for k, v in attrs.items()}
        rows.append(
            [
                hop.start,
                trace,
                _hex(f"span:{order_id}:{i}", 16),
                "",
                "",
                f"{hop.stage} {order_id}",
                "Server",
                hop.system,
                {"service.name": hop.system},
                "tests.web",
                "1",
                text,
                int(hop.minutes * 60 * 1e9),
                hop.status,
                hop.status_message,
                [e[0] for e in hop.events],
                [e[1] for e in hop.events],
                [e[2] for e in hop.events],
                [lk[0] for lk in hop.links],
                [lk[1] for lk in hop.links],
                ["" for _ in hop.links],
                [{} for _ in hop.links],
            ]
        )
    return rows


def insert_order(store: Store, order_id: str, hops: list[Hop], common: dict[str, Any] | None = None) -> None:
    """Insert the order's spans, then attribute them as the collector does after each write."""
    began = db_now(store)
    store.insert("otel_traces", order_rows(order_id, hops, common), COLUMNS)
    attribute_window(store, began - timedelta(seconds=1), db_now(store))


def base_time() -> datetime:
    """Two days ago at 08:00 UTC: inside retention, in the past."""
    return (datetime.now(UTC) - timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)


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

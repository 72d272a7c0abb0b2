"""The stalled-warehouse scenario of the alert tests: hop spans from the shared builder, at the anchor.

Orders flow capture -> allocation (ERP, picks a warehouse) -> pick -> pack -> ship (WMS) ->
deliver (carrier). ``stall`` stops an order after allocation: it waits at its warehouse.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from clock import ANCHOR

from storage import Store
from support.spans import SpanRow, insert
from tracing import conventions as c

# The tests' anchor (a Wednesday 18:00 UTC the retention keeps), whole hours for exact timestamps.
T0 = ANCHOR
STAGES = [("capture", "erp-east", "erp"), ("allocation", "erp-east", "erp"), ("pick", "wms-1", "wms"),
          ("pack", "wms-1", "wms"), ("ship", "wms-1", "wms"), ("deliver", "carrier-ups", "carrier")]  # fmt: skip


def _hex(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def hop(order: str, stage: str, system: str, kind: str, start: datetime, warehouse: str = "",
        minutes: float = 2.0, error: bool = False, region: str = "east") -> SpanRow:  # fmt: skip
    attrs: dict[str, str | int | float | bool | list[str]] = {
        c.ORDER_ID: order,
        c.STAGE: stage,
        c.SYSTEM_INSTANCE: system,
        c.SYSTEM_KIND: kind,
        c.REGION: region,
        c.CHANNEL: "edi",
    }
    if warehouse and stage not in ("capture", "deliver"):
        attrs[c.WAREHOUSE_ID] = warehouse
    return SpanRow(
        trace=f"t-{order}",
        span=_hex(f"s-{order}-{stage}-{start.isoformat()}", 16),
        name=f"{stage} {order}",
        start=start,
        duration=timedelta(minutes=minutes),
        service=system,
        attributes=attrs,
        status="Error" if error else "Ok",
    )


def order_flow(order: str, warehouse: str, start: datetime, stall_after: str | None = None,
               step: timedelta = timedelta(minutes=5)) -> list[SpanRow]:  # fmt: skip
    spans = []
    at = start
    for stage, system, kind in STAGES:
        spans.append(hop(order, stage, system, kind, at, warehouse))
        if stage == stall_after:
            break
        at += step
    return spans


def resume(
    order: str, warehouse: str, start: datetime, step: timedelta = timedelta(minutes=5)
) -> list[SpanRow]:
    """The rest of a stalled order's hops (pick onwards) from ``start``."""
    spans = []
    at = start
    for stage, system, kind in STAGES[2:]:
        spans.append(hop(order, stage, system, kind, at, warehouse))
        at += step
    return spans


def stalled_warehouse(store: Store) -> list[str]:
    """wh-1 delivers everything; wh-2 stops picking: three orders wait after allocation. Returns them."""
    spans: list[SpanRow] = []
    for i in range(4):
        spans += order_flow(f"SO-1{i:03d}", "wh-1", T0 - timedelta(hours=3, minutes=10 * i))
    spans += order_flow("SO-2000", "wh-2", T0 - timedelta(hours=3))  # delivered before the stall
    stalled = [f"SO-20{i:02d}" for i in range(1, 4)]
    for i, order in enumerate(stalled):
        spans += order_flow(order, "wh-2", T0 - timedelta(minutes=60 - 5 * i), stall_after="allocation")
    insert(store, spans)
    return stalled


def recover(store: Store, orders: list[str], at: datetime) -> None:
    spans: list[SpanRow] = []
    for order in orders:
        spans += resume(order, "wh-2", at)
    insert(store, spans)

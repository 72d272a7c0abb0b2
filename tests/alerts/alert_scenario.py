"""Hop spans for alert scenarios, written through the tracing sink into ``otel_traces``.

Orders flow capture -> allocation (ERP, picks a warehouse) -> pick -> pack -> ship (WMS) ->
deliver (carrier). ``stall`` stops an order after allocation: it waits at its warehouse.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from storage import Store
from tracing import conventions as c
from tracing.records import STATUS_ERROR, STATUS_OK, SpanRecord
from tracing.sinks import write_to_store

# Recent enough for otel_traces' retention (TTL), fixed to the hour for exact timestamps.
T0 = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
STAGES = [("capture", "erp-east", "erp"), ("allocation", "erp-east", "erp"), ("pick", "wms-1", "wms"),
          ("pack", "wms-1", "wms"), ("ship", "wms-1", "wms"), ("deliver", "carrier-ups", "carrier")]  # fmt: skip


def _hex(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def _ns(ts: datetime) -> int:
    return int(ts.timestamp() * 1_000_000_000)


def hop(order: str, stage: str, system: str, kind: str, start: datetime, warehouse: str = "",
        minutes: float = 2.0, error: bool = False, region: str = "east") -> SpanRecord:  # fmt: skip
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
    return SpanRecord(
        trace_id=_hex(f"t-{order}", 32),
        span_id=_hex(f"s-{order}-{stage}-{start.isoformat()}", 16),
        parent_span_id="",
        name=f"{stage} {order}",
        kind="Internal",
        service_name=system,
        resource={c.SERVICE_NAME: system},
        attributes=attrs,
        start_ns=_ns(start),
        end_ns=_ns(start + timedelta(minutes=minutes)),
        status_code=STATUS_ERROR if error else STATUS_OK,
    )


def order_flow(order: str, warehouse: str, start: datetime, stall_after: str | None = None,
               step: timedelta = timedelta(minutes=5)) -> list[SpanRecord]:  # fmt: skip
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
) -> list[SpanRecord]:
    """The rest of a stalled order's hops (pick onwards) from ``start``."""
    spans = []
    at = start
    for stage, system, kind in STAGES[2:]:
        spans.append(hop(order, stage, system, kind, at, warehouse))
        at += step
    return spans


def stalled_warehouse(store: Store) -> list[str]:
    """wh-1 delivers everything; wh-2 stops picking: three orders wait after allocation. Returns them."""
    spans: list[SpanRecord] = []
    for i in range(4):
        spans += order_flow(f"SO-1{i:03d}", "wh-1", T0 - timedelta(hours=3, minutes=10 * i))
    spans += order_flow("SO-2000", "wh-2", T0 - timedelta(hours=3))  # delivered before the stall
    stalled = [f"SO-20{i:02d}" for i in range(1, 4)]
    for i, order in enumerate(stalled):
        spans += order_flow(order, "wh-2", T0 - timedelta(minutes=60 - 5 * i), stall_after="allocation")
    write_to_store(store, spans)
    return stalled


def recover(store: Store, orders: list[str], at: datetime) -> None:
    spans: list[SpanRecord] = []
    for order in orders:
        spans += resume(order, "wh-2", at)
    write_to_store(store, spans)

"""Order-hop spans for the KPI tests (built with the shared ``support.spans`` builder)."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta

from support.spans import SpanRow, insert

from storage import Store

_ids = itertools.count(1)

SYSTEMS = {
    "capture": ("shop-web", "ecommerce"),
    "validation": ("erp-east", "erp"),
    "credit": ("erp-east", "erp"),
    "pricing": ("erp-east", "erp"),
    "allocation": ("erp-east", "erp"),
    "pick": ("wms-dallas", "wms"),
    "pack": ("wms-dallas", "wms"),
    "ship": ("wms-dallas", "wms"),
    "deliver": ("carrier-ups", "carrier"),
    "invoice": ("finance-erp", "finance"),
}


def hop(
    order: str,
    stage: str,
    start: datetime,
    duration_s: float = 60.0,
    *,
    system: str | None = None,
    kind: str | None = None,
    status: str = "Unset",
    attrs: dict[str, str] | None = None,
) -> SpanRow:
    """One hop span of ``order`` at ``stage`` with extra span attributes ``attrs``."""
    default_system, default_kind = SYSTEMS.get(stage, ("erp-east", "erp"))
    system = system or default_system
    attributes = {
        "order.id": order,
        "order.stage": stage,
        "system.instance": system,
        "system.kind": kind or default_kind,
    }
    attributes.update(attrs or {})
    return SpanRow(
        trace=uuid.uuid4().hex,  # one trace per hop: only the order id joins them
        span=f"{next(_ids):016x}",
        name=f"{stage} {order}",
        start=start,
        duration=timedelta(seconds=duration_s),
        service=system,
        attributes=attributes,
        status=status,
    )


def order_flow(
    order: str,
    captured: datetime,
    stages: list[str] | None = None,
    *,
    gap_s: float = 600.0,
    duration_s: float = 300.0,
    segment: dict[str, str] | None = None,
) -> list[SpanRow]:
    """A complete order: one hop per stage, ``gap_s`` of waiting between hops."""
    stages = stages or list(SYSTEMS)
    spans = []
    at = captured
    seg = {
        "order.channel": "ecommerce",
        "order.region": "us-central",
        "warehouse.id": "wh-dallas",
        "customer.tier": "standard",
        "order.priority": "standard",
        **(segment or {}),
    }
    for stage in stages:
        span = hop(order, stage, at, duration_s)
        span.attributes.update(seg)
        spans.append(span)
        at = at + timedelta(seconds=duration_s + gap_s)
    return spans


def write(store: Store, spans: list[SpanRow]) -> int:
    return insert(store, spans)

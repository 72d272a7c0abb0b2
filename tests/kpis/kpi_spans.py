"""A small builder of order-hop spans for the KPI tests, written to otel_traces like the exporter does."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from storage import Store
from tracing.attribution import attribute_window, db_now

_COLUMNS = [
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "ResourceAttributes",
    "SpanAttributes",
    "Duration",
    "StatusCode",
    "Events.Timestamp",
    "Events.Name",
    "Events.Attributes",
]
_ids = itertools.count(1)


@dataclass
class Span:
    start: datetime
    duration_s: float
    service: str
    name: str
    attrs: dict[str, str]
    status: str = "Unset"
    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    events: list[tuple[datetime, str, dict[str, str]]] = field(default_factory=list)

    def row(self) -> list[Any]:
        span_id = f"{next(_ids):016x}"
        return [
            self.start,
            self.trace_id,
            span_id,
            "",
            self.name,
            "Internal",
            self.service,
            {"service.name": self.service},
            self.attrs,
            int(self.duration_s * 1e9),
            self.status,
            [e[0] for e in self.events],
            [e[1] for e in self.events],
            [e[2] for e in self.events],
        ]


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
) -> Span:
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
    return Span(start, duration_s, system, f"{stage} {order}", attributes, status)


def order_flow(
    order: str,
    captured: datetime,
    stages: list[str] | None = None,
    *,
    gap_s: float = 600.0,
    duration_s: float = 300.0,
    segment: dict[str, str] | None = None,
) -> list[Span]:
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
        span.attrs.update(seg)
        spans.append(span)
        at = at + timedelta(seconds=duration_s + gap_s)
    return spans


def write(store: Store, spans: list[Span]) -> int:
    """Insert the spans, then attribute them as the collector does after each write."""
    began = db_now(store)
    written = store.insert("otel_traces", [s.row() for s in spans], _COLUMNS)
    attribute_window(store, began - timedelta(seconds=1), db_now(store))
    return written


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]

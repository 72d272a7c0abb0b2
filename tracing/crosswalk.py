"""Crosswalk: from any business key to orders, and from an order to all its spans.

Real integrations break trace context (EDI batch files, file drops, polling, nightly jobs), so one
order is spread over many traces. Which spans belong to an order is decided once, when they are
written, by the attribution rules of :mod:`tracing.attribution`; this module reads the result:

* a key is a point lookup on ``order_keys.Key`` (keys on spans naming an order, and keys on spans
  attributed to orders without naming them: an EDI file name, a tracking number on a carrier scan);
* an order's spans are a point read of the order-keyed table ``order_spans``;
* a trace by id reads ``otel_traces`` by TraceId within the ``otel_traces_trace_id_ts`` time range,
  as Grafana's ClickHouse plugin does.

This module is the store half of ``tracing``; the instrumentation half never imports it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from storage import SqlFiles, Store
from storage.errors import TowerError
from tracing import conventions as c

SQL = SqlFiles("tracing.queries")

ORDER_ID_KEY_TYPES: frozenset[str] = frozenset(
    name for name, role in c.KEY_ROLES.items() if role is c.KeyRole.ORDER
)
STITCH_KEY_TYPES: frozenset[str] = frozenset(
    name for name, role in c.KEY_ROLES.items() if role is not c.KeyRole.ORDER
)
# Keys shared by many orders or reused over time (EDI envelope numbers, file and batch ids): they
# find orders but never attribute spans.
WEAK_KEY_TYPES: frozenset[str] = frozenset(
    name for name, role in c.KEY_ROLES.items() if role is c.KeyRole.WEAK
)
STRONG_KEY_TYPES: frozenset[str] = frozenset(
    name for name, role in c.KEY_ROLES.items() if role is c.KeyRole.STRONG
)
MAX_KEY_LENGTH = 256
ROW_LIMIT = 100_000
TRACE_CHUNK = 200
# The crosswalk's reads are point lookups of a few granules: one thread each (on small machines the
# cost of starting parallel readers for a handful of rows exceeds the read; measured ~25% less CPU).
POINT_READ_SETTINGS: dict[str, Any] = {"max_threads": 1}


class CrosswalkError(TowerError, ValueError):
    """A key or order id that cannot be looked up (empty, too long, control characters)."""


@dataclass(frozen=True)
class RawEvent:
    time_ns: int
    name: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class RawLink:
    trace_id: str
    span_id: str
    attributes: dict[str, str]


@dataclass
class RawSpan:
    """One row of ``otel_traces`` as the stitching and the timeline need it."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service: str
    start_ns: int
    duration_ns: int
    status_code: str
    status_message: str
    attributes: dict[str, str]
    resource_attributes: dict[str, str]
    events: list[RawEvent] = field(default_factory=list)
    links: list[RawLink] = field(default_factory=list)

    @property
    def ref(self) -> tuple[str, str]:
        return (self.trace_id, self.span_id)

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.duration_ns

    @property
    def order_id(self) -> str:
        return self.attributes.get(c.ORDER_ID, "")

    @property
    def batch_order_ids(self) -> list[str]:
        return attribute_values(self.attributes.get(c.BATCH_ORDER_IDS, ""))

    def explicit_orders(self) -> set[str]:
        """Orders this span names itself (its order id and any batch list)."""
        found = set(self.batch_order_ids)
        if self.order_id:
            found.add(self.order_id)
        return found

    def strong_keys(self) -> set[str]:
        """Values of the keys that identify one order, shipment or invoice (not a batch)."""
        return {v for name, values in self.stitch_keys().items() if name in STRONG_KEY_TYPES for v in values}

    def stitch_keys(self) -> dict[str, list[str]]:
        """Business keys other than order ids, by attribute name."""
        keys = {}
        for name in STITCH_KEY_TYPES:
            values = attribute_values(self.attributes.get(name, ""))
            if values:
                keys[name] = values
        return keys


@dataclass
class OrderSpans:
    """All spans stitched to one order, with why each was attached."""

    order_id: str
    spans: list[RawSpan]
    via: dict[tuple[str, str], str]
    trace_ids: list[str]
    keys: dict[str, list[str]]


@dataclass(frozen=True)
class KeyMatch:
    """One order a key leads to, and how."""

    order_id: str
    key: str
    key_types: list[str]
    first_seen: datetime
    last_seen: datetime
    trace_ids: list[str]
    via: str  # "key": the key was on a span of the order; "trace"/"related_key": stitched


def attribute_values(raw: str) -> list[str]:
    """An attribute value as a list: JSON arrays (how the exporter stores OTLP arrays) give elements."""
    if not raw:
        return []
    if raw.startswith("["):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return [raw]
        if isinstance(parsed, list):
            return [str(v) for v in parsed if v not in (None, "")]
    return [raw]


def clean_key(key: str) -> str:
    """A key as typed by a person, trimmed; a clear error when it cannot be a key."""
    value = key.strip()
    if not value:
        raise CrosswalkError(
            "the key is empty: give an order number, PO, EDI control number, shipment, tracking or invoice number"
        )
    if len(value) > MAX_KEY_LENGTH:
        raise CrosswalkError(f"the key is {len(value)} characters long; keys are at most {MAX_KEY_LENGTH}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise CrosswalkError("the key contains control characters")
    return value


# -- key -> orders -------------------------------------------------------------------------------


def _rows(store: Store, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of one of this package's point-lookup queries, as dicts keyed by column name."""
    result = store.query(SQL[name], params, settings=POINT_READ_SETTINGS)
    names = result.column_names
    return [dict(zip(names, row, strict=True)) for row in result.result_rows]


def _match_via(vias: list[str]) -> str:
    """How a key leads to an order: on a span naming it ("key"), else through the attribution of the
    span that carried it (another key on it, a span link, its parent's trace). Between the equally
    strong structural reasons, a child of the order's span reads as its trace, as the timeline does."""
    if "" in vias or "batch" in vias:
        return "key"
    if any(v.startswith("key") for v in vias):
        return "related_key"
    if "child" in vias:
        return "trace"
    if any(v in ("link", "linked_from") for v in vias):
        return "link"
    return "trace"


def find_order_keys(store: Store, key: str) -> list[KeyMatch]:
    """Every order a business key leads to (an invoice or a file may lead to many), oldest first."""
    value = clean_key(key)
    return [
        KeyMatch(
            order_id=row["OrderId"],
            key=value,
            key_types=sorted(row["KeyTypes"]),
            first_seen=_utc(row["FirstSeen"]),
            last_seen=_utc(row["LastSeen"]),
            trace_ids=sorted(row["TraceIds"]),
            via=_match_via(list(row["Vias"])),
        )
        for row in _rows(store, "find_orders", {"key": value, "limit": ROW_LIMIT})
    ]


# -- order -> spans ------------------------------------------------------------------------------


def fetch_trace_spans(store: Store, trace_ids: Sequence[str]) -> list[RawSpan]:
    """Every span of these traces (each once), read within the traces' time range."""
    spans: list[RawSpan] = []
    ids = sorted(set(trace_ids))
    for i in range(0, len(ids), TRACE_CHUNK):
        chunk = ids[i : i + TRACE_CHUNK]
        for row in _rows(store, "trace_spans", {"trace_ids": chunk, "limit": ROW_LIMIT}):
            spans.append(_raw_span(row))
    return spans


def _raw_span(row: dict[str, Any]) -> RawSpan:
    return RawSpan(
        trace_id=row["TraceId"],
        span_id=row["SpanId"],
        parent_span_id=row["ParentSpanId"],
        name=row["SpanName"],
        kind=row["SpanKind"],
        service=row["ServiceName"],
        start_ns=int(row["StartNs"]),
        duration_ns=int(row["Duration"]),
        status_code=row["StatusCode"],
        status_message=row["StatusMessage"],
        attributes=dict(row["SpanAttributes"]),
        resource_attributes=dict(row["ResourceAttributes"]),
        events=[
            RawEvent(int(t), n, dict(a))
            for t, n, a in zip(row["EventTimes"], row["EventNames"], row["EventAttributes"], strict=False)
        ],
        links=[
            RawLink(t, s, dict(a))
            for t, s, a in zip(row["LinkTraceIds"], row["LinkSpanIds"], row["LinkAttributes"], strict=False)
            if t
        ],
    )


def order_spans(store: Store, order_id: str, *, max_spans: int = ROW_LIMIT) -> OrderSpans:
    """All spans attributed to ``order_id`` (none when the order is unknown): one point read."""
    order = clean_key(order_id)
    rows = _rows(store, "order_story", {"order_id": order, "limit": max_spans})
    spans = [_raw_span(row) for row in rows]
    via = {(row["TraceId"], row["SpanId"]): row["Via"] for row in rows}
    spans.sort(key=lambda s: (s.start_ns, s.end_ns, s.span_id))
    keys: dict[str, set[str]] = {}
    for span in spans:
        for name, values in span.stitch_keys().items():
            keys.setdefault(name, set()).update(values)
    return OrderSpans(
        order_id=order,
        spans=spans,
        via=via,
        trace_ids=sorted({s.trace_id for s in spans}),
        keys={name: sorted(values) for name, values in sorted(keys.items())},
    )


def ns_to_datetime(ns: int) -> datetime:
    """Nanoseconds since the epoch as an aware UTC datetime (microsecond precision)."""
    return datetime.fromtimestamp(ns // 1000 / 1_000_000, tz=UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

"""Crosswalk and stitching: from any business key to orders, and from an order to all its spans.

Real integrations break trace context (EDI batch files, file drops, polling, nightly jobs), so one
order is spread over many traces. An order's spans are found by following, from the key index
(``order_keys``):

* the spans that carry the order id (``order.id``) or list it in a batch (``order.batch.order_ids``);
* the other spans of those traces that belong to no other order;
* spans without an order id that share one of the order's keys (a carrier event that carries only
  the tracking number, a consolidated invoice, an EDI envelope);
* span links in both directions: links from the order's spans, and spans in other traces linking
  into the order's traces (the ``span_links`` side table keyed by the linked trace id).

Every read is a point lookup on a sorted key (``order_keys.Key``, ``span_links.LinkedTraceId``) or a
read of ``otel_traces`` by trace id bounded by the ``otel_traces_trace_id_ts`` time range; nothing
scans ``otel_traces``.

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
    name for name, is_order in c.KEY_ATTRIBUTES.items() if is_order
)
STITCH_KEY_TYPES: frozenset[str] = frozenset(
    name for name, is_order in c.KEY_ATTRIBUTES.items() if not is_order
)
# Keys shared by many orders or reused over time (an EDI interchange or its transaction-set numbers,
# a batch): stitching never follows them from an order to spans without an order id.
WEAK_KEY_TYPES: frozenset[str] = frozenset(
    {
        c.EDI_INTERCHANGE_CONTROL_NUMBER,
        c.EDI_GROUP_CONTROL_NUMBER,
        c.EDI_TRANSACTION_SET_CONTROL_NUMBER,
        c.BATCH_ID,
    }
)
STRONG_KEY_TYPES: frozenset[str] = STITCH_KEY_TYPES - WEAK_KEY_TYPES
MAX_KEY_LENGTH = 256
# Spans joined to an order by a key or a link are looked for from this long before its first span.
LOOKBACK_NS = 7 * 86_400 * 1_000_000_000
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


def find_order_keys(store: Store, key: str) -> list[KeyMatch]:
    """Every order a business key leads to (an invoice or batch key may lead to many), oldest first."""
    value = clean_key(key)
    rows = _rows(store, "find_orders", {"key": value, "limit": ROW_LIMIT})
    by_order: dict[str, dict[str, Any]] = {}
    orderless: list[dict[str, Any]] = []
    for row in rows:
        if row["OrderId"]:
            _merge_match(by_order, row["OrderId"], row["KeyType"], row, "key")
        else:
            orderless.append(row)
    if orderless and not by_order:
        _stitch_orderless(store, value, orderless, by_order)
    return sorted(
        (
            KeyMatch(
                order_id=order,
                key=value,
                key_types=sorted(data["key_types"]),
                first_seen=_utc(data["first"]),
                last_seen=_utc(data["last"]),
                trace_ids=sorted(data["traces"]),
                via=data["via"],
            )
            for order, data in by_order.items()
        ),
        key=lambda m: (m.first_seen, m.order_id),
    )


def _stitch_orderless(
    store: Store, value: str, orderless: list[dict[str, Any]], by_order: dict[str, dict[str, Any]]
) -> None:
    """The key was only on spans without an order id: find their orders through, in turn, the
    orders those spans list (batch spans), their span links, their other strong keys (a PO on an
    EDI translation span) and, last, order ids on other spans of their traces."""
    first = _first_row(orderless)
    key_type = orderless[0]["KeyType"]
    refs = {(t, s) for row in orderless for t, s in row["Refs"]}
    spans = [s for s in _fetch_known_refs(store, sorted(refs), first) if s.ref in refs]
    for span in spans:
        for order in span.explicit_orders():
            _merge_match(by_order, order, key_type, first, "trace")
    if not by_order:
        linked = {(link.trace_id, link.span_id) for span in spans for link in span.links}
        for span in _fetch_refs(store, "", sorted(linked), []):
            if span.ref in linked:
                for order in span.explicit_orders():
                    _merge_match(by_order, order, key_type, first, "link")
    if not by_order:
        related = {v for span in spans for v in span.strong_keys()} - {value}
        if related:
            for row in _rows(store, "keys_to_orders", {"keys": sorted(related), "limit": ROW_LIMIT}):
                _merge_match(by_order, row["OrderId"], key_type, first, "related_key")
    if not by_order:
        for span in fetch_trace_spans(store, sorted({t for t, _s in refs})):
            for order in span.explicit_orders():
                _merge_match(by_order, order, key_type, first, "trace")


def _fetch_known_refs(store: Store, refs: Sequence[tuple[str, str]], seen: dict[str, Any]) -> list[RawSpan]:
    """Spans by reference that started between ``seen``'s FirstSeen and LastSeen (their key rows')."""
    found: list[RawSpan] = []
    for i in range(0, len(refs), TRACE_CHUNK):
        chunk = refs[i : i + TRACE_CHUNK]
        params = {
            "trace_ids": sorted({t for t, _s in chunk}),
            "span_ids": sorted({s for _t, s in chunk}),
            "since": _utc(seen["FirstSeen"]),
            "until": _utc(seen["LastSeen"]),
            "limit": ROW_LIMIT,
        }
        found.extend(_raw_span(row) for row in _rows(store, "span_refs", params))
    return found


def _first_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "FirstSeen": min(r["FirstSeen"] for r in rows),
        "LastSeen": max(r["LastSeen"] for r in rows),
        "TraceIds": sorted({t for r in rows for t in r["TraceIds"]}),
    }


def _merge_match(
    by_order: dict[str, dict[str, Any]], order: str, key_type: str, row: dict[str, Any], via: str
) -> None:
    data = by_order.setdefault(
        order,
        {"key_types": set(), "first": row["FirstSeen"], "last": row["LastSeen"], "traces": set(), "via": via},
    )
    data["key_types"].add(key_type)
    data["first"] = min(data["first"], row["FirstSeen"])
    data["last"] = max(data["last"], row["LastSeen"])
    data["traces"].update(row["TraceIds"])


# -- order -> spans ------------------------------------------------------------------------------


def fetch_trace_spans(store: Store, trace_ids: Sequence[str]) -> list[RawSpan]:
    """Every span of these traces, each read bounded by the trace-time table."""
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


def order_spans(store: Store, order_id: str, *, max_rounds: int = 6, max_spans: int = 20_000) -> OrderSpans:
    """All spans stitched to ``order_id`` (none when the order is unknown).

    Each round reads, by reference, the spans found so far plus the children of the order's spans,
    decides which belong to the order, then follows the order's keys (to spans without an order
    id) and span links (both ways) to new spans. Only referenced spans and children are read, so
    a nightly run's trace with thousands of other orders costs no more than its matching spans.
    """
    order = clean_key(order_id)
    seeds: dict[tuple[str, str], str] = {}
    for row in _rows(store, "order_seeds", {"order_id": order, "limit": ROW_LIMIT}):
        reason = "batch" if row["KeyType"] == c.BATCH_ORDER_IDS else "order"
        seeds.setdefault((row["TraceId"], row["SpanId"]), reason)
    asked: set[tuple[str, str]] = set()
    parents_asked: set[tuple[str, str]] = set()
    spans: dict[tuple[str, str], RawSpan] = {}
    owned: dict[tuple[str, str], str] = {}
    looked_up_keys: set[str] = set()
    linked_checked: set[str] = set()
    keys: dict[str, set[str]] = {}
    links_in: list[tuple[tuple[str, str], tuple[str, str]]] = []
    for _ in range(max_rounds):
        wanted = [ref for ref in seeds if ref not in asked]
        # children are asked for with their parents (speculatively) to save a round
        parents = [ref for ref in (*owned, *wanted) if ref not in parents_asked]
        if not (wanted or parents) or len(spans) >= max_spans:
            break
        asked.update(wanted)
        parents_asked.update(parents)
        fetched = [s for s in _fetch_refs(store, order, wanted, parents) if s.ref not in spans]
        by_ref = {s.ref: s for s in fetched}
        new_owned: list[RawSpan] = []
        strong = {v for name, values in keys.items() if name in STRONG_KEY_TYPES for v in values}
        pending = sorted(fetched, key=lambda s: (s.ref not in seeds, s.start_ns))
        progress = True
        while pending and progress:  # a child is decided once its parent is
            progress = False
            later = []
            for span in pending:
                seed = seeds.get(span.ref)
                parent = (span.trace_id, span.parent_span_id)
                if seed is None and parent not in owned:
                    if parent in by_ref and parent not in spans:
                        later.append(span)  # its parent is decided in this round
                    continue
                spans[span.ref] = span
                progress = True
                why = _belongs(order, span, seed or "parent", strong)
                if why is not None:
                    owned[span.ref] = why
                    new_owned.append(span)
            pending = later
        for span in new_owned:
            for name, values in span.stitch_keys().items():
                keys.setdefault(name, set()).update(values)
            for link in span.links:
                seeds.setdefault((link.trace_id, link.span_id), "link")
        fresh_keys = {
            v for name, values in keys.items() if name in STRONG_KEY_TYPES for v in values
        } - looked_up_keys
        fresh_traces = {s.trace_id for s in new_owned} - linked_checked
        if fresh_keys or fresh_traces:
            looked_up_keys |= fresh_keys
            linked_checked |= fresh_traces
            since = ns_to_datetime(min((s.start_ns for s in spans.values()), default=0) - LOOKBACK_NS)
            params = {
                "keys": sorted(fresh_keys),
                "trace_ids": sorted(fresh_traces),
                "since": since,
                "limit": ROW_LIMIT,
            }
            # one point lookup instead of two when the round has only new keys or only new traces
            query = (
                "expand" if fresh_keys and fresh_traces else "expand_keys" if fresh_keys else "expand_links"
            )
            for row in _rows(store, query, params):
                ref = (row["TraceId"], row["SpanId"])
                if row["Kind"] == "key":
                    # the order's keys -> spans without an order id that carried them
                    seeds.setdefault(ref, f"key:{row['Detail']}")
                else:
                    links_in.append((ref, (row["LinkedTraceId"], row["LinkedSpanId"])))
        for ref, target in links_in:
            # a span elsewhere linking into one of the order's spans (or into its trace as a whole)
            if target in owned or (not target[1] and any(t == target[0] for t, _s in owned)):
                seeds.setdefault(ref, "linked_from")
    chosen = sorted((spans[ref] for ref in owned), key=lambda s: (s.start_ns, s.end_ns, s.span_id))
    return OrderSpans(
        order_id=order,
        spans=chosen,
        via=dict(owned),
        trace_ids=sorted({s.trace_id for s in chosen}),
        keys={name: sorted(values) for name, values in sorted(keys.items())},
    )


def _fetch_refs(
    store: Store, order: str, refs: Sequence[tuple[str, str]], parents: Sequence[tuple[str, str]]
) -> list[RawSpan]:
    """The referenced spans and the children of ``parents`` that name no other order."""
    by_trace: dict[str, tuple[set[str], set[str]]] = {}
    for trace, span in refs:
        by_trace.setdefault(trace, (set(), set()))[0].add(span)
    for trace, span in parents:
        by_trace.setdefault(trace, (set(), set()))[1].add(span)
    traces = sorted(by_trace)
    found: list[RawSpan] = []
    for i in range(0, len(traces), TRACE_CHUNK):
        chunk = traces[i : i + TRACE_CHUNK]
        params = {
            "trace_ids": chunk,
            "span_ids": sorted({s for t in chunk for s in by_trace[t][0]}),
            "parent_ids": sorted({s for t in chunk for s in by_trace[t][1]}),
            "order_id": order,
            "limit": ROW_LIMIT,
        }
        found.extend(_raw_span(row) for row in _rows(store, "order_spans", params))
    return found


def _belongs(order: str, span: RawSpan, reason: str, strong_keys: set[str]) -> str | None:
    """Why ``span`` belongs to the order, or None: spans naming only other orders never do, nor
    spans without an order id reached by a key whose strong keys are all another order's."""
    if span.order_id == order:
        return "order"
    if order in span.batch_order_ids:
        return "batch"
    if span.explicit_orders():
        return None
    if reason.startswith("key:"):
        theirs = span.strong_keys()
        if theirs and not theirs & strong_keys:
            return None
    return reason


def ns_to_datetime(ns: int) -> datetime:
    """Nanoseconds since the epoch as an aware UTC datetime (microsecond precision)."""
    return datetime.fromtimestamp(ns // 1000 / 1_000_000, tz=UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

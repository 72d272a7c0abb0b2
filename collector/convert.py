"""OTLP spans -> ``otel_traces`` columns, the way the OTel Collector's clickhouseexporter maps them.

Mapping (``exporter/clickhouseexporter/exporter_traces.go``): ids as lower-case hex (empty parent
when absent), ``SpanKind`` and ``StatusCode`` as the pdata names ("Server", "Error", ...),
``ServiceName`` from the resource's ``service.name``, attribute values in their string form (bools
``true``/``false``, integers and doubles as numbers, bytes base64, arrays and maps as JSON text),
``Duration`` = end - start in ns, events and links as the Nested columns.

The result is built column by column and serialised once with orjson as a ``JSONCompactColumns``
block, which ClickHouse parses natively; blocks concatenate, so a spool segment is one insert.
Spans that cannot be stored (bad ids, end before start, time out of range) are rejected one by
one; limits cut attributes and count what was cut.
"""

from __future__ import annotations

import base64
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.reasons import event_rejection, example, iso_time, span_rejection
from collector.settings import CollectorSettings

__all__ = ["iso_time"]  # re-exported: the reasons module writes times the same way

# Blocks of the Python path are JSONCompactColumns in storage.schema.OTEL_TRACES_COLUMNS order (the
# exporter's insert columns; imported where needed, so that receivers do not load the store client).
INSERT_FORMAT = "JSONCompactColumns"

SPAN_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
STATUS_CODES = ("Unset", "Ok", "Error")
_NS = 1_000_000_000
# The times otel_traces holds exactly. Earliest: 1973-03-03T09:46:40Z (10^8 s): shorter Unix times
# in text are read by ClickHouse as dates and refused (code 41). Latest: 2106-02-07T06:28:15Z, the
# last second of DateTime, which the sort key and the TTL (toDateTime(Timestamp)) are built on.
STORE_MIN_NS = 100_000_000 * _NS
STORE_MAX_NS = (2**32 - 1) * _NS
_DAY_NS = 86_400 * _NS
_ZERO_SPAN = bytes(8)
MAX_ERROR_EXAMPLES = 5


@dataclass
class Limits:
    """Attribute limits applied to every span, event, link and resource."""

    max_attributes: int = 128
    max_key_length: int = 256
    max_value_length: int = 16 * 1024
    max_array_length: int = 1000
    max_events: int = 1000
    max_links: int = 1000

    @classmethod
    def of(cls, settings: CollectorSettings) -> Limits:
        return cls(
            max_attributes=settings.max_attributes,
            max_key_length=settings.max_attribute_key_length,
            max_value_length=settings.max_attribute_value_length,
            max_array_length=settings.max_array_length,
            max_events=settings.max_events,
            max_links=settings.max_links,
        )


@dataclass(frozen=True)
class TimeWindow:
    """The span and event times accepted at the door: what the store can hold and the retention keeps.

    ``retention_days`` is the TTL of ``otel_traces`` (0 keeps spans forever), less
    ``retention_margin_s`` so that a span the spool holds for a while is still kept when written;
    ``max_age_s`` narrows the past further when set; ``max_future_s`` is the clock skew allowed
    ahead of now.
    """

    retention_days: int = 0
    max_age_s: float | None = None
    max_future_s: float = 86_400.0
    retention_margin_s: float = 3_600.0

    def bounds(self, now_ns: int) -> tuple[int, int]:
        """``(first, last)`` accepted Unix nanoseconds at ``now_ns``, both inclusive."""
        first = STORE_MIN_NS
        if self.retention_days > 0:
            first = max(first, now_ns - self.retention_days * _DAY_NS + int(self.retention_margin_s * _NS))
        if self.max_age_s is not None:
            first = max(first, now_ns - int(self.max_age_s * _NS))
        # the TTL adds the retention to toDateTime(Timestamp): it must not run past DateTime either
        last = min(now_ns + int(self.max_future_s * _NS), STORE_MAX_NS - self.retention_days * _DAY_NS)
        return first, max(first, last)

    def describe(self, now_ns: int) -> str:
        first, last = self.bounds(now_ns)
        return f"{iso_time(first)} .. {iso_time(last)}"


@dataclass
class Conversion:
    """Outcome of one request: the block to store and what was rejected or cut."""

    block: bytes
    accepted: int
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    truncated: int = 0
    window: str = ""
    columns: list[list[Any]] | None = None

    @property
    def error_message(self) -> str:
        """The partial-success message: counts per reason, the accepted window, the first spans."""
        if not self.rejected:
            return ""
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(self.reasons.items()))
        window = ""
        if self.window and any(reason.startswith("time_") for reason in self.reasons):
            window = f" (spans and events must lie in {self.window})"
        return f"rejected {self.rejected} span(s): {counts}{window}; e.g. " + "; ".join(self.examples)


def time_text(ns: int) -> str:
    """Unix nanoseconds as the ``seconds.fraction`` text ClickHouse reads into DateTime64(9)."""
    return f"{ns // _NS}.{ns % _NS:09d}"


def go_float(value: float) -> str:
    """A double as Go's ``strconv.FormatFloat(v, 'f', -1, 64)`` writes it (pdata's AsString)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text or "E" in text:
        from decimal import Decimal

        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


class _Plain(str):
    """A number already written as JSON (json_text prints it as it is)."""


def json_text(value: Any) -> str:
    """JSON as orjson writes it, integers of any size included (an integral double such as 1e20 is
    written as the integer Go's encoding/json writes; orjson refuses integers beyond 64 bits)."""
    if value is None:
        return "null"
    if isinstance(value, _Plain):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(orjson.dumps(key).decode() + ":" + json_text(item) for key, item in value.items())
            + "}"
        )
    return orjson.dumps(value).decode()


class _Cutter:
    """Applies the limits; counts every cut."""

    __slots__ = ("limits", "truncated")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.truncated = 0

    def attributes(self, kvs: Any) -> dict[str, str]:
        limits = self.limits
        out: dict[str, str] = {}
        if len(kvs) > limits.max_attributes:
            self.truncated += len(kvs) - limits.max_attributes
            kvs = kvs[: limits.max_attributes]
        max_value = limits.max_value_length
        for kv in kvs:
            key = kv.key
            if len(key) > limits.max_key_length:
                key = key[: limits.max_key_length]
                self.truncated += 1
            value = kv.value
            which = value.WhichOneof("value")
            if which == "string_value":
                text = value.string_value
            elif which is None:
                text = ""
            else:
                text = self.text(value, which)
            if len(text) > max_value:
                text = text[:max_value]
                self.truncated += 1
            out[key] = text
        return out

    def text(self, value: Any, which: str) -> str:
        if which == "bool_value":
            return "true" if value.bool_value else "false"
        if which == "int_value":
            return str(value.int_value)
        if which == "double_value":
            return go_float(value.double_value)
        if which == "bytes_value":
            return base64.b64encode(value.bytes_value).decode("ascii")
        if which == "string_value":
            return str(value.string_value)
        return json_text(self.raw(value, which))

    def raw(self, value: Any, which: str | None, depth: int = 0) -> Any:
        """An AnyValue as plain JSON data (pdata's AsRaw), arrays and maps cut to the limits."""
        if which is None:
            return None
        if which == "string_value":
            return value.string_value
        if which == "bool_value":
            return value.bool_value
        if which == "int_value":
            return value.int_value
        if which == "double_value":
            number = value.double_value
            if not math.isfinite(number):
                return go_float(number)
            # Go's encoding/json writes doubles below 1e21 with 'f' (2.0 -> 2, 1e20 -> its 21 digits)
            return _Plain(go_float(number)) if number.is_integer() and abs(number) < 1e21 else number
        if which == "bytes_value":
            return base64.b64encode(value.bytes_value).decode("ascii")
        if depth >= 16:
            self.truncated += 1
            return None
        if which == "array_value":
            items = value.array_value.values
            if len(items) > self.limits.max_array_length:
                self.truncated += len(items) - self.limits.max_array_length
                items = items[: self.limits.max_array_length]
            return [self.raw(item, item.WhichOneof("value"), depth + 1) for item in items]
        kvs = value.kvlist_value.values
        if len(kvs) > self.limits.max_attributes:
            self.truncated += len(kvs) - self.limits.max_attributes
            kvs = kvs[: self.limits.max_attributes]
        return {kv.key: self.raw(kv.value, kv.value.WhichOneof("value"), depth + 1) for kv in kvs}


def convert(
    request: ExportTraceServiceRequest,
    limits: Limits,
    window: TimeWindow | None = None,
    now_ns: int | None = None,
) -> Conversion:
    """Columns for every storable span of ``request``; the others are rejected with a reason.

    ``window`` (default: only what the store can hold) bounds span and event times at ``now_ns``.
    """
    cut = _Cutter(limits)
    return _convert(request, limits, cut, cut.attributes, window, now_ns)


def _convert(
    request: Any,
    limits: Limits,
    cut: _Cutter,
    attributes: Callable[[Any], dict[str, str]],
    window: TimeWindow | None,
    now_ns: int | None,
) -> Conversion:
    ts_col: list[str] = []
    trace_col: list[str] = []
    span_col: list[str] = []
    parent_col: list[str] = []
    state_col: list[str] = []
    name_col: list[str] = []
    kind_col: list[str] = []
    service_col: list[str] = []
    resource_col: list[dict[str, str]] = []
    scope_name_col: list[str] = []
    scope_version_col: list[str] = []
    attrs_col: list[dict[str, str]] = []
    duration_col: list[int] = []
    status_col: list[str] = []
    message_col: list[str] = []
    ev_ts_col: list[list[str]] = []
    ev_name_col: list[list[str]] = []
    ev_attrs_col: list[list[dict[str, str]]] = []
    ln_trace_col: list[list[str]] = []
    ln_span_col: list[list[str]] = []
    ln_state_col: list[list[str]] = []
    ln_attrs_col: list[list[dict[str, str]]] = []
    reasons: Counter[str] = Counter()
    examples: list[str] = []
    kinds = SPAN_KINDS
    statuses = STATUS_CODES
    max_events = limits.max_events
    max_links = limits.max_links
    empty: list[Any] = []
    if window is None:
        window = TimeWindow(max_future_s=float(STORE_MAX_NS // _NS))
    if now_ns is None:
        import time

        now_ns = time.time_ns()
    first, last = window.bounds(now_ns)

    def reject(reason: str, detail: str, span: Any) -> None:
        reasons[reason] += 1
        if len(examples) < MAX_ERROR_EXAMPLES:
            examples.append(example(span, detail))

    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        service = resource.get("service.name", "")
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            scope_name = scope.name
            scope_version = scope.version
            for span in scope_spans.spans:
                trace_id = span.trace_id
                span_id = span.span_id
                parent = span.parent_span_id
                start = span.start_time_unix_nano
                end = span.end_time_unix_nano
                rejection = span_rejection(trace_id, span_id, parent, start, end, first, last)
                if rejection is not None:
                    reject(*rejection, span)
                    continue
                events = span.events
                events_cut = len(events) - max_events
                if events_cut > 0:
                    events = events[:max_events]
                if events:
                    event_times = [e.time_unix_nano for e in events]
                    earliest = min(event_times)
                    latest = max(event_times)
                    rejection = event_rejection(earliest, latest, first, last)
                    if rejection is not None:
                        reject(*rejection, span)
                        continue
                if events_cut > 0:
                    cut.truncated += events_cut
                ts_col.append(f"{start // _NS}.{start % _NS:09d}")
                trace_col.append(trace_id.hex())
                span_col.append(span_id.hex())
                parent_col.append("" if not parent or parent == _ZERO_SPAN else parent.hex())
                state_col.append(span.trace_state)
                name_col.append(span.name)
                kind = span.kind
                kind_col.append(kinds[kind] if 0 <= kind < 6 else "Unspecified")
                service_col.append(service)
                resource_col.append(resource)
                scope_name_col.append(scope_name)
                scope_version_col.append(scope_version)
                attrs_col.append(attributes(span.attributes))
                duration_col.append(end - start)
                status = span.status
                code = status.code
                status_col.append(statuses[code] if 0 <= code < 3 else "Unset")
                message_col.append(status.message)
                if events:
                    ev_ts_col.append([time_text(t) for t in event_times])
                    ev_name_col.append([e.name for e in events])
                    ev_attrs_col.append([attributes(e.attributes) for e in events])
                else:
                    ev_ts_col.append(empty)
                    ev_name_col.append(empty)
                    ev_attrs_col.append(empty)
                links = span.links
                if links:
                    if len(links) > max_links:
                        cut.truncated += len(links) - max_links
                        links = links[:max_links]
                    ln_trace_col.append([link.trace_id.hex() for link in links])
                    ln_span_col.append([link.span_id.hex() for link in links])
                    ln_state_col.append([link.trace_state for link in links])
                    ln_attrs_col.append([attributes(link.attributes) for link in links])
                else:
                    ln_trace_col.append(empty)
                    ln_span_col.append(empty)
                    ln_state_col.append(empty)
                    ln_attrs_col.append(empty)

    columns: list[list[Any]] = [
        ts_col,
        trace_col,
        span_col,
        parent_col,
        state_col,
        name_col,
        kind_col,
        service_col,
        resource_col,
        scope_name_col,
        scope_version_col,
        attrs_col,
        duration_col,
        status_col,
        message_col,
        ev_ts_col,
        ev_name_col,
        ev_attrs_col,
        ln_trace_col,
        ln_span_col,
        ln_state_col,
        ln_attrs_col,
    ]
    accepted = len(ts_col)
    block = orjson.dumps(columns) + b"\n" if accepted else b""
    return Conversion(
        block=block,
        accepted=accepted,
        rejected=sum(reasons.values()),
        reasons=reasons,
        examples=examples,
        truncated=cut.truncated,
        window=window.describe(now_ns),
        columns=columns,
    )


class BlockRows:
    """The rows of a spool segment's blocks, addressable by index, to insert any range of them again.

    Used when an insert fails and the writer splits the segment to find the rows the store refuses.
    """

    def __init__(self, payloads: list[bytes] | list[memoryview]) -> None:
        self._blocks: list[list[list[Any]]] = []
        self._starts: list[int] = []
        total = 0
        for payload in payloads:
            for line in bytes(payload).splitlines():
                if not line.strip():
                    continue
                columns = orjson.loads(line)
                self._starts.append(total)
                self._blocks.append(columns)
                total += len(columns[0]) if columns else 0
        self.count = total

    def block(self, first: int, end: int) -> bytes:
        """Rows ``first`` (inclusive) to ``end`` (exclusive) as insert blocks."""
        parts = []
        for start, columns in zip(self._starts, self._blocks, strict=True):
            rows = len(columns[0]) if columns else 0
            low, high = max(first - start, 0), min(end - start, rows)
            if low < high:
                parts.append(orjson.dumps([column[low:high] for column in columns]) + b"\n")
        return b"".join(parts)

    def row(self, index: int) -> dict[str, Any]:
        """One row as column name -> value."""
        from storage.schema import OTEL_TRACES_COLUMNS as COLUMNS

        for start, columns in zip(self._starts, self._blocks, strict=True):
            rows = len(columns[0]) if columns else 0
            if start <= index < start + rows:
                return {name: column[index - start] for name, column in zip(COLUMNS, columns, strict=True)}
        raise IndexError(index)


def prerender(
    request: ExportTraceServiceRequest,
    limits: Limits,
    window: TimeWindow | None = None,
    now_ns: int | None = None,
) -> Conversion:
    """The exact Python path: :func:`convert`, then the kept spans as an OTLP request to spool whose
    attribute values are the stored texts (cut to the limits), so the engine stores them as they are."""
    conversion = convert(request, limits, window, now_ns)
    conversion.block = request_of(conversion.columns or []) if conversion.accepted else b""
    return conversion


def _ns(text: str) -> int:
    seconds, _, fraction = text.partition(".")
    return int(seconds) * _NS + int(fraction.ljust(9, "0")[:9] or 0)


def _key_values(target: Any, attributes: dict[str, str]) -> None:
    for key, text in attributes.items():
        target.add(key=key).value.string_value = text


def request_of(columns: list[list[Any]]) -> bytes:
    """An OTLP request holding the rows of ``columns`` (one resource per span, values as text)."""
    request = ExportTraceServiceRequest()
    (
        ts,
        trace,
        span_ids,
        parent,
        state,
        name,
        kind,
        _service,
        resource,
        scope_name,
        scope_version,
        attrs,
        duration,
        status,
        message,
        ev_ts,
        ev_name,
        ev_attrs,
        ln_trace,
        ln_span,
        ln_state,
        ln_attrs,
    ) = columns
    for row in range(len(ts)):
        resource_spans = request.resource_spans.add()
        _key_values(resource_spans.resource.attributes, resource[row])
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = scope_name[row]
        scope_spans.scope.version = scope_version[row]
        span = scope_spans.spans.add()
        span.trace_id = bytes.fromhex(trace[row])
        span.span_id = bytes.fromhex(span_ids[row])
        span.parent_span_id = bytes.fromhex(parent[row])
        span.trace_state = state[row]
        span.name = name[row]
        span.kind = SPAN_KINDS.index(kind[row])
        start = _ns(ts[row])
        span.start_time_unix_nano = start
        span.end_time_unix_nano = start + duration[row]
        _key_values(span.attributes, attrs[row])
        span.status.code = STATUS_CODES.index(status[row])
        span.status.message = message[row]
        for at, event_name, event_attrs in zip(ev_ts[row], ev_name[row], ev_attrs[row], strict=True):
            event = span.events.add(time_unix_nano=_ns(at), name=event_name)
            _key_values(event.attributes, event_attrs)
        for link_trace, link_span, link_state, link_attrs in zip(
            ln_trace[row], ln_span[row], ln_state[row], ln_attrs[row], strict=True
        ):
            link = span.links.add(
                trace_id=bytes.fromhex(link_trace), span_id=bytes.fromhex(link_span), trace_state=link_state
            )
            _key_values(link.attributes, link_attrs)
    return request.SerializeToString()

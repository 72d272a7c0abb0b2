"""The door's quick way decides exactly as the exact Python path on hostile input.

Each body goes three ways: the quick whole-column checks (``door._admit_all``), the door as the
receivers run it (``door.admit``) and the exact Python path (``parse_protobuf`` + ``prerender``).
Whatever the quick way accepts must be accepted whole by the exact path, with the body spooled byte
for byte; whatever it cannot prove (bad times, ids, invalid UTF-8, array values, duplicated or
missing fields on the wire, limits) it leaves to the span-by-span way, which must agree with the
exact path span for span.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from clock import ANCHOR_NS
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.convert import Conversion, Limits, TimeWindow, prerender
from collector.decode import parse_protobuf
from collector.door import _admit_all, admit, attribute_tags_bound
from collector.engine import _varint  # the wire format's varint, as the spool's framing writes it
from collector.testing import order_hop_request

HOUR_NS = 3_600_000_000_000
YEAR_1972_NS = 2 * 365 * 86_400 * 1_000_000_000 + 17 * 86_400 * 1_000_000_000  # 1972-01-18
YEAR_2300_NS = 10_413_792_000 * 1_000_000_000  # 2300-01-01
WINDOW = TimeWindow(retention_days=30)
LIMITS = Limits()
SMALL = Limits(max_attributes=5, max_events=2, max_links=2)


def _request(spans: int = 12) -> ExportTraceServiceRequest:
    return order_hop_request(spans, seed=7, start_ns=ANCHOR_NS - 3 * HOUR_NS)


def _body(change: Callable[[ExportTraceServiceRequest], None] | None = None, spans: int = 12) -> bytes:
    request = _request(spans)
    if change is not None:
        change(request)
    return request.SerializeToString()


def _span(request: ExportTraceServiceRequest, index: int = 3) -> Span:
    return request.resource_spans[0].scope_spans[0].spans[index]


def _exact(body: bytes, limits: Limits) -> Conversion:
    request, _repaired = parse_protobuf(body)
    return prerender(request, limits, WINDOW, ANCHOR_NS)


def _same_decision(door: Conversion, exact: Conversion) -> None:
    assert (door.accepted, door.rejected, dict(door.reasons), door.truncated) == (
        exact.accepted,
        exact.rejected,
        dict(exact.reasons),
        exact.truncated,
    )
    assert door.error_message == exact.error_message


def _with_events(times: list[int], attributes: int = 1) -> Callable[[ExportTraceServiceRequest], None]:
    def change(request: ExportTraceServiceRequest) -> None:
        for time_ns in times:
            event = _span(request).events.add(time_unix_nano=time_ns, name="exception")
            for n in range(attributes):
                event.attributes.add(key=f"k{n}").value.string_value = "v"

    return change


def _set(field: str, value: object, index: int = 3) -> Callable[[ExportTraceServiceRequest], None]:
    def change(request: ExportTraceServiceRequest) -> None:
        setattr(_span(request, index), field, value)

    return change


def _clear(field: str) -> Callable[[ExportTraceServiceRequest], None]:
    def change(request: ExportTraceServiceRequest) -> None:
        _span(request).ClearField(field)

    return change


def _array_in(where: str, empty: bool = False) -> Callable[[ExportTraceServiceRequest], None]:
    def change(request: ExportTraceServiceRequest) -> None:
        span = _span(request)
        target = {
            "resource": lambda: request.resource_spans[0].resource.attributes,
            "span": lambda: span.attributes,
            "event": lambda: span.events.add(time_unix_nano=span.start_time_unix_nano).attributes,
            "link": lambda: span.links.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8).attributes,
        }[where]()
        value = target.add(key="nested").value
        if where == "resource":
            value.kvlist_value.SetInParent()
            if not empty:
                value.kvlist_value.values.add(key="deep").value.int_value = 2
        else:
            value.array_value.SetInParent()
            if not empty:
                value.array_value.values.add().array_value.values.add().int_value = 1

    return change


def _many_attributes(count: int) -> Callable[[ExportTraceServiceRequest], None]:
    def change(request: ExportTraceServiceRequest) -> None:
        for n in range(count):
            _span(request).attributes.add(key=f"many.{n}").value.int_value = n

    return change


def _links(count: int, attributes: int = 0) -> Callable[[ExportTraceServiceRequest], None]:
    def change(request: ExportTraceServiceRequest) -> None:
        for n in range(count):
            link = _span(request).links.add(trace_id=bytes([n + 1]) * 16, span_id=bytes([n + 1]) * 8)
            for a in range(attributes):
                link.attributes.add(key=f"l{a}").value.bool_value = True

    return change


def _two_resources(request: ExportTraceServiceRequest) -> None:
    other = _request(5)
    request.resource_spans.add().CopyFrom(other.resource_spans[0])
    request.resource_spans[1].scope_spans.add().CopyFrom(other.resource_spans[0].scope_spans[0])


def _first_last() -> tuple[int, int]:
    return WINDOW.bounds(ANCHOR_NS)


def _span_bytes(spans: list[bytes]) -> bytes:
    """A request of one resource and scope holding these serialised spans, built on the wire."""

    def field(number: int, payload: bytes) -> bytes:
        return _varint(number << 3 | 2) + _varint(len(payload)) + payload

    scope = b"".join(field(2, span) for span in spans)
    return field(1, field(2, scope))


def _wire_spans() -> list[bytes]:
    return [span.SerializeToString() for span in _request(4).resource_spans[0].scope_spans[0].spans]


def _duplicate_start_and_missing_start() -> bytes:
    """Span 0 carries its start time twice (the last wins), span 1 none at all: as many start
    fields as spans, but span 1 starts at 0 and must be rejected."""
    spans = _wire_spans()
    first = Span.FromString(spans[0])
    second = Span.FromString(spans[1])
    second.ClearField("start_time_unix_nano")
    doubled = spans[0] + b"\x39" + struct.pack("<Q", first.start_time_unix_nano + 1)
    return _span_bytes([doubled, second.SerializeToString(), *spans[2:]])


def _start_as_varint() -> bytes:
    """A start time sent with the wrong wire type (varint): an unknown field, so the span starts at 0."""
    spans = _wire_spans()
    span = Span.FromString(spans[2])
    start = span.start_time_unix_nano
    span.ClearField("start_time_unix_nano")
    return _span_bytes([*spans[:2], span.SerializeToString() + b"\x38" + _varint(start), spans[3]])


def _explicit_zero_start() -> bytes:
    spans = _wire_spans()
    span = Span.FromString(spans[1])
    span.ClearField("start_time_unix_nano")
    return _span_bytes([spans[0], span.SerializeToString() + b"\x39" + bytes(8), *spans[2:]])


def _many_attributes_written_long(count: int) -> bytes:
    """Span 1 carries ``count`` more attributes, each tag written as a two-byte varint (0xca 0x00
    instead of 0x4a: the parsers take it), so that a count of 0x4a bytes alone would miss them."""
    spans = _wire_spans()
    extra = b""
    for n in range(count):
        attribute = KeyValue(key=f"long.{n}")
        attribute.value.int_value = n
        payload = attribute.SerializeToString()
        extra += b"\xca\x00" + _varint(len(payload)) + payload
    return _span_bytes([spans[0], spans[1] + extra, *spans[2:]])


def _invalid_utf8(where: str) -> bytes:
    request = _request()
    marker = "\u2603MARK\u2603"
    span = _span(request)
    if where == "name":
        span.name = marker
    elif where == "value":
        span.attributes[0].value.string_value = marker
    elif where == "key":
        span.attributes.add(key=marker).value.int_value = 1
    else:
        request.resource_spans[0].scope_spans[0].scope.name = marker
    body = request.SerializeToString()
    encoded = marker.encode()
    assert body.count(encoded) == 1
    return body.replace(encoded, b"\xff\xfeMARK\xc3\x28\xa0\xfe")  # same length: lengths stay right


ACCEPTED_WHOLE: dict[str, bytes] = {
    "realistic order spans": _body(),
    "500 spans": _body(spans=500),
    "root spans without parent": _body(_clear("parent_span_id")),
    "start at the window's first instant": _body(_set("start_time_unix_nano", _first_last()[0])),
    "end at the window's last instant": _body(_set("end_time_unix_nano", _first_last()[1])),
    "events in the window": _body(_with_events([ANCHOR_NS - 2 * HOUR_NS, ANCHOR_NS - HOUR_NS])),
    "links": _body(_links(2, 1)),
    "two resources, three scopes": _body(_two_resources),
    "unknown fields (dropped counts, flags)": _body(
        lambda r: (
            setattr(_span(r), "dropped_attributes_count", 3),
            setattr(_span(r), "flags", 0x301),
            r.resource_spans[0].scope_spans[0].scope.attributes.add(key="scope.attr"),
        )
    ),
}

HOSTILE: dict[str, bytes] = {
    "start at 0": _body(_set("start_time_unix_nano", 0)),
    "start and end at 1 ns": _body(
        lambda r: (
            setattr(_span(r), "start_time_unix_nano", 1),
            setattr(_span(r), "end_time_unix_nano", 1),
        )
    ),
    "start in 1972": _body(_set("start_time_unix_nano", YEAR_1972_NS)),
    "end in 2300": _body(_set("end_time_unix_nano", YEAR_2300_NS)),
    "end before start": _body(
        lambda r: setattr(_span(r), "end_time_unix_nano", _span(r).start_time_unix_nano - 1)
    ),
    "end at 0": _body(_set("end_time_unix_nano", 0)),
    "one span older than the retention": _body(_set("start_time_unix_nano", ANCHOR_NS - 40 * 24 * HOUR_NS)),
    "event at 0": _body(_with_events([ANCHOR_NS - HOUR_NS, 0])),
    "event in 1972": _body(_with_events([YEAR_1972_NS])),
    "event in 2300": _body(_with_events([YEAR_2300_NS])),
    "missing trace id": _body(_clear("trace_id")),
    "zero trace id": _body(_set("trace_id", bytes(16))),
    "short trace id": _body(_set("trace_id", b"\x01" * 15)),
    "missing span id": _body(_clear("span_id")),
    "zero span id": _body(_set("span_id", bytes(8))),
    "long span id": _body(_set("span_id", b"\x01" * 9)),
    "parent id of 5 bytes": _body(_set("parent_span_id", b"\x01" * 5)),
    "every span bad": _body(
        lambda r: [setattr(s, "trace_id", b"") for s in r.resource_spans[0].scope_spans[0].spans]
    ),
    "start duplicated in one span, missing in another": _duplicate_start_and_missing_start(),
    "start with the wrong wire type": _start_as_varint(),
    "start sent explicitly as 0": _explicit_zero_start(),
    "invalid UTF-8 in a span name": _invalid_utf8("name"),
    "invalid UTF-8 in an attribute value": _invalid_utf8("value"),
    "invalid UTF-8 in an attribute key": _invalid_utf8("key"),
    "invalid UTF-8 in the scope name": _invalid_utf8("scope"),
    "array nested in an array (span)": _body(_array_in("span")),
    "empty array (span)": _body(_array_in("span", empty=True)),
    "map value (resource)": _body(_array_in("resource")),
    "empty map (resource)": _body(_array_in("resource", empty=True)),
    "array in an event": _body(_array_in("event")),
    "array in a link": _body(_array_in("link")),
    "200 attributes in one span": _body(_many_attributes(200)),
    "200 attributes in one span, their tags written long": _many_attributes_written_long(200),
    "events over the limit": _body(_with_events([ANCHOR_NS - HOUR_NS] * 3)),
    "event attributes over the limit": _body(_with_events([ANCHOR_NS - HOUR_NS], attributes=7)),
    "links over the limit": _body(_links(3)),
    "link attributes over the limit": _body(_links(1, 7)),
    "resource attributes over the limit": _body(
        lambda r: [r.resource_spans[0].resource.attributes.add(key=f"r{n}") for n in range(9)]
    ),
}


@pytest.mark.parametrize("name", list(ACCEPTED_WHOLE))
def test_quick_way_accepts_clean_requests_whole_and_spools_them_byte_for_byte(name: str) -> None:
    body = ACCEPTED_WHOLE[name]
    quick = _admit_all(body, LIMITS, WINDOW, ANCHOR_NS)
    assert quick is not None, "a clean request should not need the span-by-span way"
    assert quick.block is body
    exact = _exact(body, LIMITS)
    assert exact.rejected == 0
    _same_decision(quick, exact)
    door = admit(body, LIMITS, WINDOW, ANCHOR_NS)
    assert door is not None and door.block is body
    _same_decision(door, exact)


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize("limits", [LIMITS, SMALL], ids=["default limits", "small limits"])
def test_door_decides_hostile_requests_as_the_exact_path(name: str, limits: Limits) -> None:
    body = HOSTILE[name]
    exact = _exact(body, limits)
    quick = _admit_all(body, limits, WINDOW, ANCHOR_NS)
    if quick is not None:  # only when every span passes (what is cut is counted as the exact path does)
        assert exact.rejected == 0 and quick.block is body
        _same_decision(quick, exact)
    door = admit(body, limits, WINDOW, ANCHOR_NS)
    if door is None:  # invalid UTF-8 (repaired) and array or map values: the exact path decides
        assert name.startswith(("invalid UTF-8", "array", "empty array", "map", "empty map"))
        return
    _same_decision(door, exact)
    if door.rejected:
        kept = ExportTraceServiceRequest.FromString(door.block) if door.block else ExportTraceServiceRequest()
        kept_ids = [s.span_id for rs in kept.resource_spans for ss in rs.scope_spans for s in ss.spans]
        assert len(kept_ids) == door.accepted
    else:
        assert door.block is body


@pytest.mark.parametrize(
    "name",
    [name for name in HOSTILE if "limit" not in name and "200 attributes" not in name],
)
def test_quick_way_never_accepts_what_it_cannot_prove(name: str) -> None:
    """Bad times and ids, fields duplicated or missing on the wire, invalid UTF-8, arrays and maps:
    the quick way steps aside (the request is still accepted or rejected span by span)."""
    assert _admit_all(HOSTILE[name], LIMITS, WINDOW, ANCHOR_NS) is None


@pytest.mark.parametrize(
    "name", ["200 attributes in one span", "200 attributes in one span, their tags written long"]
)
def test_cut_attributes_are_counted_as_the_exact_path_counts_them(name: str) -> None:
    body = HOSTILE[name]
    quick = _admit_all(body, LIMITS, WINDOW, ANCHOR_NS)
    assert quick is not None and quick.truncated == 200 + 13 - 128
    _same_decision(quick, _exact(body, LIMITS))


@pytest.mark.parametrize("name", [*ACCEPTED_WHOLE, *HOSTILE])
def test_attribute_bound_is_never_below_a_spans_attributes(name: str) -> None:
    """The byte count the quick way bounds attributes with is never below what a span has (when it
    is, cut attributes would go uncounted)."""
    body = {**ACCEPTED_WHOLE, **HOSTILE}[name]
    request, _repaired = parse_protobuf(body)
    most = max(
        len(span.attributes)
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    )
    assert attribute_tags_bound(body) >= most
    assert attribute_tags_bound(body, limit=0) >= most  # counted span by span


def test_a_large_request_is_bounded_span_by_span_within_the_limit() -> None:
    """A collector's 8,192-span batch: its random ids and times hold thousands of 0xca bytes, which
    counted over the whole body would send every span to the exact (slower) count; counted per
    span, the bound stays near a span's real attributes."""
    body = _body(spans=8192)
    most = max(len(span.attributes) for span in _request(8192).resource_spans[0].scope_spans[0].spans)
    assert body.count(b"\xca") > LIMITS.max_attributes
    assert most <= attribute_tags_bound(body, LIMITS.max_attributes) <= LIMITS.max_attributes
    _same_decision(_admit_all(body, LIMITS, WINDOW, ANCHOR_NS), _exact(body, LIMITS))


def test_a_body_that_is_not_protobuf_is_left_to_the_exact_path() -> None:
    body = _body()
    assert _admit_all(body[:-7], LIMITS, WINDOW, ANCHOR_NS) is None
    assert admit(body[:-7], LIMITS, WINDOW, ANCHOR_NS) is None

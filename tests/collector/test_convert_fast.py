"""The protobuf fast path (attributes kept as raw bytes, converted through a cache) stores exactly
what the strict path stores: same columns, same truncation counts, same rejections; anything it
cannot read strictly (invalid UTF-8 in an attribute) goes the strict way and is repaired."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
from collector_helpers import read_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from collector.convert import AttributeCache, Limits, RawAttributeError, convert, convert_raw
from collector.decode import parse_protobuf, parse_protobuf_raw_attributes
from collector.testing import order_hop_request, running_collector
from storage import Store


def _every_kind_of_attribute(attributes: object, prefix: str) -> None:
    add = attributes.add  # type: ignore[attr-defined]
    add(key=f"{prefix}.text", value=AnyValue(string_value="plain"))
    add(key=f"{prefix}.empty", value=AnyValue(string_value=""))
    add(key=f"{prefix}.unset")
    add(key=f"{prefix}.bool", value=AnyValue(bool_value=True))
    add(key=f"{prefix}.int", value=AnyValue(int_value=-42))
    add(key=f"{prefix}.double", value=AnyValue(double_value=1e21))
    add(key=f"{prefix}.nan", value=AnyValue(double_value=math.nan))
    add(key=f"{prefix}.bytes", value=AnyValue(bytes_value=b"\x00\xff"))
    add(key=f"{prefix}." + "k" * 300, value=AnyValue(string_value="long key"))
    add(key=f"{prefix}.long", value=AnyValue(string_value="\u00e9" * 200))
    add(key=f"{prefix}.utf8", value=AnyValue(string_value="\u65e5\u672c \U0001f600 \x00\x07"))
    array = add(key=f"{prefix}.array").value.array_value.values
    for n in range(7):
        array.add(int_value=n)
    array.add().kvlist_value.values.add(key="inner", value=AnyValue(double_value=2.0))
    add(key=f"{prefix}.text", value=AnyValue(string_value="duplicate key, last wins"))


def _request() -> ExportTraceServiceRequest:
    request = order_hop_request(20, seed=7)
    resource_spans = request.resource_spans[0]
    _every_kind_of_attribute(resource_spans.resource.attributes, "res")
    spans = resource_spans.scope_spans[0].spans
    for i, span in enumerate(spans):
        _every_kind_of_attribute(span.attributes, f"span{i % 3}")
        event = span.events.add(name="evt", time_unix_nano=span.start_time_unix_nano)
        _every_kind_of_attribute(event.attributes, "event")
        link = span.links.add(trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)))
        _every_kind_of_attribute(link.attributes, "link")
    spans[3].trace_id = bytes(16)  # rejected on both paths
    spans[4].end_time_unix_nano = spans[4].start_time_unix_nano - 1
    many = spans[5].attributes
    for n in range(200):
        many.add(key=f"many.{n}", value=AnyValue(string_value=str(n)))
    return request


def test_fast_path_stores_exactly_what_the_strict_path_stores() -> None:
    body = _request().SerializeToString()
    limits = Limits(max_attributes=40, max_key_length=64, max_value_length=100, max_array_length=5)
    strict = convert(parse_protobuf(body)[0], limits)
    fast_request = parse_protobuf_raw_attributes(body)
    assert fast_request is not None
    cache = AttributeCache(limits, max_entries=50)
    for _ in range(3):  # cold, then (partly) cached, then after the bounded cache was dropped
        fast = convert_raw(fast_request, cache)
        assert fast.block == strict.block
        assert (fast.accepted, fast.rejected, fast.truncated) == (
            strict.accepted,
            strict.rejected,
            strict.truncated,
        )
        assert fast.truncated > 0 and fast.rejected == 2
        assert fast.error_message == strict.error_message
        assert len(cache.entries) <= 50


def test_invalid_utf8_in_an_attribute_is_not_read_by_the_fast_path() -> None:
    request = order_hop_request(2, seed=1)
    request.resource_spans[0].scope_spans[0].spans[1].attributes.add(
        key="note", value=AnyValue(string_value="MARKER")
    )
    body = request.SerializeToString().replace(b"MARKER", b"bad\xffxy")
    fast_request = parse_protobuf_raw_attributes(body)
    assert fast_request is not None  # the outer structure is fine; the attribute is the problem
    try:
        convert_raw(fast_request, AttributeCache(Limits()))
    except RawAttributeError:
        pass
    else:
        raise AssertionError("invalid UTF-8 in an attribute must not pass the fast path")


def test_invalid_utf8_attribute_over_http_is_repaired_and_stored(store: Store, tmp_path: Path) -> None:
    request = order_hop_request(2, seed=1)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[1].attributes.add(key="note", value=AnyValue(string_value="MARKER"))
    body = request.SerializeToString().replace(b"MARKER", b"bad\xffxy")
    with running_collector(store, tmp_path / "spool") as collector:
        response = httpx.post(
            collector.http_endpoint + "/v1/traces",
            content=body,
            headers={"Content-Type": "application/x-protobuf"},
            timeout=30,
        )
        assert response.status_code == 200
        assert collector.wait_drained(20)
        metrics = httpx.get(collector.http_endpoint + "/metrics").text
    rows = {r["SpanId"]: r for r in read_spans(store)}
    assert len(rows) == 2
    assert rows[spans[1].span_id.hex()]["SpanAttributes"]["note"] == "bad\ufffdxy"
    assert rows[spans[0].span_id.hex()]["SpanAttributes"]["order.stage"] == "capture"
    assert "tower_collector_strings_repaired_total 1.0" in metrics


def _with_bad_utf8(where: str) -> bytes:
    request = order_hop_request(3, seed=5)
    scope_spans = request.resource_spans[0].scope_spans[0]
    spans = scope_spans.spans
    if where == "scope":
        target = scope_spans.scope.attributes
    elif where == "rejected span":
        spans[0].trace_id = b"short"
        target = spans[0].attributes
    elif where == "over the attribute limit":
        for n in range(140):
            spans[1].attributes.add(key=f"extra.{n}", value=AnyValue(string_value="x"))
        target = spans[1].attributes
    else:  # an event beyond max_events
        for n in range(3):
            spans[2].events.add(name=f"e{n}", time_unix_nano=spans[2].start_time_unix_nano)
        target = spans[2].events[2].attributes
    target.add(key="note", value=AnyValue(string_value="MARKER"))
    return request.SerializeToString().replace(b"MARKER", b"bad\xffxy")


def test_attributes_the_conversion_skips_are_still_checked_strictly() -> None:
    # the strict parser reads every attribute, stored or not; the fast path must not accept
    # (or count as unrepaired) what the strict parser would repair or refuse
    limits = Limits(max_events=2)
    for where in ("scope", "rejected span", "over the attribute limit", "event beyond the limit"):
        body = _with_bad_utf8(where)
        _strict, repaired = parse_protobuf(body)
        assert repaired == 1, where
        fast_request = parse_protobuf_raw_attributes(body)
        assert fast_request is not None, where
        try:
            convert_raw(fast_request, AttributeCache(limits))
        except RawAttributeError:
            pass
        else:
            raise AssertionError(f"invalid UTF-8 in an attribute ({where}) passed the fast path")


def test_deeply_nested_values_take_the_strict_path() -> None:
    request = order_hop_request(1, seed=6)
    value = request.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="deep").value
    for _ in range(20):
        value = value.array_value.values.add()
    value.string_value = "bottom"
    body = request.SerializeToString()
    fast_request = parse_protobuf_raw_attributes(body)
    assert fast_request is not None
    try:
        convert_raw(fast_request, AttributeCache(Limits()))
    except RawAttributeError:
        pass
    else:
        raise AssertionError("a value nested 20 deep must be left to the strict parser")
    strict = convert(parse_protobuf(body)[0], Limits())
    assert strict.truncated == 1 and b"bottom" not in strict.block

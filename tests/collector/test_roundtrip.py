"""Real OpenTelemetry SDK exporters (HTTP and gRPC) and OTLP/JSON -> collector -> otel_traces, field by field."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest
from clock import ANCHOR_NS
from collector_helpers import read_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from collector.service import Collector
from storage import Store

ATTRIBUTES: dict[str, Any] = {
    "order.id": "SO-1042",
    "order.manual_touch": True,
    "order.line_count": 42,
    "order.weight_kg": 12.5,
    "shipment.tracking_number": ["1Z999", "1Z998"],
    "order.flags": [True, False],
    "order.line_numbers": [1, 2, 3],
    "order.line_weights": [1.5, 2.0],
    "note": "multi\nline \u00e9 \u2713",
}
EXPECTED_ATTRIBUTES = {
    "order.id": "SO-1042",
    "order.manual_touch": "true",
    "order.line_count": "42",
    "order.weight_kg": "12.5",
    "shipment.tracking_number": '["1Z999","1Z998"]',
    "order.flags": "[true,false]",
    "order.line_numbers": "[1,2,3]",
    "order.line_weights": "[1.5,2]",
    "note": "multi\nline \u00e9 \u2713",
}


def make_spans() -> list[ReadableSpan]:
    """Two spans from the real SDK: a server span with everything, and its internal child."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": "erp-east", "system.kind": "erp", "deployment.region": "eu"}
        )
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tower.tests", "1.2.3", attributes={"scope.attr": "x"})
    linked = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState([("vendor", "v1")]),
    )
    with tracer.start_as_current_span(
        "erp.validate_order",
        kind=SpanKind.SERVER,
        attributes=ATTRIBUTES,
        links=[Link(linked, {"link.reason": "edi batch"})],
    ) as span:
        span.add_event("credit.checked", {"credit.limit": 5000, "ok": True})
        span.add_event("priced")
        with tracer.start_as_current_span("erp.reserve", kind=SpanKind.INTERNAL):
            pass
        span.set_status(Status(StatusCode.ERROR, "credit hold"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def check_stored(store: Store, spans: list[ReadableSpan]) -> None:
    by_id = {f"{s.context.span_id:016x}": s for s in spans}
    rows = read_spans(store)
    assert sorted(r["SpanId"] for r in rows) == sorted(by_id)
    for row in rows:
        span = by_id[row["SpanId"]]
        assert row["TraceId"] == f"{span.context.trace_id:032x}"
        assert row["ParentSpanId"] == (f"{span.parent.span_id:016x}" if span.parent else "")
        assert row["SpanName"] == span.name
        assert row["ServiceName"] == "erp-east"
        assert row["ResourceAttributes"]["system.kind"] == "erp"
        assert row["ResourceAttributes"]["deployment.region"] == "eu"
        assert row["ResourceAttributes"]["telemetry.sdk.language"] == "python"
        assert row["ScopeName"] == "tower.tests"
        assert row["ScopeVersion"] == "1.2.3"
        assert row["StartNs"] == span.start_time
        assert row["Duration"] == span.end_time - span.start_time
        if span.name == "erp.validate_order":
            assert row["SpanKind"] == "Server"
            assert row["SpanAttributes"] == EXPECTED_ATTRIBUTES
            assert row["StatusCode"] == "Error"
            assert row["StatusMessage"] == "credit hold"
            assert row["Events.Name"] == ["credit.checked", "priced"]
            assert row["EventNs"] == [e.timestamp for e in span.events]
            assert row["Events.Attributes"] == [{"credit.limit": "5000", "ok": "true"}, {}]
            assert row["Links.TraceId"] == ["0af7651916cd43dd8448eb211c80319c"]
            assert row["Links.SpanId"] == ["b7ad6b7169203331"]
            # (the Python SDK does not encode a link's trace state; the OTLP/JSON test covers it)
            assert row["Links.Attributes"] == [{"link.reason": "edi batch"}]
        else:
            assert row["SpanKind"] == "Internal"
            assert row["SpanAttributes"] == {}
            assert row["StatusCode"] == "Unset"
            assert row["Events.Name"] == []
            assert row["Links.TraceId"] == []
    # the key index (filled by a materialized view) sees the order and both tracking numbers
    keys = {r["Key"] for r in store.rows("SELECT Key FROM order_keys WHERE OrderId = 'SO-1042'")}
    assert {"SO-1042", "1Z999", "1Z998"} <= keys


@pytest.mark.parametrize("compression", [HttpCompression.NoCompression, HttpCompression.Gzip])
def test_sdk_http_exporter_spans_are_stored_field_by_field(
    collector: Collector, store: Store, compression: HttpCompression
) -> None:
    spans = make_spans()
    exporter = HttpExporter(endpoint=collector.http_endpoint + "/v1/traces", compression=compression)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert collector.wait_drained(20)
    check_stored(store, spans)


def test_sdk_grpc_exporter_with_gzip_spans_are_stored_field_by_field(
    collector: Collector, store: Store
) -> None:
    spans = make_spans()
    exporter = GrpcExporter(
        endpoint=collector.grpc_endpoint, insecure=True, compression=grpc.Compression.Gzip
    )
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert collector.wait_drained(20)
    check_stored(store, spans)


# The OTLP/JSON encoding as the specification shows it: hex ids, int64 as strings, enums as
# integers, lowerCamelCase names, plus a field this version does not know (ignored).
OTLP_JSON = """{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "wms-dc1"}}]},
    "scopeSpans": [{
      "scope": {"name": "wms.agent", "version": "2.0", "attributes": []},
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "wms.pick",
        "startTimeUnixNano": "START",
        "endTimeUnixNano": END,
        "kind": 3,
        "futureField": {"anything": 1},
        "attributes": [
          {"key": "order.id", "value": {"stringValue": "SO-7"}},
          {"key": "order.line_count", "value": {"intValue": "3"}},
          {"key": "picked", "value": {"boolValue": true}},
          {"key": "ratio", "value": {"doubleValue": 0.25}},
          {"key": "blob", "value": {"bytesValue": "AQID"}},
          {"key": "meta", "value": {"kvlistValue": {"values": [{"key": "a", "value": {"intValue": "1"}}]}}}
        ],
        "events": [{"timeUnixNano": "EVENT", "name": "scanned",
                    "attributes": [{"key": "bin", "value": {"stringValue": "A-1"}}]}],
        "links": [{"traceId": "5b8efff798038103d269b633813fc60d", "spanId": "eee19b7ec3c1b175", "traceState": "k=v"}],
        "status": {"code": 2, "message": "short pick"}
      }]
    }]
  }]
}"""


def test_otlp_json_request_round_trips(collector: Collector, store: Store) -> None:
    start = ANCHOR_NS  # the tests' anchor: otel_traces keeps 30 days
    body = (
        OTLP_JSON.replace("START", str(start))
        .replace("END", str(start + 10**9))
        .replace("EVENT", str(start + 5 * 10**8))
    )
    response = httpx.post(
        collector.http_endpoint + "/v1/traces",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {}
    assert collector.wait_drained(20)
    [row] = read_spans(store)
    assert row["TraceId"] == "5b8efff798038103d269b633813fc60c"
    assert row["SpanId"] == "eee19b7ec3c1b174"
    assert row["ParentSpanId"] == "eee19b7ec3c1b173"
    assert row["SpanName"] == "wms.pick"
    assert row["SpanKind"] == "Client"
    assert row["ServiceName"] == "wms-dc1"
    assert row["ScopeName"] == "wms.agent"
    assert row["ScopeVersion"] == "2.0"
    assert row["StartNs"] == start
    assert row["Duration"] == 1_000_000_000
    assert row["SpanAttributes"] == {
        "order.id": "SO-7",
        "order.line_count": "3",
        "picked": "true",
        "ratio": "0.25",
        "blob": "AQID",
        "meta": '{"a":1}',
    }
    assert row["EventNs"] == [start + 5 * 10**8]
    assert row["Events.Name"] == ["scanned"]
    assert row["Events.Attributes"] == [{"bin": "A-1"}]
    assert row["Links.TraceId"] == ["5b8efff798038103d269b633813fc60d"]
    assert row["Links.SpanId"] == ["eee19b7ec3c1b175"]
    assert row["Links.TraceState"] == ["k=v"]
    assert row["StatusCode"] == "Error"
    assert row["StatusMessage"] == "short pick"

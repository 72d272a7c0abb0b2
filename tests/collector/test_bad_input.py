"""Hostile and broken input: each gets the OTLP specification's answer, the server stays up, and
valid spans in the same request are kept."""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from collector_helpers import read_spans
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collector.service import Collector
from collector.testing import order_hop_request, running_collector
from storage import Store

PROTOBUF = {"Content-Type": "application/x-protobuf"}
METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture
def small_collector(store: Store, tmp_path: Path) -> Iterator[Collector]:
    """A collector with a 1 MiB body limit and a token."""
    with running_collector(store, tmp_path / "spool", max_body_bytes=1024 * 1024) as running:
        yield running


def post(collector: Collector, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        collector.http_endpoint + "/v1/traces", content=body, headers=headers or PROTOBUF, timeout=30
    )


def status_of(response: httpx.Response) -> status_pb2.Status:
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    return status


def metric(collector: Collector, name: str, labels: str = "") -> float:
    text = httpx.get(collector.http_endpoint + "/metrics").text
    for line in text.splitlines():
        if line.startswith(name + labels + " ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def assert_still_serving(collector: Collector, store: Store) -> None:
    """A valid request after the bad ones is accepted and stored."""
    request = order_hop_request(3, seed=99)
    response = post(collector, request.SerializeToString())
    assert response.status_code == 200
    assert collector.wait_drained(20)
    ids = [s.span_id.hex() for s in request.resource_spans[0].scope_spans[0].spans]
    stored = store.scalar("SELECT count() FROM otel_traces WHERE SpanId IN {ids:Array(String)}", {"ids": ids})
    assert stored == 3


def test_truncated_protobuf_is_400_with_status_body(small_collector: Collector, store: Store) -> None:
    body = order_hop_request(20).SerializeToString()
    response = post(small_collector, body[: len(body) - 7])
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    status = status_of(response)
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert "ExportTraceServiceRequest" in status.message
    assert metric(small_collector, "tower_collector_requests_rejected_total", '{reason="malformed"}') == 1
    assert store.scalar("SELECT count() FROM otel_traces") == 0
    assert_still_serving(small_collector, store)


def test_malformed_json_is_400_with_json_status(small_collector: Collector, store: Store) -> None:
    response = post(small_collector, b'{"resourceSpans": [', {"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == code_pb2.INVALID_ARGUMENT
    assert "JSON" in response.json()["message"]


def test_wrong_content_type_is_415(small_collector: Collector, store: Store) -> None:
    response = post(small_collector, b"hello", {"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert "application/x-protobuf" in status_of(response).message
    response = post(small_collector, b"x", {**PROTOBUF, "Content-Encoding": "br"})
    assert response.status_code == 415
    assert_still_serving(small_collector, store)


def test_gzip_bomb_is_413_without_inflating_it(small_collector: Collector, store: Store) -> None:
    bomb = gzip.compress(b"\x00" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024  # small on the wire, 64 MiB inflated
    response = post(small_collector, bomb, {**PROTOBUF, "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert status_of(response).code == code_pb2.RESOURCE_EXHAUSTED
    assert metric(small_collector, "tower_collector_requests_rejected_total", '{reason="too_large"}') == 1
    assert_still_serving(small_collector, store)


def test_oversize_body_is_413_and_corrupt_gzip_is_400(small_collector: Collector, store: Store) -> None:
    big = order_hop_request(5000).SerializeToString()
    assert len(big) > 1024 * 1024
    assert post(small_collector, big).status_code == 413
    # chunked (no Content-Length): the limit is enforced while reading
    response = httpx.post(
        small_collector.http_endpoint + "/v1/traces",
        content=iter([big[i : i + 65536] for i in range(0, len(big), 65536)]),
        headers=PROTOBUF,
    )
    assert response.status_code == 413
    corrupt = gzip.compress(order_hop_request(5).SerializeToString())[:-12]
    assert post(small_collector, corrupt, {**PROTOBUF, "Content-Encoding": "gzip"}).status_code == 400
    assert store.scalar("SELECT count() FROM otel_traces") == 0
    assert_still_serving(small_collector, store)


def test_bad_spans_are_rejected_one_by_one_and_the_rest_kept(
    small_collector: Collector, store: Store
) -> None:
    request = order_hop_request(8, seed=1)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = b"\x01" * 8  # wrong length
    spans[1].trace_id = bytes(16)  # all zeros
    spans[2].span_id = bytes(8)  # all zeros
    spans[3].span_id = b"\x02" * 9  # wrong length
    spans[4].end_time_unix_nano = spans[4].start_time_unix_nano - 1  # end before start
    spans[5].attributes.add(key="note", value={"string_value": "nul\x00 and \x07 bell \x1b[31m"})
    for i in range(10_000):  # 10,000 attributes: kept up to the limit, the cut is counted
        spans[6].attributes.add(key=f"k{i}", value={"int_value": i})
    kept = {spans[i].span_id.hex() for i in (5, 6, 7)}
    response = post(small_collector, request.SerializeToString())
    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 5
    message = answer.partial_success.error_message
    for reason in ("invalid_trace_id", "invalid_span_id", "end_before_start"):
        assert reason in message
    assert small_collector.wait_drained(20)
    rows = {r["SpanId"]: r for r in read_spans(store)}
    assert set(rows) == kept
    assert rows[spans[5].span_id.hex()]["SpanAttributes"]["note"] == "nul\x00 and \x07 bell \x1b[31m"
    assert len(rows[spans[6].span_id.hex()]["SpanAttributes"]) == 128
    assert metric(small_collector, "tower_collector_attributes_truncated_total") == 10_013 - 128
    assert metric(small_collector, "tower_collector_spans_rejected_total", '{reason="invalid_trace_id"}') == 2


def test_invalid_utf8_is_repaired_not_fatal(small_collector: Collector, store: Store) -> None:
    request = order_hop_request(3, seed=2)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].name = "MARKERNAME"
    body = request.SerializeToString().replace(b"MARKERNAME", b"bad\xff\xfenames")
    response = post(small_collector, body)
    assert response.status_code == 200
    assert small_collector.wait_drained(20)
    names = {r["SpanId"]: r["SpanName"] for r in read_spans(store)}
    assert len(names) == 3
    assert names[spans[0].span_id.hex()] == "bad\ufffd\ufffdnames"
    assert metric(small_collector, "tower_collector_strings_repaired_total") == 1
    # OTLP/JSON with invalid UTF-8 bytes is repaired the same way
    doc = json_format.MessageToJson(order_hop_request(1, seed=3)).encode()
    assert (
        post(
            small_collector,
            doc.replace(b"tower.simulator", b"tower\xffsim"),
            {"Content-Type": "application/json"},
        ).status_code
        == 200
    )


def test_missing_and_wrong_tokens_are_401_and_write_nothing(store: Store, tmp_path: Path) -> None:
    with running_collector(store, tmp_path / "spool", tokens=["s3cret", "other"]) as collector:
        body = order_hop_request(5).SerializeToString()
        missing = post(collector, body)
        assert missing.status_code == 401
        assert status_of(missing).code == code_pb2.UNAUTHENTICATED
        assert post(collector, body, {**PROTOBUF, "Authorization": "Bearer nope"}).status_code == 401
        assert post(collector, body, {**PROTOBUF, "Authorization": "Basic s3cret"}).status_code == 401
        with grpc.insecure_channel(collector.grpc_endpoint) as channel:
            export = channel.unary_unary(METHOD)
            with pytest.raises(grpc.RpcError) as denied:
                export(body, metadata=(("authorization", "Bearer nope"),), timeout=10)
            assert denied.value.code() is grpc.StatusCode.UNAUTHENTICATED
        collector.wait_drained(5)
        assert store.scalar("SELECT count() FROM otel_traces") == 0
        assert metric(collector, "tower_collector_requests_rejected_total", '{reason="unauthenticated"}') == 4
        assert post(collector, body, {**PROTOBUF, "Authorization": "Bearer other"}).status_code == 200
        with grpc.insecure_channel(collector.grpc_endpoint) as channel:
            reply = channel.unary_unary(METHOD)(
                order_hop_request(2, seed=5).SerializeToString(),
                metadata=(("authorization", "Bearer s3cret"),),
                timeout=10,
            )
        assert ExportTraceServiceResponse.FromString(reply).partial_success.rejected_spans == 0
        assert collector.wait_drained(20)
        assert store.scalar("SELECT count() FROM otel_traces") == 7


def test_grpc_malformed_and_oversize_messages(small_collector: Collector, store: Store) -> None:
    with grpc.insecure_channel(small_collector.grpc_endpoint) as channel:
        export = channel.unary_unary(METHOD)
        with pytest.raises(grpc.RpcError) as bad:
            export(b"\x0a\xff\xff\xff\xff\x0f garbage", timeout=10)
        assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as big:
            export(order_hop_request(5000).SerializeToString(), timeout=10)
        assert big.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        good = ExportTraceServiceRequest()
        good.CopyFrom(order_hop_request(4, seed=8))
        spans = good.resource_spans[0].scope_spans[0].spans
        spans[0].trace_id = b""
        reply = ExportTraceServiceResponse.FromString(export(good.SerializeToString(), timeout=10))
        assert reply.partial_success.rejected_spans == 1
    assert small_collector.wait_drained(20)
    assert store.scalar("SELECT count() FROM otel_traces") == 3
    time.sleep(0)  # the server is still up:
    assert_still_serving(small_collector, store)


def test_long_keys_values_and_arrays_are_cut_to_the_limits(store: Store, tmp_path: Path) -> None:
    with running_collector(
        store,
        tmp_path / "spool",
        max_attribute_key_length=8,
        max_attribute_value_length=5,
        max_array_length=2,
    ) as collector:
        request = order_hop_request(1, seed=4)
        span = request.resource_spans[0].scope_spans[0].spans[0]
        del span.attributes[:]
        del request.resource_spans[0].resource.attributes[:]  # (they would be cut as well)
        span.attributes.add(key="a-very-long-key", value={"string_value": "short"})
        span.attributes.add(key="long", value={"string_value": "\u00e9" * 10})
        array = span.attributes.add(key="list").value.array_value.values
        for item in ("x", "y", "z", "w"):
            array.add(string_value=item)
        assert post(collector, request.SerializeToString()).status_code == 200
        assert collector.wait_drained(20)
        [row] = read_spans(store)
        # cut to 8 / 5 characters (not bytes); the array to 2 elements, then its JSON text to 5
        # (by the engine as it converts: counted are attributes, events and links beyond the counts)
        assert row["SpanAttributes"] == {"a-very-l": "short", "long": "\u00e9" * 5, "list": '["x",'}


def test_too_many_bytes_in_flight_is_429_with_retry_after(store: Store, tmp_path: Path) -> None:
    with running_collector(store, tmp_path / "spool", max_inflight_bytes=300_000) as collector:
        body = order_hop_request(200).SerializeToString()
        port = int(collector.http_endpoint.rsplit(":", 1)[1])
        # a slow sender: headers and half of its body, holding its bytes in flight
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        deadline = time.monotonic() + 10
        while metric(collector, "tower_collector_inflight_bytes") == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        refused = post(collector, body)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "2"
        assert status_of(refused).code == code_pb2.RESOURCE_EXHAUSTED
        with grpc.insecure_channel(collector.grpc_endpoint) as channel:
            with pytest.raises(grpc.RpcError) as busy:
                channel.unary_unary(METHOD)(body, timeout=10)
            assert busy.value.code() is grpc.StatusCode.UNAVAILABLE
        slow.sendall(body[len(body) // 2 :])  # the slow request completes and is acknowledged
        assert b"200 OK" in slow.recv(65536)
        slow.close()
        assert post(collector, body).status_code == 200  # and there is room again
        assert collector.wait_drained(20)
        # both acknowledged requests are stored (a sender's resend is a new request: OTLP is
        # at-least-once; only the collector's own replays are deduplicated)
        assert store.scalar("SELECT count() FROM otel_traces") == 400

"""OtlpGrpc against a scripted gRPC server on 127.0.0.1: the OTLP retry rules, as a sender sees them."""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tracing.otlp_grpc import METHOD, OtlpGrpc
from tracing.otlp_http import EmitError, SpansRejected, TooLarge


class _Abort(collections.namedtuple("_Abort", ("code", "details", "trailing_metadata")), grpc.Status):
    pass


def _status(code: grpc.StatusCode, message: str, retry_s: float | None = None) -> grpc.Status:
    status = status_pb2.Status(code=code.value[0], message=message)
    if retry_s is not None:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=int(retry_s * 1e9))))
        status.details.append(detail)
    return _Abort(code, message, (("grpc-status-details-bin", status.SerializeToString()),))


@contextmanager
def scripted(answers: list[Any]) -> Iterator[tuple[str, list[tuple[float, bytes, dict[str, str]]]]]:
    """A TraceService/Export server answering each call with the next of ``answers``: a grpc.Status
    (aborts) or an ExportTraceServiceResponse. Yields its address and the calls it received."""
    calls: list[tuple[float, bytes, dict[str, str]]] = []

    def export(body: bytes, context: grpc.ServicerContext) -> bytes:
        calls.append((time.monotonic(), body, dict(context.invocation_metadata())))
        answer = answers[min(len(calls), len(answers)) - 1]
        if isinstance(answer, grpc.Status):
            context.abort_with_status(answer)
        return bytes(answer.SerializeToString())

    handler = grpc.method_handlers_generic_handler(
        METHOD.split("/")[1],
        {METHOD.split("/")[2]: grpc.unary_unary_rpc_method_handler(export)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", calls
    finally:
        server.stop(grace=None)


BODY = ExportTraceServiceRequest().SerializeToString() + b"\x0a\x00"  # one empty ResourceSpans
OK = ExportTraceServiceResponse()


def test_unavailable_with_a_retry_delay_is_retried_after_that_delay_with_the_token() -> None:
    with scripted([_status(grpc.StatusCode.UNAVAILABLE, "spool full", retry_s=0.3), OK]) as (url, calls):
        client = OtlpGrpc(url, token="s3cret", timeout_s=5)
        client.post(BODY)
        client.close()
    assert len(calls) == 2 and calls[0][1] == calls[1][1] == BODY
    assert calls[1][0] - calls[0][0] >= 0.25, "the collector's RetryInfo delay is honoured"
    assert calls[0][2]["authorization"] == "Bearer s3cret"


def test_refusals_are_told_apart() -> None:
    cases = [
        (_status(grpc.StatusCode.INVALID_ARGUMENT, "malformed request"), SpansRejected, "INVALID_ARGUMENT.*malformed"),
        (_status(grpc.StatusCode.UNAUTHENTICATED, "bad token"), EmitError, "credentials.*bad token"),
        (_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "body over 20 MiB"), TooLarge, "20 MiB"),
    ]  # fmt: skip
    for answer, error, message in cases:
        with scripted([answer, OK]) as (url, calls):
            client = OtlpGrpc(url, timeout_s=5)
            with pytest.raises(error, match=message):
                client.post(BODY)
            client.close()
        assert len(calls) == 1, f"{error.__name__} is not retried"


def test_a_partial_success_is_an_error_naming_the_collector_reason() -> None:
    partial = ExportTraceServiceResponse()
    partial.partial_success.rejected_spans = 2
    partial.partial_success.error_message = "2 spans start before the accepted window"
    with scripted([partial]) as (url, _calls):
        client = OtlpGrpc(url, timeout_s=5)
        with pytest.raises(SpansRejected, match=r"rejected 2 span.*before the accepted window"):
            client.post(BODY)
        client.close()


def test_an_unreachable_collector_is_retried_until_the_timeout_then_reported() -> None:
    with scripted([OK]) as (url, _calls):
        pass  # stopped: the port is free again
    client = OtlpGrpc(url, timeout_s=1.5)
    began = time.monotonic()
    with pytest.raises(EmitError, match=r"UNAVAILABLE after [2-9] attempt"):
        client.post(BODY)
    client.close()
    assert time.monotonic() - began < 5

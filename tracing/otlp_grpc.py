"""OTLP/gRPC requests whose answer is read, ``partial_success`` included.

The SDK's gRPC exporter discards the collector's answer, as its HTTP exporter does: spans rejected in
a ``partial_success`` count as sent. :class:`OtlpGrpc` calls ``TraceService/Export`` with the encoded
request itself and reads the response, with the same errors as :class:`tracing.otlp_http.OtlpHttp`:
:class:`SpansRejected` for spans refused for what they are, :class:`TooLarge` when the collector
refuses the message's size (RESOURCE_EXHAUSTED without a retry delay), :class:`EmitError` when they
were not acknowledged. Retries follow the OTLP specification: UNAVAILABLE, DEADLINE_EXCEEDED,
CANCELLED, ABORTED, OUT_OF_RANGE and DATA_LOSS, and RESOURCE_EXHAUSTED carrying a
``google.rpc.RetryInfo`` (whose delay is honoured), within ``timeout_s``.
"""

from __future__ import annotations

import threading
import time

import grpc
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tracing.otlp_http import EmitError, SpansRejected, TooLarge, backoff, check_partial_success

METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

_RETRYABLE = {
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DATA_LOSS,
}
_CREDENTIALS = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}


def _retry_delay(error: grpc.RpcError) -> float | None:
    """The ``google.rpc.RetryInfo`` delay the collector attached to its status, in seconds."""
    trailing = error.trailing_metadata() if isinstance(error, grpc.Call) else None
    for key, value in trailing or ():
        if key != "grpc-status-details-bin" or not isinstance(value, bytes):
            continue
        try:
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.RetryInfo()
                if detail.Unpack(info):
                    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
        except Exception:  # an unreadable detail is no delay
            return None
    return None


class OtlpGrpc:
    """Sends encoded OTLP requests to ``TraceService/Export`` (gzip) and reads the answer.

    ``endpoint`` is ``host:port``, ``http://host:port`` (plaintext) or ``https://host:port`` (TLS).
    """

    def __init__(self, endpoint: str, token: str = "", timeout_s: float = 10.0) -> None:
        target = endpoint.removeprefix("http://").removeprefix("https://").rstrip("/")
        if endpoint.startswith("https://"):
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials())
        else:
            self._channel = grpc.insecure_channel(target)
        # bytes in (the request is encoded already), the response parsed here
        self._export = self._channel.unary_unary(
            METHOD, request_serializer=None, response_deserializer=ExportTraceServiceResponse.FromString
        )
        self.target = target
        self.timeout_s = timeout_s
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        self._closed = threading.Event()

    def post(self, body: bytes) -> None:
        """Send one request; returns when every span was accepted, else raises."""
        deadline = time.monotonic() + self.timeout_s
        attempt = 0
        while True:
            attempt += 1
            remaining = max(deadline - time.monotonic(), 0.001)
            try:
                answer = self._export(
                    body, timeout=remaining, metadata=self._metadata, compression=grpc.Compression.Gzip
                )
            except grpc.RpcError as error:
                code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
                problem = (error.details() if isinstance(error, grpc.Call) else "") or ""
                delay = _retry_delay(error)
                if code is grpc.StatusCode.RESOURCE_EXHAUSTED and delay is None:
                    raise TooLarge(problem) from None
                if code in _CREDENTIALS:
                    raise EmitError(f"collector refused the credentials ({code.name}): {problem}") from None
                if code not in _RETRYABLE and code is not grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise SpansRejected(
                        f"collector answered {code.name}: {problem or 'request refused'}"
                    ) from None
                if delay is None:
                    delay = backoff(attempt)
                if time.monotonic() + delay > deadline or self._closed.is_set():
                    raise EmitError(
                        f"collector answered {code.name} after {attempt} attempt(s): {problem}"
                    ) from None
                self._closed.wait(delay)
                continue
            check_partial_success(answer.partial_success.rejected_spans, answer.partial_success.error_message)
            return

    def close(self) -> None:
        self._closed.set()
        self._channel.close()

    def shutdown(self) -> None:
        self.close()

"""OTLP/gRPC receiver: ``opentelemetry.proto.collector.trace.v1.TraceService/Export`` (gzip too).

The method is registered with raw bytes in and out so that a malformed message is answered with
INVALID_ARGUMENT by us instead of a generic error from the framework. Refusals map to the OTLP
codes: UNAUTHENTICATED, INVALID_ARGUMENT, RESOURCE_EXHAUSTED (too large) and UNAVAILABLE with a
``google.rpc.RetryInfo`` detail when the collector or its spool is full.
"""

from __future__ import annotations

import collections
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from collector.pipeline import Pipeline, Refusal

TRANSPORT = "grpc"
SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"

_GRPC_CODE = {
    "unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "unsupported_media_type": grpc.StatusCode.INVALID_ARGUMENT,
    "unsupported_encoding": grpc.StatusCode.INVALID_ARGUMENT,
    "too_large": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "malformed": grpc.StatusCode.INVALID_ARGUMENT,
    "overloaded": grpc.StatusCode.UNAVAILABLE,
    "spool_full": grpc.StatusCode.UNAVAILABLE,
    "stopping": grpc.StatusCode.UNAVAILABLE,
    "spool_error": grpc.StatusCode.UNAVAILABLE,
}


class _Status(collections.namedtuple("_Status", ("code", "details", "trailing_metadata")), grpc.Status):
    pass


class TraceReceiver:
    """Serves ``TraceService/Export`` on a grpc server."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.retry_after_s = pipeline.settings.retry_after_s

    def export(self, body: bytes, context: grpc.ServicerContext) -> bytes:
        pipeline = self.pipeline
        peer = context.peer() or "?"
        try:
            metadata = dict(context.invocation_metadata() or ())
            pipeline.authorize(metadata.get("authorization"))
            if len(body) > pipeline.settings.max_body_bytes:
                raise Refusal(
                    "too_large",
                    f"message is {len(body)} bytes, the limit is {pipeline.settings.max_body_bytes}",
                )
            reserved = len(body) * 3
            pipeline.admit(reserved)
            try:
                decoded = pipeline.decode(body, json=False, gzip=False, transport=TRANSPORT)
                future = pipeline.spool_block(decoded.conversion)
                if future is not None:
                    try:
                        future.result()
                    except OSError as exc:
                        raise Refusal("spool_error", f"spool write failed: {exc}") from None
                response = pipeline.acknowledged(decoded.conversion, TRANSPORT)
            finally:
                pipeline.release(reserved)
        except Refusal as refusal:
            pipeline.refused(refusal, TRANSPORT, peer)
            context.abort_with_status(self._status(refusal))
            raise  # not reached: abort_with_status raises
        return response.SerializeToString()

    def _status(self, refusal: Refusal) -> grpc.Status:
        code = _GRPC_CODE[refusal.kind]
        status = status_pb2.Status(code=code.value[0], message=refusal.message)
        if code is grpc.StatusCode.UNAVAILABLE:
            detail = any_pb2.Any()
            detail.Pack(
                error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=self.retry_after_s))
            )
            status.details.append(detail)
        trailing = (("grpc-status-details-bin", status.SerializeToString()),)
        return _Status(code, refusal.message, trailing)


def server_options(settings: Any) -> list[tuple[str, int]]:
    """gRPC core channel arguments bounding slow and idle clients (see CollectorSettings.grpc_*).

    - ``grpc.server_handshake_timeout_ms``: a connection must finish the HTTP/2 handshake (connection
      preface and SETTINGS) in time, so a client trickling the preface is closed;
    - ``grpc.max_allowed_incoming_connections``: further connections are refused;
    - ``grpc.max_concurrent_streams``: calls per connection;
    - ``grpc.max_connection_idle_ms``: GOAWAY to connections without calls;
    - ``grpc.max_connection_age_ms`` (+ grace): GOAWAY after that age, which bounds a call whose
      message trickles in (a unary call reaches the handler only when its message is complete);
    - keepalive pings from clients at most every 10 s without calls (ping floods are refused).
    """
    ms = lambda seconds: max(1, int(seconds * 1000))  # noqa: E731
    return [
        ("grpc.max_receive_message_length", settings.max_body_bytes),
        ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ("grpc.server_handshake_timeout_ms", ms(settings.grpc_handshake_timeout_s)),
        ("grpc.max_allowed_incoming_connections", settings.grpc_max_connections),
        ("grpc.max_concurrent_streams", settings.grpc_max_concurrent_streams),
        ("grpc.max_connection_idle_ms", ms(settings.grpc_max_connection_idle_s)),
        ("grpc.max_connection_age_ms", ms(settings.grpc_max_connection_age_s)),
        ("grpc.max_connection_age_grace_ms", ms(settings.grpc_max_connection_age_grace_s)),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 2),
    ]


def create_server(pipeline: Pipeline, host: str, port: int, workers: int) -> tuple[grpc.Server, int]:
    """A started-later grpc server with the receiver bound; returns it and the bound port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="collector-grpc"),
        options=server_options(pipeline.settings),
    )
    receiver = TraceReceiver(pipeline)
    handler: Any = grpc.method_handlers_generic_handler(
        SERVICE,
        {"Export": grpc.unary_unary_rpc_method_handler(receiver.export)},
    )
    server.add_generic_rpc_handlers((handler,))
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind OTLP/gRPC on {host}:{port}")
    return server, bound

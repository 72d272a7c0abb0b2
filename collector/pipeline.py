"""What both receivers do with an export request, independent of HTTP or gRPC.

``authorize`` -> ``admit`` (bytes in flight) -> ``decode`` (decompress, parse, validate at the door:
``collector.door``) -> ``spool`` (append + fsync; the acknowledgement waits for it). The spool keeps
the accepted spans as OTLP requests; the engine converts them when the writer inserts them. Each refusal is a :class:`Refusal`
with a class the transports map to their status codes, counted and logged as one structured line.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Literal

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collector.convert import Conversion, Limits, TimeWindow, prerender
from collector.decode import BodyError, BodyTooLarge, gunzip, parse_json, parse_protobuf
from collector.door import admit
from collector.metrics import CollectorMetrics
from collector.settings import CollectorSettings
from collector.spool import Spool, SpoolClosed, SpoolFull
from storage.errors import TowerError

log = logging.getLogger(__name__)

RefusalKind = Literal[
    "unauthenticated",
    "unsupported_media_type",
    "unsupported_encoding",
    "too_large",
    "malformed",
    "overloaded",
    "spool_full",
    "stopping",
    "spool_error",
]
# Refusals a sender should retry later (HTTP 429/503 with Retry-After, gRPC UNAVAILABLE).
RETRYABLE: frozenset[str] = frozenset({"overloaded", "spool_full", "stopping", "spool_error"})


class Refusal(TowerError):
    """The whole request is refused; nothing of it was stored."""

    def __init__(self, kind: RefusalKind, message: str) -> None:
        super().__init__(message)
        self.kind: RefusalKind = kind
        self.message = message


@dataclass
class Decoded:
    conversion: Conversion
    received: int


class Pipeline:
    def __init__(
        self,
        settings: CollectorSettings,
        spool: Spool,
        metrics: CollectorMetrics,
        *,
        retention_days: int = 0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.settings = settings
        self.spool = spool
        self.metrics = metrics
        self.clock = clock
        self.limits = Limits.of(settings)
        self.window = TimeWindow(
            retention_days=retention_days,
            max_age_s=settings.max_span_age_s,
            max_future_s=settings.max_clock_skew_s,
        )
        self._tokens = [t.get_secret_value().encode() for t in settings.tokens if t.get_secret_value()]
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        # bumped whenever this pipeline changes its metrics (a receiver re-renders /metrics then)
        self.changes = 0

    # -- admission ---------------------------------------------------------------------------

    def authorize(self, authorization: str | None) -> None:
        """Check ``Authorization: Bearer <token>`` when tokens are configured."""
        if not self._tokens:
            return
        if not authorization:
            raise Refusal("unauthenticated", "missing bearer token (Authorization: Bearer <token>)")
        scheme, _, token = authorization.strip().partition(" ")
        given = token.strip().encode()
        valid = scheme.lower() == "bearer" and any(hmac.compare_digest(given, t) for t in self._tokens)
        if not valid:
            raise Refusal("unauthenticated", "invalid bearer token")

    def admit(self, size: int) -> None:
        """Reserve ``size`` bytes in flight, or refuse as overloaded (one request always fits)."""
        with self._inflight_lock:
            if self._inflight and self._inflight + size > self.settings.max_inflight_bytes:
                raise Refusal(
                    "overloaded",
                    f"collector has {self._inflight} bytes in flight (limit {self.settings.max_inflight_bytes}); retry later",
                )
            self._inflight += size
            self.metrics.inflight_bytes.set(self._inflight)
            self.changes += 1

    def release(self, size: int) -> None:
        with self._inflight_lock:
            self._inflight -= size
            self.metrics.inflight_bytes.set(self._inflight)
            self.changes += 1

    # -- decoding ----------------------------------------------------------------------------

    def decode(self, body: bytes, *, json: bool, gzip: bool, transport: str) -> Decoded:
        """Decompress, parse and convert a body; raises :class:`Refusal` for a bad body."""
        limit = self.settings.max_body_bytes
        try:
            if gzip:
                body = gunzip(body, limit)
            if len(body) > limit:
                raise BodyTooLarge(f"body is {len(body)} bytes, the limit is {limit}")
        except BodyTooLarge as exc:
            raise Refusal("too_large", str(exc)) from None
        except BodyError as exc:
            raise Refusal("malformed", str(exc)) from None
        except Exception as exc:  # a body no parser path expected: still the sender's problem
            log.exception("collector: unexpected error decoding a %s body", "JSON" if json else "protobuf")
            raise Refusal("malformed", f"body cannot be decoded: {type(exc).__name__}") from None
        now_ns = self.clock()
        conversion = None if json else admit(body, self.limits, self.window, now_ns)
        repaired = 0
        if conversion is None:  # the exact Python path (JSON, invalid UTF-8, deeply nested values)
            request, repaired = self._parse(body, json)
            conversion = prerender(request, self.limits, self.window, now_ns)
        received = conversion.accepted + conversion.rejected
        metrics = self.metrics
        metrics.spans_received.labels(transport).inc(received)
        if repaired:
            metrics.repaired.inc(repaired)
        if conversion.truncated:
            metrics.truncated.inc(conversion.truncated)
        if conversion.rejected:
            for reason, count in conversion.reasons.items():
                metrics.spans_rejected.labels(reason).inc(count)
            log.warning(
                "collector.reject_spans transport=%s rejected=%d accepted=%d reasons=%s detail=%r",
                transport,
                conversion.rejected,
                conversion.accepted,
                ",".join(f"{k}:{v}" for k, v in sorted(conversion.reasons.items())),
                conversion.error_message[:500],
            )
        self.changes += 1
        return Decoded(conversion, received)

    def _parse(self, body: bytes, json: bool) -> tuple[ExportTraceServiceRequest, int]:
        try:
            return parse_json(body) if json else parse_protobuf(body)
        except BodyTooLarge as exc:
            raise Refusal("too_large", str(exc)) from None
        except BodyError as exc:
            raise Refusal("malformed", str(exc)) from None
        except Exception as exc:  # a body no parser path expected: still the sender's problem
            log.exception("collector: unexpected error decoding a %s body", "JSON" if json else "protobuf")
            raise Refusal("malformed", f"body cannot be decoded: {type(exc).__name__}") from None

    # -- durability --------------------------------------------------------------------------

    def spool_block(self, conversion: Conversion) -> Future[None] | None:
        """Append the accepted spans to the spool; the future completes when they are fsynced."""
        if not conversion.accepted:
            return None
        try:
            return self.spool.append(conversion.block, conversion.accepted)
        except SpoolFull as exc:
            raise Refusal("spool_full", f"{exc}; the store is behind or unreachable, retry later") from None
        except SpoolClosed as exc:
            raise Refusal("stopping", str(exc)) from None

    def acknowledged(self, conversion: Conversion, transport: str) -> ExportTraceServiceResponse:
        """Count the acknowledgement and build the response (with partial success if any)."""
        metrics = self.metrics
        metrics.spans_accepted.labels(transport).inc(conversion.accepted)
        metrics.spans_spooled.inc(conversion.accepted)
        metrics.bytes_spooled.inc(len(conversion.block))
        metrics.requests.labels(transport, "partial" if conversion.rejected else "ok").inc()
        metrics.observe_spool(self.spool)
        response = ExportTraceServiceResponse()
        if conversion.rejected:
            response.partial_success.rejected_spans = conversion.rejected
            response.partial_success.error_message = conversion.error_message
        self.changes += 1
        return response

    def refused(self, refusal: Refusal, transport: str, peer: str) -> None:
        """Count and log a refused request (one structured line per rejection class)."""
        self.metrics.requests_rejected.labels(refusal.kind).inc()
        self.metrics.requests.labels(transport, refusal.kind).inc()
        level = logging.INFO if refusal.kind in RETRYABLE else logging.WARNING
        log.log(
            level,
            "collector.reject_request reason=%s transport=%s peer=%s detail=%r",
            refusal.kind,
            transport,
            peer,
            refusal.message[:300],
        )
        self.changes += 1

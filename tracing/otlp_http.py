"""OTLP/HTTP requests whose answer is read, ``partial_success`` included.

The SDK's OTLP exporters discard the collector's answer: a request the collector acknowledged while
rejecting some of its spans (``partial_success``) counts as sent. :class:`OtlpHttp` POSTs encoded
requests itself and raises :class:`SpansRejected` for spans refused for what they are (a partial
success, a 4xx) and :class:`EmitError` when the collector did not acknowledge them (unreachable,
busy past the timeout, our token refused). Used by the agents (collector.agents.emitter) and by
``tracing.sinks.OtlpSink``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from storage.errors import TowerError

log = logging.getLogger(__name__)
if logging.getLogger("httpx").level == logging.NOTSET:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per export request

DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024
_RETRYABLE = {429, 502, 503, 504}


class EmitError(TowerError, RuntimeError):
    """The collector did not acknowledge the spans (unreachable, busy, refused our token): retry later."""


class SpansRejected(EmitError):
    """The spans were refused for what they are (collector ``partial_success`` or 4xx, or the agent's own
    checks): sending them again will not help. ``reason`` says why, in the collector's words when it refused."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _status_message(body: bytes, content_type: str) -> str:
    """The message of a collector's error body (google.rpc.Status, protobuf or JSON), or ``""``."""
    if not body:
        return ""
    try:
        if "json" in content_type:
            return str(json.loads(body).get("message", ""))[:500]
        from google.rpc import status_pb2

        status = status_pb2.Status()
        status.ParseFromString(body)
        return status.message[:500]
    except Exception:  # an unreadable error body is still an error
        return ""


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): 1, 2, 4, 8, 8, ... with ±20% jitter."""
    return float(min(2 ** (attempt - 1), 8) * random.uniform(0.8, 1.2))


def check_partial_success(rejected: int, message: str) -> None:
    """The collector's ``partial_success``: :class:`SpansRejected` when it rejected spans, a logged
    warning when it only says something."""
    if rejected:
        raise SpansRejected(f"collector rejected {rejected} span(s): {message or 'no reason given'}")
    if message:
        log.warning("collector accepted the spans with a warning: %s", message)


class OtlpHttp:
    """POSTs encoded OTLP requests to ``<endpoint>/v1/traces`` and reads the answer, partial success included.

    Retries 429/502/503/504 and connection errors (honouring Retry-After) within ``timeout_s``.
    """

    def __init__(
        self,
        endpoint: str,
        token: str = "",
        timeout_s: float = 10.0,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    ) -> None:
        url = endpoint.rstrip("/")
        if not url.endswith("/v1/traces"):
            url += "/v1/traces"
        self.url = url
        self.timeout_s = timeout_s
        self.max_request_bytes = max_request_bytes
        headers = {"content-type": "application/x-protobuf"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._client = httpx.Client(headers=headers, timeout=timeout_s)
        self._closed = threading.Event()

    def post(self, body: bytes) -> None:
        """Send one request; returns when every span was accepted, else raises."""
        deadline = time.monotonic() + self.timeout_s
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._client.post(self.url, content=body)
            except httpx.HTTPError as exc:
                status, problem, retry_after = None, f"{type(exc).__name__}: {exc}", None
            else:
                status = response.status_code
                if status == 200:
                    self._check_partial(response)
                    return
                problem = _status_message(response.content, response.headers.get("content-type", ""))
                retry_after = response.headers.get("retry-after")
                if status == 413:
                    raise TooLarge(problem)
                if status in (401, 403):
                    raise EmitError(f"collector refused the agent's credentials ({status}): {problem}")
                if 400 <= status < 500 and status not in _RETRYABLE:
                    raise SpansRejected(f"collector answered {status}: {problem or 'request refused'}")
            delay = backoff(attempt)
            if retry_after is not None:
                with contextlib.suppress(ValueError):
                    delay = max(0.0, float(retry_after))
            if time.monotonic() + delay > deadline or self._closed.is_set():
                what = f"answered {status}" if status else "unreachable"
                raise EmitError(f"collector {what} after {attempt} attempt(s): {problem}")
            self._closed.wait(delay)

    @staticmethod
    def _check_partial(response: httpx.Response) -> None:
        if not response.content:
            return
        rejected, message = 0, ""
        try:
            if "json" in response.headers.get("content-type", ""):
                partial = json.loads(response.content).get("partialSuccess") or {}
                rejected, message = (
                    int(partial.get("rejectedSpans") or 0),
                    str(partial.get("errorMessage") or ""),
                )
            else:
                answer = ExportTraceServiceResponse()
                answer.ParseFromString(response.content)
                rejected = answer.partial_success.rejected_spans
                message = answer.partial_success.error_message
        except Exception as exc:  # an answer we cannot read is not an acknowledgement
            raise EmitError(f"unreadable collector answer: {exc}") from None
        check_partial_success(rejected, message)

    def close(self) -> None:
        self._closed.set()
        self._client.close()

    # the SpanExporter-like names the agents' callers use
    def shutdown(self) -> None:
        self.close()


class TooLarge(EmitError):
    """413: the request must be split."""


def otlp_exporter(
    endpoint: str,
    token: str = "",
    timeout_s: float = 10.0,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
) -> OtlpHttp:
    """OTLP/HTTP target ``<endpoint>/v1/traces`` with a bearer token when one is given."""
    return OtlpHttp(endpoint, token, timeout_s, max_request_bytes)

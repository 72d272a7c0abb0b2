"""Fixtures of the agent tests: a real OTLP/HTTP receiver and emitters pointed at it."""

from __future__ import annotations

import gzip
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collector.agents.emitter import Emitter, otlp_exporter

FIXTURES = Path(__file__).parent / "fixtures"


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


@dataclass
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    links: list[str] = field(default_factory=list)


class OtlpSink:
    """Accepts ``POST /v1/traces``; ``fail_with`` makes it answer that status instead (e.g. 400)."""

    def __init__(self, token: str = "") -> None:
        self.token = token
        self.spans: list[Span] = []
        self.requests = 0
        self.fail_with: int | None = None
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                sink.requests += 1
                if sink.token and self.headers.get("authorization") != f"Bearer {sink.token}":
                    self.send_response(401)
                    self.end_headers()
                    return
                if sink.fail_with:
                    self.send_response(sink.fail_with)
                    self.end_headers()
                    return
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                req = ExportTraceServiceRequest()
                req.ParseFromString(body)
                with sink._lock:
                    for rs in req.resource_spans:
                        resource = {a.key: _value(a.value) for a in rs.resource.attributes}
                        for ss in rs.scope_spans:
                            for s in ss.spans:
                                sink.spans.append(
                                    Span(
                                        name=s.name,
                                        trace_id=s.trace_id.hex(),
                                        span_id=s.span_id.hex(),
                                        parent_span_id=s.parent_span_id.hex(),
                                        attributes={a.key: _value(a.value) for a in s.attributes},
                                        resource=resource,
                                        start_ns=s.start_time_unix_nano,
                                        end_ns=s.end_time_unix_nano,
                                        status_code=s.status.code,
                                        status_message=s.status.message,
                                        links=[link.span_id.hex() for link in s.links],
                                    )
                                )
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> OtlpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def named(self, prefix: str) -> list[Span]:
        return [s for s in self.spans if s.name.startswith(prefix)]


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    with OtlpSink(token="agent-token") as s:
        yield s


@pytest.fixture
def make_emitter(sink: OtlpSink):  # type: ignore[no-untyped-def]
    def make(service: str = "edi-gateway", kind: str = "edi", timeout: float = 2) -> Emitter:
        return Emitter(otlp_exporter(sink.url, "agent-token", timeout_seconds=timeout), service, kind)

    return make


@pytest.fixture
def fixtures_dir() -> Path:
    """The hand-written X12 interchanges (see fixtures/README.md)."""
    return FIXTURES


def copy_fixture(name: str, directory: Path, as_name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / (as_name or name)
    shutil.copyfile(FIXTURES / name, target)
    return target


@pytest.fixture
def drop():  # type: ignore[no-untyped-def]
    """``drop(fixture_name, directory, as_name=None)`` copies a fixture into a watched directory."""
    return copy_fixture


# -- the real collector (tests of issue 13 on) ------------------------------------------------


@dataclass
class StoredSpan:
    """A span as the real collector stored it in ``otel_traces``."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, str]
    start_ns: int
    status_code: str
    status_message: str
    links: list[str]


class RealCollector:
    """A running collector on a module's store, and what it stored for one service."""

    def __init__(self, collector: Any, store: Any) -> None:
        self.collector = collector
        self.store = store
        self.url = collector.http_endpoint

    def emitter(self, service: str, kind: str = "edi", timeout: float = 5, **window: Any) -> Emitter:
        from collector.agents.emitter import TimeWindow

        return Emitter(
            otlp_exporter(self.url, "agent-token", timeout_seconds=timeout),
            service,
            kind,
            window=TimeWindow(**window),
        )

    def spans(self, service: str) -> list[StoredSpan]:
        assert self.collector.wait_drained(60)
        rows = self.store.rows(
            "SELECT SpanName, TraceId, SpanId, ParentSpanId, SpanAttributes, toUnixTimestamp64Nano(Timestamp) AS ns,"
            " StatusCode, StatusMessage, Links.SpanId AS links FROM otel_traces WHERE ServiceName = {s:String}"
            " ORDER BY Timestamp, SpanName",
            {"s": service},
        )
        return [
            StoredSpan(
                r["SpanName"],
                r["TraceId"],
                r["SpanId"],
                r["ParentSpanId"],
                dict(r["SpanAttributes"]),
                int(r["ns"]),
                r["StatusCode"],
                r["StatusMessage"],
                list(r["links"]),
            )
            for r in rows
        ]


@pytest.fixture(scope="module")
def real_collector(module_store: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCollector]:
    """The real collector (OTLP/HTTP, partial success, limits, token) writing to a module's store."""
    from collector.testing import running_collector

    with running_collector(
        module_store, tmp_path_factory.mktemp("spool"), tokens=["agent-token"]
    ) as collector:
        yield RealCollector(collector, module_store)


@pytest.fixture
def service() -> str:
    """A service name of this test's own (the module's store is shared)."""
    import secrets

    return f"agent-{secrets.token_hex(4)}"

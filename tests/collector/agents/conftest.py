"""Fixtures of the agent tests: the real collector (``collector.testing.running_collector``) on a
module's store, seen through the spans it stored for one test's service, and emitters pointed at it.

Agents talk to the real collector, so they meet its real answers: bearer-token checks (401), partial
success for spans it cannot keep, size limits (413) and back-pressure (429/503). Each test sends as
a service of its own (``service``), so the spans it reads are its own although the module's store is
shared. ``ScriptedReceiver`` is kept ONLY for what the real collector cannot be made to do on demand
in the middle of a test: refuse one valid request (503) and accept the retry of the same request a
moment later.
"""

from __future__ import annotations

import gzip
import secrets
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

from collector.agents.emitter import Emitter, TimeWindow
from collector.service import Collector
from collector.testing import running_collector
from storage import Store
from tracing.otlp_http import otlp_exporter

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "agent-token"


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


@dataclass
class ReceivedSpan:
    """A span as the scripted receiver decoded it from the request."""

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


class ScriptedReceiver:
    """An OTLP/HTTP receiver that answers ``fail_with`` (e.g. 503) while it is set, and otherwise
    accepts and keeps the decoded spans in arrival order. Only for refuse-then-accept sequences."""

    def __init__(self, token: str = "") -> None:
        self.token = token
        self.spans: list[ReceivedSpan] = []
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
                                    ReceivedSpan(
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

    def __enter__(self) -> ScriptedReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def named(self, prefix: str) -> list[ReceivedSpan]:
        return [s for s in self.spans if s.name.startswith(prefix)]


@pytest.fixture
def scripted() -> Iterator[ScriptedReceiver]:
    """A receiver that refuses on demand (see ``ScriptedReceiver``); use ``scripted_emitter`` with it."""
    with ScriptedReceiver(token=TOKEN) as receiver:
        yield receiver


@pytest.fixture
def scripted_emitter(scripted: ScriptedReceiver):  # type: ignore[no-untyped-def]
    def make(service: str = "edi-gateway", kind: str = "edi", timeout: float = 2) -> Emitter:
        return Emitter(otlp_exporter(scripted.url, TOKEN, timeout_s=timeout), service, kind)

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


# -- the real collector -----------------------------------------------------------------------


@dataclass
class StoredSpan:
    """A span as the real collector stored it in ``otel_traces`` (attribute values are text, arrays
    JSON text)."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, str]
    resource: dict[str, str]
    start_ns: int
    end_ns: int
    status_code: str  # Unset | Ok | Error
    status_message: str
    links: list[str]


class RealCollector:
    """A running collector on a module's store, and what it stored for one service."""

    def __init__(self, collector: Collector, store: Store) -> None:
        self.collector = collector
        self.store = store
        self.url = collector.http_endpoint

    def emitter(
        self, service: str, kind: str = "edi", timeout: float = 5, token: str = TOKEN, **window: Any
    ) -> Emitter:
        """An emitter of ``service`` sending to this collector; ``window`` are :class:`TimeWindow` fields."""
        return Emitter(
            otlp_exporter(self.url, token, timeout_s=timeout), service, kind, window=TimeWindow(**window)
        )

    def spans(self, service: str) -> list[StoredSpan]:
        """What the collector stored for ``service`` (drained first), in time order."""
        assert self.collector.wait_drained(60)
        rows = self.store.rows(
            "SELECT SpanName, TraceId, SpanId, ParentSpanId, SpanAttributes, ResourceAttributes,"
            " toUnixTimestamp64Nano(Timestamp) AS ns, Duration, StatusCode, StatusMessage, Links.SpanId AS links"
            " FROM otel_traces WHERE ServiceName = {s:String} ORDER BY Timestamp, Duration, SpanName, SpanId",
            {"s": service},
        )
        return [
            StoredSpan(
                name=r["SpanName"],
                trace_id=r["TraceId"],
                span_id=r["SpanId"],
                parent_span_id=r["ParentSpanId"],
                attributes=dict(r["SpanAttributes"]),
                resource=dict(r["ResourceAttributes"]),
                start_ns=int(r["ns"]),
                end_ns=int(r["ns"]) + int(r["Duration"]),
                status_code=r["StatusCode"],
                status_message=r["StatusMessage"],
                links=list(r["links"]),
            )
            for r in rows
        ]

    def named(self, service: str, prefix: str) -> list[StoredSpan]:
        return [s for s in self.spans(service) if s.name.startswith(prefix)]


@pytest.fixture(scope="module")
def real_collector(module_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCollector]:
    """The real collector (OTLP/HTTP, partial success, limits, the agents' bearer token) writing to a
    module's store; a test reads its own spans by its ``service``."""
    with running_collector(module_store, tmp_path_factory.mktemp("spool"), tokens=[TOKEN]) as collector:
        yield RealCollector(collector, module_store)


@pytest.fixture
def service() -> str:
    """A service name of this test's own (the module's store is shared)."""
    return f"agent-{secrets.token_hex(4)}"

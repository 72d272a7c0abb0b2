"""What a hostile sender found (issue 12), each with its exact input: no request can block ingestion,
acknowledged spans of others are never lost or quarantined, nothing is acknowledged and then
dropped, and /healthz tells the truth.

Spans are built with the plain OpenTelemetry SDK and sent with its real exporters (OTLP/HTTP and
OTLP/gRPC), or encoded exactly as those exporters encode them when the test reads the answer.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from clock import ANCHOR_NS
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from typer.testing import CliRunner

from collector.quarantine import Quarantine
from collector.service import Collector
from collector.testing import running_collector
from storage import StorageSettings, Store
from storage.migrate import migrate
from tower.cli import app
from tracing.conventions import KEY_ROLES

PROTOBUF = {"Content-Type": "application/x-protobuf"}
METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9
# "now" of every collector here: the tests' anchor, so the window does not move with the calendar


def now() -> int:
    return ANCHOR_NS


def sdk_spans(
    service: str, times: list[tuple[int, int]], events: list[int] | None = None
) -> list[ReadableSpan]:
    """Finished SDK spans of ``service`` with the given (start, end) times; optional event times
    on the first span."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service, "system.kind": "erp"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("hostile.tests")
    for n, (start, end) in enumerate(times):
        span = tracer.start_span(
            f"{service}.hop", start_time=start, attributes={"order.id": f"SO-{service}-{n}"}
        )
        if n == 0:
            for at in events or []:
                span.add_event("checked", timestamp=at)
        span.end(end_time=end)
    provider.shutdown()
    return list(memory.get_finished_spans())


def span_ids(spans: list[ReadableSpan]) -> set[str]:
    return {f"{s.context.span_id:016x}" for s in spans}


def stored_ids(store: Store) -> set[str]:
    return {row["SpanId"] for row in store.rows("SELECT SpanId FROM otel_traces")}


def post_raw(collector: Collector, spans: list[ReadableSpan]) -> ExportTraceServiceResponse:
    """The body the SDK's OTLP/HTTP exporter sends; returns the decoded answer."""
    response = httpx.post(
        collector.http_endpoint + "/v1/traces",
        content=encode_spans(spans).SerializeToString(),
        headers=PROTOBUF,
        timeout=30,
    )
    assert response.status_code == 200
    return ExportTraceServiceResponse.FromString(response.content)


def recent(n: int, sender: int) -> list[tuple[int, int]]:
    base = ANCHOR_NS - HOUR_NS + sender * 10**9
    return [(base + i * 10**6, base + i * 10**6 + 5 * 10**6) for i in range(n)]


@pytest.fixture
def forever_store(engine: Store, storage_settings: StorageSettings) -> Iterator[Store]:
    """A migrated store whose otel_traces keeps spans forever (retention 0)."""
    settings = storage_settings.model_copy(
        update={"ttl_days": {**storage_settings.ttl_days, "otel_traces": 0}}
    )
    store = Store(settings, f"forever_{uuid.uuid4().hex[:12]}")
    migrate(store, KEY_ROLES)
    yield store
    store.drop_database()
    store.close()


class HealthWatch:
    """Polls /healthz in the background and remembers every status it saw."""

    def __init__(self, collector: Collector) -> None:
        self.url = collector.http_endpoint + "/healthz"
        self.seen: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.seen.append(httpx.get(self.url, timeout=10).json()["status"])
            self._stop.wait(0.05)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def send_others(collector: Collector, senders: range) -> set[str]:
    """Spans of other senders, each sending one request with the real SDK exporter (HTTP or gRPC)."""
    ids: set[str] = set()
    for sender in senders:
        spans = sdk_spans(f"sender-{sender}", recent(5, sender))
        if sender % 2:
            exporter: HttpExporter | GrpcExporter = HttpExporter(
                endpoint=collector.http_endpoint + "/v1/traces"
            )
        else:
            exporter = GrpcExporter(endpoint=collector.grpc_endpoint, insecure=True)
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        exporter.shutdown()
        ids |= span_ids(spans)
    return ids


# the writer's two ways to insert: the engine's conversion, and Python's for small inserts
CONVERSIONS = pytest.mark.parametrize("python_convert_max_rows", [0, 1000], ids=["engine", "python"])


@CONVERSIONS
def test_101_spans_on_101_days_in_one_request_block_no_one(
    forever_store: Store, tmp_path: Path, python_convert_max_rows: int
) -> None:
    """Finding 1: 101 partitions in one insert (code 252) made the writer retry forever, holding the
    acknowledged spans of everyone behind it, across restarts, with /healthz saying ok."""
    spool = tmp_path / "spool"
    days = [(ANCHOR_NS - d * DAY_NS, ANCHOR_NS - d * DAY_NS + 10**9) for d in range(101)]
    hostile = sdk_spans("hostile", days)
    # a long flush interval: whether the idle writer inserts the hostile request alone or among the
    # others' spans, the 101-partition insert is split and nobody's spans wait
    with running_collector(
        forever_store,
        spool,
        clock=now,
        flush_interval_s=3.0,
        python_convert_max_rows=python_convert_max_rows,
    ) as collector:
        with HealthWatch(collector) as watch:
            before = send_others(collector, range(20))
            answer = post_raw(collector, hostile)
            after = send_others(collector, range(20, 40))
            assert collector.wait_drained(60)
        assert answer.partial_success.rejected_spans == 0  # all valid: the store keeps them forever
        assert watch.seen and set(watch.seen) == {"ok"}
        assert collector.metrics.spans_quarantined._value.get() == 0
        assert collector.writer.failures >= 1  # the 101-partition insert was refused, then split
    assert stored_ids(forever_store) == before | after | span_ids(hostile)
    assert forever_store.scalar("SELECT uniqExact(toDate(Timestamp)) FROM otel_traces") == 101
    # survives a restart: nothing left to replay, nothing stored twice
    assert not list(spool.glob("*.wal"))
    with running_collector(forever_store, spool, clock=now) as collector:
        assert collector.wait_drained(30)
        assert collector.health().status == "ok"
    assert forever_store.scalar("SELECT count() FROM otel_traces") == 40 * 5 + 101


def test_101_days_with_a_retention_reject_the_old_ones_in_partial_success(
    store: Store, tmp_path: Path
) -> None:
    days = [(ANCHOR_NS - d * DAY_NS, ANCHOR_NS - d * DAY_NS + 10**9) for d in range(101)]
    hostile = sdk_spans("hostile", days)
    # 20 days (narrower than the 30-day retention, which the store counts from the wall clock)
    with running_collector(store, tmp_path / "spool", clock=now, max_span_age_s=20 * 86_400) as collector:
        answer = post_raw(collector, hostile)
        others = send_others(collector, range(4))
        assert collector.wait_drained(30)
    kept = {f"{s.context.span_id:016x}" for s in hostile if s.start_time >= ANCHOR_NS - 20 * DAY_NS}
    assert len(kept) == 21  # today and the 20 days before
    assert answer.partial_success.rejected_spans == 80
    message = answer.partial_success.error_message
    assert "80 time_before_window" in message
    first_rejected = f"{hostile[21].context.span_id:016x}"
    assert first_rejected in message  # names the first offending spans
    assert stored_ids(store) == kept | others


def test_times_before_1973_are_rejected_at_the_door_not_quarantining_others(
    forever_store: Store, tmp_path: Path
) -> None:
    """Finding 2: an event at timeUnixNano=0 and a span starting at 1 ns were acknowledged; the
    store refused them (code 41) and the whole segment, others' spans with it, went to quarantine."""
    good = recent(1, 99)[0]
    event_at_zero = sdk_spans("zero-event", [good], events=[0])
    start_at_1ns = sdk_spans("one-ns", [(1, 2)])
    with running_collector(forever_store, tmp_path / "spool", clock=now, flush_interval_s=2.0) as collector:
        before = send_others(collector, range(10))
        zero = post_raw(collector, event_at_zero)
        with grpc.insecure_channel(collector.grpc_endpoint) as channel:
            reply = channel.unary_unary(METHOD)(encode_spans(start_at_1ns).SerializeToString(), timeout=10)
        one_ns = ExportTraceServiceResponse.FromString(reply)
        after = send_others(collector, range(10, 20))
        assert collector.wait_drained(30)
        assert collector.metrics.spans_quarantined._value.get() == 0
    assert zero.partial_success.rejected_spans == 1
    assert (
        "event time 1970-01-01T00:00:00Z is before the accepted window" in zero.partial_success.error_message
    )
    assert one_ns.partial_success.rejected_spans == 1
    assert "1973-03-03T09:46:40Z" in one_ns.partial_success.error_message  # the window's start
    assert f"{start_at_1ns[0].context.span_id:016x}" in one_ns.partial_success.error_message
    assert stored_ids(forever_store) == before | after
    assert not Quarantine(tmp_path / "spool").entries()


def test_beyond_the_retention_and_year_2300_are_both_rejected(store: Store, tmp_path: Path) -> None:
    """Finding 3: a span older than the retention was answered 200 and vanished; one in 2300 was
    rejected. Both are rejected now, with the window in the message; the span a day ahead is kept."""
    year_2300 = 10_413_792_000 * 10**9
    old = sdk_spans("old", [(ANCHOR_NS - 31 * DAY_NS, ANCHOR_NS - 31 * DAY_NS + 10**9)])
    future = sdk_spans("future", [(year_2300, year_2300 + 10**9)])
    skewed = sdk_spans("skewed", [(ANCHOR_NS + 23 * HOUR_NS, ANCHOR_NS + 23 * HOUR_NS + 10**9)])
    with running_collector(store, tmp_path / "spool", clock=now) as collector:
        old_answer = post_raw(collector, old)
        future_answer = post_raw(collector, future)
        skewed_answer = post_raw(collector, skewed)
        assert collector.wait_drained(30)
        metrics = httpx.get(collector.http_endpoint + "/metrics").text
    assert old_answer.partial_success.rejected_spans == 1
    assert "time_before_window" in old_answer.partial_success.error_message
    assert future_answer.partial_success.rejected_spans == 1
    assert "time_after_window" in future_answer.partial_success.error_message
    assert "2300-01-01" in future_answer.partial_success.error_message
    assert not skewed_answer.HasField("partial_success")
    assert stored_ids(store) == span_ids(skewed)
    assert 'tower_collector_spans_rejected_total{reason="time_before_window"} 1.0' in metrics
    assert 'tower_collector_spans_rejected_total{reason="time_after_window"} 1.0' in metrics


@CONVERSIONS
def test_refused_rows_are_quarantined_alone_listed_shown_and_replayed(
    store: Store, tmp_path: Path, python_convert_max_rows: int
) -> None:
    """A row the store refuses (here: a CHECK constraint the operator added) goes to the quarantine
    alone, with its reason; the other rows of its insert are written; after the operator removes the
    cause, ``tower spool quarantine replay`` gets it stored by the running collector."""
    spool = tmp_path / "spool"
    store.command(
        f"ALTER TABLE {store.ident('otel_traces')} ADD CONSTRAINT no_forbidden CHECK SpanName != 'forbidden'"
    )
    spans = sdk_spans("erp-east", recent(10, 1))
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "erp-east"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    start = recent(1, 2)[0][0]
    provider.get_tracer("t").start_span("forbidden", start_time=start).end(end_time=start + 10**6)
    [forbidden] = memory.get_finished_spans()
    runner = CliRunner()
    with running_collector(
        store, spool, clock=now, flush_interval_s=1.0, python_convert_max_rows=python_convert_max_rows
    ) as collector:
        exporter = HttpExporter(endpoint=collector.http_endpoint + "/v1/traces")
        assert exporter.export([*spans[:5], forbidden, *spans[5:]]) is SpanExportResult.SUCCESS
        assert collector.wait_drained(30)
        assert stored_ids(store) == span_ids(spans)
        assert collector.metrics.spans_quarantined._value.get() == 1
        metrics = httpx.get(collector.http_endpoint + "/metrics").text
        assert "tower_collector_quarantine_spans 1.0" in metrics
        assert httpx.get(collector.http_endpoint + "/healthz").json()["quarantined_spans"] == 1

        listed = runner.invoke(app, ["spool", "quarantine", "list", "--spool-dir", str(spool)])
        assert listed.exit_code == 0, listed.output
        assert "no_forbidden" in listed.output and "1 entry, 1 span(s)" in listed.output
        [entry] = Quarantine(spool).entries()
        assert entry.span_ids == [f"{forbidden.context.span_id:016x}"]
        shown = runner.invoke(app, ["spool", "quarantine", "show", entry.id, "--spool-dir", str(spool)])
        assert shown.exit_code == 0, shown.output
        assert '"name": "forbidden"' in shown.output and "VIOLATED_CONSTRAINT" in shown.output
        missing = runner.invoke(app, ["spool", "quarantine", "show", "nope", "--spool-dir", str(spool)])
        assert missing.exit_code == 1

        store.command(f"ALTER TABLE {store.ident('otel_traces')} DROP CONSTRAINT no_forbidden")
        replayed = runner.invoke(app, ["spool", "quarantine", "replay", "--all", "--spool-dir", str(spool)])
        assert replayed.exit_code == 0, replayed.output
        deadline = time.monotonic() + 20
        while f"{forbidden.context.span_id:016x}" not in stored_ids(store) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stored_ids(store) == span_ids(spans) | {f"{forbidden.context.span_id:016x}"}
        assert not Quarantine(spool).entries()
        assert httpx.get(collector.http_endpoint + "/healthz").json()["quarantined_spans"] == 0


def test_health_turns_degraded_and_not_ready_when_the_writer_stalls(store: Store, tmp_path: Path) -> None:
    with running_collector(store, tmp_path / "spool", clock=now, health_stall_s=0.5) as collector:
        base = collector.http_endpoint
        assert httpx.get(base + "/readyz").status_code == 200
        store.command(f"DETACH TABLE {store.ident('otel_traces')}")
        try:
            spans = sdk_spans("erp-east", recent(3, 1))
            assert post_raw(collector, spans).partial_success.rejected_spans == 0  # spooled: acknowledged
            deadline = time.monotonic() + 20
            while httpx.get(base + "/healthz").json()["status"] == "ok" and time.monotonic() < deadline:
                time.sleep(0.1)
            health = httpx.get(base + "/healthz")
            assert health.status_code == 200  # liveness: the process serves
            body = health.json()
            assert body["status"] == "degraded"
            assert "the writer has stored nothing" in body["reasons"][0]
            assert body["spool_pending_spans"] == 3
            assert body["oldest_unwritten_span_age_s"] > 0.4
            ready = httpx.get(base + "/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "degraded"
            metrics = httpx.get(base + "/metrics").text
            assert "tower_collector_healthy 0.0" in metrics
            age = next(
                line for line in metrics.splitlines() if line.startswith("tower_collector_oldest_unwritten")
            )
            assert float(age.split()[-1]) > 0.4
        finally:
            store.command(f"ATTACH TABLE {store.ident('otel_traces')}")
        assert collector.wait_drained(30)
        assert httpx.get(base + "/readyz").status_code == 200
        assert httpx.get(base + "/healthz").json()["oldest_unwritten_span_age_s"] == 0
        assert stored_ids(store) == span_ids(spans)


def test_health_turns_degraded_when_the_spool_passes_its_threshold(store: Store, tmp_path: Path) -> None:
    body = encode_spans(sdk_spans("erp-east", recent(50, 1))).SerializeToString()
    with running_collector(
        store, tmp_path / "spool", clock=now, spool_max_bytes=400_000, health_spool_fraction=0.01
    ) as collector:
        store.command(f"DETACH TABLE {store.ident('otel_traces')}")
        try:
            answer = httpx.post(collector.http_endpoint + "/v1/traces", content=body, headers=PROTOBUF)
            assert answer.status_code == 200
            ready = httpx.get(collector.http_endpoint + "/readyz")
            assert ready.status_code == 503
            assert "the spool holds" in ready.json()["reasons"][-1]
        finally:
            store.command(f"ATTACH TABLE {store.ident('otel_traces')}")
        assert collector.wait_drained(30)
        assert httpx.get(collector.http_endpoint + "/readyz").status_code == 200

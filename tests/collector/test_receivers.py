"""Receiver processes (``collector.receivers``, as ``tower serve`` runs them): several processes on
the same ports, none with the engine loaded; one dying loses nothing it acknowledged."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
from clock import ANCHOR_NS
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from support.sdk_orders import Sender, order_keys, plain_order_steps, send_step

from collector.service import Collector
from collector.testing import running_collector
from storage import Store
from tracing.timeline import order_timeline


def spans(service: str, count: int) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("receivers.tests")
    start = ANCHOR_NS - 3_600 * 10**9
    for n in range(count):
        tracer.start_span(f"{service}.hop", start_time=start + n, attributes={"order.id": f"SO-{n}"}).end(
            end_time=start + n + 10**6
        )
    provider.shutdown()
    return list(memory.get_finished_spans())


def ids(finished: list[ReadableSpan]) -> set[str]:
    return {f"{s.context.span_id:016x}" for s in finished}


def stored(store: Store) -> set[str]:
    return {row["SpanId"] for row in store.rows("SELECT SpanId FROM otel_traces")}


def export(collector: Collector, batch: list[ReadableSpan], grpc: bool) -> None:
    exporter: HttpExporter | GrpcExporter
    if grpc:
        exporter = GrpcExporter(endpoint=collector.grpc_endpoint, insecure=True)
    else:
        exporter = HttpExporter(endpoint=collector.http_endpoint + "/v1/traces")
    assert exporter.export(batch) is SpanExportResult.SUCCESS
    exporter.shutdown()


def metric(collector: Collector, line_start: str) -> float:
    for line in httpx.get(collector.http_endpoint + "/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_receiver_processes_share_the_ports_and_lose_nothing_when_one_dies(
    store: Store, tmp_path: Path
) -> None:
    sent: set[str] = set()
    with running_collector(store, tmp_path / "spool", receivers=2, clock=lambda: ANCHOR_NS) as collector:
        pids = [process.pid for process in collector._children.values()]
        assert len(pids) == 2
        for pid in pids:  # light processes: the engine is never loaded
            assert "chdb" not in Path(f"/proc/{pid}/maps").read_text()
        for n in range(8):
            batch = spans(f"svc-{n}", 25)
            export(collector, batch, grpc=n % 2 == 0)
            sent |= ids(batch)
        os.kill(pids[0], signal.SIGKILL)  # a receiver dies: what it acknowledged is in its spool
        deadline = time.monotonic() + 30
        while collector._children[0].pid == pids[0] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert collector._children[0].pid != pids[0]  # restarted
        for n in range(8, 12):
            batch = spans(f"svc-{n}", 25)
            export(collector, batch, grpc=n % 2 == 0)
            sent |= ids(batch)
        assert collector.wait_drained(60)
        assert stored(store) == sent
        health = httpx.get(collector.http_endpoint + "/readyz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        # /metrics on the shared port sums every receiver (the others' figures are up to 1 s old)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            received = metric(collector, 'tower_collector_spans_accepted_total{transport="http"}') + metric(
                collector, 'tower_collector_spans_accepted_total{transport="grpc"}'
            )
            written = metric(collector, "tower_collector_spans_written_total")
            if written == len(sent) and received >= 100:  # the killed receiver's counts died with it
                break
            time.sleep(0.3)
        assert written == len(sent)
        assert received >= 100
        assert metric(collector, "tower_collector_healthy") == 1.0  # the writer's gauges, from its status
    assert stored(store) == sent


def test_a_lone_request_through_a_receiver_process_is_written_and_attributed_without_the_flush_interval(
    store: Store, tmp_path: Path
) -> None:
    """One span per request, as the SDK's SimpleSpanProcessor sends it, through receiver processes whose
    spool would hold it for an hour (flush_interval_s): the receiver seals it for the idle writer at
    once, the writer stores it and attributes it, so each hop — the carrier's scan with only a
    tracking number too — is on its order's timeline as soon as wait_drained returns."""
    order = order_keys("SO-RECV-1")
    steps = plain_order_steps(order, ANCHOR_NS - 2 * 86_400 * 10**9)
    ship, delivery = steps[5], steps[6]
    with running_collector(store, tmp_path / "spool", receivers=2, flush_interval_s=3600.0) as collector:
        sender = Sender(collector.http_endpoint)
        try:
            for n, step in enumerate((steps[0], ship, delivery), 1):
                send_step(sender, step)  # acknowledged: fsynced in a receiver's spool
                assert collector.wait_drained(timeout=30)  # an hour's flush interval would time out
                timeline = order_timeline(store, "SO-RECV-1")
                assert [h.stage for h in timeline.hops] == ["capture", "ship", "deliver"][:n]
        finally:
            sender.shutdown()
    assert [s.via for s in timeline.spans if s.name == "delivery"] == ["key:shipment.tracking_number"]

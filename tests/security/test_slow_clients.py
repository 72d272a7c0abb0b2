"""Finding 4: slow clients. 400 trickling sockets on each listening port (collector OTLP/HTTP and
OTLP/gRPC, dashboard, carrier webhook) are closed within the configured timeout, while a normal
client is still served — also when the trickling sockets outnumber the connection cap."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from pydantic import SecretStr
from slowloris import Trickle

from collector.agents.carrier import CarrierAgent
from collector.agents.emitter import Emitter
from collector.agents.settings import CarrierAgentSettings
from collector.testing import running_collector
from kpis.policy import load_policy
from storage import Store
from tower.settings import TowerSettings
from tower.web_service import WebService
from tracing.otlp_http import otlp_exporter
from web.settings import WebSettings

HEADER_TIMEOUT_S = 2.0
SLACK_S = 3.0  # scheduling on a busy 2-core machine


def send_one_span(exporter: object, name: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "slowloris-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[arg-type]
    with provider.get_tracer("t").start_as_current_span(name) as span:
        span.set_attribute("order.id", f"SO-{name}")
        span.set_attribute("order.stage", "capture")
    provider.shutdown()


def count_spans(store: Store, name: str) -> int:
    return int(store.scalar("SELECT count() FROM otel_traces WHERE SpanName = {n:String}", {"n": name}))


@pytest.fixture
def collector(module_store: Store, tmp_path: Path) -> Iterator[object]:
    with running_collector(
        module_store,
        tmp_path / "spool",
        http_header_timeout_s=HEADER_TIMEOUT_S,
        http_body_timeout_s=HEADER_TIMEOUT_S,
        http_max_connections=100,
        grpc_handshake_timeout_s=HEADER_TIMEOUT_S,
    ) as running:
        yield running


def test_collector_http_closes_400_trickling_sockets_and_serves_a_normal_exporter(
    collector: object, module_store: Store
) -> None:
    host, port = "127.0.0.1", collector.http_port  # type: ignore[attr-defined]
    loris = Trickle(host, port, count=400).start()
    try:
        time.sleep(0.5)
        # a real exporter gets through while 400 sockets trickle (the cap is 100: stalled ones make room)
        send_one_span(
            HttpExporter(endpoint=f"http://{host}:{port}/v1/traces", timeout=10), "during-loris-http"
        )
        assert loris.wait_all_closed(HEADER_TIMEOUT_S + SLACK_S), f"{len(loris.closed_after)} of 400 closed"
        assert max(loris.closed_after.values()) <= HEADER_TIMEOUT_S + SLACK_S
        assert any(reply.startswith(b"HTTP/1.1 408") for reply in loris.replies.values())
    finally:
        loris.stop()
    assert collector.wait_drained(30)  # type: ignore[attr-defined]
    assert count_spans(module_store, "during-loris-http") == 1


def test_collector_http_body_trickle_gets_408_and_stores_nothing(
    collector: object, module_store: Store
) -> None:
    port = collector.http_port  # type: ignore[attr-defined]
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    started = time.monotonic()
    sock.sendall(
        b"POST /v1/traces HTTP/1.1\r\nHost: tower\r\nContent-Type: application/x-protobuf\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    reply = b""
    try:
        while True:
            sock.send(b"\x0a")
            chunk = sock.recv(4096) if _readable(sock, 0.4) else b"-"
            if chunk == b"":
                break
            if chunk != b"-":
                reply += chunk
            if time.monotonic() - started > HEADER_TIMEOUT_S + SLACK_S + 5:
                pytest.fail("the body trickle was never cut off")
    except OSError:
        pass
    finally:
        sock.close()
    assert reply.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started <= HEADER_TIMEOUT_S + SLACK_S


def _readable(sock: socket.socket, timeout: float) -> bool:
    import select

    return bool(select.select([sock], [], [], timeout)[0])


def test_collector_grpc_closes_400_trickling_handshakes_and_serves_a_normal_exporter(
    collector: object, module_store: Store
) -> None:
    host, port = "127.0.0.1", collector.grpc_port  # type: ignore[attr-defined]
    loris = Trickle(host, port, count=400, head=b"PRI * HTTP/2.0\r\n", drip=b"\r\nSM\r\n\r\n").start()
    try:
        time.sleep(0.5)
        send_one_span(GrpcExporter(endpoint=f"{host}:{port}", insecure=True, timeout=10), "during-loris-grpc")
        assert loris.wait_all_closed(HEADER_TIMEOUT_S + SLACK_S), f"{len(loris.closed_after)} of 400 closed"
    finally:
        loris.stop()
    assert collector.wait_drained(30)  # type: ignore[attr-defined]
    assert count_spans(module_store, "during-loris-grpc") == 1


def test_dashboard_closes_400_trickling_sockets_and_serves_a_normal_client(
    module_store: Store, storage_settings: object
) -> None:
    web = WebSettings(
        port=0,
        secret_key=SecretStr("k" * 40),
        header_timeout_s=HEADER_TIMEOUT_S,
        max_connections=100,
    )
    settings = TowerSettings(storage=storage_settings, web=web)  # type: ignore[arg-type]
    service = WebService(settings, module_store, load_policy())
    service.start()
    loris = Trickle(
        "127.0.0.1", service.port, count=400, head=b"GET /login HTTP/1.1\r\nHost: tower\r\n"
    ).start()
    try:
        time.sleep(0.5)
        response = httpx.get(f"{service.url}/healthz", timeout=10)
        assert response.status_code == 200
        assert loris.wait_all_closed(HEADER_TIMEOUT_S + SLACK_S), f"{len(loris.closed_after)} of 400 closed"
    finally:
        loris.stop()
        service.stop()


def test_carrier_webhook_closes_400_trickling_sockets_and_serves_a_carrier(
    collector: object, tmp_path: Path
) -> None:
    settings = CarrierAgentSettings(
        port=0,
        header_timeout_s=HEADER_TIMEOUT_S,
        max_connections=100,
        mapping="easypost",
        allow_unsigned=True,
    )
    emitter = Emitter(otlp_exporter(collector.http_endpoint), "carrier-webhook", "carrier")  # type: ignore[attr-defined]
    agent = CarrierAgent(settings, emitter, tmp_path / "state")
    agent.start()
    host, port = agent.url.split("//")[1].split("/")[0].split(":")
    loris = Trickle(
        host, int(port), count=400, head=b"POST /webhooks/carrier HTTP/1.1\r\nHost: t\r\n"
    ).start()
    try:
        time.sleep(0.5)
        health = httpx.get(f"http://{host}:{port}/healthz", timeout=10)
        assert health.status_code == 200
        assert loris.wait_all_closed(HEADER_TIMEOUT_S + SLACK_S), f"{len(loris.closed_after)} of 400 closed"
    finally:
        loris.stop()
        agent.stop()


def test_collector_receiver_processes_close_trickling_sockets_and_serve_a_normal_exporter(
    module_store: Store, tmp_path: Path
) -> None:
    """The same limits in the receiver processes ``tower serve`` runs (they share the port)."""
    with running_collector(
        module_store,
        tmp_path / "spool",
        receivers=2,
        http_header_timeout_s=HEADER_TIMEOUT_S,
        http_max_connections=100,
    ) as collector:
        host, port = "127.0.0.1", collector.http_port
        loris = Trickle(host, port, count=400).start()
        try:
            time.sleep(0.5)
            send_one_span(
                HttpExporter(endpoint=f"http://{host}:{port}/v1/traces", timeout=10), "during-loris-receivers"
            )
            assert loris.wait_all_closed(HEADER_TIMEOUT_S + SLACK_S), (
                f"{len(loris.closed_after)} of 400 closed"
            )
            assert any(reply.startswith(b"HTTP/1.1 408") for reply in loris.replies.values())
        finally:
            loris.stop()
        assert collector.wait_drained(30)
    assert count_spans(module_store, "during-loris-receivers") == 1

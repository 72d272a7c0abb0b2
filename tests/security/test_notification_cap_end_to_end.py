"""Finding 5, the notification cap end to end: ONE OTLP/HTTP request of 300 failing spans from 300
distinct ``system.instance`` values, sent with the plain OpenTelemetry SDK into a real collector, then
alert evaluation over what the collector stored. A rule grouped by system makes 300 alert groups; a
real aiosmtpd receiver gets at most ``max_notifications_per_rule`` e-mails plus one summary naming the
rest — not 300 — and the next evaluation sends nothing more."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from clock import ANCHOR, ANCHOR_NS
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from support.receivers import smtp_server

from alerts import state
from alerts.evaluator import Evaluator
from alerts.model import AlertState
from alerts.rules import parse_rules
from alerts.settings import AlertSettings
from collector.testing import running_collector
from storage import Store

SYSTEMS = [f"erp-{i:03d}" for i in range(300)]

RULES = """
rules:
  - name: SystemFailing
    signal: system_error_rate
    params: {{window: 10m}}
    threshold: 0.5
    group_by: [system]
    annotations: {{summary: "{{{{ labels.system }}}} fails"}}
route: {{receiver: oncall, group_by: [system], group_wait: 0s, group_interval: 5m, repeat_interval: 4h}}
receivers:
  - name: oncall
    email_configs:
      - {{to: oncall@example.com, from: tower@example.com, smarthost: "127.0.0.1:{port}", require_tls: false}}
"""


def failing_spans() -> list[object]:
    """300 failed order hops, one per ERP instance, two minutes before the anchor (the real SDK)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "erp-gateway"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("erp.integration", "4.2")
    start = ANCHOR_NS - 2 * 60 * 10**9
    for i, system in enumerate(SYSTEMS):
        span = tracer.start_span(
            "erp.validate_order",
            kind=SpanKind.SERVER,
            start_time=start + i * 10**6,
            attributes={
                "order.id": f"SO-CAP-{i:03d}",
                "order.stage": "validation",
                "system.instance": system,
                "system.kind": "erp",
            },
        )
        span.set_status(Status(StatusCode.ERROR, "credit service unavailable"))
        span.end(end_time=start + i * 10**6 + 250 * 10**6)
    provider.shutdown()
    spans = list(memory.get_finished_spans())
    assert len(spans) == 300
    return spans


def test_one_request_of_300_systems_sends_the_cap_plus_one_summary(store: Store, tmp_path: Path) -> None:
    with running_collector(store, tmp_path / "spool") as collector:
        exporter = OTLPSpanExporter(endpoint=f"{collector.http_endpoint}/v1/traces", timeout=30)
        assert exporter.export(failing_spans()) is SpanExportResult.SUCCESS  # one request, 300 spans
        exporter.shutdown()
        assert collector.wait_drained(60)
    stored = store.scalar(
        "SELECT uniqExact(SpanAttributes['system.instance']) FROM otel_traces WHERE SpanName = 'erp.validate_order'"
    )
    assert stored == 300

    with smtp_server() as (mailbox, port):
        settings = AlertSettings(allowed_targets=[f"127.0.0.1:{port}"], retry_initial_backoff_s=0)
        evaluator = Evaluator(store, parse_rules(RULES.format(port=port)), settings)
        try:
            report = evaluator.evaluate_once(ANCHOR)
            again = evaluator.evaluate_once(ANCHOR + timedelta(minutes=1))
        finally:
            evaluator.close()
        sessions = mailbox.sessions

    firing = state.list_alerts(store, states=[AlertState.FIRING.value])
    assert sorted(a.labels["system"] for a in firing) == SYSTEMS  # every system is alerting ...
    cap = settings.max_notifications_per_rule
    assert len(mailbox.messages) == cap + 1  # ... but on-call got the cap plus one summary, not 300
    assert sessions == cap + 1
    subjects = [str(message["Subject"]) for _, message in mailbox.messages]
    [summary] = [s for s in subjects if "summary of" in s]
    assert (
        summary
        == f"[FIRING:{300 - cap}] SystemFailing: summary of {300 - cap} more alert groups (notification cap reached)"
    )
    summary_mail = next(m for _, m in mailbox.messages if "summary of" in str(m["Subject"]))
    body = summary_mail.get_body(preferencelist=("plain",))
    assert body is not None
    named = [system for system in SYSTEMS if f"{system} fails" in body.get_content()]
    single = {
        s.removeprefix("[FIRING:1] SystemFailing (system=").removesuffix(")")
        for s in subjects
        if s != summary
    }
    assert len(named) == 300 - cap and set(named).isdisjoint(single)  # each group told exactly once
    assert len(report.sent) == cap + 1 and all(s.delivery.ok for s in report.sent)
    assert again.sent == []  # the next tick sends nothing more

"""Run a real collector in-process, for tests of anything that sends OTLP (simulator, agents, e2e).

    from collector.testing import running_collector

    with running_collector(store, tmp_path / "spool") as collector:
        exporter = OTLPSpanExporter(endpoint=collector.http_endpoint + "/v1/traces")
        ...
        collector.wait_drained()      # every acknowledged span is now in otel_traces

Ports are picked by the OS (port 0); ``collector.http_endpoint`` is ``http://127.0.0.1:<port>``,
``collector.grpc_endpoint`` is ``127.0.0.1:<port>``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.service import Collector
from collector.settings import CollectorSettings
from storage import Store


@contextmanager
def running_collector(
    store: Store,
    spool_dir: Path,
    settings: CollectorSettings | None = None,
    *,
    clock: Callable[[], int] = time.time_ns,
    **overrides: Any,
) -> Iterator[Collector]:
    """A started collector on free ports writing to ``store``; stopped (and drained) on exit.

    ``overrides`` are CollectorSettings fields, e.g. ``tokens=["s3cret"]`` or ``flush_interval_s=0.05``.
    Defaults here favour tests: short flush interval and retry delays, receivers in this process
    (``receivers=2`` starts receiver processes, as ``tower serve`` does). ``clock`` (Unix ns) is the
    collector's "now" for the accepted time window.
    """
    base = settings.model_dump() if settings is not None else {}
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "flush_interval_s": 0.05,
        "retry_initial_backoff_s": 0.05,
        "retry_max_backoff_s": 0.5,
        "receivers": 0,
        **base,
        "http_port": 0,
        "grpc_port": 0,
        **overrides,
    }
    if settings is not None:
        values["tokens"] = [t.get_secret_value() for t in settings.tokens] + list(overrides.get("tokens", []))
    collector = Collector(CollectorSettings(**values), store, spool_dir, clock=clock)
    collector.start()
    try:
        yield collector
    finally:
        collector.stop()


_STAGES = ("capture", "validation", "credit", "allocation", "pick", "pack", "ship", "invoice")
_SYSTEMS = (
    ("erp-east", "erp"),
    ("wms-dc1", "wms"),
    ("edi-gateway", "edi"),
    ("mw-bus", "middleware"),
    ("carrier-ups", "carrier"),
)


def order_hop_request(
    spans: int = 500, seed: int = 0, start_ns: int | None = None
) -> ExportTraceServiceRequest:
    """A realistic OTLP request: ``spans`` order-hop spans with 13 attributes each, one resource.

    Used by ``tower bench ingest`` and by tests that need load; ids are random but reproducible.
    """
    rnd = random.Random(seed)
    instance, kind = _SYSTEMS[seed % len(_SYSTEMS)]
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in (
        ("service.name", instance),
        ("service.version", "4.2.1"),
        ("host.name", f"{instance}-01"),
        ("deployment.environment", "prod"),
    ):
        attribute = resource_spans.resource.attributes.add()
        attribute.key = key
        attribute.value.string_value = value
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tower.simulator"
    scope_spans.scope.version = "0.1.0"
    base = start_ns if start_ns is not None else time.time_ns() - 3_600_000_000_000
    for i in range(spans):
        span = scope_spans.spans.add()
        span.trace_id = rnd.randbytes(16)
        span.span_id = rnd.randbytes(8)
        span.parent_span_id = rnd.randbytes(8)
        stage = _STAGES[i % len(_STAGES)]
        span.name = f"{kind}.{stage}"
        span.kind = 2
        start = base + rnd.randrange(3_600_000_000_000)
        span.start_time_unix_nano = start
        span.end_time_unix_nano = start + rnd.randrange(1_000_000, 5_000_000_000)
        order = rnd.randrange(1, 10_000_000)
        values: dict[str, str | int | bool] = {
            "order.id": f"SO-{order}",
            "order.customer_po": f"PO-{order * 7 % 9_999_991}",
            "order.stage": stage,
            "order.channel": ("edi", "ecommerce", "portal")[order % 3],
            "system.kind": kind,
            "system.instance": instance,
            "order.region": ("emea", "amer", "apac")[order % 3],
            "warehouse.id": f"WH-{order % 4}",
            "customer.id": f"C-{order % 5000}",
            "customer.tier": ("strategic", "key", "standard")[order % 3],
            "order.status": "accepted",
            "order.line_count": 1 + order % 40,
            "order.manual_touch": order % 11 == 0,
        }
        for name, item in values.items():
            attribute = span.attributes.add()
            attribute.key = name
            if isinstance(item, bool):
                attribute.value.bool_value = item
            elif isinstance(item, int):
                attribute.value.int_value = item
            else:
                attribute.value.string_value = item
        span.status.code = 1
    return request

"""The collector's self-metrics (Prometheus format at ``/metrics`` on the OTLP/HTTP port)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from collector.spool import Spool


class CollectorMetrics:
    """One registry per collector, so that several collectors in one process do not clash."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "tower_collector_requests",
            "Export requests by transport and outcome",
            ["transport", "outcome"],
            registry=r,
        )
        self.spans_received = Counter(
            "tower_collector_spans_received",
            "Spans received in decodable requests",
            ["transport"],
            registry=r,
        )
        self.spans_accepted = Counter(
            "tower_collector_spans_accepted",
            "Spans acknowledged (durable in the spool)",
            ["transport"],
            registry=r,
        )
        self.spans_rejected = Counter(
            "tower_collector_spans_rejected", "Spans rejected individually, by reason", ["reason"], registry=r
        )
        self.requests_rejected = Counter(
            "tower_collector_requests_rejected", "Whole requests refused, by reason", ["reason"], registry=r
        )
        self.truncated = Counter(
            "tower_collector_attributes_truncated",
            "Attributes, values, array elements, events or links cut by limits",
            registry=r,
        )
        self.repaired = Counter(
            "tower_collector_strings_repaired", "Strings with invalid UTF-8 repaired with U+FFFD", registry=r
        )
        self.spans_spooled = Counter(
            "tower_collector_spans_spooled", "Spans appended and fsynced to the write-ahead spool", registry=r
        )
        self.bytes_spooled = Counter(
            "tower_collector_spool_bytes_written", "Bytes appended to the write-ahead spool", registry=r
        )
        self.spans_written = Counter(
            "tower_collector_spans_written", "Spans inserted into ClickHouse", registry=r
        )
        self.spans_quarantined = Counter(
            "tower_collector_spans_quarantined",
            "Spans ClickHouse refused as data, moved to the spool's quarantine/ (tower spool quarantine)",
            registry=r,
        )
        self.quarantine_rows = Gauge(
            "tower_collector_quarantine_spans",
            "Spans in the spool's quarantine/ now (listed by tower spool quarantine list)",
            registry=r,
        )
        self.oldest_unwritten_age = Gauge(
            "tower_collector_oldest_unwritten_span_age_seconds",
            "Seconds since the oldest span not yet in ClickHouse was acknowledged (0 when none waits)",
            registry=r,
        )
        self.writer_stalled = Gauge(
            "tower_collector_writer_stalled_seconds",
            "Seconds the writer has stored nothing while spans wait (0 when it keeps up)",
            registry=r,
        )
        self.engine_cpu = Gauge(
            "tower_collector_engine_cpu_seconds",
            "CPU seconds the ClickHouse engine has used (inserts, materialized views, merges), from "
            "system.events; the whole server's when the store is a server",
            registry=r,
        )
        self.healthy = Gauge(
            "tower_collector_healthy",
            "1 when /healthz says ok, 0 when degraded (writer stalled or spool nearly full)",
            registry=r,
        )
        self.batches_written = Counter(
            "tower_collector_batches_written", "Insert batches committed to ClickHouse", registry=r
        )
        self.write_failures = Counter(
            "tower_collector_write_failures", "Failed insert attempts (each is retried)", registry=r
        )
        self.write_retries = Counter(
            "tower_collector_write_retries", "Insert retries after a failure", registry=r
        )
        self.write_seconds = Histogram(
            "tower_collector_write_seconds",
            "Latency of one insert batch",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.inflight_bytes = Gauge(
            "tower_collector_inflight_bytes", "Request bytes being decoded now", registry=r
        )
        self.queue_bytes = Gauge(
            "tower_collector_queue_bytes", "Spooled bytes not yet written to ClickHouse", registry=r
        )
        self.queue_rows = Gauge(
            "tower_collector_queue_spans", "Spooled spans not yet written to ClickHouse", registry=r
        )
        self.queue_depth = Gauge(
            "tower_collector_queue_segments", "Sealed spool segments waiting for insert", registry=r
        )

    def observe_spool(self, spool: Spool) -> None:
        self.queue_bytes.set(spool.pending_bytes)
        self.queue_rows.set(spool.pending_rows)
        self.queue_depth.set(spool.sealed_count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


Samples = dict[str, Any]


def snapshot(registry: CollectorRegistry) -> Samples:
    """The registry's samples as plain data (for another process to merge): family -> details."""
    families: Samples = {}
    for family in registry.collect():
        samples = [
            [sample.name, sample.labels, sample.value]
            for sample in family.samples
            if not sample.name.endswith("_created")
        ]
        families[family.name] = {"type": family.type, "help": family.documentation, "samples": samples}
    return families


def render_merged(snapshots: list[Samples]) -> bytes:
    """Prometheus text of several processes' samples, summed by name and labels."""
    merged: dict[str, dict[str, Any]] = {}
    for families in snapshots:
        for name, family in families.items():
            target = merged.setdefault(name, {"type": family["type"], "help": family["help"], "values": {}})
            for sample_name, labels, value in family["samples"]:
                key = (sample_name, tuple(sorted(labels.items())))
                target["values"][key] = target["values"].get(key, 0.0) + float(value)
    lines = []
    for name, family in merged.items():
        lines.append(f"# HELP {name} {family['help']}")
        lines.append(f"# TYPE {name} {family['type']}")
        for (sample_name, labels), value in family["values"].items():
            text = ",".join(f'{key}="{_escape(str(label))}"' for key, label in labels)
            lines.append(f"{sample_name}{{{text}}} {value!r}" if text else f"{sample_name} {value!r}")
    return ("\n".join(lines) + "\n").encode()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

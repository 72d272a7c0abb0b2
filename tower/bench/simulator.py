"""``tower bench simulator``: how fast the simulator makes history, and how fast each sink takes it.

Measures, on a fresh embedded store in a temporary directory: span generation (``generate()``),
the direct store path (``write_to_store``, materialized views included), the OTLP path
(``OtlpSink`` -> a real in-process collector over HTTP, until every span is durable) and, with
``--fill-spans N``, ``fill_store`` (benchmark-scale data: a base history copied inside ClickHouse).
Prints JSON.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from storage import StorageSettings, open_store
from tower import runtime
from tracing.simulator import Simulator, SimulatorConfig
from tracing.sinks import OtlpSink, fill_store, write_to_store


def run_bench(
    orders: int, days: float, otlp_orders: int, work_dir: Path | None = None, fill_spans: int = 0
) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="tower-bench-sim-", dir=work_dir))
    try:
        config = SimulatorConfig(orders=orders, days=days, seed=1)
        started = time.perf_counter()
        records = list(Simulator(config).generate())
        generate_s = time.perf_counter() - started
        result: dict[str, Any] = {
            "orders": orders,
            "days": days,
            "spans": len(records),
            "spans_per_order": round(len(records) / max(orders, 1), 2),
            "generate_seconds": round(generate_s, 3),
            "generate_spans_per_second": round(len(records) / generate_s),
        }
        settings = StorageSettings(data_dir=base / "data")
        store = open_store(settings, database="bench_simulator", command="tower bench simulator")
        try:
            runtime.migrate_store(store)
            started = time.perf_counter()
            written = write_to_store(store, records)
            store_s = time.perf_counter() - started
            result.update(
                store_spans_written=written,
                store_seconds=round(store_s, 3),
                store_spans_per_second=round(written / store_s),
                keys_indexed=int(store.scalar("SELECT count() FROM order_keys")),
            )
            result.update(_otlp(store, base, otlp_orders, days))
            if fill_spans:
                store.command(f"TRUNCATE TABLE {store.ident('otel_traces')}")
                store.command(f"TRUNCATE TABLE {store.ident('order_keys')}")
                fill = fill_store(
                    store, fill_spans, config=SimulatorConfig(days=days, seed=3), progress=_stderr
                )
                result["fill_store"] = fill
        finally:
            store.drop_database()
            store.close()
        return result
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _otlp(store: Any, base: Path, orders: int, days: float) -> dict[str, Any]:
    from collector.service import Collector
    from collector.settings import CollectorSettings

    store.command(f"TRUNCATE TABLE {store.ident('otel_traces')}")
    records = list(Simulator(SimulatorConfig(orders=orders, days=days, seed=2)).generate())
    # generate() yields the spans of in-flight orders too, ending days after now (more days the more
    # orders: 5.5 for 10 orders, nearly 10 for 300): the collector's accepted clock skew covers the
    # latest of them, or it would reject those at the door and fewer spans would be stored than sent
    latest_end_ns = max((record.end_ns for record in records), default=0)
    skew_s = max(86_400.0, (latest_end_ns - time.time_ns()) / 1e9 + 3_600.0)
    collector = Collector(
        CollectorSettings(
            host="127.0.0.1", http_port=0, grpc_port=0, flush_interval_s=0.05, max_clock_skew_s=skew_s
        ),
        store,
        base / "spool",
    )
    collector.start()
    try:
        sink = OtlpSink(endpoint=collector.http_endpoint, batch_size=512)
        started = time.perf_counter()
        sink.send(records)
        acked_s = time.perf_counter() - started
        collector.wait_drained(120.0)
        durable_s = time.perf_counter() - started
        sink.close()
    finally:
        collector.stop()
    stored = int(store.scalar("SELECT count() FROM otel_traces"))
    return {
        "otlp_spans": len(records),
        "otlp_spans_stored": stored,
        "otlp_acknowledged_spans_per_second": round(len(records) / acked_s),
        "otlp_durable_spans_per_second": round(stored / durable_s),
    }


def _stderr(message: str) -> None:
    sys.stderr.write(message + "\n")

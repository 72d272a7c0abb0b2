"""``tower bench query``: read latency of the crosswalk and the timeline on simulator-shaped data,
and how fresh a live order's timeline is.

Generates ``--spans`` spans (10 million by default) straight into a fresh embedded store with
``INSERT ... SELECT FROM numbers()`` (ClickHouse builds the rows; the materialized views fill the
key index, the order-keyed table and the attribution inputs as in production, and the attribution
step runs after each insert as the collector runs it after each write), then measures p50/p95/p99
of: lookup by each key type (``find_orders``; EDI control numbers, file names and batch ids
included), full timeline assembly (``order_timeline``) and trace by id. Then the freshness lag: a
real collector (OTLP/HTTP receiver, spool, writer; in this process, as the embedded engine allows one
process) receives live single-span requests from the OpenTelemetry SDK's exporter, and each lag is
the time from the collector's acknowledgement until the hop shows on its order's timeline. Prints
JSON.

Shape (per order, as the simulator draws it): capture (EDI orders in their partner's file trace,
one file per 50 EDI orders, listed by a middleware batch span), validation, credit (every tenth
order held and released by a person), pricing and allocation in the order's trace; pick, pack and
ship in a WMS trace linked to the allocation; delivery in a carrier trace with only the tracking
number, linked to the ship confirmation; the invoice in the nightly run's trace (500 orders a run),
two orders per invoice.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from storage import SqlFiles, StorageSettings, Store, open_store
from tower import runtime
from tracing.attribution import attribute_window
from tracing.crosswalk import fetch_trace_spans, order_spans
from tracing.timeline import find_orders, order_timeline

SQL = SqlFiles("tower.bench.queries")
SPANS_PER_ORDER = 10
CHUNK_ORDERS = 200_000
CHUNK_FILES = 10_000  # EDI files per insert (a middleware batch names 50 orders: 500k order rows)
DAY_NS = 86_400 * 1_000_000_000
TARGETS_MS = {"lookup_p95": 20.0, "timeline_p95": 50.0, "freshness_lag_p95": 2000.0}


def _md5_hex(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()


# key type -> the key of order n (the generator's formulas, see tower/bench/queries/bench_order_spans.sql)
KEYS: dict[str, Callable[[int], str]] = {
    "order.id": lambda n: f"SO-{1_000_000 + n}",
    "order.customer_po": lambda n: f"PO-{7_000_000 + n}",
    "order.ecommerce_id": lambda n: f"W{7_000_000 + (n if n % 3 else n + 1)}",
    "edi.transaction_set_control_number": lambda n: f"ST{n - n % 3}",
    "edi.interchange_control_number": lambda n: f"{n // 150:09d}",
    "shipment.id": lambda n: f"SH-{4_000_000 + n}",
    "shipment.tracking_number": lambda n: "1Z" + _md5_hex(f"trk{n}")[:14].upper(),
    "invoice.id": lambda n: f"INV-{900_000 + n // 2}",
    "order.batch.id": lambda n: f"B-{n // 150}",
}
# Keys of the same type measured apart: (label, key type, key of order n)
EXTRA_KEYS: dict[str, Callable[[int], str]] = {
    "order.batch.id (EDI file name)": lambda n: f"F-{n // 150}",
    "edi.group_control_number": lambda n: f"{200_000 + n // 150}",
}


def generate(store: Store, spans: int, *, progress: Callable[[str], None]) -> dict[str, Any]:
    """Write about ``spans`` spans of simulator-shaped orders ending now; returns what was written."""
    orders = max(1, spans // SPANS_PER_ORDER)
    now_ns = time.time_ns()
    base_ns = now_ns - 29 * DAY_NS
    spacing_ns = max(1, (27 * DAY_NS) // orders)
    started = time.perf_counter()
    attribution_s = 0.0
    files = math.ceil(orders / 150)
    # the EDI files and invoice runs first: each chunk of orders then finds them (as live traffic would)
    began = store.now()
    store.command(SQL["bench_run_spans"], {"orders": orders, "base_ns": base_ns, "spacing_ns": spacing_ns})
    attributed = attribute_window(store, began - timedelta(seconds=1), store.now()).attributed
    for first_file in range(0, files, CHUNK_FILES):
        began = store.now()
        store.command(
            SQL["bench_batch_spans"],
            {
                "first": first_file,
                "count": min(CHUNK_FILES, files - first_file),
                "orders": orders,
                "base_ns": base_ns,
                "spacing_ns": spacing_ns,
            },
        )
        attributed += attribute_window(store, began - timedelta(seconds=1), store.now()).attributed
    for first in range(0, orders, CHUNK_ORDERS):
        count = min(CHUNK_ORDERS, orders - first)
        began = store.now()
        store.command(
            SQL["bench_order_spans"],
            {"first": first, "count": count, "base_ns": base_ns, "spacing_ns": spacing_ns},
            settings={"max_insert_block_size": 1_048_576, "max_threads": 2},
        )
        step = time.perf_counter()
        attributed += attribute_window(store, began - timedelta(seconds=1), store.now()).attributed
        attribution_s += time.perf_counter() - step
        progress(f"generated {first + count:,} of {orders:,} orders ({time.perf_counter() - started:.0f}s)")
    generated = time.perf_counter() - started
    written = _generated_spans(store)
    progress(
        f"{written:,} spans in {generated:.0f}s; {store.scalar('SELECT count() FROM order_keys'):,} key rows"
    )
    return {
        "orders": orders,
        "spans": written,
        "generate_s": round(generated, 1),
        "attribution_s": round(attribution_s, 1),
        "attributed_pairs": attributed,
        "order_span_rows": int(store.scalar("SELECT count() FROM order_spans")),
    }


# The tables the reads use; merged before measuring (a running tower's background merges get them
# there; right after a bulk insert each holds one part per insert and week).
READ_TABLES = ("order_keys", "order_spans", "otel_traces_trace_id_ts", "span_orders", "orderless_spans")


def merge(store: Store, *, progress: Callable[[str], None]) -> float:
    """Merge the read-side tables to their steady state (OPTIMIZE ... FINAL); returns seconds."""
    started = time.perf_counter()
    for table in READ_TABLES:
        store.command(f"OPTIMIZE TABLE {store.ident(table)} FINAL")
    elapsed = time.perf_counter() - started
    progress(f"merged {', '.join(READ_TABLES)} in {elapsed:.0f}s")
    return round(elapsed, 1)


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {
        "p50_ms": round(cuts[49], 2),
        "p95_ms": round(cuts[94], 2),
        "p99_ms": round(cuts[98], 2),
        "max_ms": round(ordered[-1], 2),
        "samples": len(ordered),
    }


_cpu_ms: list[float] = []


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time in ms (and the process CPU time, all threads, kept in ``_cpu_ms``)."""
    cpu = time.process_time()
    started = time.perf_counter()
    result = fn()
    elapsed = (time.perf_counter() - started) * 1000
    _cpu_ms.append((time.process_time() - cpu) * 1000)
    return elapsed, result


def _cpu_figures() -> dict[str, float]:
    """CPU time of the measured calls: what they cost without other processes queueing for cores."""
    ordered = sorted(_cpu_ms)
    _cpu_ms.clear()
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"cpu_p50_ms": round(cuts[49], 2), "cpu_p95_ms": round(cuts[94], 2)}


def measure(store: Store, orders: int, samples: int, seed: int) -> dict[str, Any]:
    """Latency of key lookups by type, timeline assembly and trace by id on the generated orders."""
    rng = random.Random(seed)
    picks = [rng.randrange(orders) for _ in range(samples)]
    for n in picks[:5]:  # warm the caches the way a running tower has them
        order_timeline(store, KEYS["order.id"](n))
    _cpu_ms.clear()
    lookups: dict[str, Any] = {}
    for key_type, key_of in {**KEYS, **EXTRA_KEYS}.items():
        times, found = [], []
        for n in picks:
            ms, matches = _timed(partial(find_orders, store, key_of(n)))
            times.append(ms)
            found.append(len(matches))
        lookups[key_type] = {
            **_percentiles(times),
            **_cpu_figures(),
            "orders_per_key": round(statistics.mean(found), 1),
        }
        if min(found) == 0:
            lookups[key_type]["misses"] = found.count(0)
    times, hops, spans, traces = [], [], [], []
    for n in picks:
        ms, timeline = _timed(partial(order_timeline, store, KEYS["order.id"](n)))
        times.append(ms)
        hops.append(len(timeline.hops))
        spans.append(len(timeline.spans))
        traces.append(len(timeline.trace_ids))
    timeline_stats = {
        **_percentiles(times),
        **_cpu_figures(),
        "hops_avg": round(statistics.mean(hops), 1),
        "spans_avg": round(statistics.mean(spans), 1),
        "traces_avg": round(statistics.mean(traces), 1),
    }
    times, sizes = [], []
    for n in picks:
        trace_id = _md5_hex(f"w{n}")  # the order's WMS trace
        ms, found_spans = _timed(partial(fetch_trace_spans, store, [trace_id]))
        times.append(ms)
        sizes.append(len(found_spans))
    trace_stats = {**_percentiles(times), **_cpu_figures(), "spans_avg": round(statistics.mean(sizes), 1)}
    return {"lookup": lookups, "timeline": timeline_stats, "trace_by_id": trace_stats}


FRESHNESS_SCOPE = "tower.bench.freshness"  # the live spans' scope (not counted as generated data)
# a live order's hops: (system, kind, stage, span name, whether the span names the order)
LIVE_HOPS = (
    ("web-shop", "ecommerce", "capture", "POST /checkout", True),
    ("wms", "wms", "ship", "ship confirm", True),
    ("carrier-ups", "carrier", "deliver", "delivery", False),  # only the tracking number
)


def freshness(store: Store, samples: int, seed: int, *, progress: Callable[[str], None]) -> dict[str, Any]:
    """Lag from the collector's acknowledgement of a live single-span OTLP request until the hop is on
    its order's timeline: a real collector (receiver, write-ahead spool, writer with the attribution
    step; default settings, e.g. the 1 s spool flush) and the OpenTelemetry SDK's OTLP/HTTP exporter,
    one span per request, each timeline polled every 10 ms (at most 30 s)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from collector.service import Collector
    from collector.settings import CollectorSettings

    class Acked(SpanExporter):
        """The SDK's OTLP exporter, noting when the collector acknowledged each request."""

        def __init__(self, endpoint: str) -> None:
            self.inner = OTLPSpanExporter(endpoint=endpoint, timeout=30)
            self.acked_at = 0.0

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            result = self.inner.export(spans)
            self.acked_at = time.perf_counter() if result is SpanExportResult.SUCCESS else 0.0
            return result

        def shutdown(self) -> None:
            self.inner.shutdown()

    spool = Path(tempfile.mkdtemp(prefix="tower-bench-spool-"))
    collector = Collector(CollectorSettings(http_port=0, grpc_port=0), store, spool)
    collector.start()
    rng = random.Random(seed)
    lags: dict[str, list[float]] = {"names the order": [], "key only": []}
    misses = 0
    providers: dict[str, TracerProvider] = {}
    try:
        exporter = Acked(f"http://127.0.0.1:{collector.http_port}/v1/traces")
        for system, *_ in LIVE_HOPS:
            providers[system] = TracerProvider(resource=Resource.create({"service.name": system}))
            providers[system].add_span_processor(SimpleSpanProcessor(exporter))
        progress(
            f"freshness: {samples} live single-span requests through a collector on port {collector.http_port}"
        )
        n = 0
        while sum(len(v) for v in lags.values()) + misses < samples:
            order = f"FRESH-{seed}-{n}"
            tracking = f"1ZFRESH{seed}X{n:06d}"
            base = time.time_ns() - 3_600_000_000_000 + n * 60_000_000_000 % 3_000_000_000_000
            for i, (system, kind, stage, name, named) in enumerate(LIVE_HOPS):
                if sum(len(v) for v in lags.values()) + misses >= samples:
                    break
                attributes: dict[str, Any] = {
                    "order.stage": stage,
                    "system.kind": kind,
                    "system.instance": system,
                    "shipment.tracking_number": tracking,
                }
                if named:
                    attributes["order.id"] = order
                start = base + i * 600_000_000_000 + rng.randrange(1_000_000_000)
                span = (
                    providers[system]
                    .get_tracer("bench")
                    .start_span(name, attributes=attributes, start_time=start)
                )
                span.end(end_time=start + 200_000_000)
                acked = exporter.acked_at
                span_id = format(span.get_span_context().span_id, "016x")
                deadline = acked + 30
                while True:
                    stitched = order_spans(store, order)
                    if any(s.span_id == span_id for s in stitched.spans):
                        lags["names the order" if named else "key only"].append(
                            (time.perf_counter() - acked) * 1000
                        )
                        break
                    if time.perf_counter() > deadline:
                        misses += 1
                        break
                    time.sleep(0.01)
            n += 1
    finally:
        for provider in providers.values():
            provider.shutdown()
        collector.stop()
        shutil.rmtree(spool, ignore_errors=True)
    every = [lag for values in lags.values() for lag in values]
    return {
        **_percentiles(every),
        "by_span": {kind: _percentiles(values) for kind, values in lags.items() if values},
        "misses": misses,
        "collector_flush_interval_s": CollectorSettings().flush_interval_s,
    }


def run_bench(
    *,
    spans: int,
    samples: int,
    seed: int,
    data_dir: Path | None,
    keep: bool,
    quiet: bool = False,
    merged: bool = True,
    reuse: bool = False,
    freshness_samples: int = 60,
) -> dict[str, Any]:
    """Generate into a fresh embedded store, measure, and return the JSON figures."""
    if spans < SPANS_PER_ORDER:
        raise ValueError(f"--spans must be at least {SPANS_PER_ORDER}, got {spans}")
    if samples < 2:
        raise ValueError(f"--samples must be at least 2, got {samples}")
    owned_dir = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="tower-bench-query-")) if data_dir is None else data_dir
    reusing = reuse and data_dir is not None and (data_dir / "clickhouse").exists()
    if reuse and data_dir is None:
        raise ValueError("--reuse needs --data-dir (a store kept by an earlier --keep run)")
    if data_dir is not None and (data_dir / "clickhouse").exists() and not reusing:
        raise ValueError(f"{data_dir} already holds a store; give an empty or new directory")

    def progress(message: str) -> None:
        if not quiet:
            print(f"bench query: {message}", file=sys.stderr, flush=True)

    settings = StorageSettings(data_dir=root, database="bench", ttl_days=dict.fromkeys(_retained(), 0))
    store = open_store(settings, command="tower bench query")
    try:
        started = time.perf_counter()
        applied = runtime.migrate_store(
            store, lambda done, total, step: progress(f"backfill {done}/{total} {step}")
        )
        migrate_s = time.perf_counter() - started
        if reusing:  # measure the same data again (before/after comparisons)
            written: dict[str, Any] = {
                "orders": max(1, spans // SPANS_PER_ORDER),
                "spans": _generated_spans(store),
                "generate_s": None,
                "reused": True,
                "migrated": applied,
                "migrate_and_backfill_s": round(migrate_s, 1),
            }
            if written["spans"] < spans:
                raise ValueError(f"{data_dir} holds {written['spans']:,} spans, fewer than --spans {spans:,}")
        else:
            written = generate(store, spans, progress=progress)
        written["merge_s"] = merge(store, progress=progress) if merged else None
        progress(f"measuring {samples} samples per figure")
        figures = measure(store, written["orders"], samples, seed)
        parts = store.rows(
            "SELECT table, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes "
            "FROM system.parts WHERE database = {db:String} AND active "
            "AND table IN ('otel_traces', 'order_keys', 'span_links', 'otel_traces_trace_id_ts', "
            "'order_spans', 'span_orders', 'orderless_spans', 'span_arrivals') GROUP BY table",
            {"db": store.database},
        )
        if freshness_samples > 0:
            figures["freshness_lag"] = freshness(store, freshness_samples, seed, progress=progress)
    finally:
        store.close()
        if owned_dir and not keep:
            shutil.rmtree(root, ignore_errors=True)
    lookup_p95 = {key_type: v["p95_ms"] for key_type, v in figures["lookup"].items()}
    summary: dict[str, Any] = {
        "lookup_p95_ms": lookup_p95,
        "timeline_p95_ms": figures["timeline"]["p95_ms"],
        "freshness_lag_p95_ms": figures["freshness_lag"]["p95_ms"] if "freshness_lag" in figures else None,
    }
    load = os.getloadavg()
    return {
        "benchmark": "query",
        **summary,
        **written,
        "tables": {p["table"]: {k: int(p[k]) for k in ("parts", "rows", "bytes")} for p in parts},
        **figures,
        "load_average_1m": round(load[0], 2),
        "cpu_pressure_some_avg60": _cpu_pressure(),
        "targets_ms": TARGETS_MS,
        "met": {
            "lookup_p95": max(lookup_p95.values()) <= TARGETS_MS["lookup_p95"],
            "timeline_p95": summary["timeline_p95_ms"] <= TARGETS_MS["timeline_p95"],
            "freshness_lag_p95": summary["freshness_lag_p95_ms"] is not None
            and summary["freshness_lag_p95_ms"] <= TARGETS_MS["freshness_lag_p95"],
        },
        "data_dir": str(root) if keep or not owned_dir else None,
    }


def _generated_spans(store: Store) -> int:
    """Spans the generator wrote (scope tower.bench; the freshness probe's live spans are not)."""
    return int(store.scalar("SELECT count() FROM otel_traces WHERE ScopeName = 'tower.bench'"))


def _cpu_pressure() -> float | None:
    """Share of time runnable tasks waited for a core over the last minute (Linux PSI), if known."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    return float(fields.get("avg60", "nan"))


def _retained() -> list[str]:
    from storage.settings import DEFAULT_TTL_DAYS

    return list(DEFAULT_TTL_DAYS)

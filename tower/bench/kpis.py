"""``tower bench kpis``: KPI job timings on generated orders (JSON).

Generates orders inside ClickHouse (``kpis/queries/synthetic_*.sql``): by default straight into
order_spans (what the materialized view makes of spans; ``--via spans`` goes through otel_traces and
every view, as the collector writes, and is much slower to set up), then measures a full recompute of
every job over ``days`` days, and an incremental run after ``new_orders`` more orders arrive.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from kpis.jobs import JobResult, KpiEngine
from kpis.policy import load_policy
from kpis.synthetic import generate_orders
from storage import StorageSettings, open_store
from storage.migrate import migrate
from tracing.conventions import KEY_ROLES


def _jobs(results: list[JobResult]) -> dict[str, Any]:
    return {
        r.job: {
            "seconds": round(r.duration_s, 3),
            "rows": r.rows,
            "status": r.status,
            "error": r.error or None,
        }
        for r in results
    }


def run_bench(
    orders: int = 1_000_000,
    new_orders: int = 10_000,
    days: int = 30,
    data_dir: Path | None = None,
    keep: bool = False,
    via: Literal["spans", "hops"] = "hops",
) -> dict[str, Any]:
    if data_dir is not None and data_dir.exists() and any(data_dir.iterdir()):
        raise ValueError(f"--data-dir {data_dir} must be a new or empty directory")
    root = data_dir or Path(tempfile.mkdtemp(prefix="tower-bench-kpis-"))
    settings = StorageSettings(data_dir=root, database="bench_kpis")
    store = open_store(settings, command="tower bench kpis")
    try:
        migrate(store, KEY_ROLES)
        engine = KpiEngine(store, load_policy())
        end = datetime.now(UTC)
        t0 = time.perf_counter()
        generate_orders(store, orders, end - timedelta(days=days), end, via=via)
        generate_s = time.perf_counter() - t0
        hops = int(store.scalar("SELECT count() FROM order_spans"))
        # incremental runs re-read `overlap` before their watermark; let the bulk load age past it
        time.sleep(engine.overlap.total_seconds() + 0.5)
        t0 = time.perf_counter()
        full = engine.recompute()
        full_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        generate_orders(store, new_orders, end - timedelta(hours=6), datetime.now(UTC), first=orders, via=via)
        generate_new_s = time.perf_counter() - t0
        time.sleep(engine.overlap.total_seconds() + 0.5)
        t0 = time.perf_counter()
        incremental = engine.run_all()
        incremental_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        idle = engine.run_all()
        idle_s = time.perf_counter() - t0
        return {
            "benchmark": "kpis",
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "engine": "chdb (embedded)",
            },
            "data": {
                "orders": orders,
                "days": days,
                "order_spans": hops,
                "written_via": "otel_traces and its materialized views"
                if via == "spans"
                else "order_spans directly",
                "generate_seconds": round(generate_s, 1),
            },
            "full_recompute": {
                "orders": orders,
                "seconds": round(full_s, 3),
                "target_seconds": 10,
                "jobs": _jobs(full),
            },
            "incremental_after_new_orders": {
                "new_orders": new_orders,
                "generate_seconds": round(generate_new_s, 2),
                "seconds": round(incremental_s, 3),
                "target_seconds": 1,
                "jobs": _jobs(incremental),
            },
            "incremental_nothing_new": {"seconds": round(idle_s, 3), "jobs": _jobs(idle)},
        }
    finally:
        store.close()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)

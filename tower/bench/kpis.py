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
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from kpis.jobs import JobResult, KpiEngine
from kpis.policy import load_policy
from kpis.synthetic import generate_orders
from storage import StorageSettings, Store, open_store
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


class PeakMemory:
    """Samples the largest tracked memory of any running query (system.processes) on its own thread.

    The embedded engine keeps no query log, so the peak is sampled every ``every_s`` seconds while
    the jobs run (a query shorter than that may be missed; the big ones last far longer). A sample
    costs about 4 ms of CPU in this process: every 20 ms it took a fifth of a core from the jobs it
    measured on a 2-core machine.
    """

    SQL = "SELECT max(peak_memory_usage) FROM system.processes"

    def __init__(self, store: Store, every_s: float = 0.1) -> None:
        self.store = store
        self.every_s = every_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-peak-memory", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self.store.scalar(self.SQL)
            self.peak = max(self.peak, int(value or 0))
            self._stop.wait(self.every_s)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mib(self) -> float:
        return round(self.peak / 2**20, 1)


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
    load_at_start = round(os.getloadavg()[0], 2)
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
        with PeakMemory(store) as full_peak:
            full = engine.recompute()
        full_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        generate_orders(store, new_orders, end - timedelta(hours=6), datetime.now(UTC), first=orders, via=via)
        generate_new_s = time.perf_counter() - t0
        time.sleep(engine.overlap.total_seconds() + 0.5)
        t0 = time.perf_counter()
        with PeakMemory(store) as incremental_peak:
            incremental = engine.run_all()
        incremental_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with PeakMemory(store) as idle_peak:
            idle = engine.run_all()
        idle_s = time.perf_counter() - t0
        peaks = (full_peak, incremental_peak, idle_peak)
        return {
            "benchmark": "kpis",
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "engine": "chdb (embedded)",
                "load_average_1m_at_start": load_at_start,
                "load_average_1m_at_end": round(os.getloadavg()[0], 2),
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
                "target_seconds": 5,
                "peak_memory_mib": full_peak.mib,
                "jobs": _jobs(full),
            },
            "incremental_after_new_orders": {
                "new_orders": new_orders,
                "generate_seconds": round(generate_new_s, 2),
                "seconds": round(incremental_s, 3),
                "target_seconds": 0.5,
                "peak_memory_mib": incremental_peak.mib,
                "jobs": _jobs(incremental),
            },
            "incremental_nothing_new": {"seconds": round(idle_s, 3), "jobs": _jobs(idle)},
            "idle_seconds": round(idle_s, 3),
            "idle_target_seconds": 0.1,
            # the largest query of any phase, sampled from system.processes
            "peak_memory_mib": max(p.mib for p in peaks),
            "peak_memory_target_mib": 1024,
        }
    finally:
        store.close()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)

"""``tower bench process``: the process map + variants of N orders, and their OCEL 2.0 export (JSON).

Orders are generated inside ClickHouse straight into order_spans (``kpis.synthetic``, as ``tower
bench kpis`` does), their paths built by the order_paths job, then the map and the variants of every
order are computed ``repeat`` times. Each export (OCEL 2.0 json, xml, sqlite; XES) runs in a child
process (the embedded engine opens a data path once per process), writing a file; its wall time,
peak RSS (the child's ``VmHWM``, which includes the engine's shared library pages), the RSS of
the child with the engine open and idle (and what it is made of: the RSS before the engine loads,
and the pages of mapped files, nearly all the engine library's), and the load average are reported.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kpis.process import mining
from kpis.process.filters import make_filter
from kpis.process.paths import refresh_paths
from kpis.synthetic import generate_orders
from storage import SqlFiles, StorageSettings, open_store
from storage.migrate import migrate
from storage.settings import DEFAULT_TTL_DAYS
from tracing.conventions import KEY_ROLES

SQL = SqlFiles("tower.bench.queries")
DATABASE = "bench_process"
EXPORT_FORMATS = ("json", "xml", "sqlite", "xes")
END = datetime(2026, 11, 30, tzinfo=UTC)  # fixed: a reused store keeps its data range


def _settings(root: Path) -> StorageSettings:
    """The bench's store keeps its data forever: the orders end at the fixed END, which the default
    retention (30 days of spans) would start dropping once the wall clock is past it."""
    return StorageSettings(
        data_dir=root, database=DATABASE, ttl_days={table: 0 for table in DEFAULT_TTL_DAYS}
    )


def run_bench(
    orders: int = 1_000_000,
    days: int = 30,
    repeat: int = 5,
    data_dir: Path | None = None,
    keep: bool = False,
    reuse: bool = False,
    export: bool = True,
    formats: tuple[str, ...] = EXPORT_FORMATS,
) -> dict[str, Any]:
    if reuse and data_dir is None:
        raise ValueError("--reuse needs --data-dir (a store kept by an earlier run with --keep)")
    if reuse and data_dir is not None and not (data_dir.is_dir() and any(data_dir.iterdir())):
        raise ValueError(f"--reuse: {data_dir} holds no store (keep one with --keep first)")
    # a reused store is never removed: it took minutes to generate, and another run may measure it
    keep = keep or reuse
    if not reuse and data_dir is not None and data_dir.exists() and any(data_dir.iterdir()):
        raise ValueError(f"--data-dir {data_dir} must be a new or empty directory (or use --reuse)")
    root = data_dir or Path(tempfile.mkdtemp(prefix="tower-bench-process-"))
    start = END - timedelta(days=days)
    flt = make_filter(start=start, end=END)
    result: dict[str, Any] = {
        "benchmark": "process",
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1m_at_start": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "engine": "chdb (embedded)",
        },
    }
    try:
        store = open_store(_settings(root), command="tower bench process")
        try:
            migrate(store, KEY_ROLES)
            generate_s = paths_s = 0.0
            if not reuse:
                t0 = time.perf_counter()
                generate_orders(store, orders, start, END, via="hops")
                generate_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                built = refresh_paths(store, everything=True)
                paths_s = time.perf_counter() - t0
                if built.status != "ok":
                    raise RuntimeError(f"order_paths failed: {built.error}")
                store.command("OPTIMIZE TABLE order_paths FINAL")
            map_s, variants_s, both_s = [], [], []
            for _ in range(repeat):
                t0 = time.perf_counter()
                pm = mining.process_map(store, flt)
                t1 = time.perf_counter()
                vs = mining.variants(store, flt, limit=50)
                t2 = time.perf_counter()
                map_s.append(t1 - t0)
                variants_s.append(t2 - t1)
                both_s.append(t2 - t0)
            result["data"] = {
                "orders_generated": None if reuse else orders,
                "orders": pm.orders,
                "order_paths": int(store.scalar("SELECT count() FROM order_paths FINAL")),
                "order_spans": int(store.scalar("SELECT count() FROM order_spans")),
                "spans_naming_documents": store.rows(SQL["bench_document_spans"])[0],
                "activities": len(pm.activities),
                "edges": len(pm.edges),
                "variants": vs.total_variants,
                "generate_seconds": round(generate_s, 1),
                "order_paths_full_build_seconds": round(paths_s, 1),
            }
            median = statistics.median(both_s)
            result["map_and_variants"] = {
                "repeat": repeat,
                "map_seconds_median": round(statistics.median(map_s), 3),
                "variants_seconds_median": round(statistics.median(variants_s), 3),
                "seconds_median": round(median, 3),
                "seconds_min": round(min(both_s), 3),
                "seconds_max": round(max(both_s), 3),
                "target_seconds": 3,
                "met": median <= 3,
            }
        finally:
            store.close()
        for fmt in formats if export else ():
            result[f"export_{'xes' if fmt == 'xes' else 'ocel_' + fmt}"] = _export_in_child(
                root, start, END, fmt
            )
        result["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
        return result
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _export_in_child(root: Path, start: datetime, end: datetime, fmt: str) -> dict[str, Any]:
    """One export in a fresh process: its wall time, its size, the child's peak RSS (``VmHWM``,
    which counts the engine's mapped library) and the RSS of the same process with the engine open
    and idle just before the export, so that the export's own growth shows."""
    out = root / f"export.{fmt}"
    code = (
        "import sys; from datetime import datetime; from pathlib import Path; "
        "from tower.bench.process import export_child; "
        "export_child(Path(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), "
        "datetime.fromisoformat(sys.argv[3]), Path(sys.argv[4]), sys.argv[5])"
    )
    load = round(os.getloadavg()[0], 2)
    t0 = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(root), start.isoformat(), end.isoformat(), str(out), fmt],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    report = child.stdout.read()
    status = child.wait()
    seconds = time.perf_counter() - t0
    size = out.stat().st_size if out.exists() else 0
    out.unlink(missing_ok=True)
    lines = [json.loads(line) for line in report.splitlines() if line.strip().startswith(b"{")]
    figures = {k: float(v) for line in lines for k, v in line.items()}
    idle = figures.get("idle_rss_mib", float("nan"))
    # the child's own high-water mark (VmHWM): ru_maxrss of a child counts the parent's RSS at fork
    # time (the kernel keeps the pre-exec high-water mark), which after generating 1M orders in
    # this process is GiBs; a child that died before reporting has none
    rss_mib = figures.get("peak_rss_mib")
    code_ = status
    return {
        "exit_status": code_,
        "seconds": round(seconds, 1),
        "bytes": size,
        "peak_rss_mib": _rounded(rss_mib),
        "idle_engine_rss_mib": round(idle, 1),
        # what the idle figure is made of (the floor under any export): the interpreter and the
        # tower's modules before the engine loads, and the pages of mapped files (nearly all the
        # engine library's code and read-only data) with the engine open; the file pages again
        # after the export (the code its queries ran), the rest of the peak being the process's
        # own memory (the engine's and Python's)
        "rss_before_engine_mib": _rounded(figures.get("rss_before_engine_mib")),
        "idle_engine_rss_file_mib": _rounded(figures.get("idle_rss_file_mib")),
        "rss_file_mib_after_export": _rounded(figures.get("rss_file_mib")),
        "export_growth_mib": None if rss_mib is None else round(rss_mib - idle, 1),
        # CPU (user + system) the export took in the child: Python and the embedded engine's threads
        # together; on a busy machine it says more than the wall time
        "cpu_seconds": round(figures["cpu_s"], 1) if "cpu_s" in figures else None,
        "load_average_1m_at_start": load,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "target_seconds": 60,
        "target_rss_mib": 300,
        "met": seconds <= 60 and rss_mib is not None and rss_mib <= 300 and code_ == 0,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _rss_mib(field: str = "VmRSS") -> float:
    """This process's resident set (``VmHWM``: its high-water mark since exec; ``RssFile``: its pages
    of mapped files), MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def export_child(root: Path, start: datetime, end: datetime, out: Path, fmt: str = "json") -> None:
    """The child's side: export every order of [start, end) to ``out`` in ``fmt`` (OCEL 2.0 json,
    xml or sqlite, or xes); prints the RSS with the engine open and idle as JSON."""
    from kpis.process import ocel

    before_engine = _rss_mib()
    store = open_store(_settings(root), command="tower bench process export")
    try:
        flt = make_filter(start=start, end=end)
        store.scalar("SELECT count() FROM order_paths")  # the engine is up and has read its parts
        idle = {"idle_rss_mib": _rss_mib(), "idle_rss_file_mib": _rss_mib("RssFile")}
        print(json.dumps({"rss_before_engine_mib": before_engine, **idle}), flush=True)
        cpu0 = time.process_time()
        if fmt == "sqlite":
            ocel.write_sqlite(store, flt, out)
        else:
            with out.open("wb") as target:
                if fmt == "xes":
                    ocel.write_xes(store, flt, target)
                else:
                    ocel.export(store, flt, fmt, target)
        figures = {
            "peak_rss_mib": _rss_mib("VmHWM"),
            "rss_file_mib": _rss_mib("RssFile"),
            "cpu_s": time.process_time() - cpu0,
        }
        print(json.dumps(figures), flush=True)
    finally:
        store.close()

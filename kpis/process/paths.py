"""The order_paths job: each order's activity path, recomputed when one of its spans arrives."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from kpis.jobs import EPOCH, OVERLAP, JobResult, read_watermark, record_run, write_watermark
from storage import SqlFiles, Store
from storage.times import naive

log = logging.getLogger(__name__)
SQL = SqlFiles("kpis.process.queries")
JOB = "order_paths"
# the scheduler and an export (CLI or API) may refresh at once: one run at a time per process
_RUNNING = threading.Lock()


def refresh_paths(
    store: Store, *, everything: bool = False, orders: list[str] | None = None, record: bool = True
) -> JobResult:
    """Recompute the paths of the orders whose spans arrived since the job's watermark (or of
    ``orders``, or of every order) and move the watermark. With ``record`` the run is recorded in
    job_runs and a failure returned; without, a failure raises (for a caller that records runs)."""
    with _RUNNING:
        return _refresh(store, everything, orders, record)


def _refresh(store: Store, everything: bool, orders: list[str] | None, record: bool) -> JobResult:
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    wm_from = read_watermark(store, JOB)
    until = store.now()
    since = EPOCH if everything else max(wm_from - OVERLAP, EPOCH) if wm_from > EPOCH else EPOCH
    version = time.time_ns()
    params: dict[str, Any] = {
        "since": naive(since),
        "until": naive(until),
        "orders": list(orders or []),
        "all": int(everything),
        "version": version,
    }
    if orders:
        params["until"] = params["since"]  # only the given orders
    try:
        sql = SQL["paths_build"]
        if everything:
            sql = sql.replace("{all:UInt8} = 1 OR OrderId IN touched", "1")
        store.command(sql, params)
        rows = int(store.scalar(SQL["paths_written"], {"v": version}))
        if not orders:
            write_watermark(store, JOB, until)
        mode = "full" if everything else "orders" if orders else "incremental"
        result = JobResult(JOB, mode, rows, time.perf_counter() - t0, wm_from, until)
    except Exception as exc:  # recorded, never stops the scheduler's other jobs
        if not record:
            raise  # the caller (the scheduler) records the failure
        log.exception("job %s failed", JOB)
        result = JobResult(
            JOB,
            "incremental",
            0,
            time.perf_counter() - t0,
            wm_from,
            until,
            "error",
            f"{type(exc).__name__}: {exc}",
        )
    if record:
        record_run(store, result, started)
    return result

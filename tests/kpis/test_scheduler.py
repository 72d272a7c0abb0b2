"""The scheduler role: jobs run in the background, every run is recorded, a failing job never stops
the others, overlapping runs of one job are skipped, and the KPI jobs keep the facts fresh."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from clock import ANCHOR
from kpi_spans import order_flow, write

from kpis import reports
from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from kpis.scheduler import Scheduler, add_kpi_jobs
from storage import Store


def _wait(condition, timeout: float = 90.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_failing_job_is_recorded_and_others_keep_running(store: Store) -> None:
    scheduler = Scheduler(store)
    ran: list[int] = []
    release = threading.Event()

    def broken() -> int:
        raise RuntimeError("ERP API returned 502")

    def slow() -> int:
        release.wait(10)
        return 1

    scheduler.add_job("broken", broken, 0.2)
    scheduler.add_job("counter", lambda: ran.append(1) or 3, 0.2)  # type: ignore[func-returns-value]
    scheduler.add_job("slow", slow, 60)
    scheduler.start()
    try:
        assert _wait(lambda: len(ran) >= 3)
        skipped = scheduler.run_now("slow")  # the scheduled run is still waiting on `release`
        assert (skipped.status, skipped.error) == ("skipped", "previous run still running")
    finally:
        release.set()
        scheduler.stop()
    runs = reports.job_runs(store, limit=1000)
    broken_runs = [r for r in runs if r.job == "broken" and r.status != "skipped"]
    assert broken_runs and all(r.status == "error" and "ERP API returned 502" in r.error for r in broken_runs)
    assert {(r.status, r.rows) for r in runs if r.job == "counter" and r.status != "skipped"} == {("ok", 3)}
    assert [r.status for r in runs if r.job == "slow"] == ["skipped", "ok"]  # newest first


def test_kpi_jobs_in_the_scheduler_pick_up_new_spans(store: Store) -> None:
    engine = KpiEngine(store, load_policy())  # default overlap: an insert racing the first run is re-read
    scheduler = Scheduler(store)
    add_kpi_jobs(scheduler, engine, interval_s=0.5)
    assert scheduler.jobs() == ["kpi_jobs"]  # the chain runs in order, each job recorded on its own
    scheduler.start()
    try:
        # the jobs pick up spans by when they arrived (now), whatever time the spans tell of
        write(store, order_flow("SO-LIVE", ANCHOR - timedelta(hours=5)))
        assert _wait(lambda: reports.order_facts(store, "SO-LIVE") is not None)
        day = ANCHOR.date()
        assert _wait(
            lambda: (
                reports.kpi_report(store, engine.policy, day - timedelta(days=1), day + timedelta(days=1))
                .value("orders")
                .value
                == 1
            )
        )
    finally:
        scheduler.stop()
    assert {r.job for r in reports.job_runs(store, limit=500)} >= {"order_facts", "sla_results", "kpi_daily"}
    assert engine.watermark("order_facts").year > 1970

"""The scheduler role: APScheduler running the KPI jobs (and any other periodic job) in the background.

Other packages add their own periodic work with :meth:`Scheduler.add_job`; every run is recorded in
``job_runs`` (start, duration, rows, error), a failing job never stops the others, and two runs of
the same job never overlap (a run that is due while the previous one still runs is skipped and
recorded as ``skipped``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from kpis.jobs import JobResult, KpiEngine, record_run
from storage import Store

log = logging.getLogger(__name__)

JobFunc = Callable[[], "int | JobResult | None"]


@dataclass
class _Job:
    name: str
    func: JobFunc
    interval_s: float
    record: bool
    lock: threading.Lock
    last: JobResult | None = None


class Scheduler:
    """Periodic jobs on a background thread pool, with run recording and overlap prevention."""

    name = "scheduler"

    def __init__(self, store: Store | None = None, *, max_workers: int = 2) -> None:
        self.store = store
        self._jobs: dict[str, _Job] = {}
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        # a due run while the previous one still runs is skipped by APScheduler: record it too
        self._scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES)
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)

    def add_job(
        self, name: str, func: JobFunc, interval_s: float, *, record: bool = True, run_at_start: bool = True
    ) -> None:
        """Run ``func`` every ``interval_s`` seconds (and right after start when ``run_at_start``).

        ``func`` may return the number of rows it wrote (recorded), or a :class:`JobResult` when it
        records its own runs (then pass ``record=False``).
        """
        if name in self._jobs:
            raise ValueError(f"a job named {name!r} is already scheduled")
        if interval_s <= 0:
            raise ValueError(f"job {name}: interval_s must be more than zero, got {interval_s}")
        job = _Job(name, func, interval_s, record, threading.Lock())
        self._jobs[name] = job
        self._scheduler.add_job(
            self.run_now,
            "interval",
            seconds=interval_s,
            args=[name],
            id=name,
            name=name,
            next_run_time=datetime.now(UTC) if run_at_start else None,
        )

    def jobs(self) -> list[str]:
        return list(self._jobs)

    def run_now(self, name: str) -> JobResult:
        """Run a job on this thread now, unless it is already running (then it is skipped)."""
        job = self._jobs[name]
        started = datetime.now(UTC)
        if not job.lock.acquire(blocking=False):
            result = JobResult(name, "scheduled", 0, 0.0, None, None, "skipped", "previous run still running")
            log.warning("job %s skipped: previous run still running", name)
            self._record(job, result, started)
            return result
        t0 = time.perf_counter()
        try:
            outcome = job.func()
            if isinstance(outcome, JobResult):
                result = outcome
            else:
                result = JobResult(name, "scheduled", int(outcome or 0), time.perf_counter() - t0, None, None)
        except Exception as exc:  # recorded; the other jobs keep running
            log.exception("job %s failed", name)
            result = JobResult(
                name,
                "scheduled",
                0,
                time.perf_counter() - t0,
                None,
                None,
                "error",
                f"{type(exc).__name__}: {exc}",
            )
        finally:
            job.lock.release()
        job.last = result
        self._record(job, result, started)
        return result

    def _skipped(self, event: JobSubmissionEvent) -> None:
        job = self._jobs.get(event.job_id)
        if job is not None:
            result = JobResult(
                job.name, "scheduled", 0, 0.0, None, None, "skipped", "previous run still running"
            )
            self._record(job, result, datetime.now(UTC))

    def _record(self, job: _Job, result: JobResult, started: datetime) -> None:
        if self.store is not None and (job.record or result.status == "skipped"):
            record_run(self.store, result, started)

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)


def add_kpi_jobs(scheduler: Scheduler, engine: KpiEngine, interval_s: float) -> None:
    """Schedule the KPI chain as one periodic job that runs the jobs stage by stage.

    A job only starts after the stage it reads from has committed (independent jobs of a stage run
    concurrently), so its watermark can never pass rows still being written. Each job still records
    its own run and watermark, and a failing job does not stop the ones after it.
    """
    scheduler.add_job(KPI_CHAIN, _chain(engine), interval_s, record=False)


KPI_CHAIN = "kpi_jobs"


def _chain(engine: KpiEngine) -> Callable[[], JobResult]:
    def run() -> JobResult:
        t0 = time.perf_counter()
        results = engine.run_all()
        failed = [r for r in results if r.status != "ok"]
        return JobResult(
            KPI_CHAIN,
            "incremental",
            sum(r.rows for r in results),
            time.perf_counter() - t0,
            None,
            None,
            "error" if failed else "ok",
            "; ".join(f"{r.job}: {r.error}" for r in failed),
        )

    return run

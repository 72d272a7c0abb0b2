"""The KPI and SLA jobs: order facts, SLA results, exceptions, KPI rollups.

Each job is one ``INSERT ... SELECT`` in ClickHouse (``kpis/queries/*.sql``) over the orders (or
days) its input changed for. Jobs are incremental on *arrival* time: a job keeps a watermark (the
insert time it has processed up to), and each run takes what arrived after it, so late spans are
picked up whatever their event time. Everything a job writes is a full recomputation of the orders
or days it touches (ReplacingMergeTree, newest version wins), so runs are idempotent and a
``--from/--to`` re-run gives the same result as the incremental runs did.

The jobs form a chain: order_facts (from order_rollup, the per-order rollup a view keeps
as spans reach order_spans, the order-keyed table of attributed spans, see tracing/attribution.py
and kpis/state.py) -> sla_results and order_exceptions (from order_facts and the spans) ->
kpi_daily; kpi_system_daily reads system_hops (order_spans by day) on its own. A run follows the
chain's dependencies (:data:`DEPENDS`): each job starts as soon as the jobs it reads have committed,
each on its own thread and client of the one engine, so independent jobs run concurrently. Every job
counts each span once (a span re-sent by an at-least-once sender is stored twice until merged).
An incremental run reads every job's watermark and the store's clock in one query, then asks one
cheap question — did anything arrive since the jobs' watermarks? — and when nothing did, it records
an idle run and reads nothing else. The runs' records and the moved watermarks are written at the
end of the run, one insert each (a run cut short moves no watermark: its work is redone, which is
harmless).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kpis.policy import MAX_SLA_STAGES, Policy, sla_parameters
from storage import SqlFiles, Store
from storage.times import naive

log = logging.getLogger(__name__)
SQL = SqlFiles("kpis.queries")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Inserts that started before a run's upper bound may commit shortly after it; each incremental
# run re-reads this much of the spans and people's actions before its watermark (recomputing an
# order twice is harmless). What an earlier job of the chain wrote needs none (Window.chain_since):
# re-reading 5 s of it made the first incremental run after a quick full recompute redo every order
# (and hid, in tests whose runs are seconds apart, that kpi_daily missed the old opening day of an
# exception that a late span moved).
OVERLAP = timedelta(seconds=5)
# in dependency order: a job comes after every job it reads
JOB_NAMES = ("order_facts", "sla_results", "order_exceptions", "kpi_daily", "kpi_system_daily")
# the jobs whose output each job reads: a job starts once they have committed, the others run
# concurrently with it (kpi_system_daily reads only spans)
DEPENDS: dict[str, tuple[str, ...]] = {
    "order_facts": (),
    "sla_results": ("order_facts",),
    "order_exceptions": ("order_facts",),
    "kpi_daily": ("order_facts", "sla_results", "order_exceptions"),
    "kpi_system_daily": (),
}
# the jobs' output tables with a minmax index on UpdatedAt (storage/migrations/0031_kpi_tables.sql)
_UPDATED_INDEX = ("order_facts", "sla_results", "order_exceptions")
# how far the store's clock may step back during a run without a run's count of its rows missing any
CLOCK_SLACK = timedelta(minutes=1)
# Jobs whose expressions an incremental (or range, or orders) run evaluates uncompiled: each run's
# constants (windows, calendars) make its expressions new to the JIT, which compiled them again every
# run (sla_results: 44-89 ms of compiling, for 10k orders after a full recompute of 1M; the query
# took 114-152 ms of CPU uncompiled, 161-197 compiled). The other jobs too: 10k new orders on a 1M
# store, five runs alternated, CPU-s of each query (query_log) compiled -> uncompiled: order_facts
# 0.15-0.19 -> 0.13-0.15, kpi_daily 0.08-0.11 -> 0.09 (0.07 s instead of 0.07-0.11), order_exceptions
# and kpi_system_daily the same or a little less. A full recompute keeps the JIT, whose compiled code
# pays off on millions of rows.
NO_JIT = JOB_NAMES
# Jobs an incremental run runs at the lowest CPU priority, on one thread: none of the chain
# order_facts -> sla_results -> kpi_daily waits on them long (kpi_daily on order_exceptions, which
# runs beside sla_results and is the quicker), yet on a machine of few cores their threads took CPU
# from that chain's queries, whose analysis and planning run on one thread each. Lowered, they use
# what the chain leaves idle. order_facts and sla_results repeated while another thread repeated
# these two: 264 ms alone, 361 beside them, 232 beside them lowered (median of 6). Whole
# incremental runs after 10k new orders on a 1M store (16 each, alternated): median 0.54 -> 0.43 s.
# The engine lowers a thread only where it may raise it back (CAP_SYS_NICE); elsewhere it changes
# nothing.
YIELDING = ("kpi_system_daily", "order_exceptions")
YIELD_SETTINGS = "os_thread_priority = 19, max_threads = 1"
# The most orders whose full recompute holds merges of order_facts until it is done (merges_held):
# ~200 parts of ~50k facts (FULL_SETTINGS), well under the engine's 1,000 parts per partition that
# delay inserts
HOLD_MERGES_MAX_ORDERS = 10_000_000
# Settings a full recompute adds to a job's query (replacing the file's value of a setting it names).
# order_facts: reads the rollups in blocks of up to max_block_size rows instead of ~1 MB (the default
# preferred_block_size_bytes: ~2-3k orders with their hops), and writes each block, sorted by OrderId
# as read, as a part of its own instead of squashing blocks into 52 MiB that had to be sorted again
# (1M orders, fresh processes on copies of one store: 7.1-7.8 CPU-s -> 4.5-5.9, the whole recompute
# 6.1-6.8 s -> 4.2-5.6; peak ~300 -> 470-560 MiB; 20 parts of 32-65k facts instead of 9). An
# incremental run keeps one part of its few orders.
# kpi_system_daily: aggregates in the order of system_hops' key (Day, System, SystemKind, ...): a
# group's rows come one after another, so it is finished and dropped when the next begins (1M
# orders: 0.8-0.95 CPU-s and ~260 MiB instead of 1.2-1.35 CPU-s and ~440 MiB). For an incremental
# run's few days it was slower (10k new orders: 97-105 ms of CPU instead of 78).
FULL_SETTINGS = {
    "order_facts": "preferred_block_size_bytes = 134217728, min_insert_block_size_bytes = 1048576",
    "kpi_system_daily": "optimize_aggregation_in_order = 1",
}
# A CTE that a job's query reads more than once is declared `AS MATERIALIZED` in its file: computed
# once into a temporary table that every reference reads. Inlined (ClickHouse's default), each
# reference ran the subquery again, most of them while the query was still being planned (a set
# for the primary key). 10k new orders on a 1M store, each query repeated 9 times alternated on one
# store, wall ms (median) inlined -> materialized: order_facts 184 -> 143 (its planning 89 -> 41),
# order_exceptions 77 -> 60, sla_results 93 -> 93 (its planning 16 -> 9); in whole incremental runs
# order_facts' planning took 104-108 ms -> 52-58.
# Only where the engine has the feature (ClickHouse 26.3; the embedded engine has it) and on one
# server: the temporary table lives on the server that runs the query, which a Distributed table's
# shards are not (on a cluster the CTEs stay inlined, as on an older server).
_MATERIALIZED_CTE = re.compile(r"\bAS MATERIALIZED \(")


@dataclass(frozen=True)
class Window:
    """What a run covers: arrivals in (since, until], event times in [start, end), or everything.

    ``chain_since`` bounds what an earlier job of the chain wrote (``UpdatedAt`` of order_facts,
    sla_results, order_exceptions): that job's stage committed before this job took its watermark,
    so it needs no overlap; unset, it is ``since``.
    """

    since: datetime = EPOCH
    chain_since: datetime = EPOCH
    until: datetime = EPOCH
    start: datetime = EPOCH
    end: datetime = EPOCH
    everything: bool = False
    orders: tuple[str, ...] = ()

    @property
    def mode(self) -> str:
        if self.everything:
            return "full"
        if self.start < self.end:
            return "range"
        if self.orders:
            return "orders"
        return "incremental"

    def parameters(self) -> dict[str, Any]:
        return {
            "since": naive(self.since),
            "chain_since": naive(self.chain_since if self.chain_since > EPOCH else self.since),
            "until": naive(self.until),
            "from": naive(self.start),
            "to": naive(self.end),
            "all": int(self.everything),
            "orders": list(self.orders),
        }


@dataclass(frozen=True)
class JobResult:
    job: str
    mode: str
    rows: int
    duration_s: float
    watermark_from: datetime | None
    watermark_to: datetime | None
    status: str = "ok"
    error: str = ""


@dataclass(frozen=True)
class _Done:
    """One job's run before it is recorded: its result, when it started, and the store's clock
    read after it committed (None when it wrote nothing): the upper bound of the jobs after it."""

    result: JobResult
    started: datetime
    committed: datetime | None
    began: datetime = EPOCH  # the store's clock when it could start (a full recompute's watermark)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class KpiEngine:
    """Runs the jobs against one store with one policy; records runs and watermarks."""

    def __init__(
        self, store: Store, policy: Policy, overlap: timedelta = OVERLAP, *, concurrent: bool = True
    ) -> None:
        self.store = store
        self.policy = policy
        self.overlap = overlap
        self.concurrent = concurrent
        # long-lived workers: each keeps its own client of the store (one per thread)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_guard = threading.Lock()
        self._jobs: dict[str, Callable[[Window, int], tuple[int, datetime | None]]] = {
            "order_facts": self._order_facts,
            "sla_results": self._sla_results,
            "order_exceptions": self._order_exceptions,
            "kpi_daily": self._kpi_daily,
            "kpi_system_daily": self._kpi_system_daily,
        }

    # -- entry points ---------------------------------------------------------------------------

    def run(self, job: str, window: Window | None = None) -> JobResult:
        """Run one job (incremental from its watermark unless ``window`` says otherwise).

        The run is recorded in job_runs; an error is recorded and returned, not raised.
        """
        if job not in self._jobs:
            raise KeyError(f"unknown job {job!r}; jobs: {', '.join(JOB_NAMES)}")
        if window is None:
            marks, clock = self.watermarks_and_clock()
            done = self._execute(job, *self._incremental_window(job, marks, clock))
            self._finish([done], {job: clock} if done.result.status == "ok" else {})
        else:
            done = self._execute(job, window)
            self._finish([done], {})
        return done.result

    def run_all(self, window: Window | None = None, jobs: list[str] | None = None) -> list[JobResult]:
        """Run the chain (each job once the jobs it reads have committed); a failing job is
        recorded and the others still run.

        An incremental run of the whole chain with nothing new since the watermarks reads nothing
        else and records an idle run of every job.
        """
        chosen = self._check(jobs or list(JOB_NAMES))
        if window is not None:
            given = window
            done = self._graph(chosen, EPOCH, lambda job, ready: self._execute(job, given))
            self._finish(done, {})
            return [d.result for d in done]
        marks, clock = self.watermarks_and_clock()
        if jobs is None and not self.anything_new(marks):
            return self._idle()
        done = self._graph(
            chosen, clock, lambda job, ready: self._execute(job, *self._incremental_window(job, marks, ready))
        )
        self._finish(
            done,
            {
                d.result.job: d.result.watermark_to
                for d in done
                if d.result.status == "ok" and d.result.watermark_to is not None
            },
        )
        return [d.result for d in done]

    def _check(self, jobs: Sequence[str]) -> list[str]:
        for job in jobs:
            if job not in self._jobs:
                raise KeyError(f"unknown job {job!r}; jobs: {', '.join(JOB_NAMES)}")
        return list(jobs)

    def _incremental_window(
        self, job: str, marks: dict[str, datetime], until: datetime
    ) -> tuple[Window, datetime, datetime]:
        """From the job's watermark to ``until`` (the store's clock once the jobs it reads committed)."""
        wm_from = marks.get(job, EPOCH)
        window = Window(
            since=max(wm_from - self.overlap, EPOCH) if wm_from > EPOCH else EPOCH,
            chain_since=wm_from,
            until=until,
        )
        return window, wm_from, until

    def _execute(
        self, job: str, window: Window, wm_from: datetime | None = None, wm_to: datetime | None = None
    ) -> _Done:
        """Run one job's query (no recording): an error is caught and returned in the result."""
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        try:
            rows, committed = self._jobs[job](window, time.time_ns())
            result = JobResult(job, window.mode, rows, time.perf_counter() - t0, wm_from, wm_to)
        except Exception as exc:  # a failing job is recorded and never stops the others
            log.exception("job %s failed", job)
            committed = None
            result = JobResult(
                job,
                window.mode,
                0,
                time.perf_counter() - t0,
                wm_from,
                wm_to,
                "error",
                f"{type(exc).__name__}: {exc}",
            )
        return _Done(result, started, committed)

    def _graph(
        self, jobs: Sequence[str], clock: datetime, run_one: Callable[[str, datetime], _Done]
    ) -> list[_Done]:
        """Run ``jobs`` in dependency order, each as soon as the chosen jobs it reads are done.

        ``run_one(job, ready)`` gets the store's clock after those jobs committed (``clock`` when
        there are none): what they wrote is all before it.
        """
        order = [job for job in JOB_NAMES if job in jobs]

        def ready(job: str, done: Callable[[str], _Done]) -> datetime:
            marks = [clock] + [
                c for dep in DEPENDS[job] if dep in order and (c := done(dep).committed) is not None
            ]
            return max(marks)

        results: dict[str, _Done] = {}
        if not self.concurrent or len(order) < 2:
            for job in order:
                results[job] = run_one(job, ready(job, results.__getitem__))
        else:
            futures: dict[str, Future[_Done]] = {}

            def waited(job: str) -> _Done:
                return futures[job].result()

            def start(job: str) -> _Done:
                # this thread's client first (a new thread's cost 15-36 ms of queries in a full
                # recompute): made while the jobs this one waits on run, not after them
                _ = self.store.client
                return run_one(job, ready(job, waited))

            pool = self._workers()
            # submitted in dependency order: a job waits only on jobs submitted before it, and the
            # pool has a thread for every job, so a waiting job never holds up one it waits on
            for job in order:
                futures[job] = pool.submit(start, job)
            results = {job: future.result() for job, future in futures.items()}
        return [results[job] for job in jobs]

    def _finish(self, done: Sequence[_Done], marks: dict[str, datetime]) -> None:
        """Move the watermarks and record the runs, one insert each: at once, on two of the jobs'
        threads, when the run used them (each insert writes a part: 6-14 ms one after the other)."""
        runs = [(d.result, d.started) for d in done]
        pool = self._pool
        if marks and pool is not None:
            moved = pool.submit(write_watermarks, self.store, marks)
            record_done(self.store, runs)
            moved.result()
            return
        if marks:
            write_watermarks(self.store, marks)
        record_done(self.store, runs)

    def _workers(self) -> ThreadPoolExecutor:
        with self._pool_guard:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(len(JOB_NAMES), thread_name_prefix="kpi-job")
            return self._pool

    def close(self) -> None:
        """Stop the worker threads (their clients close with the store)."""
        with self._pool_guard:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def anything_new(self, marks: dict[str, datetime] | None = None) -> bool:
        """Whether an input of some job changed after that job's watermark (true before a first run).

        ``marks``: the watermarks if already read (:meth:`watermarks_and_clock`).
        """
        if marks is None:
            marks = self.watermarks()
        if any(marks.get(job, EPOCH) <= EPOCH for job in JOB_NAMES):
            return True

        def since(*jobs: str, overlap: bool = False) -> datetime:
            return naive(min(marks[j] for j in jobs) - (self.overlap if overlap else timedelta(0)))

        # new spans first, alone: they are what wakes most runs, and the five probes in one query
        # took 12-15 ms where this one takes 4-5 (a run with nothing new asks both)
        spans_since = since("order_facts", "order_exceptions", "kpi_system_daily", overlap=True)
        if self.store.scalar(SQL["new_spans"], {"spans_since": spans_since}):
            return True
        params = {
            "actions_since": since("order_exceptions", overlap=True),
            "facts_since": since("sla_results", "order_exceptions", "kpi_daily"),
            "sla_since": since("kpi_daily"),
            "exceptions_since": since("kpi_daily"),
        }
        return bool(self.store.scalar(SQL["anything_new"], params))

    def _idle(self) -> list[JobResult]:
        started = datetime.now(UTC)
        results = [JobResult(job, "idle", 0, 0.0, None, None) for job in JOB_NAMES]
        record_runs(self.store, results, started)
        return results

    def recompute(
        self, start: datetime | None = None, end: datetime | None = None, jobs: list[str] | None = None
    ) -> list[JobResult]:
        """Recompute everything (``start``/``end`` unset) or the orders and days of a time range.

        A full recompute covers everything that arrived before it began, so it moves every
        watermark there; a range re-run leaves the watermarks alone.
        """
        if start is None and end is None:
            chosen = self._check(jobs or list(JOB_NAMES))
            with merges_held(self.store, "order_facts" if "order_facts" in chosen else None):
                # each job's watermark: the store's clock when it began (after the jobs it reads
                # committed)
                done = self._graph(
                    chosen,
                    self.store.now(),
                    lambda job, ready: replace(self._execute(job, Window(everything=True)), began=ready),
                )
            self._finish(done, {d.result.job: d.began for d in done if d.result.status == "ok"})
            return [d.result for d in done]
        return self.run_all(
            Window(start=start or EPOCH, end=end or self.store.now() + timedelta(days=1)), jobs
        )

    def refresh_orders(self, orders: list[str], jobs: list[str] | None = None) -> list[JobResult]:
        """Recompute the given orders now (used after a person acted on an exception)."""
        began = self.store.now()
        chosen = jobs or ["order_facts", "sla_results", "order_exceptions"]
        results = self.run_all(Window(orders=tuple(orders)), [j for j in chosen if j != "kpi_daily"])
        if jobs is None or "kpi_daily" in jobs:
            results.append(
                self.run("kpi_daily", Window(since=began - timedelta(milliseconds=1), until=self.store.now()))
            )
        return results

    # -- watermarks -----------------------------------------------------------------------------

    def watermarks(self) -> dict[str, datetime]:
        return self.watermarks_and_clock()[0]

    def watermarks_and_clock(self) -> tuple[dict[str, datetime], datetime]:
        """Every job's watermark and the store's clock, in one query."""
        [(now, marks)] = self.store.query(SQL["watermarks"]).result_rows
        return {str(job): _utc(value) for job, value in marks if isinstance(value, datetime)}, _utc(now)

    def watermark(self, job: str) -> datetime:
        return read_watermark(self.store, job)

    def set_watermark(self, job: str, value: datetime) -> None:
        write_watermark(self.store, job, value)

    # -- the jobs -------------------------------------------------------------------------------

    def _policy_parameters(self, window: Window) -> dict[str, Any]:
        low, high = self._calendar_range(window)
        return sla_parameters(self.policy, low, high)

    def _calendar_range(self, window: Window) -> tuple[date, date]:
        """Days the business calendars must cover: the first capture day of the orders evaluated
        (an incremental run's: those whose facts changed in its window, found by the index on
        UpdatedAt; otherwise every order's) to well past today. A wider calendar gives the same
        results: business time is a difference of cumulative values."""
        params = {**window.parameters(), "incremental": int(window.mode == "incremental")}
        [(first, high_data)] = self.store.query(SQL["calendar_range"], params).result_rows
        today = datetime.now(UTC).date()
        low = first if isinstance(first, date) and first.year > 1970 else today
        high = max(today, high_data if isinstance(high_data, date) else today)
        return low - timedelta(days=7), high + timedelta(days=45)

    def _insert(
        self, name: str, window: Window, version: int, extra: dict[str, Any] | None = None
    ) -> tuple[int, datetime]:
        """Run a job's INSERT ... SELECT; the rows it wrote and the store's clock after it committed."""
        params = {**window.parameters(), "version": version, **(extra or {})}
        sql = SQL[name]
        if window.everything:
            # everything: no set of touched orders to build or probe (the files mark the filter)
            sql = sql.replace("{all:UInt8} = 1 OR OrderId IN touched", "1")
            if name in FULL_SETTINGS:
                sql = with_setting(sql, FULL_SETTINGS[name])
        else:
            if name in NO_JIT:
                sql = with_setting(sql, "compile_expressions = 0")
            if name in YIELDING and window.mode == "incremental":
                sql = with_setting(sql, YIELD_SETTINGS)
        if self.materializes_ctes():
            if _MATERIALIZED_CTE.search(sql):
                sql = with_setting(sql, "enable_materialized_cte = 1")
        else:
            sql = inline_ctes(sql)
        self.store.command(sql, params)
        # the embedded engine does not report written rows: count this run's version instead (in a
        # table with an index on UpdatedAt, only among rows updated since shortly before the run's
        # upper bound: the rows it wrote were stamped after it; without the bound the count read
        # the Version of every row, 6-7 ms for 1M order facts)
        count = f"SELECT count(), now64(3, 'UTC') FROM {name} WHERE Version = {{v:UInt64}}"
        bound: dict[str, Any] = {"v": version}
        if name in _UPDATED_INDEX and window.until > EPOCH:
            count += " AND UpdatedAt >= {low:DateTime64(3)}"
            bound["low"] = naive(window.until - CLOCK_SLACK)
        [(rows, now)] = self.store.query(count, bound).result_rows
        return int(rows), _utc(now)

    def materializes_ctes(self) -> bool:
        """Whether the jobs' queries compute their ``MATERIALIZED`` CTEs once (see
        :func:`inline_ctes`): on one server, or the embedded engine, that has the feature (the
        store asks the engine once)."""
        return self.store.cluster is None and self.store.knows_setting("enable_materialized_cte")

    def _order_facts(self, window: Window, version: int) -> tuple[int, datetime | None]:
        p = self.policy
        extra = {
            "closing_stage": p.closing_stage,
            "cancelled_statuses": p.cancelled_statuses,
            "incomplete_statuses": p.perfect_order.incomplete_statuses,
            "damage_statuses": p.perfect_order.damage_statuses,
            "invoice_error_statuses": p.perfect_order.invoice_error_statuses,
            "alloc_failure_statuses": p.allocation.failure_statuses,
            "alloc_failure_exceptions": p.allocation.failure_exceptions,
            "sla_names": [s.name for s in p.slas],
            **sla_stage_masks(p),
            **sla_review(p),
        }
        return self._insert("order_facts", window, version, extra)

    def _sla_results(self, window: Window, version: int) -> tuple[int, datetime | None]:
        extra = {**self._policy_parameters(window), "sla_digest": sla_review(self.policy)["sla_digest"]}
        return self._insert("sla_results", window, version, extra)

    def _order_exceptions(self, window: Window, version: int) -> tuple[int, datetime | None]:
        return self._insert(
            "order_exceptions", window, version, {"resolved_outcomes": self.policy.resolved_outcomes}
        )

    def _kpi_daily(self, window: Window, version: int) -> tuple[int, datetime | None]:
        days: list[date] = []
        if not window.everything:
            # the days to recompute, found once: a CTE is analyzed at each of its five uses, even
            # a MATERIALIZED one (10k new orders on a 1M store: the query's analysis 11-12 -> 40-45
            # ms, its planning 15-19 -> 67-85 ms, for the 15-20 ms of this query)
            days = [
                row[0] for row in self.store.query(SQL["kpi_daily_days"], window.parameters()).result_rows
            ]
            if not days:
                return 0, None
        extra = {
            "on_time_sla": self.policy.perfect_order.on_time_sla,
            "sla_names": [s.name for s in self.policy.slas],
            "days": days,
        }
        return self._insert("kpi_daily", window, version, extra)

    def _kpi_system_daily(self, window: Window, version: int) -> tuple[int, datetime | None]:
        if window.orders:
            return 0, None
        return self._insert("kpi_system_daily", window, version)


@contextmanager
def merges_held(store: Store, table: str | None) -> Iterator[None]:
    """Hold background merges of ``table`` while a full recompute runs (embedded store only).

    A full recompute writes every order's fact again, in parts of ~32-65k rows (FULL_SETTINGS); the
    merge the engine starts on them at once (~670k of 1M rows, 0.8-1.3 CPU-s) competed for the same
    cores as the jobs still running and reading them. Held, it runs after the recompute instead,
    and the jobs read the parts with FINAL as they would read unmerged parts anyway. Not held for
    more than HOLD_MERGES_MAX_ORDERS orders (the parts would pile up towards the engine's limits on
    parts per partition, and every FINAL read would merge them), nor on a server, which keeps a
    table's merges stopped if the process that stopped them dies. A store that refuses to hold
    them (no SYSTEM privilege) gets the recompute without the hold.
    """
    held = None
    if (
        table is not None
        and store.embedded
        and int(store.scalar(SQL["rollup_rows"]) or 0) <= HOLD_MERGES_MAX_ORDERS
        and _stop_merges(store, table)
    ):
        held = table
    try:
        yield
    finally:
        if held is not None:
            store.command(f"SYSTEM START MERGES {store.ident(held)}")


def _stop_merges(store: Store, table: str) -> bool:
    """Stop background merges of ``table``; False (logged) when the store refuses: the hold is an
    optimization, the recompute runs anyway and merges as it goes."""
    try:
        store.command(f"SYSTEM STOP MERGES {store.ident(table)}")
    except Exception:
        log.warning("could not hold merges of %s during a full recompute", table, exc_info=True)
        return False
    return True


def with_setting(sql: str, setting: str) -> str:
    """``sql`` with ``setting`` ("name = value", or several joined by commas) in its trailing
    SETTINGS clause (or one added); a setting the clause already names takes the new value."""
    head, found, tail = sql.rpartition("SETTINGS ")
    if not found or ")" in tail:  # no trailing clause: a SETTINGS inside a subquery is not it
        return f"{sql.rstrip()}\nSETTINGS {setting}"
    added = [item.strip() for item in setting.split(",")]
    names = {item.partition("=")[0].strip() for item in added}
    kept = [item.strip() for item in tail.split(",") if item.partition("=")[0].strip() not in names]
    return f"{head}SETTINGS {', '.join(added + kept)}\n"


def inline_ctes(sql: str) -> str:
    """``sql`` with its ``AS MATERIALIZED`` CTEs as ordinary ones (inlined at each reference): for an
    engine without materialized CTEs, or a cluster (:data:`_MATERIALIZED_CTE`). The results are the
    same, each reference computing the CTE again."""
    return _MATERIALIZED_CTE.sub("AS (", sql)


def sla_stage_masks(policy: Policy) -> dict[str, Any]:
    """The SLAs' stages as bits (order_facts.sql): bit k+1 is stage k of ``sla_stage_set``.

    An order's stages set bits the same way (none for a stage no SLA names); an SLA is completed
    when the order has both bits of its mask.
    """
    stage_set = list(dict.fromkeys(st for s in policy.slas for st in (s.start.stage, s.end.stage)))
    assert len(stage_set) <= MAX_SLA_STAGES  # the policy refuses more when it is loaded
    bit = {stage: 1 << (k + 1) for k, stage in enumerate(stage_set)}
    return {
        "sla_stage_set": stage_set,
        "sla_stage_masks": [bit[s.start.stage] | bit[s.end.stage] for s in policy.slas],
    }


def sla_review(policy: Policy) -> dict[str, Any]:
    """What order_facts.sql needs to tell that an order's SLAs are surely met, and the digest it
    stamps such an order with (``SlaSettledBy``; sla_results.sql skips the orders stamped with
    the digest of the policy it runs with).

    Each SLA's start and end edge as a position in the edges order_facts.sql lists (the stages of
    ``sla_stage_set``: first starts, then last ends), and its smallest target in any segment (an
    order is held to the SLA's own target or to one of its overrides'). The digest covers exactly
    these, so facts stamped under another policy are evaluated again; it is never 0 (0 marks an
    order to evaluate). Calendars, cut-offs and warnings are not in it: business time between two
    instants is never more than wall time, and an SLA still open is always evaluated.
    """
    stage_set = sla_stage_masks(policy)["sla_stage_set"]
    n = len(stage_set)

    def edge(stage: str, at: str) -> int:
        return stage_set.index(stage) + 1 + (n if at == "end" else 0)

    review = {
        "sla_from_edge": [edge(s.start.stage, s.start.at) for s in policy.slas],
        "sla_to_edge": [edge(s.end.stage, s.end.at) for s in policy.slas],
        "sla_min_target_s": [min([s.target, *(o.target for o in s.overrides)]) for s in policy.slas],
    }
    blob = json.dumps({"stages": stage_set, **review}, sort_keys=True).encode()
    digest = int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little")
    return {**review, "sla_digest": digest or 1}


_RUN_COLUMNS = [
    "RunId",
    "Job",
    "Mode",
    "StartedAt",
    "DurationS",
    "Rows",
    "WatermarkFrom",
    "WatermarkTo",
    "Status",
    "Error",
]


def read_watermark(store: Store, job: str) -> datetime:
    """Where ``job`` stopped: its next run reads what arrived after this (EPOCH: it never ran)."""
    value = store.scalar(SQL["job_watermark"], {"job": job})
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else EPOCH


def write_watermark(store: Store, job: str, value: datetime) -> None:
    """Move ``job``'s watermark (the newest version wins, see :func:`read_watermark`)."""
    write_watermarks(store, {job: value})


def write_watermarks(store: Store, marks: dict[str, datetime]) -> None:
    """Move several jobs' watermarks in one insert."""
    now = datetime.now(UTC).replace(tzinfo=None)
    version = time.time_ns()
    store.insert(
        "job_watermarks",
        [[job, naive(value), now, version] for job, value in marks.items()],
        ["Job", "Watermark", "UpdatedAt", "Version"],
    )


def record_run(store: Store, result: JobResult, started: datetime) -> None:
    """Append one run to job_runs (best effort: a failure to record is logged, not raised)."""
    record_runs(store, [result], started)


def record_runs(store: Store, results: Sequence[JobResult], started: datetime) -> None:
    """Append runs that started together to job_runs in one insert (best effort)."""
    record_done(store, [(result, started) for result in results])


def record_done(store: Store, runs: Sequence[tuple[JobResult, datetime]]) -> None:
    """Append runs (each with its start) to job_runs in one insert (best effort: a failure is
    logged, not raised)."""
    if not runs:
        return
    rows = [
        [
            uuid.uuid4(),
            result.job,
            result.mode,
            naive(started),
            result.duration_s,
            result.rows,
            naive(result.watermark_from) if result.watermark_from else None,
            naive(result.watermark_to) if result.watermark_to else None,
            result.status,
            result.error[:4000],
        ]
        for result, started in runs
    ]
    try:
        store.insert("job_runs", rows, _RUN_COLUMNS)
    except Exception:
        log.exception("recording the runs of %s failed", ", ".join(r.job for r, _ in runs))

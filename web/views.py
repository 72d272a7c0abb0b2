"""The dashboard's view models of the KPI engine: thin calls into ``kpis.reports`` and ``kpis.explain``.

Handlers call these (never SQL); the results are the KPI engine's pydantic models, composed into
page-sized bundles that are also the JSON API's response models.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from kpis import reports
from kpis.explain import Explanation, explain, kpi_names
from kpis.jobs import JOB_NAMES, Window
from kpis.order_sla import judge as order_sla_judge
from kpis.policy import Policy
from kpis.reports import (
    ExceptionAction,
    ExceptionQueue,
    Handoff,
    JobRun,
    KpiDay,
    KpiReport,
    OrderException,
    Segment,
    SlaBreach,
    SystemHealth,
)
from storage import SqlFiles, Store
from tracing.timeline import Timeline, with_sla
from web.charts import SlaMark
from web.formatting import as_utc
from web.kpicache import CACHE

SQL = SqlFiles("web.queries")


_POOL_THREADS = "web-query"


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Runs a page's independent queries side by side (each thread has its own store client)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix=_POOL_THREADS)


def in_parallel(*calls: Callable[[], Any]) -> list[Any]:
    """Results of ``calls``, run concurrently; the first error is raised.

    Called from one of the pool's own threads (a page part that is itself run in parallel, such as
    the KPI overview on the KPI page), the calls run one after another in that thread: a pool thread
    waiting for work queued behind it would hang the dashboard once every thread waits so."""
    if threading.current_thread().name.startswith(_POOL_THREADS):
        return [call() for call in calls]
    # each call runs in a copy of the caller's context (web.kpicache's per-request fingerprint)
    futures = [_pool().submit(contextvars.copy_context().run, call) for call in calls]
    return [future.result() for future in futures]


Text = Annotated[str, Query(max_length=100, pattern=r"^[^\x00-\x1f]*$")]


def segment_filter(
    channel: Text = "",
    region: Text = "",
    erp_instance: Text = "",
    warehouse: Text = "",
    customer_tier: Text = "",
    priority: Text = "",
) -> Segment:
    """Segment filters from the query string (each optional, bound as parameters downstream)."""
    return Segment(
        channel=channel.strip(),
        region=region.strip(),
        erp_instance=erp_instance.strip(),
        warehouse=warehouse.strip(),
        customer_tier=customer_tier.strip(),
        priority=priority.strip(),
    )


SegmentDep = Annotated[Segment, Depends(segment_filter)]


def segment_options(store: Store, days: int = 400, now: datetime | None = None) -> dict[str, list[str]]:
    """Values each segment filter can take (from the daily KPI rollup), for drop-downs."""
    since = ((now or datetime.now(UTC)) - timedelta(days=days)).date()

    def read() -> dict[str, list[str]]:
        rows = store.rows(SQL["segment_values"], {"since": since})
        row = rows[0] if rows else {}
        return {name: list(row.get(name) or []) for name in reports.BREAKDOWN_DIMENSIONS}

    return CACHE.get(store, ("segment_values", since), read)


def _segment_key(segment: Segment | None) -> tuple[tuple[str, str], ...]:
    return tuple((segment or Segment()).model_dump().items())


def kpi_report(
    store: Store, policy: Policy, start: date, end: date, segment: Segment | None = None
) -> KpiReport:
    """:func:`kpis.reports.kpi_report`, reused while the KPI tables are unchanged (web.kpicache)."""
    return CACHE.get(
        store,
        ("kpi_report", start, end, _segment_key(segment)),
        lambda: reports.kpi_report(store, policy, start, end, segment),
        policy,
    )


def kpi_trend(store: Store, start: date, end: date, segment: Segment | None = None) -> list[KpiDay]:
    """:func:`kpis.reports.kpi_trend`, reused while the KPI tables are unchanged."""
    return CACHE.get(
        store,
        ("kpi_trend", start, end, _segment_key(segment)),
        lambda: reports.kpi_trend(store, start, end, segment),
    )


class Period(BaseModel):
    start: date
    end: date = Field(description="Exclusive.")
    days: int
    today: date | None = Field(default=None, description="The current day (UTC) when judged.")

    @property
    def last(self) -> date:
        """The last day (inclusive)."""
        return self.end - timedelta(days=1)

    @property
    def partial(self) -> bool:
        """The period includes the current day, which is not over yet."""
        return self.today is not None and self.start <= self.today < self.end


def period_filter(
    request: Request,
    days: Annotated[
        int, Query(ge=1, le=366, description="Length of the period ending today. Default: 7")
    ] = 7,
    start: Annotated[date | None, Query(description="First day (overrides days).")] = None,
    end: Annotated[date | None, Query(description="Day after the last day. Default: tomorrow.")] = None,
    to: Annotated[date | None, Query(description="Last day, inclusive (the date picker's 'to').")] = None,
) -> Period:
    today = request.app.state.web.now().date()
    if to is not None:
        if end is not None and end != to + timedelta(days=1):
            raise HTTPException(status_code=400, detail="give either end (exclusive) or to (inclusive)")
        if to >= date.max - timedelta(days=1):
            raise HTTPException(status_code=400, detail="to is too far in the future")
        end = to + timedelta(days=1)
    if start is None:
        first, stop = reports.default_period(days, today)
        if end is not None:
            if end <= date.min + timedelta(days=days):
                raise HTTPException(status_code=400, detail="end is too far in the past")
            first, stop = end - timedelta(days=days), end
        return Period(start=first, end=stop, days=days, today=today)
    stop = end or reports.default_period(1, today)[1]
    if not start < stop:
        raise HTTPException(
            status_code=400, detail="the first day (from) must not be after the last day (to)"
        )
    if (stop - start).days > 366:
        raise HTTPException(status_code=400, detail="a period is at most 366 days")
    if start <= date.min + timedelta(days=367):
        raise HTTPException(status_code=400, detail="from is too far in the past")
    return Period(start=start, end=stop, days=(stop - start).days, today=today)


PeriodDep = Annotated[Period, Depends(period_filter)]


# -- orders ----------------------------------------------------------------------------------------


class RecentOrder(BaseModel):
    order_id: str
    captured_at: datetime
    last_activity_at: datetime
    current_stage: str
    current_system: str
    status: str
    channel: str


class OrdersOverview(BaseModel):
    recent: list[RecentOrder]
    at_risk: list[SlaBreach]
    breached_open: list[SlaBreach]


def recent_orders(
    store: Store, limit: int = 15, within: timedelta = timedelta(days=3), now: datetime | None = None
) -> list[RecentOrder]:
    """The latest captured orders (as the KPI jobs last saw them), newest first."""
    since = ((now or datetime.now(UTC)) - within).astimezone(UTC).replace(tzinfo=None)
    return [RecentOrder(**r) for r in store.rows(SQL["recent_orders"], {"since": since, "limit": limit})]


def order_overview(
    store: Store, policy: Policy, limit: int = 15, now: datetime | None = None
) -> OrdersOverview:
    """Recently captured orders, at-risk orders (soonest breach first) and open orders past an SLA."""
    recent, at_risk, breached_open = in_parallel(
        lambda: recent_orders(store, limit, now=now),
        lambda: reports.sla_breaches(store, policy, status="at_risk", open_only=True, limit=limit, now=now),
        lambda: reports.sla_breaches(store, policy, status="breached", open_only=True, limit=limit, now=now),
    )
    return OrdersOverview(recent=recent, at_risk=at_risk, breached_open=breached_open)


class OrderState(BaseModel):
    order_id: str
    status: str
    current_stage: str
    current_system: str
    last_activity_at: datetime


def order_states(store: Store, order_ids: list[str]) -> dict[str, OrderState]:
    """Status and stage of each listed order the KPI jobs know (others are left out)."""
    if not order_ids:
        return {}
    rows = store.rows(SQL["order_states"], {"order_ids": order_ids[:5000]})
    return {r["order_id"]: OrderState(**r) for r in rows}


def key_variants(key: str) -> list[str]:
    """The key as typed, then in upper and lower case (order ids are looked up exactly, so
    ``so-102835`` is tried as ``SO-102835``)."""
    out: list[str] = []
    for variant in (key, key.upper(), key.lower()):
        if variant not in out:
            out.append(variant)
    return out


def order_breaches(
    store: Store, policy: Policy, order_id: str, now: datetime | None = None
) -> list[SlaBreach]:
    """The order's breached and at-risk SLAs as the KPI jobs judged them (as of ``now``)."""
    return reports.order_sla_breaches(store, policy, order_id, now)


def order_sla(policy: Policy, timeline: Timeline, breaches: list[SlaBreach], now: datetime) -> Timeline:
    """The timeline with its SLAs judged (jobs' results and the policy's wall-clock due times)."""
    return with_sla(timeline, order_sla_judge(policy, timeline, breaches, now))


def sla_marks(timeline: Timeline, policy: Policy | None = None) -> list[SlaMark]:
    """SLA due times for the Gantt, from the timeline's judged SLAs (with the policy's labels)."""
    return [
        SlaMark(
            name=s.sla,
            due=as_utc(s.due),
            state="" if s.state == "open" else s.state,
            label=policy.sla_label(s.sla) if policy is not None else "",
        )
        for s in timeline.sla
        if s.due is not None
    ]


def order_exceptions(store: Store, policy: Policy, order_id: str) -> list[OrderException]:
    return reports.exceptions_queue(store, policy, status="", order_id=order_id, limit=100).items


# -- exceptions ------------------------------------------------------------------------------------


class ExceptionFilters(BaseModel):
    status: Literal["", "open", "resolved"] = "open"
    exception_type: str = ""
    system: str = ""
    owner: str = ""
    aging: int = Field(default=0, description="Aging bucket (1-based, 0 = any).")


def exception_filters(
    status: Annotated[Literal["", "open", "resolved"], Query()] = "open",
    exception_type: Text = "",
    system: Text = "",
    owner: Text = "",
    aging: Annotated[
        int, Query(ge=0, le=50, description="Aging bucket to list, 1-based (the chart's bars); 0 = any.")
    ] = 0,
) -> ExceptionFilters:
    return ExceptionFilters(
        status=status,
        exception_type=exception_type.strip(),
        system=system.strip(),
        owner=owner.strip(),
        aging=aging,
    )


def exception_filter_values(store: Store) -> dict[str, list[str]]:
    """Exception types, systems and owners seen in the queue, for the filter drop-downs."""

    def read() -> dict[str, list[str]]:
        rows = store.rows(SQL["exception_filter_values"], {})
        row = rows[0] if rows else {}
        return {name: list(row.get(name) or []) for name in ("exception_type", "system", "owner")}

    return CACHE.get(store, ("exception_filter_values",), read)


ExceptionFiltersDep = Annotated[ExceptionFilters, Depends(exception_filters)]


PAGE_MAX = 10_000
PageNumber = Annotated[int, Query(ge=1, le=PAGE_MAX, description="Page number, 1-based (at most 10000).")]


class PageLinks(BaseModel):
    """Previous/next page hrefs (empty when there is none) that keep the request's other parameters."""

    previous: str = ""
    next: str = ""
    first_row: int = 0
    last_row: int = 0


def page_links(path: str, query: list[tuple[str, str]], page: int, page_size: int, total: int) -> PageLinks:
    """Server-side paging links for ``path``: the query string with ``page`` replaced."""
    kept = [(k, v) for k, v in query if k != "page"]

    def href(n: int) -> str:
        return f"{path}?{urlencode([*kept, ('page', str(n))])}"

    shown = max(min(page_size, total - (page - 1) * page_size), 0)
    return PageLinks(
        previous=href(page - 1) if page > 1 else "",
        next=href(page + 1) if page * page_size < total and page < PAGE_MAX else "",
        first_row=(page - 1) * page_size + 1 if shown else 0,
        last_row=(page - 1) * page_size + shown,
    )


class ExceptionPage(ExceptionQueue):
    page: int = Field(description="This page's number (1-based).")
    page_size: int = Field(description="Rows per page (web.page_size).")


def exception_queue(
    store: Store,
    policy: Policy,
    filters: ExceptionFilters,
    segment: Segment,
    limit: int,
    page: int = 1,
    now: datetime | None = None,
) -> ExceptionPage:
    if filters.aging > len(policy.exception_aging_buckets) + 1:
        raise HTTPException(
            status_code=400,
            detail=f"aging bucket must be between 1 and {len(policy.exception_aging_buckets) + 1} (0 = any)",
        )
    queue = reports.exceptions_queue(
        store,
        policy,
        aging=filters.aging,
        status=filters.status,
        exception_type=filters.exception_type,
        system=filters.system,
        owner=filters.owner,
        segment=segment,
        limit=limit,
        offset=(page - 1) * limit,
        now=now,
    )
    return ExceptionPage(**dict(queue), page=page, page_size=limit)


class ExceptionDetail(BaseModel):
    exception: OrderException
    history: list[ExceptionAction]


def exception_detail(
    store: Store, policy: Policy, order_id: str, exception_type: str, now: datetime | None = None
) -> ExceptionDetail:
    items = reports.exceptions_queue(
        store, policy, status="", order_id=order_id, exception_type=exception_type, limit=1, now=now
    ).items
    if not items:
        raise HTTPException(status_code=404, detail=f"order {order_id} has no {exception_type} exception")
    return ExceptionDetail(
        exception=items[0], history=reports.exception_history(store, order_id, exception_type)
    )


# -- SLA -------------------------------------------------------------------------------------------


class StageCount(BaseModel):
    stage: str
    breached: int
    at_risk: int


class SlaOverview(BaseModel):
    period: Period
    segment: Segment
    attainment: list[reports.SlaAttainment]
    by_stage: list[StageCount]
    breaches: list[SlaBreach]
    total: int = Field(description="Breached and at-risk rows matching the filters (all pages).")
    page: int = Field(description="This page's number (1-based).")
    page_size: int = Field(description="Rows per page (web.page_size).")


def sla_overview(
    store: Store,
    policy: Policy,
    period: Period,
    segment: Segment,
    status: Literal["", "breached", "at_risk"],
    sla: str,
    open_only: bool,
    limit: int,
    page: int = 1,
    now: datetime | None = None,
) -> SlaOverview:
    if sla and sla not in {s.name for s in policy.slas}:
        raise HTTPException(status_code=400, detail=f"unknown SLA {sla!r}")
    since = datetime.combine(period.start, datetime.min.time(), UTC)
    report, (breaches, total) = in_parallel(
        lambda: kpi_report(store, policy, period.start, period.end, segment),
        lambda: reports.sla_breach_page(
            store,
            policy,
            status=status,
            sla=sla,
            open_only=open_only,
            segment=segment,
            since=since,
            limit=limit,
            offset=(page - 1) * limit,
            now=now,
        ),
    )
    breached = Counter(b.stage or b.sla for b in breaches if b.status == "breached")
    at_risk = Counter(b.stage or b.sla for b in breaches if b.status == "at_risk")
    stages = sorted(set(breached) | set(at_risk), key=lambda s: (-(breached[s] + at_risk[s]), s))
    return SlaOverview(
        period=period,
        segment=segment,
        attainment=report.sla,
        by_stage=[StageCount(stage=s, breached=breached[s], at_risk=at_risk[s]) for s in stages],
        breaches=breaches,
        total=total,
        page=page,
        page_size=limit,
    )


# -- KPIs ------------------------------------------------------------------------------------------


class KpiOverview(BaseModel):
    report: KpiReport
    trend: list[KpiDay]
    previous_trend: list[KpiDay]


def kpi_overview(store: Store, policy: Policy, period: Period, segment: Segment) -> KpiOverview:
    return CACHE.get(
        store,
        ("kpi_overview", period.start, period.end, _segment_key(segment)),
        lambda: _kpi_overview(store, policy, period, segment),
        policy,
    )


def _kpi_overview(store: Store, policy: Policy, period: Period, segment: Segment) -> KpiOverview:
    report, both = in_parallel(
        lambda: kpi_report(store, policy, period.start, period.end, segment),
        lambda: kpi_trend(store, period.start - (period.end - period.start), period.end, segment),
    )
    return KpiOverview(
        report=report,
        trend=[d for d in both if d.day >= period.start],
        previous_trend=[d for d in both if d.day < period.start],
    )


def kpi_breakdown(
    store: Store, dimension: str, period: Period, segment: Segment
) -> list[reports.BreakdownRow]:
    if dimension not in reports.BREAKDOWN_DIMENSIONS:
        raise HTTPException(
            status_code=400,
            detail=f"unknown dimension {dimension!r}; choose from {', '.join(reports.BREAKDOWN_DIMENSIONS)}",
        )
    return CACHE.get(
        store,
        ("kpi_breakdown", dimension, period.start, period.end, _segment_key(segment)),
        lambda: reports.kpi_breakdown(store, dimension, period.start, period.end, segment),
    )


def kpi_orders(
    store: Store, policy: Policy, kpi: str, period: Period, segment: Segment, limit: int
) -> Explanation:
    if kpi not in kpi_names(policy):
        raise HTTPException(status_code=404, detail=f"unknown KPI {kpi!r}")
    return CACHE.get(
        store,
        ("explain", kpi, period.start, period.end, _segment_key(segment), limit),
        lambda: explain(store, policy, kpi, period.start, period.end, segment, limit=limit),
        policy,
    )


# -- systems and jobs -----------------------------------------------------------------------------


class SystemsOverview(BaseModel):
    window_s: int
    health: list[SystemHealth]
    handoffs: list[Handoff]


def systems_overview(
    store: Store, period: Period, segment: Segment, window_s: int, now: datetime | None = None
) -> SystemsOverview:
    start = datetime.combine(period.start, datetime.min.time(), UTC)
    end = datetime.combine(period.end, datetime.min.time(), UTC)
    return SystemsOverview(
        window_s=window_s,
        health=reports.system_health(store, window_s=window_s, now=now),
        handoffs=reports.handoff_map(store, start, end, segment),
    )


class JobsOverview(BaseModel):
    runs: list[JobRun]
    watermarks: dict[str, datetime | None]


def jobs_overview(store: Store, engine: reports.KpiEngine, job: str, limit: int) -> JobsOverview:
    return JobsOverview(runs=reports.job_runs(store, job, limit), watermarks=reports.job_watermarks(engine))


class JobRunRequest(BaseModel):
    """What ``tower kpis run`` asks a serving tower to run: every job by default, incrementally."""

    model_config = {"extra": "forbid", "populate_by_name": True}

    jobs: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=20)
    full: bool = False
    start: datetime | None = Field(default=None, alias="from")
    end: datetime | None = Field(default=None, alias="to")


class JobRunResult(BaseModel):
    job: str
    mode: str
    status: str
    rows: int
    duration_s: float
    error: str


def run_jobs(engine: reports.KpiEngine, request: JobRunRequest) -> list[JobRunResult]:
    """Run the KPI jobs now, as ``tower kpis run`` does on its own store (422 on a bad request)."""
    jobs = request.jobs or list(JOB_NAMES)
    unknown = [j for j in jobs if j not in JOB_NAMES]
    if unknown:
        raise HTTPException(422, f"unknown job(s) {', '.join(unknown)}; jobs: {', '.join(JOB_NAMES)}")
    start, end = (as_utc(t) if t else None for t in (request.start, request.end))
    if request.full and (start or end):
        raise HTTPException(422, "full recomputes everything; leave out from/to")
    if start and end and not start < end:
        raise HTTPException(422, "from must be before to")
    if request.full:
        results = engine.recompute(jobs=jobs)
    elif start or end:
        window = Window(start=start or datetime(1970, 1, 1, tzinfo=UTC), end=end or datetime.now(UTC))
        results = engine.run_all(window, jobs)
    else:
        results = engine.run_all(None, request.jobs or None)
    return [
        JobRunResult(
            job=r.job,
            mode=r.mode,
            status=r.status,
            rows=r.rows,
            duration_s=round(r.duration_s, 3),
            error=r.error,
        )
        for r in results
    ]

"""The KPI engine's reports for the dashboard and the alerts — KPI values and trends, SLA breaches,
the exceptions queue, system health, job runs — and the exception actions (assign, comment,
resolve, reopen): pydantic models, no SQL in callers.

Every function takes the store (and the policy where SLA names or aging buckets matter) and reads
the tables the jobs maintain. Times are UTC; ``now`` defaults to the current time and can be given
for reproducible answers.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from kpis.jobs import JOB_NAMES, KpiEngine
from kpis.policy import Policy
from storage import SqlFiles, Store
from storage.errors import TowerError

SQL = SqlFiles("kpis.queries")
EPOCH = datetime(1970, 1, 1)
ACTIONS = ("assign", "comment", "resolve", "reopen")


class ExceptionActionError(TowerError, ValueError):
    """An assign/comment/resolve request was invalid (unknown exception, missing actor, ...)."""


class Segment(BaseModel):
    """Segment filter; a field left empty matches every value."""

    channel: str = ""
    region: str = ""
    erp_instance: str = ""
    warehouse: str = ""
    customer_tier: str = ""
    priority: str = ""

    def parameters(self) -> dict[str, str]:
        return self.model_dump()


class KpiValue(BaseModel):
    name: str
    label: str
    unit: Literal["ratio", "seconds", "count"]
    value: float | None
    previous: float | None
    change: float | None = Field(description="value - previous (None when either is missing)")
    numerator: int | None = None
    denominator: int | None = None


class SlaAttainment(BaseModel):
    sla: str
    kind: str
    stage: str
    evaluated: int
    met: int
    attainment: float | None
    previous: float | None


class KpiReport(BaseModel):
    start: date
    end: date
    previous_start: date
    segment: Segment
    values: list[KpiValue]
    sla: list[SlaAttainment]

    def value(self, name: str) -> KpiValue:
        for v in self.values:
            if v.name == name:
                return v
        raise KeyError(name)


class KpiDay(BaseModel):
    day: date
    orders: int
    touchless_rate: float | None
    perfect_order_rate: float | None
    cycle_time_p50_s: float | None
    cycle_time_p90_s: float | None
    sla_attainment: float | None
    exceptions: int
    cycle_time_p95_s: float | None = None
    allocation_accuracy: float | None = None
    invoice_latency_mean_s: float | None = None
    invoice_latency_p50_s: float | None = None
    invoice_latency_p90_s: float | None = None
    exception_resolution_mean_s: float | None = None
    exception_resolution_p90_s: float | None = None


BREAKDOWN_DIMENSIONS = ("channel", "region", "erp_instance", "warehouse", "customer_tier", "priority")


class BreakdownRow(BaseModel):
    value: str = Field(description="The dimension's value ('' when the orders carry none).")
    orders: int
    touchless_rate: float | None
    perfect_order_rate: float | None
    cycle_time_p50_s: float | None
    cycle_time_p90_s: float | None
    sla_attainment: float | None
    sla_met: int
    sla_evaluated: int
    exceptions: int


class SlaBreach(BaseModel):
    order_id: str
    sla: str
    kind: str
    stage: str
    status: Literal["breached", "at_risk"]
    open: bool
    start_at: datetime
    due_at: datetime
    end_at: datetime | None
    target_s: float
    elapsed_s: float
    time_to_breach_s: float | None = Field(description="seconds until due (negative: overdue); open only")
    business_time: bool
    current_stage: str
    current_system: str
    channel: str
    region: str
    erp_instance: str
    warehouse: str
    customer_tier: str
    priority: str
    captured_at: datetime


class OrderException(BaseModel):
    order_id: str
    exception_type: str
    system: str
    stage: str
    opened_at: datetime
    resolved_at: datetime | None
    resolved_by: str
    resolution_s: float | None
    status: str
    owner: str
    comments: int
    age_s: float
    aging_bucket: str
    channel: str
    region: str
    erp_instance: str
    warehouse: str
    customer_tier: str
    priority: str


class AgingBucket(BaseModel):
    label: str
    upper_s: float | None
    open_exceptions: int


class ExceptionQueue(BaseModel):
    items: list[OrderException]
    aging: list[AgingBucket]
    total: int = Field(default=0, description="Exceptions matching the filters (all pages).")


class ExceptionAction(BaseModel):
    action_id: str
    order_id: str
    exception_type: str
    action: str
    actor: str
    owner: str
    note: str
    at: datetime


class SystemHealth(BaseModel):
    system: str
    system_kind: str
    hops: int
    orders: int
    errors: int
    error_rate: float | None
    throughput_per_min: float
    latency_p95_s: float | None
    last_span_at: datetime
    staleness_s: float


class SystemDay(BaseModel):
    day: date
    system: str
    system_kind: str
    hops: int
    orders: int
    errors: int
    error_rate: float | None
    latency_mean_s: float
    latency_p50_s: float
    latency_p95_s: float


class Handoff(BaseModel):
    from_system: str
    to_system: str
    handoffs: int
    median_wait_s: float
    p90_wait_s: float
    mean_wait_s: float


class JobRun(BaseModel):
    run_id: str
    job: str
    mode: str
    started_at: datetime
    duration_s: float
    rows: int
    watermark_from: datetime | None
    watermark_to: datetime | None
    status: str
    error: str


# -- helpers -------------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _change(value: float | None, previous: float | None) -> float | None:
    return None if value is None or previous is None else value - previous


def _q(values: list[Any], i: int, n: int) -> float | None:
    return _num(values[i]) if n and len(values) > i else None


def aging_label(bounds: list[float], index: int) -> str:
    """Bucket ``index`` (1-based) of ``bounds`` as text: ``<4h``, ``4h-24h``, ``>72h``."""

    def fmt(seconds: float) -> str:
        return (
            f"{seconds / 86400:g}d" if seconds >= 86400 and seconds % 86400 == 0 else f"{seconds / 3600:g}h"
        )

    if index <= 1:
        return f"<{fmt(bounds[0])}"
    if index > len(bounds):
        return f">{fmt(bounds[-1])}"
    return f"{fmt(bounds[index - 2])}-{fmt(bounds[index - 1])}"


# -- KPI values ------------------------------------------------------------------------------------


KPI_LABELS: dict[str, tuple[str, str]] = {  # name -> (label, unit)
    "orders": ("Orders captured", "count"),
    "cycle_time_p50": ("Order cycle time p50 (capture -> shipped)", "seconds"),
    "cycle_time_p90": ("Order cycle time p90", "seconds"),
    "cycle_time_p95": ("Order cycle time p95", "seconds"),
    "touchless_rate": ("Touchless order rate", "ratio"),
    "perfect_order_rate": ("Perfect order rate", "ratio"),
    "exception_volume": ("Exceptions opened", "count"),
    "exception_resolution_mean": ("Exception resolution time, mean", "seconds"),
    "exception_resolution_p90": ("Exception resolution time p90", "seconds"),
    "invoice_latency_mean": ("Invoice latency (shipped -> invoiced), mean", "seconds"),
    "invoice_latency_p50": ("Invoice latency p50", "seconds"),
    "invoice_latency_p90": ("Invoice latency p90", "seconds"),
    "allocation_accuracy": ("Inventory allocation accuracy (first allocation held)", "ratio"),
}


def _summary(store: Store, start: date, end: date, segment: Segment) -> dict[str, Any]:
    rows = store.rows(SQL["kpi_summary"], {"start": start, "end": end, **segment.parameters()})
    return rows[0]


def kpi_report(
    store: Store, policy: Policy, start: date, end: date, segment: Segment | None = None
) -> KpiReport:
    """KPI values for orders captured on days [start, end), with the same-length period before."""
    segment = segment or Segment()
    if not start < end:
        raise ValueError("start must be before end")
    previous_start = start - (end - start)
    cur = _summary(store, start, end, segment)
    prev = _summary(store, previous_start, start, segment)

    def metrics(s: dict[str, Any]) -> dict[str, tuple[float | None, int | None, int | None]]:
        cq, iq, rq = s["cycle_q"], s["invoice_q"], s["resolution_q"]
        cn, inn = int(s["cycle_n"]), int(s["invoice_n"])
        res_n = int(s["exceptions_resolved"])
        return {
            "orders": (float(s["orders"]), None, None),
            "cycle_time_p50": (_q(cq, 0, cn), None, cn),
            "cycle_time_p90": (_q(cq, 1, cn), None, cn),
            "cycle_time_p95": (_q(cq, 2, cn), None, cn),
            "touchless_rate": (_ratio(s["touchless"], s["orders"]), s["touchless"], s["orders"]),
            "perfect_order_rate": (
                _ratio(s["perfect"], s["perfect_eligible"]),
                s["perfect"],
                s["perfect_eligible"],
            ),
            "exception_volume": (float(s["exceptions"]), None, None),
            "exception_resolution_mean": (_num(s["resolution_mean"]) if res_n else None, None, res_n),
            "exception_resolution_p90": (_q(rq, 1, res_n), None, res_n),
            "invoice_latency_mean": (_num(s["invoice_mean"]) if inn else None, None, inn),
            "invoice_latency_p50": (_q(iq, 0, inn), None, inn),
            "invoice_latency_p90": (_q(iq, 1, inn), None, inn),
            "allocation_accuracy": (
                _ratio(s["allocation_accurate"], s["allocation_eligible"]),
                s["allocation_accurate"],
                s["allocation_eligible"],
            ),
        }

    now_m, prev_m = metrics(cur), metrics(prev)
    values = []
    for name, (label, unit) in KPI_LABELS.items():
        value, num, den = now_m[name]
        previous = prev_m[name][0]
        values.append(
            KpiValue(
                name=name,
                label=label,
                unit=unit,  # type: ignore[arg-type]
                value=value,
                previous=previous,
                change=_change(value, previous),
                numerator=int(num) if num is not None else None,
                denominator=int(den) if den is not None else None,
            )
        )
    sla = []
    for s in policy.slas:
        evaluated = int(cur["sla_evaluated"].get(s.name, 0))
        met = int(cur["sla_met"].get(s.name, 0))
        prev_eval = int(prev["sla_evaluated"].get(s.name, 0))
        sla.append(
            SlaAttainment(
                sla=s.name,
                kind=s.kind,
                stage=s.stage or s.end.stage,
                evaluated=evaluated,
                met=met,
                attainment=_ratio(met, evaluated),
                previous=_ratio(int(prev["sla_met"].get(s.name, 0)), prev_eval),
            )
        )
    return KpiReport(
        start=start, end=end, previous_start=previous_start, segment=segment, values=values, sla=sla
    )


def kpi_trend(store: Store, start: date, end: date, segment: Segment | None = None) -> list[KpiDay]:
    """One row per capture day in [start, end) with the headline KPIs (days without orders omitted)."""
    segment = segment or Segment()
    out = []
    for r in store.rows(SQL["kpi_trend"], {"start": start, "end": end, **segment.parameters()}):
        n = int(r["cycle_n"])
        inv_n, res_n = int(r["invoice_n"]), int(r["resolution_n"])
        evaluated = sum(int(v) for v in r["sla_evaluated"].values())
        met = sum(int(v) for v in r["sla_met"].values())
        out.append(
            KpiDay(
                cycle_time_p95_s=_q(r["cycle_q"], 2, n),
                allocation_accuracy=_ratio(r["allocation_accurate"], r["allocation_eligible"]),
                invoice_latency_mean_s=_num(r["invoice_mean"]) if inv_n else None,
                invoice_latency_p50_s=_q(r["invoice_q"], 0, inv_n),
                invoice_latency_p90_s=_q(r["invoice_q"], 1, inv_n),
                exception_resolution_mean_s=_num(r["resolution_mean"]) if res_n else None,
                exception_resolution_p90_s=_q(r["resolution_q"], 1, res_n),
                day=r["day"],
                orders=int(r["orders"]),
                touchless_rate=_ratio(r["touchless"], r["orders"]),
                perfect_order_rate=_ratio(r["perfect"], r["perfect_eligible"]),
                cycle_time_p50_s=_q(r["cycle_q"], 0, n),
                cycle_time_p90_s=_q(r["cycle_q"], 1, n),
                sla_attainment=_ratio(met, evaluated),
                exceptions=int(r["exceptions"]),
            )
        )
    return out


def kpi_breakdown(
    store: Store, dimension: str, start: date, end: date, segment: Segment | None = None
) -> list[BreakdownRow]:
    """Headline KPIs for orders captured on days [start, end), one row per value of ``dimension``."""
    if dimension not in BREAKDOWN_DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; choose from {', '.join(BREAKDOWN_DIMENSIONS)}")
    segment = segment or Segment()
    params = {"start": start, "end": end, "dimension": dimension, **segment.parameters()}
    out = []
    for r in store.rows(SQL["kpi_breakdown"], params):
        n = int(r["cycle_n"])
        evaluated = sum(int(v) for v in r["sla_evaluated"].values())
        met = sum(int(v) for v in r["sla_met"].values())
        out.append(
            BreakdownRow(
                value=r["value"],
                orders=int(r["orders"]),
                touchless_rate=_ratio(r["touchless"], r["orders"]),
                perfect_order_rate=_ratio(r["perfect"], r["perfect_eligible"]),
                cycle_time_p50_s=_q(r["cycle_q"], 0, n),
                cycle_time_p90_s=_q(r["cycle_q"], 1, n),
                sla_attainment=_ratio(met, evaluated),
                sla_met=met,
                sla_evaluated=evaluated,
                exceptions=int(r["exceptions"]),
            )
        )
    return out


# -- SLA breaches and at-risk orders ----------------------------------------------------------------


def sla_breaches(
    store: Store,
    policy: Policy,
    *,
    status: Literal["", "breached", "at_risk"] = "",
    sla: str = "",
    order_id: str = "",
    open_only: bool = False,
    segment: Segment | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[SlaBreach]:
    """Breached and at-risk (order, SLA) pairs as of ``now``; at-risk and open-overdue first."""
    return sla_breach_page(
        store,
        policy,
        status=status,
        sla=sla,
        order_id=order_id,
        open_only=open_only,
        segment=segment,
        since=since,
        now=now,
        limit=limit,
        offset=offset,
    )[0]


def order_sla_breaches(
    store: Store, policy: Policy, order_id: str, now: datetime | None = None
) -> list[SlaBreach]:
    """One order's breached and at-risk SLAs as of ``now`` (those :func:`sla_breaches` lists for it):
    a point read of the SLA results by the order's key, without the paging window."""
    params = {"order_id": order_id, "slas": [s.name for s in policy.slas], "now": _now(now), "limit": 50}
    return [SlaBreach(**r) for r in store.rows(SQL["order_sla_breaches"], params)]


def _page_rows(store: Store, sql: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Rows of one page (LIMIT/OFFSET in the SQL) and the total match count (``total_rows``)."""
    rows = store.rows(sql, params)
    if rows:
        total = int(rows[0]["total_rows"])
    elif params["offset"]:  # past the last page: count the matches with a one-row first page
        first = store.rows(sql, {**params, "offset": 0, "limit": 1})
        total = int(first[0]["total_rows"]) if first else 0
    else:
        total = 0
    for r in rows:
        del r["total_rows"]
    return rows, total


def sla_breach_page(
    store: Store,
    policy: Policy,
    *,
    status: Literal["", "breached", "at_risk"] = "",
    sla: str = "",
    order_id: str = "",
    open_only: bool = False,
    segment: Segment | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    limit: int = 500,
    offset: int = 0,
) -> tuple[list[SlaBreach], int]:
    """One page (``limit`` rows after ``offset``) of :func:`sla_breaches` and the total match count."""
    params = {
        "status": status,
        "sla": sla,
        "order_id": order_id,
        "open_only": int(open_only),
        "slas": [s.name for s in policy.slas],
        "since": _now(since) if since else EPOCH,
        "now": _now(now),
        "limit": limit,
        "offset": offset,
        **(segment or Segment()).parameters(),
    }
    rows, total = _page_rows(store, SQL["sla_breaches"], params)
    return [SlaBreach(**r) for r in rows], total


# -- exceptions ---------------------------------------------------------------------------------------


def exceptions_queue(
    store: Store,
    policy: Policy,
    *,
    status: Literal["", "open", "resolved"] = "open",
    exception_type: str = "",
    system: str = "",
    owner: str = "",
    order_id: str = "",
    segment: Segment | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    limit: int = 500,
    offset: int = 0,
    aging: int = 0,
) -> ExceptionQueue:
    """Exceptions matching the filters (oldest first; ``limit`` rows after ``offset``, ``total`` counts
    all of them) and the aging buckets of the open ones. ``aging`` (1-based bucket, 0 = any) keeps
    the exceptions of one aging bucket."""
    bounds = policy.exception_aging_buckets
    if not 0 <= aging <= len(bounds) + 1:
        raise ValueError(f"aging bucket {aging} is not between 1 and {len(bounds) + 1}")
    age_min = bounds[aging - 2] if aging >= 2 else 0.0
    age_max = bounds[aging - 1] if 1 <= aging <= len(bounds) else 0.0
    params = {
        "status": status,
        "exception_type": exception_type,
        "system": system,
        "owner": owner,
        "order_id": order_id,
        "since": _now(since) if since else EPOCH,
        "now": _now(now),
        "limit": limit,
        "offset": offset,
        "bounds": bounds,
        "age_min": age_min,
        "age_max": age_max,
        **(segment or Segment()).parameters(),
    }
    items = []
    rows, total = _page_rows(store, SQL["exceptions_queue"], params)
    for r in rows:
        index = next((i + 1 for i, b in enumerate(bounds) if r["age_s"] < b), len(bounds) + 1)
        items.append(OrderException(**r, aging_bucket=aging_label(bounds, index)))
    counts = {int(r["bucket"]): int(r["exceptions"]) for r in store.rows(SQL["exceptions_aging"], params)}
    buckets = [
        AgingBucket(
            label=aging_label(bounds, i),
            upper_s=bounds[i - 1] if i <= len(bounds) else None,
            open_exceptions=counts.get(i, 0),
        )
        for i in range(1, len(bounds) + 2)
    ]
    return ExceptionQueue(items=items, aging=buckets, total=total)


def exception_history(store: Store, order_id: str, exception_type: str = "") -> list[ExceptionAction]:
    """What people did to an order's exception(s), oldest first."""
    rows = store.rows(SQL["exception_history"], {"order_id": order_id, "exception_type": exception_type})
    return [ExceptionAction(**r) for r in rows]


def _act(
    engine: KpiEngine,
    order_id: str,
    exception_type: str,
    action: str,
    actor: str,
    *,
    owner: str = "",
    note: str = "",
    now: datetime | None = None,
) -> OrderException:
    if action not in ACTIONS:
        raise ExceptionActionError(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}")
    if not actor.strip():
        raise ExceptionActionError("an action needs the actor (who did it)")
    if len(note) > 10_000 or len(owner) > 200 or len(actor) > 200:
        raise ExceptionActionError("note is limited to 10000 characters, owner and actor to 200")
    store = engine.store
    exists = store.scalar(SQL["exception_exists"], {"order_id": order_id, "exception_type": exception_type})
    if not exists:
        raise ExceptionActionError(f"order {order_id} has no {exception_type!r} exception")
    at = _now(now)
    store.insert(
        "exception_actions",
        [[uuid.uuid4(), order_id, exception_type, action, actor.strip(), owner.strip(), note, at]],
        ["ActionId", "OrderId", "ExceptionType", "Action", "Actor", "Owner", "Note", "At"],
    )
    engine.refresh_orders([order_id], ["order_exceptions", "kpi_daily"])
    queue = exceptions_queue(
        store, engine.policy, status="", order_id=order_id, exception_type=exception_type, now=now
    )
    return queue.items[0]


def assign(
    engine: KpiEngine,
    order_id: str,
    exception_type: str,
    owner: str,
    actor: str,
    now: datetime | None = None,
) -> OrderException:
    """Give an exception an owner (recorded in the audit trail); returns the updated exception.
    ``now`` stamps the action (default: the wall clock)."""
    if not owner.strip():
        raise ExceptionActionError("assign needs an owner")
    return _act(engine, order_id, exception_type, "assign", actor, owner=owner, now=now)


def comment(
    engine: KpiEngine,
    order_id: str,
    exception_type: str,
    note: str,
    actor: str,
    now: datetime | None = None,
) -> OrderException:
    """Add a comment to an exception's audit trail."""
    if not note.strip():
        raise ExceptionActionError("a comment needs text")
    return _act(engine, order_id, exception_type, "comment", actor, note=note, now=now)


def resolve(
    engine: KpiEngine,
    order_id: str,
    exception_type: str,
    actor: str,
    note: str = "",
    now: datetime | None = None,
) -> OrderException:
    """Mark an exception resolved by a person (a later 'opened' span reopens it)."""
    return _act(engine, order_id, exception_type, "resolve", actor, note=note, now=now)


def reopen(
    engine: KpiEngine,
    order_id: str,
    exception_type: str,
    actor: str,
    note: str = "",
    now: datetime | None = None,
) -> OrderException:
    """Undo a manual resolution."""
    return _act(engine, order_id, exception_type, "reopen", actor, note=note, now=now)


# -- systems, handoffs, jobs ------------------------------------------------------------------------


def system_health(
    store: Store, *, window_s: int = 3600, lookback_s: int = 7 * 86400, now: datetime | None = None
) -> list[SystemHealth]:
    """Per system: throughput, error rate and latency p95 over the window, and staleness."""
    moment = _now(now)
    rows = store.rows(SQL["system_health"], {"now": moment, "window_s": window_s, "lookback_s": lookback_s})
    out = []
    for r in rows:
        hops = int(r["hops"])
        out.append(
            SystemHealth(
                system=r["system"],
                system_kind=r["system_kind"],
                hops=hops,
                orders=int(r["orders"]),
                errors=int(r["errors"]),
                error_rate=_ratio(int(r["errors"]), hops),
                throughput_per_min=hops / (window_s / 60),
                latency_p95_s=_num(r["latency_p95_s"]) if hops else None,
                last_span_at=r["last_span_at"],
                staleness_s=max((moment - r["last_span_at"]).total_seconds(), 0.0),
            )
        )
    return out


def system_daily(store: Store, start: date, end: date, system: str = "") -> list[SystemDay]:
    """Per system and day in [start, end): hops, orders, errors, error rate and latency (p50/p95)."""
    rows = store.rows(SQL["system_daily"], {"start": start, "end": end, "system": system})
    return [SystemDay(**r, error_rate=_ratio(int(r["errors"]), int(r["hops"]))) for r in rows]


def handoff_map(
    store: Store, start: datetime, end: datetime, segment: Segment | None = None
) -> list[Handoff]:
    """System -> system handoff volume and waiting time for orders captured in [start, end)."""
    params = {"start": _now(start), "end": _now(end), **(segment or Segment()).parameters()}
    return [Handoff(**r) for r in store.rows(SQL["handoff_map"], params)]


def job_runs(store: Store, job: str = "", limit: int = 100) -> list[JobRun]:
    """Recent runs of one job (or all), newest first."""
    return [JobRun(**r) for r in store.rows(SQL["job_runs"], {"job": job, "limit": limit})]


def job_watermarks(engine: KpiEngine) -> dict[str, datetime | None]:
    """Each KPI job's arrival-time watermark (None before its first incremental run)."""
    out: dict[str, datetime | None] = {}
    for job in JOB_NAMES:
        mark = engine.watermark(job)
        out[job] = mark if mark.year > 1970 else None
    return out


def order_facts(store: Store, order_id: str) -> dict[str, Any] | None:
    """One order's facts row as a dict (None when the order is unknown to the jobs)."""
    rows = store.rows(SQL["order_fact"], {"order_id": order_id})
    return rows[0] if rows else None


def default_period(days: int = 7, today: date | None = None) -> tuple[date, date]:
    """The last ``days`` full days plus today: [today - days + 1, today + 1)."""
    day = today or datetime.now(UTC).date()
    return day - timedelta(days=days - 1), day + timedelta(days=1)

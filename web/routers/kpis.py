"""Executive KPIs: tiles with targets (met / at risk / missed), the previous period and a daily trend
for every KPI, breakdowns by channel, region, ERP, warehouse and customer tier, CSV downloads of
every table, and from every figure the orders behind it (``kpis.reports`` and ``kpis.explain``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from kpis.explain import Explanation
from kpis.policy import Policy
from kpis.reports import KPI_LABELS, BreakdownRow, KpiDay, KpiValue, Segment
from web import charts
from web.csvexport import csv_response
from web.deps import StateDep, Viewer, render
from web.formatting import fmt_duration, fmt_number, fmt_percent
from web.views import (
    KpiOverview,
    Period,
    PeriodDep,
    SegmentDep,
    kpi_breakdown,
    kpi_orders,
    kpi_overview,
    segment_options,
)

router = APIRouter(tags=["kpis"])
NAV = ("/kpis", "KPIs", "kpis")

KpiName = Annotated[
    str,
    Path(pattern=r"^[a-z0-9_]+(:[A-Za-z0-9_.-]+)?$", max_length=120, description="KPI name, or sla:<name>."),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Orders to list. Default: 200")]
Dimension = Literal["channel", "region", "erp_instance", "warehouse", "customer_tier", "priority"]
DIMENSION_LABELS: dict[str, str] = {
    "channel": "Channel",
    "region": "Region",
    "erp_instance": "ERP instance",
    "warehouse": "Warehouse",
    "customer_tier": "Customer tier",
    "priority": "Priority",
}
Table = Literal["tiles", "sla", "breakdown"]

# KPI -> the daily trend series that shows it (every KPI has one)
TREND_FIELD = {
    "orders": "orders",
    "touchless_rate": "touchless_rate",
    "perfect_order_rate": "perfect_order_rate",
    "cycle_time_p50": "cycle_time_p50_s",
    "cycle_time_p90": "cycle_time_p90_s",
    "cycle_time_p95": "cycle_time_p95_s",
    "exception_volume": "exceptions",
    "exception_resolution_mean": "exception_resolution_mean_s",
    "exception_resolution_p90": "exception_resolution_p90_s",
    "invoice_latency_mean": "invoice_latency_mean_s",
    "invoice_latency_p50": "invoice_latency_p50_s",
    "invoice_latency_p90": "invoice_latency_p90_s",
    "allocation_accuracy": "allocation_accuracy",
}
# which direction is good: +1 higher is better, -1 lower is better, 0 neutral
GOOD_DIRECTION = {"ratio": 1, "seconds": -1, "count": 0}
LOWER_IS_BETTER = {"exception_volume"}
# counts grow through the day: a period that includes today is not compared with a complete one
VOLUME_KPIS = {"orders", "exception_volume"}
STATUS_TEXT = {"met": "✓ Target met", "at_risk": "▲ At risk", "missed": "✗ Target missed"}


def _formatter(unit: str) -> str:
    return {"ratio": "pct", "seconds": "dur"}.get(unit, "num")


def kpi_unit(kpi: str) -> str:
    if kpi.startswith("sla:"):
        return "ratio"
    return KPI_LABELS.get(kpi, ("", "count"))[1]


def kpi_label(policy: Policy, kpi: str) -> str:
    """``sla:order_entry`` -> "Order entry SLA attainment"; other KPIs by their label."""
    if kpi.startswith("sla:"):
        return f"{policy.sla_label(kpi.removeprefix('sla:'))} attainment"
    return KPI_LABELS.get(kpi, (kpi, ""))[0]


def formatted(value: float | None, fmt: str) -> str:
    if fmt == "pct":
        return fmt_percent(value)
    if fmt == "dur":
        return fmt_duration(value)
    return fmt_number(value)


def _query(period: Period, segment: Segment, **extra: str) -> str:
    params: dict[str, Any] = {"start": period.start.isoformat(), "to": period.last.isoformat()}
    params.update({k: v for k, v in segment.model_dump().items() if v})
    params.update({k: v for k, v in extra.items() if v})
    return urlencode(params)


class TargetStatus(BaseModel):
    target: float | None
    at_risk: float | None
    status: Literal["met", "at_risk", "missed", ""]


def target_status(policy: Policy, kpi: str, value: float | None) -> TargetStatus:
    target = policy.kpi_target(kpi)
    if target is None:
        return TargetStatus(target=None, at_risk=None, status="")
    return TargetStatus(target=target.target, at_risk=target.at_risk, status=target.status(value))


def _tile(
    policy: Policy,
    value: KpiValue,
    trend: list[KpiDay],
    previous: list[KpiDay],
    query: str,
    period: Period,
) -> dict[str, Any]:
    field = TREND_FIELD.get(value.name)
    fmt = _formatter(value.unit)
    chart = None
    if field is not None and trend:
        points: list[tuple[datetime | str, float | None]] = [
            (
                day.day.isoformat() + (" (today, incomplete)" if day.day == period.today else ""),
                getattr(day, field),
            )
            for day in trend
        ]
        chart = charts.trend(
            points, previous=[getattr(day, field) for day in previous][-len(trend) :], formatter=fmt
        )
    direction = -1 if value.name in LOWER_IS_BETTER else GOOD_DIRECTION[value.unit]
    change = value.change
    incomplete = period.partial and value.name in VOLUME_KPIS
    if incomplete:
        change = None
    trend_class = "flat"
    if change:
        trend_class = "flat" if direction == 0 else ("up" if change * direction > 0 else "down")
    status = target_status(policy, value.name, value.value)
    return {
        "v": value,
        "fmt": fmt,
        "chart": chart,
        "change": change,
        "incomplete": incomplete,
        "delta_class": trend_class,
        "status": status,
        "status_text": STATUS_TEXT.get(status.status, ""),
        "target_text": formatted(status.target, fmt) if status.target is not None else "",
        "href": f"/kpis/{value.name}/orders?{query}",
    }


@router.get("/api/kpis", response_model=KpiOverview)
def api_kpis(state: StateDep, principal: Viewer, period: PeriodDep, segment: SegmentDep) -> KpiOverview:
    """KPI values for orders captured in the period (and the period before), with daily trends."""
    return kpi_overview(state.store, state.policy, period, segment)


@router.get("/api/kpis/breakdown/{dimension}", response_model=list[BreakdownRow])
def api_kpi_breakdown(
    dimension: Annotated[Dimension, Path(description="The segment dimension to split by.")],
    state: StateDep,
    principal: Viewer,
    period: PeriodDep,
    segment: SegmentDep,
) -> list[BreakdownRow]:
    """Headline KPIs per value of one dimension (channel, region, ERP instance, warehouse, customer tier,
    priority) for orders captured in the period."""
    return kpi_breakdown(state.store, dimension, period, segment)


@router.get("/api/kpis/{kpi}/orders", response_model=Explanation)
def api_kpi_orders(
    kpi: KpiName,
    state: StateDep,
    principal: Viewer,
    period: PeriodDep,
    segment: SegmentDep,
    limit: Limit = 200,
) -> Explanation:
    """The orders behind a KPI value, each with the reason it counts against the KPI."""
    return kpi_orders(state.store, state.policy, kpi, period, segment, limit)


def _breakdown_rows(
    policy: Policy, rows: list[BreakdownRow], dimension: str, period: Period, segment: Segment
) -> list[dict[str, Any]]:
    sla_target = policy.kpi_target("sla")
    out = []
    for r in rows:
        drill = segment.model_copy(update={dimension: r.value}) if r.value else segment
        out.append(
            {
                "r": r,
                "label": r.value or "(none)",
                "href": f"/kpis?{_query(period, drill, by=dimension)}" if r.value else "",
                "orders_href": f"/kpis/orders/orders?{_query(period, drill)}" if r.value else "",
                "sla_status": sla_target.status(r.sla_attainment) if sla_target else "",
            }
        )
    return out


@router.get("/kpis", include_in_schema=False)
def kpis_page(
    request: Request,
    state: StateDep,
    principal: Viewer,
    period: PeriodDep,
    segment: SegmentDep,
    by: Annotated[Dimension, Query(description="Breakdown dimension.")] = "channel",
) -> Response:
    from web.views import in_parallel

    data, breakdown, options = in_parallel(
        lambda: kpi_overview(state.store, state.policy, period, segment),
        lambda: kpi_breakdown(state.store, by, period, segment),
        lambda: segment_options(state.store, now=state.now()),
    )
    query = _query(period, segment)
    policy = state.policy
    tiles = [_tile(policy, v, data.trend, data.previous_trend, query, period) for v in data.report.values]
    sla_chart = (
        charts.trend(
            [(d.day.isoformat(), d.sla_attainment) for d in data.trend],
            previous=[d.sla_attainment for d in data.previous_trend][-len(data.trend) :],
            formatter="pct",
            width=520,
            height=90,
        )
        if data.trend
        else None
    )
    sla_rows = [
        {
            "a": a,
            "label": policy.sla_label(a.sla),
            "status": target_status(policy, f"sla:{a.sla}", a.attainment),
        }
        for a in data.report.sla
    ]
    return render(
        request,
        state,
        "kpis.html",
        {
            "segment_options": options,
            "nav": "kpis",
            "d": data,
            "tiles": tiles,
            "sla_chart": sla_chart,
            "sla_rows": sla_rows,
            "status_text": STATUS_TEXT,
            "query": query,
            "period": period,
            "by": by,
            "dimensions": DIMENSION_LABELS,
            "breakdown": _breakdown_rows(policy, breakdown, by, period, segment),
            "csv_query": _query(period, segment, dimension=by),
        },
        principal=principal,
    )


@router.get("/kpis/export/{table}.csv", include_in_schema=False)
def kpis_csv(
    table: Table,
    state: StateDep,
    principal: Viewer,
    period: PeriodDep,
    segment: SegmentDep,
    dimension: Annotated[Dimension, Query(description="Breakdown dimension.")] = "channel",
) -> Response:
    """The KPI page's tables as CSV: tiles, SLA attainment, or the breakdown by one dimension."""
    policy = state.policy
    name = f"kpis-{table}-{period.start}-{period.last}"
    if table == "breakdown":
        rows = kpi_breakdown(state.store, dimension, period, segment)
        return csv_response(
            f"{name}-{dimension}",
            [
                DIMENSION_LABELS[dimension],
                "orders",
                "touchless_rate",
                "perfect_order_rate",
                "cycle_time_p50_s",
                "cycle_time_p50",
                "cycle_time_p90_s",
                "cycle_time_p90",
                "sla_attainment",
                "sla_met",
                "sla_evaluated",
                "exceptions",
            ],
            (
                [
                    r.value,
                    r.orders,
                    r.touchless_rate,
                    r.perfect_order_rate,
                    r.cycle_time_p50_s,
                    fmt_duration(r.cycle_time_p50_s),
                    r.cycle_time_p90_s,
                    fmt_duration(r.cycle_time_p90_s),
                    r.sla_attainment,
                    r.sla_met,
                    r.sla_evaluated,
                    r.exceptions,
                ]
                for r in rows
            ),
        )
    data = kpi_overview(state.store, policy, period, segment)
    if table == "sla":
        return csv_response(
            name,
            ["sla", "label", "stage", "attainment", "previous", "met", "evaluated", "target", "status"],
            (
                [
                    a.sla,
                    policy.sla_label(a.sla),
                    a.stage,
                    a.attainment,
                    a.previous,
                    a.met,
                    a.evaluated,
                    (st := target_status(policy, f"sla:{a.sla}", a.attainment)).target,
                    st.status,
                ]
                for a in data.report.sla
            ),
        )
    return csv_response(
        name,
        [
            "kpi",
            "label",
            "unit",
            "value",
            "value_text",
            "previous",
            "change",
            "target",
            "status",
            "numerator",
            "denominator",
        ],
        (
            [
                v.name,
                v.label,
                v.unit,
                v.value,
                formatted(v.value, _formatter(v.unit)),
                v.previous,
                None if period.partial and v.name in VOLUME_KPIS else v.change,
                (st := target_status(policy, v.name, v.value)).target,
                st.status,
                v.numerator,
                v.denominator,
            ]
            for v in data.report.values
        ),
    )


def _drill(
    state: StateDep, kpi: str, period: Period, segment: Segment, limit: int
) -> tuple[Explanation, str]:
    return kpi_orders(state.store, state.policy, kpi, period, segment, limit), _formatter(kpi_unit(kpi))


@router.get("/kpis/{kpi}/orders.csv", include_in_schema=False)
def kpi_orders_csv(
    kpi: KpiName,
    state: StateDep,
    principal: Viewer,
    period: PeriodDep,
    segment: SegmentDep,
    limit: Limit = 1000,
) -> Response:
    explanation, _ = _drill(state, kpi, period, segment, limit)
    return csv_response(
        f"{kpi.replace(':', '-')}-orders-{period.start}-{period.last}",
        ["order_id", "captured_at", "why"],
        ([o.order_id, o.captured_at, o.reason] for o in explanation.orders),
    )


@router.get("/kpis/{kpi}/orders", include_in_schema=False)
def kpi_orders_page(
    request: Request,
    kpi: KpiName,
    state: StateDep,
    principal: Viewer,
    period: PeriodDep,
    segment: SegmentDep,
    limit: Limit = 200,
) -> Response:
    explanation, fmt = _drill(state, kpi, period, segment, limit)
    return render(
        request,
        state,
        "kpi_orders.html",
        {
            "nav": "kpis",
            "e": explanation,
            "label": kpi_label(state.policy, kpi),
            "fmt": fmt,
            "value_text": formatted(explanation.value, fmt),
            "status": target_status(state.policy, kpi, explanation.value),
            "status_text": STATUS_TEXT,
            "dimensions": DIMENSION_LABELS,
            "back": f"/kpis?{_query(period, segment)}",
            "csv": f"/kpis/{kpi}/orders.csv?{_query(period, segment, limit=str(limit))}",
            "period": period,
        },
        principal=principal,
    )

"""Executive KPIs: tiles with the previous period, daily trends, segment filters, and from every
figure the orders behind it (functions in ``kpis.reports`` and ``kpis.explain``)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from kpis.explain import Explanation
from kpis.reports import KpiDay, KpiValue, Segment
from web import charts
from web.deps import StateDep, Viewer, render
from web.views import KpiOverview, Period, PeriodDep, SegmentDep, kpi_orders, kpi_overview, segment_options

router = APIRouter(tags=["kpis"])
NAV = ("/kpis", "KPIs", "kpis")

KpiName = Annotated[
    str,
    Path(pattern=r"^[a-z0-9_]+(:[A-Za-z0-9_.-]+)?$", max_length=120, description="KPI name, or sla:<name>."),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Orders to list. Default: 200")]

# KPI -> the daily trend series that shows it
TREND_FIELD = {
    "orders": "orders",
    "touchless_rate": "touchless_rate",
    "perfect_order_rate": "perfect_order_rate",
    "cycle_time_p50": "cycle_time_p50_s",
    "cycle_time_p90": "cycle_time_p90_s",
    "exception_volume": "exceptions",
}
# which direction is good: +1 higher is better, -1 lower is better, 0 neutral
GOOD_DIRECTION = {"ratio": 1, "seconds": -1, "count": 0}
LOWER_IS_BETTER = {"exception_volume"}


def _formatter(unit: str) -> str:
    return {"ratio": "pct", "seconds": "dur"}.get(unit, "num")


def _name_formatter(kpi: str) -> str:
    if kpi.startswith("sla:") or kpi.endswith(("_rate", "_accuracy")):
        return "pct"
    if "time" in kpi or "latency" in kpi:
        return "dur"
    return "num"


def _query(period: Period, segment: Segment) -> str:
    params: dict[str, Any] = {"start": period.start.isoformat(), "end": period.end.isoformat()}
    params.update({k: v for k, v in segment.model_dump().items() if v})
    return urlencode(params)


def _tile(value: KpiValue, trend: list[KpiDay], previous: list[KpiDay], query: str) -> dict[str, Any]:
    field = TREND_FIELD.get(value.name)
    chart = None
    if field is not None and trend:
        chart = charts.trend(
            [(day.day.isoformat(), getattr(day, field)) for day in trend],
            previous=[getattr(day, field) for day in previous][-len(trend) :],
            formatter=_formatter(value.unit),
        )
    direction = -1 if value.name in LOWER_IS_BETTER else GOOD_DIRECTION[value.unit]
    trend_class = "flat"
    if value.change:
        trend_class = "flat" if direction == 0 else ("up" if value.change * direction > 0 else "down")
    return {
        "v": value,
        "fmt": _formatter(value.unit),
        "chart": chart,
        "delta_class": trend_class,
        "href": f"/kpis/{value.name}/orders?{query}",
    }


@router.get("/api/kpis", response_model=KpiOverview)
def api_kpis(state: StateDep, principal: Viewer, period: PeriodDep, segment: SegmentDep) -> KpiOverview:
    """KPI values for orders captured in the period (and the period before), with daily trends."""
    return kpi_overview(state.store, state.policy, period, segment)


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


@router.get("/kpis", include_in_schema=False)
def kpis_page(
    request: Request, state: StateDep, principal: Viewer, period: PeriodDep, segment: SegmentDep
) -> Response:
    data = kpi_overview(state.store, state.policy, period, segment)
    query = _query(period, segment)
    tiles = [_tile(v, data.trend, data.previous_trend, query) for v in data.report.values]
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
    return render(
        request,
        state,
        "kpis.html",
        {
            "segment_options": segment_options(state.store, now=state.now()),
            "nav": "kpis",
            "d": data,
            "tiles": tiles,
            "sla_chart": sla_chart,
            "query": query,
            "period": period,
        },
        principal=principal,
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
    explanation = kpi_orders(state.store, state.policy, kpi, period, segment, limit)
    return render(
        request,
        state,
        "kpi_orders.html",
        {
            "nav": "kpis",
            "e": explanation,
            "fmt": _name_formatter(kpi),
            "back": f"/kpis?{_query(period, segment)}",
        },
        principal=principal,
    )

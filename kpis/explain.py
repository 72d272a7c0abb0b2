"""Explainability: the orders behind a KPI value, each with the reason it counts against the KPI.

``explain(store, policy, "touchless_rate", start, end)`` lists the orders that were not touchless
and the touch that made them so; ``"perfect_order_rate"`` the closed orders that were not perfect
and the first criterion they missed; ``"sla:<name>"`` the orders that breached that SLA, and so on.
"""

from __future__ import annotations

from datetime import date, datetime
from datetime import time as dt_time
from typing import Any

from pydantic import BaseModel

from kpis.policy import Policy, format_duration
from kpis.reports import Segment, kpi_report
from storage import SqlFiles, Store

SQL = SqlFiles("kpis.queries")
ORDER_KPIS = {
    "touchless_rate": "touchless_rate",
    "perfect_order_rate": "perfect_order_rate",
    "allocation_accuracy": "allocation_accuracy",
    "cycle_time_p50": "cycle_time",
    "cycle_time_p90": "cycle_time",
    "cycle_time_p95": "cycle_time",
    "invoice_latency_mean": "invoice_latency",
    "invoice_latency_p50": "invoice_latency",
    "invoice_latency_p90": "invoice_latency",
    "orders": "orders",
}
EXCEPTION_KPIS = ("exception_volume", "exception_resolution_mean", "exception_resolution_p90")


class OrderReason(BaseModel):
    order_id: str
    captured_at: datetime | None = None
    reason: str
    detail: dict[str, Any] = {}


class Explanation(BaseModel):
    kpi: str
    start: date
    end: date
    segment: Segment
    value: float | None
    numerator: int | None
    denominator: int | None
    description: str
    orders: list[OrderReason]
    truncated: bool


def kpi_names(policy: Policy) -> list[str]:
    """Every KPI name :func:`explain` accepts."""
    return [*ORDER_KPIS, *EXCEPTION_KPIS, *(f"sla:{s.name}" for s in policy.slas)]


def _hours(seconds: float | None) -> str:
    return "?" if seconds is None else format_duration(seconds)


def explain(
    store: Store,
    policy: Policy,
    kpi: str,
    start: date,
    end: date,
    segment: Segment | None = None,
    limit: int = 200,
) -> Explanation:
    """The value of ``kpi`` for orders captured on days [start, end) and the orders behind it."""
    segment = segment or Segment()
    if kpi not in kpi_names(policy):
        raise ValueError(f"unknown KPI {kpi!r}; choose from {', '.join(kpi_names(policy))}")
    report = kpi_report(store, policy, start, end, segment)
    # capture and opening times are DateTime64: the day bounds are bound as DateTime64 too
    params = {
        "start": datetime.combine(start, dt_time.min),
        "end": datetime.combine(end, dt_time.min),
        "limit": limit + 1,
        **segment.parameters(),
    }
    if kpi.startswith("sla:"):
        name = kpi.removeprefix("sla:")
        sla = policy.sla(name)
        att = next(a for a in report.sla if a.sla == name)
        rows = store.rows(SQL["explain_sla"], {**params, "sla": name})
        orders = [
            OrderReason(
                order_id=r["order_id"],
                captured_at=r["captured_at"],
                reason=(
                    f"{name} took {_hours(r['elapsed_s'])} against a target of {_hours(r['target_s'])}"
                    f"{' business time' if r['business_time'] else ''} ({sla.start.stage}.{sla.start.at} -> "
                    f"{sla.end.stage}.{sla.end.at})"
                ),
                detail=r,
            )
            for r in rows
        ]
        return _result(
            kpi,
            start,
            end,
            segment,
            att.attainment,
            att.met,
            att.evaluated,
            f"share of completed {name} intervals within target; listed: the breaches",
            orders,
            limit,
        )
    if kpi in EXCEPTION_KPIS:
        value = report.value(kpi)
        rows = store.rows(SQL["explain_exceptions"], params)
        orders = [
            OrderReason(
                order_id=r["order_id"],
                captured_at=r["captured_at"],
                reason=(
                    f"{r['exception_type']} exception at {r['system'] or '?'} ({r['stage'] or 'no stage'}), "
                    + (
                        f"resolved after {_hours(r['resolution_s'])}"
                        if r["status"] == "resolved"
                        else "still open" + (f", owner {r['owner']}" if r["owner"] else "")
                    )
                ),
                detail=r,
            )
            for r in rows
        ]
        return _result(
            kpi,
            start,
            end,
            segment,
            value.value,
            value.numerator,
            value.denominator,
            "exceptions opened in the period; listed: each exception, longest resolution first",
            orders,
            limit,
        )
    value = report.value(kpi)
    mode = ORDER_KPIS[kpi]
    rows = store.rows(
        SQL["explain_orders"], {**params, "kpi": mode, "on_time_sla": policy.perfect_order.on_time_sla}
    )
    orders = [
        OrderReason(
            order_id=r["order_id"], captured_at=r["captured_at"], reason=_reason(mode, r, policy), detail=r
        )
        for r in rows
    ]
    descriptions = {
        "touchless_rate": "orders with no manual touch / orders captured; listed: orders that were touched",
        "perfect_order_rate": "perfect closed orders / closed orders; listed: closed orders that were not perfect",
        "allocation_accuracy": "orders whose first allocation held / orders allocated; listed: those that did not",
        "cycle_time": "capture -> shipped; listed: shipped orders, slowest first",
        "invoice_latency": "shipped -> invoiced; listed: invoiced orders, slowest first",
        "orders": "orders captured in the period",
    }
    return _result(
        kpi,
        start,
        end,
        segment,
        value.value,
        value.numerator,
        value.denominator,
        descriptions[mode],
        orders,
        limit,
    )


def _result(
    kpi: str,
    start: date,
    end: date,
    segment: Segment,
    value: float | None,
    numerator: int | None,
    denominator: int | None,
    description: str,
    orders: list[OrderReason],
    limit: int,
) -> Explanation:
    return Explanation(
        kpi=kpi,
        start=start,
        end=end,
        segment=segment,
        value=value,
        numerator=numerator,
        denominator=denominator,
        description=description,
        orders=orders[:limit],
        truncated=len(orders) > limit,
    )


def _reason(mode: str, r: dict[str, Any], policy: Policy) -> str:
    if mode == "touchless_rate":
        who = f" by {r['touch_user']}" if r["touch_user"] else ""
        more = f" ({r['manual_touches']} manual touches in all)" if r["manual_touches"] > 1 else ""
        return f"manual touch at stage {r['touch_stage'] or '?'} on {r['touch_system'] or '?'}{who}{more}"
    if mode == "perfect_order_rate":
        miss = r["perfect_miss"]
        if miss == "incomplete":
            statuses = [s for s in r["order_statuses"] if s in policy.perfect_order.incomplete_statuses]
            return f"not complete: {', '.join(statuses)}"
        if miss == "damaged":
            statuses = [s for s in r["order_statuses"] if s in policy.perfect_order.damage_statuses]
            return f"damaged or returned: {', '.join(statuses)}"
        if miss == "exception":
            return f"had exceptions: {', '.join(r['exception_types'])}"
        if miss == "invoice_error":
            statuses = [s for s in r["order_statuses"] if s in policy.perfect_order.invoice_error_statuses]
            return f"not invoiced correctly: {', '.join(statuses)}"
        sla = policy.perfect_order.on_time_sla
        if not r["on_time_completed"]:
            return f"not on time: {sla} never completed"
        return f"not on time: {sla} took {_hours(r['on_time_elapsed_s'])} against {_hours(r['on_time_target_s'])}"
    if mode == "allocation_accuracy":
        failures = [s for s in r["order_statuses"] if s in policy.allocation.failure_statuses]
        failures += [e for e in r["exception_types"] if e in policy.allocation.failure_exceptions]
        parts = []
        if r["allocations"] > 1:
            parts.append(f"allocated {r['allocations']} times")
        if failures:
            parts.append(", ".join(failures))
        return "first allocation did not hold: " + ("; ".join(parts) or "re-allocated")
    if mode == "cycle_time":
        return f"capture -> shipped took {_hours(r['cycle_time_s'])}"
    if mode == "invoice_latency":
        return f"shipped -> invoiced took {_hours(r['invoice_latency_s'])}"
    return f"captured, now {r['status']} at {r['current_stage'] or '?'}"

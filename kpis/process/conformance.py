"""Conformance of orders against the expected flow: rework loops, skipped steps, order violations."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from kpis.process.filters import FilterError, ProcessFilter
from kpis.process.mining import MAX_LIMIT, SQL
from kpis.process.policy import ProcessPolicy
from storage import Store

Kind = Literal["rework", "skipped", "order"]
KINDS: tuple[str, ...] = ("rework", "skipped", "order")


def _deviations_sql(name: str) -> str:
    deviations = SQL["deviations"].replace("/*CASES*/", SQL["cases"])
    return SQL[name].replace("/*DEVIATIONS*/", deviations)


class Deviation(BaseModel):
    kind: Kind
    detail: str = Field(description="the activity redone, the stage skipped, or '<b> before <a>'")
    orders: int


class ConformanceSummary(BaseModel):
    total_orders: int
    deviating_orders: int
    deviations: list[Deviation]

    @property
    def conforming_share(self) -> float:
        return 1 - self.deviating_orders / self.total_orders if self.total_orders else 1.0


class DeviatingOrder(BaseModel):
    order_id: str
    first_hop_at: datetime
    cycle_s: float
    channel: str
    region: str
    erp: str
    warehouse: str
    customer_tier: str
    deviations: list[tuple[str, str]] = Field(description="(kind, detail) pairs")


def conformance(store: Store, flt: ProcessFilter, policy: ProcessPolicy) -> ConformanceSummary:
    """How many of the filter's orders deviate from their expected path, and how."""
    params = {**flt.parameters(), **policy.parameters()}
    rows = store.rows(_deviations_sql("conformance_summary"), params)
    if not rows:
        total = int(store.scalar(f"SELECT count() FROM ({SQL['cases']})", flt.parameters()))
        return ConformanceSummary(total_orders=total, deviating_orders=0, deviations=[])
    return ConformanceSummary(
        total_orders=int(rows[0]["total_orders"]),
        deviating_orders=int(rows[0]["deviating_orders"]),
        deviations=[Deviation(kind=r["kind"], detail=r["detail"], orders=r["orders"]) for r in rows],
    )


def deviating_orders(
    store: Store,
    flt: ProcessFilter,
    policy: ProcessPolicy,
    *,
    kind: str = "",
    detail: str = "",
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[DeviatingOrder]]:
    """(how many orders match, one page of them): orders with a deviation of ``kind`` / ``detail``."""
    if kind and kind not in KINDS:
        raise FilterError(f"unknown deviation kind {kind[:40]!r}; kinds: {', '.join(KINDS)}")
    if len(detail) > 500:
        raise FilterError("a deviation is at most 500 characters")
    if not 1 <= limit <= MAX_LIMIT or not 0 <= offset <= 10_000_000:
        raise FilterError(f"limit must be 1 .. {MAX_LIMIT} and offset 0 .. 10000000")
    params = {
        **flt.parameters(),
        **policy.parameters(),
        "kind": kind,
        "detail": detail,
        "limit": limit,
        "offset": offset,
    }
    rows = store.rows(_deviations_sql("conformance_orders"), params)
    total = int(rows[0]["total"]) if rows else 0
    return total, [
        DeviatingOrder(
            order_id=r["order_id"],
            first_hop_at=r["first_hop_at"],
            cycle_s=r["cycle_s"],
            channel=r["channel"],
            region=r["region"],
            erp=r["erp"],
            warehouse=r["warehouse"],
            customer_tier=r["customer_tier"],
            deviations=list(zip(r["kinds"], r["details"], strict=True)),
        )
        for r in rows
    ]

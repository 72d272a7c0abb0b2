"""The directly-follows map, the variants and the orders behind them, computed in ClickHouse."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field

from kpis.process.filters import FilterError, ProcessFilter
from storage import SqlFiles, Store

SQL = SqlFiles("kpis.process.queries")
MAX_LIMIT = 1000
_VARIANT_ID = re.compile(r"^[0-9a-f]{1,16}$")


def with_cases(name: str) -> str:
    """A process query with the filter's orders (``cases.sql``) put in."""
    return SQL[name].replace("/*CASES*/", SQL["cases"])


class Activity(BaseModel):
    """A node of the map: an activity ("<stage> @ <system>") and how often orders did it."""

    name: str
    stage: str
    system: str
    events: int = Field(description="hops of this activity")
    orders: int = Field(description="orders with at least one such hop")
    starts: int = Field(description="orders whose first hop it was")
    ends: int = Field(description="orders whose last hop it was")


class Edge(BaseModel):
    """One activity directly followed by another in an order's path."""

    source: str
    target: str
    transitions: int = Field(description="how often the edge was taken (a loop counts each time)")
    orders: int = Field(description="orders that took it at least once")
    median_wait_s: float = Field(description="median handoff gap (next start - previous end, >= 0)")
    p90_wait_s: float


class ProcessMap(BaseModel):
    orders: int
    activities: list[Activity]
    edges: list[Edge]


class Variant(BaseModel):
    variant_id: str = Field(description="stable id of the path (hex of its hash)")
    path: list[str]
    orders: int
    share: float = Field(description="orders / orders in the filter")
    median_cycle_s: float = Field(description="first hop start to last hop end")
    p90_cycle_s: float


class Variants(BaseModel):
    total_orders: int
    total_variants: int
    variants: list[Variant]


class CaseOrder(BaseModel):
    order_id: str
    first_hop_at: datetime
    cycle_s: float
    hops: int
    channel: str
    region: str
    erp: str
    warehouse: str
    customer_tier: str


def split_activity(name: str) -> tuple[str, str]:
    stage, _, system = name.partition(" @ ")
    return stage, system


def process_map(store: Store, flt: ProcessFilter) -> ProcessMap:
    """Nodes and edges of the filter's orders (edges to the end of a path become node ``ends``)."""
    rows = store.rows(with_cases("dfg"), flt.parameters())
    nodes: dict[str, dict[str, int]] = {}
    edges = []
    for r in rows:
        node = nodes.setdefault(r["source"], {"events": 0, "orders": 0, "starts": 0, "ends": 0})
        node["events"] += r["transitions"]
        node["orders"] += r["source_orders"]
        node["starts"] += r["starts"]
        if r["target"] == "":
            node["ends"] += r["transitions"]
        else:
            median, p90 = r["wait_q"]
            edges.append(
                Edge(
                    source=r["source"],
                    target=r["target"],
                    transitions=r["transitions"],
                    orders=r["orders"],
                    median_wait_s=float(median),
                    p90_wait_s=float(p90),
                )
            )
    activities = [
        Activity(name=name, stage=split_activity(name)[0], system=split_activity(name)[1], **counts)
        for name, counts in sorted(nodes.items(), key=lambda kv: (-kv[1]["events"], kv[0]))
    ]
    edges.sort(key=lambda e: (-e.transitions, e.source, e.target))
    return ProcessMap(orders=sum(a.starts for a in activities), activities=activities, edges=edges)


def variants(store: Store, flt: ProcessFilter, limit: int = 50, offset: int = 0) -> Variants:
    """The filter's variants, most frequent first."""
    _check_page(limit, offset)
    rows = store.rows(with_cases("variants"), {**flt.parameters(), "limit": limit, "offset": offset})
    total = int(rows[0]["total_orders"]) if rows else 0
    if not rows and offset:
        total = count_orders(store, flt)
    return Variants(
        total_orders=total,
        total_variants=int(rows[0]["total_variants"]) if rows else 0,
        variants=[
            Variant(
                variant_id=r["variant_id"],
                path=list(r["path"]),
                orders=r["orders"],
                share=r["orders"] / total if total else 0.0,
                median_cycle_s=float(r["median_cycle_s"]),
                p90_cycle_s=float(r["p90_cycle_s"]),
            )
            for r in rows
        ],
    )


def count_orders(store: Store, flt: ProcessFilter) -> int:
    return int(store.scalar(f"SELECT count() FROM ({SQL['cases']})", flt.parameters()))


def case_orders(
    store: Store,
    flt: ProcessFilter,
    *,
    variant: str = "",
    source: str = "",
    target: str = "",
    activity: str = "",
    limit: int = 100,
    offset: int = 0,
) -> list[CaseOrder]:
    """The orders of a variant (its id), of an edge (source and target), of an activity, or of the
    whole filter."""
    _check_page(limit, offset)
    variant = variant.strip().lower()
    if variant and not _VARIANT_ID.match(variant):
        raise FilterError(f"variant {variant[:40]!r} is not a variant id (hex, up to 16 digits)")
    if bool(source) != bool(target):
        raise FilterError("an edge needs both its source and its target activity")
    if len(source) > 500 or len(target) > 500 or len(activity) > 500:
        raise FilterError("an activity name is at most 500 characters")
    params = {
        **flt.parameters(),
        "variant": variant,
        "source": source,
        "target": target,
        "activity": activity,
        "limit": limit,
        "offset": offset,
    }
    return [CaseOrder(**r) for r in store.rows(with_cases("case_orders"), params)]


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise FilterError(f"limit must be 1 .. {MAX_LIMIT}, got {limit}")
    if not 0 <= offset <= 10_000_000:
        raise FilterError(f"offset must be 0 .. 10000000, got {offset}")

"""Synthetic orders generated inside ClickHouse, for benchmarks and load tests."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from storage import SqlFiles, Store
from storage.times import naive

SQL = SqlFiles("kpis.queries")


def generate_orders(
    store: Store,
    count: int,
    start: datetime,
    end: datetime,
    first: int = 0,
    via: Literal["spans", "hops"] = "spans",
) -> None:
    """Write ``count`` synthetic orders (ids ``BO-<first>``...) captured over [start, end).

    ``via="spans"`` inserts spans into otel_traces (every materialized view runs, as for real
    ingest); ``via="hops"`` inserts what order_spans_named_mv would make of them straight into
    order_spans.
    """
    params = {"count": count, "first": first, "start": naive(start), "end": naive(end)}
    if via == "spans":
        store.command(SQL["synthetic_spans"], params)
        return
    spans = SQL["synthetic_spans"]
    select = spans[spans.index("WITH\n") :]
    store.command(SQL["synthetic_hops"].replace("FROM (/*SPANS*/)", f"FROM ({select})"), params)

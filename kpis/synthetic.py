"""Synthetic order spans generated inside ClickHouse, for benchmarks and load tests."""

from __future__ import annotations

from datetime import datetime

from storage import SqlFiles, Store

SQL = SqlFiles("kpis.queries")


def generate_orders(store: Store, count: int, start: datetime, end: datetime, first: int = 0) -> int:
    """Write ``count`` synthetic orders (ids ``BO-<first>``...) captured over [start, end) to otel_traces.

    Returns the number of spans now in otel_traces for those orders' numbers range (one query).
    """
    store.command(
        SQL["synthetic_spans"],
        {"count": count, "first": first, "start": _naive(start), "end": _naive(end)},
    )
    return count


def _naive(moment: datetime) -> datetime:
    return (
        moment
        if moment.tzinfo is None
        else moment.replace(tzinfo=None) - (moment.utcoffset() or (moment - moment))
    )

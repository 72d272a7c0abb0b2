"""The benchmark's synthetic orders (``tower bench kpis``) are captured evenly over their window, at
every size: the figures of a 1M-order / 30-day run are only comparable with the issue's targets if
its orders really span the 30 days."""

from __future__ import annotations

from datetime import timedelta

from clock import ANCHOR

from kpis.synthetic import generate_orders
from storage import Store

DAY_MS = 86_400_000


def test_orders_are_captured_evenly_over_the_window_past_int64_nanoseconds(store: Store) -> None:
    # 6,000 orders x 20 days in nanoseconds is beyond Int64 (the product wrapped past ~5,300 orders
    # over 20 days, ~3,500 over 30, and bunched the captures on a few days)
    start, end = ANCHOR - timedelta(days=20), ANCHOR
    generate_orders(store, 6000, start, end, via="hops")
    per_day = store.query(
        "SELECT intDiv(toUnixTimestamp64Milli(Timestamp) - toUnixTimestamp64Milli({start:DateTime64(3)}), "
        "{day:Int64}) AS d, count(), uniqExact(OrderId) FROM order_spans "
        "WHERE Stage = 'capture' GROUP BY d ORDER BY d",
        {"start": start.replace(tzinfo=None), "day": DAY_MS},
    ).result_rows
    assert [(int(d), int(n), int(o)) for d, n, o in per_day] == [(d, 300, 300) for d in range(20)]
    first, last = store.query(
        "SELECT min(Timestamp), max(Timestamp) FROM order_spans WHERE Stage = 'capture'"
    ).result_rows[0]
    assert first == start.replace(tzinfo=None)
    assert end.replace(tzinfo=None) - timedelta(seconds=300) < last < end.replace(tzinfo=None)

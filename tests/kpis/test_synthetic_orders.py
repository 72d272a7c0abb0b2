"""The benchmarks' synthetic orders (``kpis.synthetic``) are captured where they were asked to be: evenly
over [start, end), however many there are. ``tower bench process --orders 5000`` once counted 3,559
orders in its 30-day map: the capture offset ``number * range`` was an Int64 product, which wraps past
2^63 ns (at order 3,559 of 30 days, 10,675 of 10 days) and put the later orders before ``start``."""

from __future__ import annotations

from datetime import timedelta

from clock import ANCHOR

from kpis.synthetic import generate_orders
from storage import Store

ORDERS = 12_000  # 12,000 x 10 days in ns is past 2^63: the case that wrapped
DAYS = 10


def test_every_order_is_captured_at_its_even_share_of_the_range(store: Store) -> None:
    end = ANCHOR
    start = end - timedelta(days=DAYS)
    generate_orders(store, ORDERS, start, end, via="hops")

    captures = {
        row["OrderId"]: row["at"]
        for row in store.rows(
            "SELECT OrderId, min(Timestamp) AS at FROM order_spans WHERE Stage = 'capture' GROUP BY OrderId"
        )
    }
    assert len(captures) == ORDERS
    naive_start, naive_end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    outside = sorted(o for o, at in captures.items() if not naive_start <= at < naive_end)
    assert outside == [], f"{len(outside)} orders captured outside the range, e.g. {outside[:3]}"
    step = (end - start) / ORDERS
    for n in (0, 1, 3_559, 10_675, 10_676, ORDERS - 1):
        expected = naive_start + n * step
        assert abs(captures[f"BO-{n}"] - expected) < timedelta(microseconds=1), n

"""The KPI engine's incremental state: ``order_rollup`` (migration 0082, replacing 0080's
``order_state``), ``system_hops`` (0080) and ``exception_signals`` (0081).

Materialized views keep them as rows reach ``order_spans``; :func:`rebuild` fills them from
``order_spans`` for a store that held spans before the views existed (``tower migrate`` runs it
once per :data:`STEP`; it is safe to run again: every rollup merge is idempotent and the other two tables
collapse repeats).
It works one month partition of ``order_spans`` at a time, so its memory stays bounded by a month.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from storage import Store
from storage.migrate import Layout, fragment

BACKFILL = "kpi_state"
STEP = "complete 0082"  # the last migration that added a state table: a store built before rebuilds
# order_spans' MATERIALIZED columns (the hop projection): SELECT * leaves them out
_PROJECTION = (
    "Stage, System, SystemKind, Channel, Region, Warehouse, CustomerTier, CustomerId, Priority, "
    "OrderStatus, ManualTouch, User, ExceptionType, ExceptionOutcome"
)
_STATE_COLUMNS = (
    "OrderId, FirstMs, LastMs, LastAt, Hops, ChannelFirst, RegionFirst, ErpFirst, "
    "WarehouseFirst, TierFirst, PriorityFirst, CustomerFirst, Errors, Touches, FirstTouch, Statuses, "
    "Exceptions, Allocations"
)
_HOP_COLUMNS = "Day, System, SystemKind, OrderId, SpanKey, Duration, Error, ArrivedAt"
_SIGNAL_COLUMNS = (
    "OrderId, ExceptionType, Outcome, At, System, Stage, User, TraceId, SpanId, Event, ArrivedAt"
)


def is_built(store: Store) -> bool:
    return bool(
        store.scalar(
            "SELECT count() FROM tower_backfills FINAL WHERE Backfill = {b:String} AND Step = {s:String}",
            {"b": BACKFILL, "s": STEP},
        )
    )


def mark_built(store: Store) -> None:
    store.insert(
        "tower_backfills",
        [[BACKFILL, STEP, 0, datetime.now(UTC).replace(tzinfo=None)]],
        ["Backfill", "Step", "Rows", "DoneAt"],
    )


def rebuild(store: Store, progress: Callable[[int, int, str], None] | None = None) -> int:
    """Fill the state tables from every row of order_spans; returns the rows read."""
    layout = Layout.of(store)
    months = [
        int(row[0])
        for row in store.query(
            "SELECT DISTINCT toYYYYMM(Timestamp) AS m FROM order_spans ORDER BY m"
        ).result_rows
    ]
    source = f"(SELECT *, {_PROJECTION} FROM order_spans WHERE toYYYYMM(Timestamp) = {{month:UInt32}})"
    rows = 0
    for i, month in enumerate(months):
        params = {"month": month}
        store.command(
            f"INSERT INTO order_rollup ({_STATE_COLUMNS}) {fragment('order_rollup', layout, source)}", params
        )
        store.command(
            f"INSERT INTO system_hops ({_HOP_COLUMNS}) {fragment('system_hops', layout, source)}", params
        )
        store.command(
            f"INSERT INTO exception_signals ({_SIGNAL_COLUMNS}) "
            f"{fragment('exception_signals', layout, source)}",
            params,
        )
        rows += int(
            store.scalar("SELECT count() FROM order_spans WHERE toYYYYMM(Timestamp) = {month:UInt32}", params)
        )
        if progress is not None:
            progress(i + 1, len(months), f"month {month}")
    mark_built(store)
    return rows
